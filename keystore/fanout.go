package keystore

import "sync"

// fanout is a change feed delivered in this process: subscribers register
// with subscribe, and send calls each of them with every change. The zero
// value is ready to use. BoltStore's feed is one.
type fanout struct {
	mu     sync.Mutex // guards subs and next
	subs   map[int]func(Change)
	next   int
	sendMu sync.Mutex // serialises deliveries, so calls are sequential
}

// subscribe adds fn to the subscribers until cancel is called. cancel may
// be called from fn.
func (f *fanout) subscribe(fn func(Change)) (cancel func()) {
	f.mu.Lock()
	if f.subs == nil {
		f.subs = make(map[int]func(Change))
	}
	id := f.next
	f.next++
	f.subs[id] = fn
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// send calls every subscriber with c, one after the other, and returns
// when all have been called. Sends are delivered one at a time.
func (f *fanout) send(c Change) {
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	f.mu.Lock()
	fns := make([]func(Change), 0, len(f.subs))
	for _, fn := range f.subs {
		fns = append(fns, fn)
	}
	f.mu.Unlock()
	// Called without f.mu, so a subscriber may cancel from its callback.
	for _, fn := range fns {
		fn(c)
	}
}

// len returns the number of subscribers.
func (f *fanout) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}
