package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis change feed: the messages RedisStore's writes publish on
// {ns}:changes, and the subscriptions that deliver them.

// Tuning of the change feed. Variables, not constants, so tests may
// shorten them.
var (
	// redisSubscribeWait bounds how long Subscribe waits for Redis to
	// confirm the subscription. It returns earlier if Redis is down.
	redisSubscribeWait = 5 * time.Second
	// redisFeedHealth is how long the feed may be silent before it pings
	// the server; a second silent period after a ping means the
	// connection is dead and it is replaced.
	redisFeedHealth = 15 * time.Second
	// redisFeedBackoffMin and Max bound the pause between reconnection
	// attempts, which doubles after each failure.
	redisFeedBackoffMin = 50 * time.Millisecond
	redisFeedBackoffMax = time.Second
)

// The change messages published on the channel.
const (
	redisMsgKeyPut          = "key_put"
	redisMsgKeyDeleted      = "key_deleted"
	redisMsgRevocationAdded = "revocation_added"
	redisMsgUserPut         = "user_put"
	redisMsgUserDeleted     = "user_deleted"
	redisMsgLinkExpiry      = "link_expiry"
)

type redisMessage struct {
	Kind string `json:"kind"`
	// Key is the full record (bolt's record shape: the key with its
	// digest, and its last-used time) for key_put.
	Key json.RawMessage `json:"key,omitempty"`
	// ID is the deleted key's id for key_deleted.
	ID string `json:"id,omitempty"`
	// User is the user record (with its rev) for user_put, and the
	// record as it was for user_deleted. Both are built by the scripts
	// (redis.go).
	User json.RawMessage `json:"user,omitempty"`
	// Ident and ExpiresMs are the stored revocation (its identity and
	// the expiry kept, unix ms) for revocation_added.
	Ident     string `json:"ident,omitempty"`
	ExpiresMs string `json:"expires_ms,omitempty"`
	// Link is the moved expiry for link_expiry (built by the scripts,
	// redislink.go).
	Link *redisLinkExpiryMsg `json:"link,omitempty"`
}

// redisLinkExpiryMsg is a LinkExpiry in a link_expiry message: times in
// unix ms and the rev, as strings.
type redisLinkExpiryMsg struct {
	ID        string `json:"id"`
	ExpiresMs string `json:"expires_ms"`
	SignedMs  string `json:"signed_ms"`
	Rev       string `json:"rev"`
}

// putMessage is the key_put message for k (LastUsedAt included).
func putMessage(k *Key) ([]byte, error) {
	rec, err := encodeKey(k)
	if err != nil {
		return nil, err
	}
	return json.Marshal(redisMessage{Kind: redisMsgKeyPut, Key: rec})
}

// deletedMessage is the key_deleted message for the key id. (The
// revocation_added and user messages are built by the scripts.)
func deletedMessage(id string) ([]byte, error) {
	return json.Marshal(redisMessage{Kind: redisMsgKeyDeleted, ID: id})
}

// redisSub is one subscription: a goroutine with its own pub/sub
// connection, running until ctx is cancelled (by the subscriber's cancel,
// or by the store's Close through the feeds context).
type redisSub struct {
	ctx        context.Context
	done       chan struct{} // closed when the goroutine has returned
	settled    chan struct{} // closed at the first confirmation or failure
	settleOnce sync.Once

	mu        sync.Mutex
	ps        *redis.PubSub // the current pub/sub; nil once stopped
	confirmed bool          // the first confirmation arrived
	gaveUp    bool          // Subscribe returned before the first confirmation
}

// Subscribe implements Store. Each subscription has its own pub/sub
// connection and goroutine, which calls fn for every message in order.
// Subscribe waits (up to a few seconds) for Redis to confirm the
// subscription, so changes made after it returns are delivered; if Redis
// is down it returns at once and the goroutine keeps trying.
//
// Every time the subscription is confirmed again after a reconnection, and
// on the first confirmation if Subscribe had already returned without it,
// fn receives a Resync: messages published in between are lost.
// Malformed messages are skipped.
//
// cancel stops the goroutine and waits for it, so no call of fn happens
// after cancel returns; it must therefore not be called from fn.
func (s *RedisStore) Subscribe(fn func(Change)) (cancel func()) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return func() {}
	}
	ctx, stop := context.WithCancel(s.feeds)
	sub := &redisSub{ctx: ctx, done: make(chan struct{}), settled: make(chan struct{})}
	s.running.Add(1)
	s.mu.Unlock()

	context.AfterFunc(ctx, sub.closePubSub) // interrupts a blocked Receive
	go func() {
		defer s.running.Done()
		s.runSub(sub, fn)
	}()

	timer := time.NewTimer(redisSubscribeWait)
	select {
	case <-sub.settled:
	case <-sub.done:
	case <-timer.C:
	}
	timer.Stop()
	sub.mu.Lock()
	if !sub.confirmed {
		sub.gaveUp = true
	}
	sub.mu.Unlock()

	return func() {
		stop()
		<-sub.done
	}
}

