package caddymodule

import (
	"math"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/time/rate"
)

// Rate is a limit of Events per Window, as a token bucket whose burst is
// Events: a client may spend the whole window's allowance at once, then
// refills evenly.
type Rate struct {
	// Events allowed per window. 0 means unlimited.
	Events int `json:"events,omitempty"`
	// Window is the period the events are counted over. Default: 1s.
	Window caddy.Duration `json:"window,omitempty"`
}

// limiters hands out one token bucket per key (an API key id or a client
// IP) and forgets buckets idle long enough to be full again, so memory is
// bounded by the number of recently active keys.
type limiters struct {
	limit rate.Limit
	burst int
	idle  time.Duration

	mu sync.Mutex
	m  map[string]*limiterEntry
	n  int // calls since the last sweep
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiters returns nil (no limit) for a zero rate.
func newLimiters(r Rate) *limiters {
	if r.Events <= 0 {
		return nil
	}
	w := time.Duration(r.Window)
	if w <= 0 {
		w = time.Second
	}
	return &limiters{
		limit: rate.Limit(float64(r.Events) / w.Seconds()),
		burst: r.Events,
		idle:  w + time.Minute,
		m:     make(map[string]*limiterEntry),
	}
}

// allow takes one event for key at now. When the bucket is empty it returns
// false and how long until an event is available.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if l.n >= 1024 {
		l.sweep(now)
	}
	e := l.m[key]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiters) sweep(now time.Time) {
	l.n = 0
	for k, e := range l.m {
		if now.Sub(e.seen) > l.idle {
			delete(l.m, k)
		}
	}
}

// retryAfter renders a wait as whole seconds for Retry-After (at least 1).
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
