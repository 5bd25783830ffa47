package tests

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
)

// propagation is how soon a change made on one instance must be enforced by
// another (the design's promise for the Redis change feed).
const propagation = time.Second

// redisPair starts a redis-server and two instances (A and B) sharing it.
// A reaches Redis through a proxy the test can cut, B directly.
func redisPair(t *testing.T, extra string) (a, b *instance, srv *redistest.Server, cut *tcpProxy) {
	t.Helper()
	srv = redistest.Start(t)
	cut = newTCPProxy(t, srv.Addr())
	opts := "max_staleness 3s\nresync_interval 1m\nlast_used_interval off\n" + extra
	a = newInstanceWith(t, t.TempDir(), "store redis redis://"+cut.Addr()+"\n"+opts)
	b = newInstanceWith(t, t.TempDir(), "store redis "+srv.URL()+"\n"+opts)
	a.start()
	b.start()
	return a, b, srv, cut
}

func (in *instance) createKey(t *testing.T, args ...string) createdKey {
	t.Helper()
	var k createdKey
	out := in.mustCLI(append([]string{"keys", "create", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	return k
}

func (in *instance) signURL(t *testing.T, key, path string) signed {
	t.Helper()
	resp := do(t, "POST", in.site+"/_signet/v1/files"+path+"/signed-url", key, `{"expires_in": 3600}`)
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || resp.status != 200 {
		t.Fatalf("sign on %s: %s", in.site, resp)
	}
	return s
}

// onOther rewrites a URL signed by one instance for the other's address
// (the instances stand for one public host behind a load balancer, so the
// signature binds the Host header, which the test keeps).
func onOther(t *testing.T, signedURL string, other *instance) (url, host string) {
	t.Helper()
	i := strings.Index(signedURL[len("http://"):], "/") + len("http://")
	return other.site + signedURL[i:], signedURL[len("http://"):i]
}

func getAs(t *testing.T, url, host, token string) response {
	t.Helper()
	req := mustRequest(t, "GET", url)
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// TestTwoInstancesInStep: keys and revocations made on one instance are
// enforced by the other within a second.
func TestTwoInstancesInStep(t *testing.T) {
	a, b, _, _ := redisPair(t, "")
	file := "/reports/q1.txt"

	k := a.createKey(t, "--name", "shared", "--permissions", "sign")
	start := time.Now()
	eventually(t, propagation, "key created on A works on B", func() bool {
		return do(t, "GET", b.site+file, k.Key, nil).status == 200
	})
	t.Logf("key visible on B after %s", time.Since(start))

	// A link signed on A works on B (one shared secret), until revoked on A.
	s := a.signURL(t, k.Key, file)
	url, host := onOther(t, s.URL, b)
	expectStatus(t, "A's link on B", getAs(t, url, host, ""), 200, "")
	a.mustCLI("revoke", s.URL)
	start = time.Now()
	eventually(t, propagation, "link revoked on A is refused by B", func() bool {
		return getAs(t, url, host, "").status == 403
	})
	t.Logf("revocation enforced on B after %s", time.Since(start))
	expectStatus(t, "revoked link on B", getAs(t, url, host, ""), 403, "revoked")

	// A key deleted on B stops working on A.
	b.mustCLI("keys", "delete", k.ID)
	start = time.Now()
	eventually(t, propagation, "key deleted on B is refused by A", func() bool {
		return do(t, "GET", a.site+file, k.Key, nil).status == 401
	})
	t.Logf("deletion enforced on A after %s", time.Since(start))
}

// TestRevokeByKeyAndPrefix: everything a key, or a path prefix, issued
// before now is revoked; links issued afterwards work.
func TestRevokeByKeyAndPrefix(t *testing.T) {
	a, b, _, _ := redisPair(t, "")
	k := a.createKey(t, "--name", "k", "--permissions", "sign")
	old1 := a.signURL(t, k.Key, "/reports/q1.txt")
	old2 := a.signURL(t, k.Key, "/alice/notes.txt")

	b.mustCLI("revoke", "--prefix", "/reports/")
	eventually(t, propagation, "prefix revocation on A", func() bool {
		return do(t, "GET", old1.URL, "", nil).status == 403
	})
	expectStatus(t, "other prefix still works", do(t, "GET", old2.URL, "", nil), 200, "")

	b.mustCLI("revoke", "--key", k.ID)
	eventually(t, propagation, "key revocation on A", func() bool {
		return do(t, "GET", old2.URL, "", nil).status == 403
	})
	expectStatus(t, "the key itself still works", do(t, "GET", a.site+"/alice/notes.txt", k.Key, nil), 200, "")
	// Links issued in a later second are not covered.
	waitNextSecond()
	fresh := a.signURL(t, k.Key, "/reports/q1.txt")
	expectStatus(t, "link issued after the revocations", do(t, "GET", fresh.URL, "", nil), 200, "")
}

// waitNextSecond returns once the wall clock has entered a new second:
// revocations cover URLs issued at or before their (whole) second.
func waitNextSecond() {
	s := time.Now().Unix()
	for time.Now().Unix() == s {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisOutage: cut A off from Redis while requests flow. A decides
// from its last view for max_staleness, then fails closed with 503;
// writes answer 503; when Redis is back A recovers by itself and enforces
// a revocation B made meanwhile.
func TestRedisOutage(t *testing.T) {
	a, b, _, cut := redisPair(t, "")
	file := "/reports/q1.txt"
	k := b.createKey(t, "--name", "k", "--permissions", "sign")
	eventually(t, propagation, "key reaches A", func() bool { return do(t, "GET", a.site+file, k.Key, nil).status == 200 })
	s := b.signURL(t, k.Key, file)
	url, host := onOther(t, s.URL, a)
	expectStatus(t, "link on A", getAs(t, url, host, ""), 200, "")

	cut.Cut()
	// Writes on A fail honestly.
	resp := do(t, "POST", "http://"+a.admin+"/signet/keys", "", map[string]any{"name": "during outage"})
	expectStatus(t, "create key on A during outage", resp, 503, "store_unavailable")
	// B revokes the link meanwhile.
	b.mustCLI("revoke", s.URL)
	// A keeps deciding from its last view, then fails closed.
	var last response
	eventually(t, 15*time.Second, "A fails closed after max_staleness", func() bool {
		last = do(t, "GET", a.site+file, k.Key, nil)
		if last.status != 200 && last.status != 503 {
			t.Fatalf("A answered %s during the outage", last)
		}
		return last.status == 503
	})
	expectStatus(t, "A during the outage", last, 503, "store_unavailable")
	expectStatus(t, "B unaffected", do(t, "GET", b.site+file, k.Key, nil), 200, "")

	cut.Restore()
	eventually(t, 15*time.Second, "A recovers", func() bool {
		return do(t, "GET", a.site+file, k.Key, nil).status == 200
	})
	expectStatus(t, "revocation made during the outage, on A", getAs(t, url, host, ""), 403, "revoked")
	resp = do(t, "POST", "http://"+a.admin+"/signet/keys", "", map[string]any{"name": "after outage"})
	expectStatus(t, "create key on A after the outage", resp, 201, "")
}

// TestRedisRestartLosingData: a Redis restart that lost everything. Keys
// are gone (401: fail closed); revocations stay enforced by the instances
// that knew them; the instances recover without a restart.
func TestRedisRestartLosingData(t *testing.T) {
	a, b, srv, _ := redisPair(t, "signing_secret s1 "+strings.Repeat("x", 40))
	file := "/reports/q1.txt"
	k := a.createKey(t, "--name", "k", "--permissions", "sign")
	eventually(t, propagation, "key reaches B", func() bool { return do(t, "GET", b.site+file, k.Key, nil).status == 200 })
	s := a.signURL(t, k.Key, file)
	a.mustCLI("revoke", s.URL)

	srv.Stop()
	srv.Start() // no persistence: an empty Redis
	for _, in := range []*instance{a, b} {
		eventually(t, 15*time.Second, "keys gone after the data loss", func() bool {
			return do(t, "GET", in.site+file, k.Key, nil).status == 401
		})
	}
	url, host := onOther(t, s.URL, b)
	expectStatus(t, "revoked link on A", do(t, "GET", s.URL, "", nil), 403, "")
	expectStatus(t, "revoked link on B", getAs(t, url, host, ""), 403, "")
	// New keys work everywhere again.
	k2 := b.createKey(t, "--name", "k2")
	eventually(t, propagation, "new key reaches A", func() bool { return do(t, "GET", a.site+file, k2.Key, nil).status == 200 })
}

// tcpProxy forwards loopback connections to a target until cut.
type tcpProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	go p.serve()
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close(); c.Close() }()
		go func() { io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// Cut drops every connection and refuses new ones.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Restore accepts connections again.
func (p *tcpProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// TestGeneratedSecretSurvivesRedisDataLoss: with no signing_secret
// configured, a reload after Redis lost its data puts the secret this
// instance was signing with back, instead of generating a new one that
// would break every link in flight.
func TestGeneratedSecretSurvivesRedisDataLoss(t *testing.T) {
	srv := redistest.Start(t)
	in := newInstanceWith(t, t.TempDir(), "store redis "+srv.URL()+"\nmax_staleness 3s")
	in.start()
	link := strings.TrimSpace(in.mustCLI("sign", "/reports/q1.txt", "--expires-in", "1h", "--base-url", in.site))
	expectStatus(t, "operator link", do(t, "GET", link, "", nil), 200, "")

	srv.Stop()
	srv.Start() // an empty Redis
	eventually(t, 15*time.Second, "reload onto the empty Redis", func() bool {
		_, err := run(in.bin, "reload", "--force", "--config", in.config, "--adapter", "caddyfile", "--address", in.admin)
		return err == nil
	})
	expectStatus(t, "operator link after data loss and reload", do(t, "GET", link, "", nil), 200, "")
	if got, _ := srv.Client().Exists(context.Background(), "{signet}:secret").Result(); got != 1 {
		t.Errorf("the secret was not put back into Redis")
	}
}
