package tests

// Issue 9, "reloads during a store outage": with the Redis store and a
// generated signing secret, a config reload while Redis is down succeeds
// when the store settings did not change, so an operator can switch on
// serve_stale mid-outage; keys and links keep working.

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
)

// reloadClient waits longer than httpClient: a reload may wait for the
// previous config's store to close.
var reloadClient = &http.Client{Timeout: 60 * time.Second}

// loadCaddyfile posts a Caddyfile to the admin API's /load (forcing the
// reload even if nothing changed) and returns the status and body.
func loadCaddyfile(t *testing.T, in *instance, caddyfile string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+in.admin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate")
	resp, err := reloadClient.Do(req)
	if err != nil {
		t.Fatalf("POST /load: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// A reload may close the keep-alive connections of the previous
	// server, and the previous server may still take a connection while it
	// shuts down (Caddy drops a few at the instant of a reload, with or
	// without Signet): wait until three fresh connections in a row are
	// answered before the test asserts anything.
	if resp.StatusCode == http.StatusOK {
		ok := 0
		eventually(t, 10*time.Second, "the reloaded server answers", func() bool {
			httpClient.CloseIdleConnections()
			r, err := httpClient.Get(in.site + "/public/hello.txt")
			if err != nil {
				ok = 0
				return false
			}
			r.Body.Close()
			ok++
			return ok >= 3
		})
	}
	httpClient.CloseIdleConnections()
	return resp.StatusCode, string(body)
}

// outageInstance runs the built binary on the Redis store (no
// signing_secret: the secret is generated and kept in Redis) with the
// given extra global options, and returns it with a key and a link that
// work, and the Caddyfile it runs.
func outageInstance(t *testing.T, opts string) (in *instance, srv *redistest.Server, k createdKey, link, cfg string) {
	t.Helper()
	srv = redistest.Start(t, redistest.AppendOnly()) // the data survives Stop and Start
	in = newInstanceWith(t, t.TempDir(), "store redis "+srv.URL()+"\n"+opts)
	in.start()
	k = createKey(t, "http://"+in.admin, map[string]any{"name": "outage", "permissions": "sign"})
	link = in.signURL(t, k.Key, "/reports/q1.txt").URL
	expectStatus(t, "key before the outage", do(t, "GET", in.site+"/reports/q1.txt", k.Key, nil), 200, "")
	expectStatus(t, "link before the outage", do(t, "GET", link, "", nil), 200, "")
	b, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	return in, srv, k, link, string(b)
}

// TestReloadDuringOutageServeStale: Redis is stopped; a reload with the
// same store settings plus serve_stale succeeds (200), and the key and the
// link signed before the outage keep working, also once the view is older
// than max_staleness.
func TestReloadDuringOutageServeStale(t *testing.T) {
	in, srv, k, link, cfg := outageInstance(t, "max_staleness 2s")
	srv.Stop()

	next := strings.Replace(cfg, "max_staleness 2s", "max_staleness 2s\n\t\tserve_stale", 1)
	if next == cfg {
		t.Fatalf("could not add serve_stale to:\n%s", cfg)
	}
	if status, body := loadCaddyfile(t, in, next); status != 200 {
		t.Fatalf("reload adding serve_stale while Redis is down: %d %s", status, body)
	}
	expectStatus(t, "key after the reload", do(t, "GET", in.site+"/reports/q1.txt", k.Key, nil), 200, "")
	expectStatus(t, "link after the reload", do(t, "GET", link, "", nil), 200, "")

	// Past max_staleness the instance would fail closed without
	// serve_stale; with it, it keeps serving from its last view.
	eventually(t, 30*time.Second, "the view is older than max_staleness", func() bool {
		return value(scrape(t, in), "caddy_signet_store_staleness_seconds") > 2
	})
	expectStatus(t, "key past max_staleness (serve_stale)", do(t, "GET", in.site+"/reports/q1.txt", k.Key, nil), 200, "")
	expectStatus(t, "link past max_staleness (serve_stale)", do(t, "GET", link, "", nil), 200, "")
}

// TestReloadDuringOutageSameSettings: Redis is stopped; a reload with
// exactly the same settings succeeds (200), the key and the link keep
// working from the view, and when Redis is back the reloaded instance
// writes to it again and still honours both.
func TestReloadDuringOutageSameSettings(t *testing.T) {
	in, srv, k, link, cfg := outageInstance(t, "max_staleness 1m")
	srv.Stop()

	if status, body := loadCaddyfile(t, in, cfg); status != 200 {
		t.Fatalf("reload with the same settings while Redis is down: %d %s", status, body)
	}
	expectStatus(t, "key after the reload", do(t, "GET", in.site+"/reports/q1.txt", k.Key, nil), 200, "")
	expectStatus(t, "link after the reload", do(t, "GET", link, "", nil), 200, "")

	srv.Start() // same port, same data
	eventually(t, 30*time.Second, "the reloaded instance writes to Redis again", func() bool {
		return do(t, "POST", "http://"+in.admin+"/signet/keys", "", map[string]any{"name": "after the outage"}).status == 201
	})
	expectStatus(t, "key after Redis is back", do(t, "GET", in.site+"/reports/q1.txt", k.Key, nil), 200, "")
	expectStatus(t, "link after Redis is back", do(t, "GET", link, "", nil), 200, "")
}
