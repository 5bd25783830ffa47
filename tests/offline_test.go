package tests

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

// Offline signing end to end: a key created with --offline-signing signs
// links with its value alone (as the client libraries do), on two
// instances sharing Redis: served by both, refused when changed, counted
// for max_uses across both, revoked by id, and ended everywhere when
// offline signing is switched off.

// offlineURL signs path for host with the key value apiKey, as a client
// library does, and returns the URL under site (another address, the Host
// header kept by the caller) and its URL id.
func offlineURL(t *testing.T, site, host, apiKey, path string, folder bool, p verifier.Policy, lifetime time.Duration) (string, string) {
	t.Helper()
	k, err := verifier.OfflineKeyOf(apiKey)
	if err != nil {
		t.Fatal(err)
	}
	id, err := verifier.NewURLID()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	c := verifier.Claims{IssuedAt: now, ExpiresAt: now + int64(lifetime/time.Second), ID: id, Policy: p}
	if folder {
		c.Prefix = path
	}
	tok, err := k.Sign(c, verifier.Target{Host: host, Method: "GET", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Path: path, RawQuery: verifier.AppendToken("", "sig", tok)}
	return site + u.RequestURI(), id.String()
}

func TestOfflineSigningAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	opts := "store redis " + srv.URL() + "\nresync_interval 1m\nmax_staleness 30s"
	a := newInstanceWith(t, t.TempDir(), opts)
	b := newInstanceWith(t, t.TempDir(), opts)
	a.start()
	b.start()
	out := a.mustCLI("keys", "create", "--name", "gallery", "--scope", "/reports/", "--permissions", "sign", "--offline-signing")
	if !strings.Contains(out, "signs links offline") {
		t.Fatalf("keys create --offline-signing: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	value := lines[len(lines)-1]
	keyID := verifier.KeyIDOf(value)
	if !strings.Contains(out, keyID) {
		t.Fatalf("the key's id is not derived from its value (%s): %s", keyID, out)
	}
	var view map[string]any
	if err := json.Unmarshal([]byte(a.mustCLI("keys", "get", keyID, "--json")), &view); err != nil || view["offline_signing"] != true {
		t.Fatalf("key view: %v %v", view, err)
	}
	host := strings.TrimPrefix(a.site, "http://") // one public host for both
	want, err := os.ReadFile(filepath.Join(filesDir(t), "reports", "q1.txt"))
	if err != nil {
		t.Fatal(err)
	}

	link, _ := offlineURL(t, a.site, host, value, "/reports/q1.txt", false, verifier.Policy{}, time.Hour)
	linkB := b.site + strings.TrimPrefix(link, a.site)
	eventually(t, 5*time.Second, "the offline key reaches B", func() bool {
		r, err := fetch("GET", linkB, host, nil)
		return err == nil && r.status == 200
	})
	for i, u := range []string{link, linkB} {
		r := fetchT(t, "GET", u, host, nil)
		if r.status != 200 || string(r.body) != string(want) {
			t.Fatalf("offline link on instance %d: %s", i, r)
		}
		bad := []byte(u)
		j := len(bad) - 10
		if bad[j] == 'A' {
			bad[j] = 'B'
		} else {
			bad[j] = 'A'
		}
		expectStatus(t, "one byte changed", fetchT(t, "GET", string(bad), host, nil), 403, "")
	}
	folder, _ := offlineURL(t, a.site, host, value, "/reports/", true, verifier.Policy{}, time.Hour)
	expectStatus(t, "offline folder link", fetchT(t, "GET", strings.Replace(folder, "/reports/?", "/reports/q1.txt?", 1), host, nil), 200, "")
	outside, _ := offlineURL(t, a.site, host, value, "/alice/notes.txt", false, verifier.Policy{}, time.Hour)
	expectStatus(t, "outside the key's scope", fetchT(t, "GET", outside, host, nil), 403, "revoked")

	// max_uses 2, 20 concurrent downloads over both instances: 2 succeed.
	counted, countedID := offlineURL(t, a.site, host, value, "/reports/q1.txt", false, verifier.Policy{MaxUses: 2}, time.Hour)
	targets := [2]string{counted, b.site + strings.TrimPrefix(counted, a.site)}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := fetch("GET", targets[i%2], host, nil)
			switch {
			case err != nil:
				t.Error(err)
			case r.status == 200:
				ok.Add(1)
			case r.status != 403 || r.errorCode() != "max_uses_reached":
				t.Errorf("download refused with %s", r)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 2 {
		t.Fatalf("%d of 20 downloads of a 2-use offline link succeeded", ok.Load())
	}
	l := getLedger(t, "http://"+b.admin+"/signet/links/"+countedID, "")
	if l.KeyID != keyID || l.Uses != 2 || l.Policy.MaxUses != 2 || l.Path != "/reports/q1.txt" {
		t.Errorf("ledger record of the counted offline link: %+v", l)
	}

	// Revoked by id on A: refused on B.
	revoked, revokedID := offlineURL(t, a.site, host, value, "/reports/q1.txt", false, verifier.Policy{}, time.Hour)
	a.mustCLI("revoke", revokedID)
	eventually(t, 5*time.Second, "the revocation reaches B", func() bool {
		r, err := fetch("GET", b.site+strings.TrimPrefix(revoked, a.site), host, nil)
		return err == nil && r.status == 403 && r.errorCode() == "revoked"
	})

	// Switched off on A: every offline link ends on B too.
	a.mustCLI("keys", "update", keyID, "--offline-signing=false")
	eventually(t, 5*time.Second, "switching offline signing off reaches B", func() bool {
		r, err := fetch("GET", linkB, host, nil)
		return err == nil && r.status == 403 && r.errorCode() == "invalid_signature"
	})
	if _, errOut, err := a.cli("keys", "update", keyID, "--offline-signing"); err == nil || !strings.Contains(errOut, "created") {
		t.Errorf("switching offline signing on again: %v %s", err, errOut)
	}
}
