package tests

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestReloadWhileServing reloads the config 10 times while requests flow.
// The embedded store is shared through a UsagePool: were it opened twice,
// bbolt's file lock would stall the reload and fail it.
func TestReloadWhileServing(t *testing.T) {
	store := t.TempDir() + "/signet.db"
	config := func(i int) string {
		return strings.NewReplacer("{STORE}", store, "{FILES}", filesDir(t)).Replace(baseConfig) +
			fmt.Sprintf("# reload %d\nhttp://localhost:9081 {\n\trespond \"config %d\"\n}\n", i, i)
	}
	tester := caddytest.NewTester(t)
	tester.InitServer(config(0), "caddyfile")
	k := createKey(t, caddytestAdmin, map[string]any{"name": "reload"})

	// At the instant of a reload Caddy itself drops a few connections
	// (the client sees EOF; measured the same with no signet handler in
	// the route). Those are retried; what must never happen is a
	// response other than 200, or a request that cannot get through.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (int, error) {
		var err error
		for range 5 {
			req, _ := http.NewRequest("GET", site+"/reports/q1.txt", nil)
			req.Header.Set("Authorization", "Bearer "+k.Key)
			var resp *http.Response
			if resp, err = client.Do(req); err == nil {
				resp.Body.Close()
				return resp.StatusCode, nil
			}
		}
		return 0, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, bad atomic.Int64
	var firstBad atomic.Value
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, err := get()
				switch {
				case err != nil:
					bad.Add(1)
					firstBad.CompareAndSwap(nil, err.Error())
				case status != 200:
					bad.Add(1)
					firstBad.CompareAndSwap(nil, http.StatusText(status))
				default:
					ok.Add(1)
				}
			}
		}()
	}
	for i := 1; i <= 10; i++ {
		before := ok.Load()
		tester.InitServer(config(i), "caddyfile")
		// the new config is live ...
		if r := do(t, "GET", "http://localhost:9081/", "", nil); string(r.body) != fmt.Sprintf("config %d", i) {
			t.Fatalf("reload %d not live: %s", i, r)
		}
		// ... and requests keep succeeding across it
		eventually(t, 10*time.Second, "requests flow after reload", func() bool { return ok.Load() > before })
	}
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", bad.Load(), bad.Load()+ok.Load(), firstBad.Load())
	}
	// The key created before the reloads still works, and a key created
	// after them too: one store, still open.
	expectStatus(t, "old key after reloads", do(t, "GET", site+"/reports/q1.txt", k.Key, nil), 200, "")
	k2 := createKey(t, caddytestAdmin, map[string]any{"name": "after"})
	expectStatus(t, "new key after reloads", do(t, "GET", site+"/reports/q1.txt", k2.Key, nil), 200, "")
	t.Logf("%d requests succeeded across 10 reloads", ok.Load())
}