func (sub *redisSub) settle() { sub.settleOnce.Do(func() { close(sub.settled) }) }

// setPubSub installs ps as the current connection, or closes it and
// reports false if the subscription was stopped meanwhile.
func (sub *redisSub) setPubSub(ps *redis.PubSub) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ctx.Err() != nil {
		_ = ps.Close()
		return false
	}
	if sub.ps != nil && sub.ps != ps {
		_ = sub.ps.Close()
	}
	sub.ps = ps
	return true
}

// closePubSub closes the current connection, if any.
func (sub *redisSub) closePubSub() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ps != nil {
		_ = sub.ps.Close()
		sub.ps = nil
	}
}

// sleep waits for d or until the subscription stops; it reports false in
// the latter case.
func (sub *redisSub) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-sub.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *RedisStore) runSub(sub *redisSub, fn func(Change)) {
	defer close(sub.done)
	defer sub.settle()
	defer sub.closePubSub()
	ctx := sub.ctx

	subscribe := func() (*redis.PubSub, bool) {
		ps := s.client.Subscribe(ctx) // no I/O yet
		if !sub.setPubSub(ps) {
			return nil, false
		}
		// On failure the channel is still remembered: Receive connects
		// and subscribes again.
		if err := ps.Subscribe(ctx, s.channel); err != nil {
			sub.settle()
		}
		return ps, true
	}
	ps, ok := subscribe()
	if !ok {
		return
	}

	deliver := func(c Change) bool {
		if ctx.Err() != nil {
			return false
		}
		fn(c)
		return true
	}

	backoff := redisFeedBackoffMin
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, redisFeedHealth)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Silence: check the connection is alive. A ping
				// that goes unanswered for a whole period means
				// it is not (a half-open TCP connection never
				// errors by itself): start a new one.
				if pinged {
					pinged = false
					if ps, ok = subscribe(); !ok {
						return
					}
				} else {
					pinged = true
					_ = ps.Ping(ctx)
				}
				continue
			}
			sub.settle()
			// Redis is unreachable; Receive reconnects on the next
			// call. Pause, longer each time, until it answers.
			if !sub.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, redisFeedBackoffMax)
			continue
		}
		backoff = redisFeedBackoffMin
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			sub.mu.Lock()
			resync := sub.confirmed || sub.gaveUp
			sub.confirmed = true
			sub.mu.Unlock()
			sub.settle()
			if resync && !deliver(Change{Kind: Resync}) {
				return
			}
		case *redis.Message:
			c, ok := decodeRedisMessage(m.Payload)
			if ok && !deliver(c) {
				return
			}
		}
	}
}

// decodeRedisMessage turns a message of the feed into a Change; ok is
// false for a malformed message.
func decodeRedisMessage(payload string) (c Change, ok bool) {
	var m redisMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return Change{}, false
	}
	switch m.Kind {
	case redisMsgKeyPut:
		k, err := decodeKey(m.Key)
		if err != nil || k.ID == "" {
			return Change{}, false
		}
		return Change{Kind: KeyPut, Key: k}, true
	case redisMsgKeyDeleted:
		if m.ID == "" {
			return Change{}, false
		}
		return Change{Kind: KeyDeleted, ID: m.ID}, true
	case redisMsgUserPut, redisMsgUserDeleted:
		u, err := decodeUser(m.User)
		if err != nil {
			return Change{}, false
		}
		if m.Kind == redisMsgUserDeleted {
			return Change{Kind: UserDeleted, ID: u.Name, User: u}, true
		}
		return Change{Kind: UserPut, User: u}, true
	case redisMsgRevocationAdded:
		ms, err := strconv.ParseFloat(m.ExpiresMs, 64)
		if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) {
			return Change{}, false
		}
		r, err := parseStoredIdent(m.Ident, time.UnixMilli(int64(ms)))
		if err != nil {
			return Change{}, false
		}
		return Change{Kind: RevocationAdded, Revocation: &r}, true
	case redisMsgLinkExpiry:
		if m.Link == nil || !validURLID(m.Link.ID) {
			return Change{}, false
		}
		exp, err1 := strconv.ParseInt(m.Link.ExpiresMs, 10, 64)
		signed, err2 := strconv.ParseInt(m.Link.SignedMs, 10, 64)
		rev, err3 := strconv.ParseUint(m.Link.Rev, 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return Change{}, false
		}
		return Change{Kind: LinkExpiryChanged, Link: &LinkExpiry{ID: m.Link.ID,
			ExpiresAt: time.UnixMilli(exp).UTC(), SignedExpiresAt: time.UnixMilli(signed).UTC(), Rev: rev}}, true
	}
	return Change{}, false
}
