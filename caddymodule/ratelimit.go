package caddymodule

import (
	"fmt"
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
	// Events allowed per window. 0 means the default; -1 turns the limit
	// off.
	Events int `json:"events,omitempty"`
	// Window is the period the events are counted over. Default: 1s.
	Window caddy.Duration `json:"window,omitempty"`
}

func rateOrDefault(r *Rate, events int) Rate {
	if r == nil {
		return Rate{Events: events, Window: caddy.Duration(time.Second)}
	}
	return *r
}

// limiters hands out one token bucket per key (an API key id or a client
// IP). Buckets live in two generations: every idle period the current map
// becomes the previous one and the previous one is dropped, so a bucket
// unused for two periods (full again by then) is forgotten, memory is
// bounded by the recently active keys, and no call ever walks the map.
type limiters struct {
	key   string // in limiterPool
	limit rate.Limit
	burst int
	idle  time.Duration

	mu        sync.Mutex
	cur, prev map[string]*rate.Limiter
	rotated   time.Time
}

// newLimiters returns nil (no limit) for a rate of no events.
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
		cur:   make(map[string]*rate.Limiter),
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
	if now.Sub(l.rotated) >= l.idle {
		l.prev, l.cur, l.rotated = l.cur, make(map[string]*rate.Limiter, len(l.cur)), now
	}
	lim := l.cur[key]
	if lim == nil {
		if lim = l.prev[key]; lim == nil {
			lim = rate.NewLimiter(l.limit, l.burst)
		} else {
			delete(l.prev, key)
		}
		l.cur[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// size is the number of buckets held.
func (l *limiters) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}

// Destruct implements caddy.Destructor (nothing to release).
func (l *limiters) Destruct() error { return nil }

// limiterPool keeps buckets across config reloads: a reload is routine and
// must not hand every key and client a fresh allowance. Handlers with the
// same kind and rate share one set, so a limit is per instance.
var limiterPool = caddy.NewUsagePool()

func limiterKey(kind string, r Rate) string {
	return fmt.Sprintf("%s|%d|%d", kind, r.Events, r.Window)
}

// loadLimiters returns the shared limiters for kind at rate r (nil: off).
func loadLimiters(kind string, r Rate) (*limiters, error) {
	if r.Events <= 0 {
		return nil, nil
	}
	key := limiterKey(kind, r)
	v, _, err := limiterPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		l := newLimiters(r)
		l.key = key
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*limiters), nil
}

func releaseLimiters(l *limiters) {
	if l != nil {
		_, _ = limiterPool.Delete(l.key)
	}
}

// retryAfter renders a wait as whole seconds for Retry-After (at least 1).
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
