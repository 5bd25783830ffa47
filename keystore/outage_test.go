package keystore

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-signet/signet/internal/redistest"
)

// signetGoroutines counts the goroutines running code of this module
// (the cache's loops, the Redis change feed).
func signetGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "caddy-signet/signet/keystore.") && !strings.Contains(g, "TestRedisOutagesLeakNoGoroutines") &&
			!strings.Contains(g, "signetGoroutines") {
			count++
		}
	}
	return count
}

// TestRedisOutagesLeakNoGoroutines cycles the Redis server through three
// outages under a live cache (health checks, change feed, resyncs). Once
// Redis is back and the view fresh, Signet runs exactly the goroutines it
// ran before, and the process as a whole stays within go-redis's own
// bound (its pool dials in background goroutines, at most PoolSize).
func TestRedisOutagesLeakNoGoroutines(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1})
	st := NewRedisStore(client, "leak")
	c, err := NewCache(context.Background(), st, CacheOptions{HealthInterval: 50 * time.Millisecond, ResyncInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = st.Close() })
	const maxStale = 300 * time.Millisecond
	poll := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within the deadline", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fresh := func() bool { return !c.Stale(time.Now(), maxStale) }
	poll("fresh at start", fresh)
	// Goroutines start a moment after NewCache returns: take the baseline
	// once two readings 100 ms apart agree.
	ours := -1
	poll("Signet's goroutines settled", func() bool {
		a := signetGoroutines()
		time.Sleep(100 * time.Millisecond)
		if b := signetGoroutines(); a == b {
			ours = b
			return true
		}
		return false
	})
	baseline := runtime.NumGoroutine()
	poolSize := client.Options().PoolSize
	for i := range 3 {
		srv.Stop()
		poll("stale during outage", func() bool { return !fresh() })
		srv.Start()
		poll("fresh after outage", fresh)
		poll(fmt.Sprintf("Signet's goroutines back to %d", ours), func() bool { return signetGoroutines() == ours })
		if n := runtime.NumGoroutine(); n > baseline+poolSize {
			t.Fatalf("outage %d: %d goroutines, more than the baseline %d plus go-redis's pool size %d", i+1, n, baseline, poolSize)
		}
	}
}
