package tests

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
)

// "Links people can manage" end to end: the policies a link carries
// (download_name, inline, content_type, max_uses, client_cidr) applied on
// the request path of a real Caddy, and the ledger of issued links
// ({api}/links…, /signet/links…) with its visibility rules, uses, moved
// expiries and revocations, on one instance and across two sharing Redis.

// twoOnRedis starts two instances of the built binary on srv (with the
// global signet options extra besides the store and a 1m resync) and a
// sign key made on the first, once the second accepts it too.
func twoOnRedis(t *testing.T, srv *redistest.Server, extra, keyName string) (a, b *instance, k createdKey) {
	t.Helper()
	opts := "store redis " + srv.URL() + "\nresync_interval 1m" + extra
	a = newInstanceWith(t, t.TempDir(), opts)
	b = newInstanceWith(t, t.TempDir(), opts)
	a.start()
	b.start()
	k = a.createKey(t, "--name", keyName, "--permissions", "sign")
	eventually(t, 5*time.Second, "key created on A works on B", func() bool {
		return do(t, "GET", b.site+"/reports/q1.txt", k.Key, nil).status == 200
	})
	return a, b, k
}

// ledgerLink is a link as the links API shows it.
type ledgerLink struct {
	ID        string    `json:"id"`
	Path      string    `json:"path"`
	Folder    bool      `json:"folder"`
	KeyID     string    `json:"key_id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Policy    struct {
		DownloadName string `json:"download_name"`
		Inline       bool   `json:"inline"`
		ContentType  string `json:"content_type"`
		MaxUses      int64  `json:"max_uses"`
		ClientCIDR   string `json:"client_cidr"`
	} `json:"policy"`
	Uses     int64      `json:"uses"`
	LastUsed *time.Time `json:"last_used"`
	Revoked  bool       `json:"revoked"`
	Active   bool       `json:"active"`
}

// ledgerPage is the answer of GET …/links.
type ledgerPage struct {
	Links []ledgerLink `json:"links"`
	Next  *string      `json:"next"`
}

// fetch sends one request with extra headers and, if host is set, that
// Host header. It never touches t, so goroutines may call it.
func fetch(method, url, host string, hdr map[string]string) (response, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return response{}, err
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func fetchT(t testing.TB, method, url, host string, hdr map[string]string) response {
	t.Helper()
	r, err := fetch(method, url, host, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// signAt asks the signing endpoint of the site at base for a link to path
// with body (expires_in 600 unless given) and fails unless it answers 200.
func signAt(t testing.TB, base, token, path string, body map[string]any) signed {
	t.Helper()
	req := map[string]any{"expires_in": 600}
	for k, v := range body {
		req[k] = v
	}
	resp := do(t, "POST", base+"/_signet/v1/files"+path+"/signed-url", token, req)
	var s signed
	if resp.status != 200 || json.Unmarshal(resp.body, &s) != nil || s.URL == "" || s.ID == "" {
		t.Fatalf("sign %s %v at %s: %s", path, req, base, resp)
	}
	return s
}

// operatorSign signs through POST /signet/sign on the admin API at admin
// (http://host:port) for the site baseURL.
func operatorSign(t testing.TB, admin, baseURL, path string, body map[string]any) signed {
	t.Helper()
	req := map[string]any{"path": path, "expires_in": 600, "base_url": baseURL}
	for k, v := range body {
		req[k] = v
	}
	resp := do(t, "POST", admin+"/signet/sign", "", req)
	var s signed
	if resp.status != 200 || json.Unmarshal(resp.body, &s) != nil || s.URL == "" || s.ID == "" {
		t.Fatalf("operator sign %v: %s", req, resp)
	}
	return s
}

// getLedger reads one link (url is …/links/{id}) and fails unless 200.
func getLedger(t testing.TB, url, token string) ledgerLink {
	t.Helper()
	resp := do(t, "GET", url, token, nil)
	if resp.status != 200 {
		t.Fatalf("GET %s: %s", url, resp)
	}
	return decodeAs[ledgerLink](t, "GET "+url, resp)
}

// listLedger lists links (url is …/links[?query]) and fails unless 200
// with a "links" array and a "next" string.
func listLedger(t testing.TB, url, token string) ledgerPage {
	t.Helper()
	resp := do(t, "GET", url, token, nil)
	if resp.status != 200 {
		t.Fatalf("GET %s: %s", url, resp)
	}
	p := decodeAs[ledgerPage](t, "GET "+url, resp)
	if p.Links == nil || p.Next == nil {
		t.Fatalf("GET %s: want {\"links\": [...], \"next\": \"...\"}, got %s", url, resp.body)
	}
	return p
}

// linkIDs returns the ids of links, in their order.
func linkIDs(links []ledgerLink) []string {
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = l.ID
	}
	return ids
}

// expectLinkSet fails unless links are exactly the links of want (any order).
func expectLinkSet(t testing.TB, what string, links []ledgerLink, want ...signed) {
	t.Helper()
	got := linkIDs(links)
	slices.Sort(got)
	var w []string
	for _, s := range want {
		w = append(w, s.ID)
	}
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("%s: links %v, want %v", what, got, w)
	}
}

// randomLinkID is a well-formed link id no link has.
func randomLinkID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// q1 is the content of /reports/q1.txt.
const q1 = "Q1 revenue report\n"

// TestMaxUsesAcrossInstances: a max_uses link is counted in the shared
// Redis, exactly, under 50 concurrent downloads split across two
// instances; HEAD and a 304 never count; the owner may resume; and when
// Redis is gone a max_uses link fails closed (503) while an ordinary link
// is still decided from the instance's view.
func TestMaxUsesAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, b, k := twoOnRedis(t, srv, "\nmax_staleness 30s", "counted")

	s := signAt(t, a.site, k.Key, "/reports/q1.txt", map[string]any{"expires_in": 3600, "max_uses": 3})
	urlB, host := onOther(t, s.URL, b)
	targets := [2]string{s.URL, urlB}
	ledger := func(in *instance) ledgerLink {
		return getLedger(t, "http://"+in.admin+"/signet/links/"+s.ID, "")
	}

	// HEAD works while uses are left and never counts.
	var etag string
	for i, u := range targets {
		r := fetchT(t, "HEAD", u, host, nil)
		expectStatus(t, "HEAD before any download, instance "+"AB"[i:i+1], r, 200, "")
		etag = r.header.Get("Etag")
	}
	// A conditional GET answered 304 is no download: its use is given back.
	if r := fetchT(t, "GET", s.URL, host, map[string]string{"If-None-Match": etag}); etag == "" || r.status != 304 {
		t.Fatalf("conditional GET with ETag %q: %s, want 304", etag, r)
	}
	if l := ledger(a); l.Uses != 0 || !l.Active || l.Policy.MaxUses != 3 {
		t.Fatalf("after HEADs and a 304: %+v, want 0 uses of 3, active", l)
	}

	// 50 downloads at once, alternating between the instances.
	const n = 50
	results := make([]response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = fetch("GET", targets[i%2], host, nil)
		}()
	}
	close(start)
	wg.Wait()
	ok, refused := 0, 0
	for i, r := range results {
		switch {
		case errs[i] != nil:
			t.Errorf("download %d: %v", i, errs[i])
		case r.status == 200 && string(r.body) == q1:
			ok++
		case r.status == 403 && r.errorCode() == "max_uses_reached":
			refused++
		default:
			t.Errorf("download %d on %s: %s", i, "AB"[i%2:i%2+1], r)
		}
	}
	if ok != 3 || refused != n-3 {
		t.Fatalf("%d concurrent downloads of a max_uses 3 link: %d succeeded, %d refused; want 3 and %d", n, ok, refused, n-3)
	}

	// Used up: HEAD is refused too, on both instances.
	for i, u := range targets {
		expectStatus(t, "HEAD after the uses, instance "+"AB"[i:i+1], fetchT(t, "HEAD", u, host, nil), 403, "")
	}
	for _, in := range []*instance{a, b} {
		if l := ledger(in); l.Uses != 3 || l.Active || l.Revoked || l.LastUsed == nil || l.Policy.MaxUses != 3 {
			t.Errorf("ledger on %s after the downloads: %+v, want 3 uses, last_used set, not active", in.admin, l)
		}
	}

	// The client that downloaded may resume (a Range not from byte 0), on
	// either instance, without a use; a Range from 0 is a new download.
	for i, u := range targets {
		r := fetchT(t, "GET", u, host, map[string]string{"Range": "bytes=5-"})
		if r.status != 206 || string(r.body) != q1[5:] {
			t.Errorf("resume on %s: %s, want 206 %q", "AB"[i:i+1], r, q1[5:])
		}
		expectStatus(t, "Range from byte 0 once used up", fetchT(t, "GET", u, host, map[string]string{"Range": "bytes=0-3"}), 403, "max_uses_reached")
	}
	if l := ledger(b); l.Uses != 3 {
		t.Errorf("resumes counted: %d uses, want 3", l.Uses)
	}

	// Redis goes away. A max_uses link cannot be counted: 503 on both
	// instances (GET and HEAD); an ordinary link still works from the view.
	plain := a.signURL(t, k.Key, "/alice/notes.txt")
	counted := signAt(t, a.site, k.Key, "/alice/notes.txt", map[string]any{"expires_in": 3600, "max_uses": 5})
	plainB, _ := onOther(t, plain.URL, b)
	countedB, _ := onOther(t, counted.URL, b)
	for _, u := range []string{plain.URL, plainB} {
		expectStatus(t, "ordinary link before the outage", fetchT(t, "GET", u, host, nil), 200, "")
	}
	for _, u := range []string{counted.URL, countedB} {
		expectStatus(t, "max_uses link HEAD before the outage", fetchT(t, "HEAD", u, host, nil), 200, "")
	}
	srv.Stop()
	for i, u := range []string{counted.URL, countedB} {
		expectStatus(t, "max_uses link GET, Redis down, instance "+"AB"[i:i+1], fetchT(t, "GET", u, host, nil), 503, "store_unavailable")
		expectStatus(t, "max_uses link HEAD, Redis down, instance "+"AB"[i:i+1], fetchT(t, "HEAD", u, host, nil), 503, "")
	}
	for i, u := range []string{plain.URL, plainB} {
		if r := fetchT(t, "GET", u, host, nil); r.status != 200 || string(r.body) != "alice notes\n" {
			t.Errorf("ordinary link, Redis down, instance %s: %s", "AB"[i:i+1], r)
		}
	}
}

// proxyConfig is a site behind a trusted proxy on 127.0.0.1 (X-Forwarded-For
// names the client) or, with trusted false, the same site without it.
func proxyConfig(t *testing.T, store string, trusted bool) string {
	servers := ""
	if trusted {
		servers = "\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t\tclient_ip_headers X-Forwarded-For\n\t}\n"
	}
	return `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	grace_period 1s
` + servers + `	signet {
		store file ` + store + `
	}
}
http://localhost:9080 {
	root * ` + filesDir(t) + `
	signet {
		rate_limit key off
		rate_limit client off
	}
	file_server
}
`
}

// TestClientCIDRBehindProxy: client_cidr is checked against Caddy's
// client IP: behind a trusted proxy the one X-Forwarded-For names; without
// trusted_proxies the header is ignored, so a client cannot claim another
// address.
func TestClientCIDRBehindProxy(t *testing.T) {
	store := filepath.Join(t.TempDir(), "signet.db")
	tester := startCaddy(t, proxyConfig(t, store, true))
	adm := caddytestAdmin
	net4 := operatorSign(t, adm, site, "/reports/q1.txt", map[string]any{"client_cidr": "203.0.113.0/24"})
	one := operatorSign(t, adm, site, "/reports/q1.txt", map[string]any{"client_cidr": "203.0.113.5"})
	net6 := operatorSign(t, adm, site, "/reports/q1.txt", map[string]any{"client_cidr": "2001:db8:1::/48"})
	loop := operatorSign(t, adm, site, "/reports/q1.txt", map[string]any{"client_cidr": "127.0.0.1/32"})
	from := func(method, u, ip string) response {
		hdr := map[string]string{}
		if ip != "" {
			hdr["X-Forwarded-For"] = ip
		}
		return fetchT(t, method, u, "", hdr)
	}

	for _, c := range []struct {
		what, method, url, ip string
		status                int
	}{
		{"in the /24", "GET", net4.URL, "203.0.113.5", 200},
		{"in the /24, behind a second hop", "GET", net4.URL, "203.0.113.77, 10.0.0.1", 200},
		{"outside the /24", "GET", net4.URL, "198.51.100.5", 403},
		{"outside the /24, HEAD", "HEAD", net4.URL, "198.51.100.5", 403},
		{"no header: the proxy itself", "GET", net4.URL, "", 403},
		{"the one address", "GET", one.URL, "203.0.113.5", 200},
		{"the next address", "GET", one.URL, "203.0.113.6", 403},
		{"in the IPv6 /48", "GET", net6.URL, "2001:db8:1::7", 200},
		{"outside the IPv6 /48", "GET", net6.URL, "2001:db8:2::7", 403},
		{"an IPv4 client, IPv6 link", "GET", net6.URL, "203.0.113.5", 403},
		{"loopback link, the proxy names another client", "GET", loop.URL, "203.0.113.5", 403},
		{"loopback link, no header", "GET", loop.URL, "", 200},
	} {
		r := from(c.method, c.url, c.ip)
		if r.status != c.status || (c.status == 200 && c.method == "GET" && string(r.body) != q1) ||
			(c.status == 403 && c.method == "GET" && r.errorCode() != "client_not_allowed") {
			t.Errorf("%s (X-Forwarded-For %q): %s, want %d", c.what, c.ip, r, c.status)
		}
	}
	if l := getLedger(t, adm+"/signet/links/"+one.ID, ""); l.Policy.ClientCIDR != "203.0.113.5/32" {
		t.Errorf("ledger policy of a one-address link: %+v", l.Policy)
	}
	// An IPv4-mapped address is taken in its IPv4 form.
	mapped := operatorSign(t, adm, site, "/reports/q1.txt", map[string]any{"client_cidr": "::ffff:203.0.113.5"})
	if l := getLedger(t, adm+"/signet/links/"+mapped.ID, ""); l.Policy.ClientCIDR != "203.0.113.5/32" {
		t.Errorf("ledger policy of an IPv4-mapped link: %+v", l.Policy)
	}
	expectStatus(t, "IPv4-mapped link, its IPv4 client", from("GET", mapped.URL, "203.0.113.5"), 200, "")
	for _, bad := range []string{"203.0.113.5/24", "203.0.113.0/33", "2001:db8::1/32", "::ffff:203.0.113.5/120", "fe80::1%eth0", "example.com", "203.0.113.0/24 "} {
		resp := do(t, "POST", adm+"/signet/sign", "", map[string]any{"path": "/reports/q1.txt", "expires_in": 60, "base_url": site, "client_cidr": bad})
		expectField(t, "client_cidr "+bad, resp, "client_cidr")
	}

	// Without trusted_proxies (same store, same links): X-Forwarded-For is
	// only a header; the client is 127.0.0.1.
	tester.InitServer(proxyConfig(t, store, false), "caddyfile")
	for _, c := range []struct {
		what, url, ip string
		status        int
	}{
		{"spoofed header, /24 link", net4.URL, "203.0.113.5", 403},
		{"spoofed header, one-address link", one.URL, "203.0.113.5", 403},
		{"loopback link, spoofed header", loop.URL, "203.0.113.5", 200},
	} {
		r := from("GET", c.url, c.ip)
		if r.status != c.status || (c.status == 403 && r.errorCode() != "client_not_allowed") {
			t.Errorf("untrusted: %s: %s, want %d", c.what, r, c.status)
		}
	}
}

// TestMaxUsesResumeByClient: resuming a max_uses download (a Range not from
// byte 0) is allowed only to a client that made a counted download; a
// conditional GET answered 304 gives its use back and gives no right to
// resume.
func TestMaxUsesResumeByClient(t *testing.T) {
	store := filepath.Join(t.TempDir(), "signet.db")
	startCaddy(t, proxyConfig(t, store, true))
	adm := caddytestAdmin
	as := func(method, u, ip string, hdr map[string]string) response {
		h := map[string]string{"X-Forwarded-For": ip}
		for k, v := range hdr {
			h[k] = v
		}
		return fetchT(t, method, u, "", h)
	}
	const x, y = "203.0.113.5", "198.51.100.5"
	m := operatorSign(t, adm, site, "/reports/q1.txt", map[string]any{"max_uses": 1})
	if r := as("GET", m.URL, x, nil); r.status != 200 || string(r.body) != q1 {
		t.Fatalf("first download: %s", r)
	}
	expectStatus(t, "another client, used up", as("GET", m.URL, y, nil), 403, "max_uses_reached")
	expectStatus(t, "another client resuming", as("GET", m.URL, y, map[string]string{"Range": "bytes=5-"}), 403, "max_uses_reached")
	if r := as("GET", m.URL, x, map[string]string{"Range": "bytes=5-"}); r.status != 206 || string(r.body) != q1[5:] {
		t.Errorf("the downloading client resuming: %s", r)
	}
	expectStatus(t, "the downloading client, a new download", as("GET", m.URL, x, nil), 403, "max_uses_reached")
	expectStatus(t, "the downloading client, Range from 0", as("GET", m.URL, x, map[string]string{"Range": "bytes=0-3"}), 403, "max_uses_reached")
	expectStatus(t, "HEAD, used up", as("HEAD", m.URL, x, nil), 403, "") // (no body)
	if l := getLedger(t, adm+"/signet/links/"+m.ID, ""); l.Uses != 1 || l.Active {
		t.Errorf("ledger: %+v, want 1 use, not active", l)
	}

	// A 304: no download, the use is given back, and no right to resume.
	const z, w = "192.0.2.9", "192.0.2.10"
	m2 := operatorSign(t, adm, site, "/reports/q1.txt", map[string]any{"max_uses": 1})
	etag := as("HEAD", m2.URL, z, nil).header.Get("Etag")
	if r := as("GET", m2.URL, z, map[string]string{"If-None-Match": etag}); etag == "" || r.status != 304 {
		t.Fatalf("conditional GET (ETag %q): %s, want 304", etag, r)
	}
	if l := getLedger(t, adm+"/signet/links/"+m2.ID, ""); l.Uses != 0 || !l.Active {
		t.Errorf("after a 304: %+v, want 0 uses, active", l)
	}
	if r := as("GET", m2.URL, z, map[string]string{"Range": "bytes=1-"}); r.status != 403 || r.errorCode() != "max_uses_reached" {
		t.Errorf("a client whose only request was a 304 resumes a download it never started: %s (%q), want 403 max_uses_reached", r, r.header.Get("Content-Range"))
	}
	if r := as("GET", m2.URL, w, nil); r.status != 200 || string(r.body) != q1 {
		t.Errorf("the use given back by the 304: %s", r)
	}
}

// TestDownloadNameAndContentType: download_name, inline and content_type
// set Content-Disposition and Content-Type on 200 and 206 answers, over
// file_server's and over a reverse_proxy origin's own headers, and leave
// an error answer alone; the policy is bound into the token; bad values
// are refused naming their field.
func TestDownloadNameAndContentType(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/proxied/report.pdf":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Add("Content-Type", "text/plain")
			w.Header().Set("Content-Disposition", `inline; filename="origin.bin"`)
			io.WriteString(w, "origin report")
		case "/proxied/gone.pdf":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="origin-404.txt"`)
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "origin 404")
		default:
			http.NotFound(w, r)
		}
	}))
	defer origin.Close()
	startCaddy(t, testGlobal+`http://localhost:9080 {
	root * {FILES}
	signet {
		rate_limit key off
		rate_limit client off
	}
	handle /proxied/* {
		reverse_proxy `+origin.Listener.Addr().String()+`
	}
	handle {
		file_server
	}
}
`)
	k := signer(t, nil)
	const name = "日本語 report.pdf"
	policy := map[string]any{"download_name": name, "content_type": "application/pdf"}

	// expectHeaders checks the policy's headers on r.
	expectHeaders := func(what string, r response, disposition, filename, ctype string) {
		t.Helper()
		cd := r.header.Values("Content-Disposition")
		if len(cd) != 1 {
			t.Errorf("%s: Content-Disposition %q, want one", what, cd)
			return
		}
		d, params, err := mime.ParseMediaType(cd[0])
		if err != nil || d != disposition || params["filename"] != filename {
			t.Errorf("%s: Content-Disposition %q parses to %q %q (%v), want %q filename %q", what, cd[0], d, params, err, disposition, filename)
		}
		if filename != "" {
			// The quoted filename= is an ASCII fallback; filename* carries
			// the exact name when it is not plain ASCII.
			at := strings.Index(cd[0], `filename="`)
			if at < 0 {
				t.Errorf("%s: no filename= in %q", what, cd[0])
				return
			}
			for _, c := range []byte(cd[0][at:]) {
				if c >= 0x80 {
					t.Errorf("%s: non-ASCII in %q", what, cd[0])
					break
				}
			}
		}
		if ct := r.header.Values("Content-Type"); ctype != "" && (len(ct) != 1 || ct[0] != ctype) {
			t.Errorf("%s: Content-Type %q, want exactly [%q]", what, ct, ctype)
		}
		if ctype != "" && r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff with a link's Content-Type", what)
		}
	}

	// Through file_server: 200, 206 and HEAD.
	fs := signAt(t, site, k.Key, "/reports/q1.txt", policy)
	r := fetchT(t, "GET", fs.URL, "", nil)
	if r.status != 200 || string(r.body) != q1 {
		t.Fatalf("file_server GET: %s", r)
	}
	expectHeaders("file_server 200", r, "attachment", name, "application/pdf")
	if !strings.Contains(r.header.Get("Content-Disposition"), "filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E%20report.pdf") {
		t.Errorf("filename* is not the RFC 8187 form of the name: %q", r.header.Get("Content-Disposition"))
	}
	r = fetchT(t, "GET", fs.URL, "", map[string]string{"Range": "bytes=0-1"})
	if r.status != 206 || string(r.body) != q1[:2] {
		t.Fatalf("file_server Range: %s", r)
	}
	expectHeaders("file_server 206", r, "attachment", name, "application/pdf")
	r = fetchT(t, "HEAD", fs.URL, "", nil)
	expectStatus(t, "file_server HEAD", r, 200, "")
	expectHeaders("file_server HEAD", r, "attachment", name, "application/pdf")

	// Through reverse_proxy: the origin's two Content-Types and its
	// Content-Disposition are replaced.
	px := signAt(t, site, k.Key, "/proxied/report.pdf", policy)
	r = fetchT(t, "GET", px.URL, "", nil)
	if r.status != 200 || string(r.body) != "origin report" {
		t.Fatalf("reverse_proxy GET: %s", r)
	}
	expectHeaders("reverse_proxy 200", r, "attachment", name, "application/pdf")

	// Other names and inline, through both.
	for _, c := range []struct {
		policy             map[string]any
		disposition, fname string
		ctype              string
	}{
		{map[string]any{"download_name": `Q1 "final" report.txt`}, "attachment", `Q1 "final" report.txt`, ""},
		{map[string]any{"download_name": "100% done; (v2).txt"}, "attachment", "100% done; (v2).txt", ""},
		{map[string]any{"download_name": "Ünïcödé.txt", "inline": true}, "inline", "Ünïcödé.txt", ""},
		{map[string]any{"inline": true, "content_type": "text/plain; charset=utf-8"}, "inline", "", "text/plain; charset=utf-8"},
	} {
		for _, p := range []string{"/reports/q1.txt", "/proxied/report.pdf"} {
			s := signAt(t, site, k.Key, p, c.policy)
			r := fetchT(t, "GET", s.URL, "", nil)
			expectStatus(t, p, r, 200, "")
			expectHeaders(p+" "+c.fname, r, c.disposition, c.fname, c.ctype)
		}
	}

	// An error answer keeps the origin's headers (links signed by the
	// operator: the admin API does not ask the origin).
	gone := operatorSign(t, caddytestAdmin, site, "/proxied/gone.pdf", policy)
	r = fetchT(t, "GET", gone.URL, "", nil)
	if r.status != 404 || string(r.body) != "origin 404" ||
		r.header.Get("Content-Type") != "text/plain; charset=utf-8" || len(r.header.Values("Content-Type")) != 1 ||
		r.header.Get("Content-Disposition") != `attachment; filename="origin-404.txt"` {
		t.Errorf("reverse_proxy 404: %s %v, want the origin's 404 and headers", r, r.header)
	}
	missing := operatorSign(t, caddytestAdmin, site, "/reports/none.pdf", policy)
	r = fetchT(t, "GET", missing.URL, "", nil)
	if r.status != 404 || r.header.Get("Content-Disposition") != "" || strings.HasPrefix(r.header.Get("Content-Type"), "application/pdf") {
		t.Errorf("file_server 404: %s %v, want a 404 without the link's headers", r, r.header)
	}

	// The policy is bound into the token: change the name in it, or flip a
	// byte, and the link is refused.
	tok := tokenOf(t, fs.URL)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(raw), "report.pdf")
	ct := strings.Index(string(raw), "application/pdf")
	if i < 0 || ct < 0 {
		t.Fatalf("the token does not carry the policy as specified: %q", raw)
	}
	for what, mutate := range map[string]func([]byte){
		"download name changed": func(b []byte) { copy(b[i:], "report.exe") },
		"content type changed":  func(b []byte) { copy(b[ct:], "application/zip") },
		"inline flag set":       func(b []byte) { b[i-len("日本語 ")-1] = 0x01 },
	} {
		b := slices.Clone(raw)
		mutate(b)
		u := strings.Replace(fs.URL, tok, base64.RawURLEncoding.EncodeToString(b), 1)
		expectStatus(t, "tampered policy: "+what, fetchT(t, "GET", u, "", nil), 403, "invalid_signature")
	}
	flipped := []byte(tok)
	flipped[len(flipped)/2] ^= 'A' ^ 'B'
	if r := fetchT(t, "GET", strings.Replace(fs.URL, tok, string(flipped), 1), "", nil); r.status != 403 {
		t.Errorf("flipped token byte: %s, want 403", r)
	}
	expectStatus(t, "untampered", fetchT(t, "GET", fs.URL, "", nil), 200, "")

	// Bad policies name their field, on both signing APIs.
	endpoint := signPrefix + "/reports/q1.txt/signed-url"
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"download_name": "a\r\nSet-Cookie: x=1"}, "download_name"},
		{map[string]any{"download_name": "a\nb.txt"}, "download_name"},
		{map[string]any{"download_name": "a\x00b.txt"}, "download_name"},
		{map[string]any{"download_name": "a/b.txt"}, "download_name"},
		{map[string]any{"download_name": strings.Repeat("x", 201)}, "download_name"},
		{map[string]any{"content_type": "text/html"}, "content_type"},
		{map[string]any{"content_type": "text/html; charset=utf-8"}, "content_type"},
		{map[string]any{"content_type": "TEXT/HTML"}, "content_type"},
		{map[string]any{"content_type": "application/xhtml+xml"}, "content_type"},
		{map[string]any{"content_type": "image/svg+xml"}, "content_type"},
		{map[string]any{"content_type": "text/xml"}, "content_type"},
		{map[string]any{"content_type": "application/javascript"}, "content_type"},
		{map[string]any{"content_type": "text/javascript"}, "content_type"},
		{map[string]any{"content_type": "text/plain\r\nX-Evil: 1"}, "content_type"},
		{map[string]any{"content_type": "*/*"}, "content_type"},
		{map[string]any{"max_uses": 0}, "max_uses"},
		{map[string]any{"max_uses": -1}, "max_uses"},
		{map[string]any{"max_uses": 1000001}, "max_uses"},
		{map[string]any{"max_uses": "3"}, "max_uses"},
		{map[string]any{"max_uses": 1.5}, "max_uses"},
		{map[string]any{"client_cidr": "203.0.113.5/24"}, "client_cidr"},
		{map[string]any{"folder": true, "download_name": "f.txt"}, "download_name"},
		{map[string]any{"folder": true, "inline": true}, "inline"},
		{map[string]any{"folder": true, "content_type": "text/plain"}, "content_type"},
	} {
		body := map[string]any{"expires_in": 60}
		for k, v := range c.body {
			body[k] = v
		}
		expectField(t, "public API "+jsonString(c.body), do(t, "POST", endpoint, k.Key, body), c.field)
		body["path"], body["base_url"] = "/reports/q1.txt", site
		expectField(t, "admin API "+jsonString(c.body), do(t, "POST", caddytestAdmin+"/signet/sign", "", body), c.field)
	}
	// The bounds themselves are fine.
	signAt(t, site, k.Key, "/reports/q1.txt", map[string]any{"max_uses": 1000000, "download_name": strings.Repeat("x", 200)})
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ledgerConfig counts uses every second and caps lifetimes at 2h.
const ledgerConfig = `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	grace_period 1s
	signet {
		store file {STORE}
		last_used_interval 1s
		max_lifetime 2h
	}
}
http://localhost:9080 {
	root * {FILES}
	signet {
		rate_limit key off
		rate_limit client off
	}
	file_server
}
`

// TestLinksLedgerAPI: the ledger through {api}/links and /signet/links:
// who sees which links, filters, pages, one link, uses, moving expiries,
// revoking one link and links by filter.
func TestLinksLedgerAPI(t *testing.T) {
	startCaddy(t, ledgerConfig)
	adm := caddytestAdmin
	admin := createKey(t, adm, map[string]any{"name": "site admin", "permissions": "admin"})
	siteA := createKey(t, adm, map[string]any{"name": "A", "permissions": "sign"})
	siteB := createKey(t, adm, map[string]any{"name": "B", "permissions": "sign"})
	siteRead := createKey(t, adm, map[string]any{"name": "reader", "permissions": "read"})
	createUser(t, adm, map[string]any{"name": "alice", "scopes": []string{"/alice/", "/reports/"}, "permissions": "sign"})
	keyExp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	alice1 := createKey(t, adm, map[string]any{"name": "alice laptop", "user": "alice"})
	alice2 := createKey(t, adm, map[string]any{"name": "alice phone", "user": "alice", "expires_at": keyExp.Format(time.RFC3339)})
	aliceDocs := createKey(t, adm, map[string]any{"name": "alice docs", "user": "alice", "scopes": []string{"/alice/"}})
	aliceRead := createKey(t, adm, map[string]any{"name": "alice reader", "user": "alice", "permissions": "read"})

	before := time.Now().Truncate(time.Second)
	a1 := signAt(t, site, siteA.Key, "/reports/q1.txt", map[string]any{"download_name": "q1.txt"})
	a2 := signAt(t, site, siteA.Key, "/alice", map[string]any{"folder": true, "check": "notes.txt", "max_uses": 5})
	a3 := signAt(t, site, siteA.Key, "/alice2/secret.txt", map[string]any{"client_cidr": "127.0.0.1"})
	b1 := signAt(t, site, siteB.Key, "/reports/q1.txt", nil)
	l1 := signAt(t, site, alice1.Key, "/alice/notes.txt", map[string]any{"content_type": "text/plain"})
	l2 := signAt(t, site, alice1.Key, "/reports/q1.txt", map[string]any{"max_uses": 2})
	l3 := signAt(t, site, alice2.Key, "/alice", map[string]any{"folder": true, "check": "notes.txt"})
	l4 := signAt(t, site, alice2.Key, "/reports/q1.txt", map[string]any{"download_name": "alice.txt"})
	op := operatorSign(t, adm, site, "/reports/q1.txt", nil)
	all := []signed{a1, a2, a3, b1, l1, l2, l3, l4, op}
	links := func(token, query string) []ledgerLink { return listLedger(t, apiBase+"/links"+query, token).Links }

	// Who sees what.
	expectLinkSet(t, "site-wide key A", links(siteA.Key, ""), a1, a2, a3)
	expectLinkSet(t, "site-wide key B", links(siteB.Key, ""), b1)
	for _, k := range []createdKey{alice1, alice2, aliceDocs} {
		expectLinkSet(t, "alice's key "+k.Name, links(k.Key, ""), l1, l2, l3, l4)
	}
	expectLinkSet(t, "admin key", links(admin.Key, ""), all...)
	expectLinkSet(t, "operator", listLedger(t, adm+"/signet/links", "").Links, all...)
	for what, c := range map[string]struct {
		token, query string
		status       int
		field        string
	}{
		"A naming a user":           {siteA.Key, "?user=alice", 403, ""},
		"A naming another key":      {siteA.Key, "?key_id=" + siteB.ID, 403, ""},
		"alice naming another user": {alice1.Key, "?user=bob", 403, ""},
		"a read key":                {siteRead.Key, "", 403, ""},
		"alice's read key":          {aliceRead.Key, "", 403, ""},
		"no key":                    {"", "", 401, ""},
		"relative path":             {admin.Key, "?path=reports/", 400, "path"},
		"limit 0":                   {admin.Key, "?limit=0", 400, "limit"},
		"limit 1001":                {admin.Key, "?limit=1001", 400, "limit"},
		"limit text":                {admin.Key, "?limit=ten", 400, "limit"},
		"active yes":                {admin.Key, "?active=yes", 400, "active"},
		"bad cursor":                {admin.Key, "?cursor=nope", 400, "cursor"},
		"bad key id":                {admin.Key, "?key_id=nope", 400, "key_id"},
	} {
		resp := do(t, "GET", apiBase+"/links"+c.query, c.token, nil)
		if c.field != "" {
			expectField(t, what, resp, c.field)
		} else if resp.status != c.status || strings.Contains(string(resp.body), `"links"`) {
			t.Errorf("%s: %s, want %d", what, resp, c.status)
		}
	}

	// Filters.
	for what, c := range map[string]struct {
		token, query string
		want         []signed
	}{
		"admin, path /alice/":       {admin.Key, "?path=/alice/", []signed{a2, l1, l3}},
		"admin, path /alice":        {admin.Key, "?path=/alice", []signed{a2, l1, l3}},
		"admin, path /alice2/":      {admin.Key, "?path=/alice2/", []signed{a3}},
		"admin, path /reports":      {admin.Key, "?path=/reports", []signed{a1, b1, l2, l4, op}},
		"admin, path of one file":   {admin.Key, "?path=/alice/notes.txt", []signed{l1}},
		"admin, key A":              {admin.Key, "?key_id=" + siteA.ID, []signed{a1, a2, a3}},
		"admin, user alice":         {admin.Key, "?user=alice", []signed{l1, l2, l3, l4}},
		"admin, user and path":      {admin.Key, "?user=alice&path=/reports/", []signed{l2, l4}},
		"A, its own key id":         {siteA.Key, "?key_id=" + siteA.ID, []signed{a1, a2, a3}},
		"A, path /alice/":           {siteA.Key, "?path=/alice/", []signed{a2}},
		"alice, her other key":      {alice1.Key, "?key_id=" + alice2.ID, []signed{l3, l4}},
		"alice, her own user":       {alice1.Key, "?user=alice", []signed{l1, l2, l3, l4}},
		"alice, path /reports/":     {alice1.Key, "?path=/reports/", []signed{l2, l4}},
		"alice, a site-wide key":    {alice1.Key, "?key_id=" + siteA.ID, nil},
		"operator, user alice":      {"", "?user=alice", []signed{l1, l2, l3, l4}},
		"admin, active=true so far": {admin.Key, "?active=true", all},
		"admin, active=false":       {admin.Key, "?active=false", nil},
	} {
		base := apiBase + "/links"
		if c.token == "" {
			base = adm + "/signet/links"
		}
		expectLinkSet(t, what, listLedger(t, base+c.query, c.token).Links, c.want...)
	}

	// Pages of 2, newest first, each link once, the same order as one page.
	full := links(admin.Key, "?limit=1000")
	var paged []ledgerLink
	cursor := ""
	for range 10 {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		p := listLedger(t, apiBase+"/links"+q, admin.Key)
		if len(p.Links) > 2 {
			t.Fatalf("page of %d links with limit=2", len(p.Links))
		}
		paged = append(paged, p.Links...)
		if cursor = *p.Next; cursor == "" {
			break
		}
	}
	if cursor != "" || !slices.Equal(linkIDs(paged), linkIDs(full)) || len(full) != len(all) {
		t.Errorf("pages of 2: %v (cursor left %q), want %v", linkIDs(paged), cursor, linkIDs(full))
	}
	for i := 1; i < len(paged); i++ {
		if paged[i].CreatedAt.After(paged[i-1].CreatedAt) {
			t.Errorf("not newest first: %s (%s) after %s (%s)", paged[i].ID, paged[i].CreatedAt, paged[i-1].ID, paged[i-1].CreatedAt)
		}
	}
	// The same through the admin API.
	if p := listLedger(t, adm+"/signet/links?limit=2", ""); len(p.Links) != 2 || *p.Next == "" {
		t.Errorf("admin API page of 2: %d links, next %q", len(p.Links), *p.Next)
	}

	// One link.
	now := time.Now()
	v := getLedger(t, apiBase+"/links/"+a1.ID, siteA.Key)
	if v.ID != a1.ID || v.Path != "/reports/q1.txt" || v.Folder || v.KeyID != siteA.ID || v.User != "" ||
		v.CreatedAt.Before(before) || v.CreatedAt.After(now) || !v.ExpiresAt.Equal(a1.ExpiresAt) ||
		v.Policy.DownloadName != "q1.txt" || v.Uses != 0 || v.LastUsed != nil || v.Revoked || !v.Active {
		t.Errorf("A's link a1: %+v", v)
	}
	if v := getLedger(t, apiBase+"/links/"+a2.ID, admin.Key); !v.Folder || v.Path != "/alice/" || v.Policy.MaxUses != 5 {
		t.Errorf("folder link a2: %+v", v)
	}
	if v := getLedger(t, apiBase+"/links/"+l1.ID, alice2.Key); v.User != "alice" || v.KeyID != alice1.ID || v.Policy.ContentType != "text/plain" {
		t.Errorf("alice's link l1, seen by her other key: %+v", v)
	}
	if v := getLedger(t, adm+"/signet/links/"+op.ID, ""); v.KeyID != "" || v.User != "" || v.Path != "/reports/q1.txt" {
		t.Errorf("operator link: %+v", v)
	}
	for what, c := range map[string]struct{ url, token string }{
		"unknown id":           {apiBase + "/links/" + randomLinkID(), admin.Key},
		"malformed id":         {apiBase + "/links/nope", admin.Key},
		"unknown id, operator": {adm + "/signet/links/" + randomLinkID(), ""},
	} {
		expectStatus(t, what, do(t, "GET", c.url, c.token, nil), 404, "not_found")
	}
	// Another key's link: refused, and nothing of the record shows.
	for what, c := range map[string]struct {
		token string
		link  signed
		owner string
	}{
		"A, B's link":            {siteA.Key, b1, siteB.ID},
		"A, alice's link":        {siteA.Key, l1, alice1.ID},
		"alice, A's link":        {alice1.Key, a2, siteA.ID},
		"alice, operator's link": {alice1.Key, op, "/reports/q1.txt"},
		"alice's read key, hers": {aliceRead.Key, l1, alice1.ID},
		"B, A's link":            {siteB.Key, a1, siteA.ID},
	} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			var body any
			if method == "PATCH" {
				body = map[string]any{"expires_in": 60}
			}
			resp := do(t, method, apiBase+"/links/"+c.link.ID, c.token, body)
			// The code answers 403 (an id is 128 random bits: telling a
			// foreign link from an unknown one reveals nothing guessable).
			if resp.status != 403 || resp.errorCode() != "forbidden" || strings.Contains(string(resp.body), c.owner) ||
				strings.Contains(string(resp.body), "created_at") || strings.Contains(string(resp.body), "expires_at") {
				t.Errorf("%s %s: %s, want 403 forbidden without the record", method, what, resp)
			}
		}
	}
	if v := getLedger(t, adm+"/signet/links/"+b1.ID, ""); v.Revoked || !v.ExpiresAt.Equal(b1.ExpiresAt) {
		t.Errorf("B's link after refused PATCH and DELETE by others: %+v", v)
	}
	expectStatus(t, "B's link still works", do(t, "GET", b1.URL, "", nil), 200, "")

	// Uses: downloads count, in batches; HEAD and resumes do not; a
	// max_uses link (a2) counts at once.
	expectStatus(t, "a1 HEAD", fetchT(t, "HEAD", a1.URL, "", nil), 200, "")
	for range 2 {
		expectStatus(t, "a1 GET", fetchT(t, "GET", a1.URL, "", nil), 200, "")
	}
	expectStatus(t, "a1 resume", fetchT(t, "GET", a1.URL, "", map[string]string{"Range": "bytes=5-"}), 206, "")
	expectStatus(t, "a2 GET", fetchT(t, "GET", strings.Replace(a2.URL, "/alice/?", "/alice/notes.txt?", 1), "", nil), 200, "")
	if v := getLedger(t, apiBase+"/links/"+a2.ID, siteA.Key); v.Uses != 1 || v.LastUsed == nil {
		t.Errorf("max_uses folder link after one download: %+v", v)
	}
	// a3's use is counted after a1's: once it reaches the ledger, so have a1's.
	expectStatus(t, "a3 GET", fetchT(t, "GET", a3.URL, "", nil), 200, "")
	eventually(t, 10*time.Second, "a3's use reaches the ledger", func() bool {
		return getLedger(t, apiBase+"/links/"+a3.ID, siteA.Key).Uses == 1
	})
	if v := getLedger(t, apiBase+"/links/"+a1.ID, siteA.Key); v.Uses != 2 || v.LastUsed == nil || v.LastUsed.After(time.Now()) || v.LastUsed.Before(before) {
		t.Errorf("a1 after HEAD, 2 GETs and a resume: %+v, want 2 uses and last_used", v)
	}

	// PATCH: shorter, by anyone who sees the link.
	patch := func(url, token string, body any) response { return do(t, "PATCH", url, token, body) }
	resp := patch(apiBase+"/links/"+a3.ID, siteA.Key, map[string]any{"expires_at": "2000-01-01T00:00:00Z"})
	if v := decodeAs[ledgerLink](t, "shorten a3", resp); resp.status != 200 || v.ExpiresAt.After(time.Now()) {
		t.Fatalf("shorten a3 into the past: %s", resp)
	}
	expectStatus(t, "a3 after its expiry was moved to now", do(t, "GET", a3.URL, "", nil), 403, "expired")
	expectStatus(t, "a3's record once expired", do(t, "GET", apiBase+"/links/"+a3.ID, siteA.Key, nil), 404, "not_found")
	resp = patch(apiBase+"/links/"+l1.ID, aliceDocs.Key, map[string]any{"expires_in": 300})
	if v := decodeAs[ledgerLink](t, "shorten l1", resp); resp.status != 200 || time.Until(v.ExpiresAt) > 301*time.Second || time.Until(v.ExpiresAt) < 290*time.Second {
		t.Errorf("shorten l1 to 300s by alice's other key: %s", resp)
	}
	resp = patch(apiBase+"/links/"+l2.ID, aliceDocs.Key, map[string]any{"expires_in": 500})
	expectStatus(t, "shorten l2 (/reports/) by a key narrowed to /alice/", resp, 200, "")
	expectStatus(t, "l1 still works", do(t, "GET", l1.URL, "", nil), 200, "")

	// PATCH: longer, within max_lifetime (2h), the issuing key's expiry and
	// the caller's scope and permission.
	resp = patch(apiBase+"/links/"+a1.ID, siteA.Key, map[string]any{"expires_in": 3600})
	if v := decodeAs[ledgerLink](t, "extend a1", resp); resp.status != 200 || time.Until(v.ExpiresAt) < 3590*time.Second || v.Uses != 2 {
		t.Errorf("extend a1 by 1h: %s", resp)
	}
	if v := getLedger(t, adm+"/signet/links/"+a1.ID, ""); time.Until(v.ExpiresAt) < 3590*time.Second {
		t.Errorf("a1 after the extension: %+v", v)
	}
	expectStatus(t, "a1 after the extension", do(t, "GET", a1.URL, "", nil), 200, "")
	expectField(t, "a1 beyond max_lifetime (expires_in)", patch(apiBase+"/links/"+a1.ID, siteA.Key, map[string]any{"expires_in": 7200 + 60}), "expires_in")
	expectField(t, "a1 beyond max_lifetime (expires_at)", patch(apiBase+"/links/"+a1.ID, admin.Key,
		map[string]any{"expires_at": time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)}), "expires_at")
	expectField(t, "l3 beyond its key's expiry", patch(apiBase+"/links/"+l3.ID, alice1.Key, map[string]any{"expires_in": 5400}), "expires_in")
	expectField(t, "l3 beyond its key's expiry, operator", patch(adm+"/signet/links/"+l3.ID, "", map[string]any{"expires_in": 5400}), "expires_in")
	expectStatus(t, "l3 within its key's expiry", patch(apiBase+"/links/"+l3.ID, alice1.Key, map[string]any{"expires_in": 1800}), 200, "")
	expectStatus(t, "extend by a read key", patch(apiBase+"/links/"+l2.ID, aliceRead.Key, map[string]any{"expires_in": 1200}), 403, "")
	expectStatus(t, "extend /reports/ by a key narrowed to /alice/", patch(apiBase+"/links/"+l2.ID, aliceDocs.Key, map[string]any{"expires_in": 1200}), 403, "")
	expectStatus(t, "extend by the operator", patch(adm+"/signet/links/"+op.ID, "", map[string]any{"expires_in": 1200}), 200, "")
	for what, body := range map[string]any{
		"both fields":        map[string]any{"expires_in": 60, "expires_at": "2030-01-01T00:00:00Z"},
		"no field":           map[string]any{},
		"expires_in as text": map[string]any{"expires_in": "60"},
		"expires_at not RFC": map[string]any{"expires_at": "tomorrow"},
		"unknown field":      map[string]any{"expires_in": 60, "path": "/x"},
	} {
		if resp := patch(apiBase+"/links/"+l2.ID, alice1.Key, body); resp.status != 400 || resp.errorCode() != "bad_request" {
			t.Errorf("PATCH %s: %s, want 400", what, resp)
		}
	}
	expectStatus(t, "PATCH an unknown link", patch(apiBase+"/links/"+randomLinkID(), admin.Key, map[string]any{"expires_in": 60}), 404, "not_found")

	// DELETE revokes one link.
	resp = do(t, "DELETE", apiBase+"/links/"+l1.ID, alice2.Key, nil)
	if v := decodeAs[ledgerLink](t, "revoke l1", resp); resp.status != 200 || !v.Revoked || v.Active {
		t.Errorf("DELETE l1 by alice's other key: %s", resp)
	}
	expectStatus(t, "l1 after DELETE", do(t, "GET", l1.URL, "", nil), 403, "revoked")
	if v := getLedger(t, apiBase+"/links/"+l1.ID, alice1.Key); !v.Revoked || v.Active {
		t.Errorf("l1's view after DELETE: %+v", v)
	}
	expectLinkSet(t, "active=false", links(admin.Key, "?active=false"), l1)
	expectLinkSet(t, "active=true", links(admin.Key, "?active=true"), a1, a2, b1, l2, l3, l4, op)
	expectLinkSet(t, "alice, active=true", links(alice1.Key, "?active=true"), l2, l3, l4)
	expectStatus(t, "DELETE an unknown link", do(t, "DELETE", apiBase+"/links/"+randomLinkID(), admin.Key, nil), 404, "not_found")

	// Bulk revoke: only what the caller sees.
	bulk := func(url, token string, body any) response { return do(t, "POST", url, token, body) }
	expectField(t, "bulk, empty object", bulk(apiBase+"/links/revoke", alice1.Key, map[string]any{}), "body")
	expectField(t, "bulk, all false", bulk(apiBase+"/links/revoke", alice1.Key, map[string]any{"all": false}), "body")
	expectStatus(t, "bulk, no body", bulk(apiBase+"/links/revoke", alice1.Key, ""), 400, "bad_request")
	expectField(t, "bulk, relative path", bulk(apiBase+"/links/revoke", alice1.Key, map[string]any{"path": "reports/"}), "path")
	expectStatus(t, "bulk by A naming a user", bulk(apiBase+"/links/revoke", siteA.Key, map[string]any{"user": "alice"}), 403, "")
	expectStatus(t, "bulk by a read key", bulk(apiBase+"/links/revoke", aliceRead.Key, map[string]any{"all": true}), 403, "")
	expectStatus(t, "bulk, GET", do(t, "GET", apiBase+"/links/revoke", alice1.Key, nil), 405, "method_not_allowed")
	revoked := func(what string, resp response, want int) {
		t.Helper()
		var r struct {
			Revoked *int `json:"revoked"`
		}
		if resp.status != 200 || json.Unmarshal(resp.body, &r) != nil || r.Revoked == nil || *r.Revoked != want {
			t.Errorf("%s: %s, want {\"revoked\": %d}", what, resp, want)
		}
	}
	// alice revokes her links under /reports/: l2 and l4, not A's, B's or the operator's.
	revoked("alice revokes /reports/", bulk(apiBase+"/links/revoke", alice1.Key, map[string]any{"path": "/reports/"}), 2)
	for _, s := range []signed{l2, l4} {
		expectStatus(t, "alice's /reports/ link after the bulk revoke", do(t, "GET", s.URL, "", nil), 403, "revoked")
		if v := getLedger(t, apiBase+"/links/"+s.ID, alice1.Key); !v.Revoked || v.Active {
			t.Errorf("view after bulk revoke: %+v", v)
		}
	}
	for _, s := range []signed{a1, b1, op} {
		expectStatus(t, "others' /reports/ links after alice's bulk revoke", do(t, "GET", s.URL, "", nil), 200, "")
	}
	expectStatus(t, "alice's folder link after her /reports/ revoke", do(t, "GET", strings.Replace(l3.URL, "/alice/?", "/alice/notes.txt?", 1), "", nil), 200, "")
	// The same again revokes nothing new.
	revoked("alice revokes /reports/ again", bulk(apiBase+"/links/revoke", alice1.Key, map[string]any{"path": "/reports/"}), 0)
	// The admin key, by key; A, all of its own (a3 has expired).
	revoked("admin revokes B's links", bulk(apiBase+"/links/revoke", admin.Key, map[string]any{"key_id": siteB.ID}), 1)
	expectStatus(t, "b1 after the revoke by key", do(t, "GET", b1.URL, "", nil), 403, "revoked")
	revoked("A revokes all it may see", bulk(apiBase+"/links/revoke", siteA.Key, map[string]any{"all": true}), 2)
	for _, s := range []signed{a1, a2} {
		u := s.URL
		if s.Folder {
			u = strings.Replace(u, "/alice/?", "/alice/notes.txt?", 1)
		}
		expectStatus(t, "A's link after A revoked all", do(t, "GET", u, "", nil), 403, "revoked")
	}
	expectStatus(t, "operator link after A revoked all", do(t, "GET", op.URL, "", nil), 200, "")
	// The operator, through the admin API.
	revoked("operator revokes alice2's /alice/ links", bulk(adm+"/signet/links/revoke", "", map[string]any{"key_id": alice2.ID, "path": "/alice/"}), 1)
	expectStatus(t, "l3 after the operator's revoke", do(t, "GET", strings.Replace(l3.URL, "/alice/?", "/alice/notes.txt?", 1), "", nil), 403, "revoked")
	expectField(t, "operator bulk, empty object", bulk(adm+"/signet/links/revoke", "", map[string]any{}), "body")
	resp = do(t, "DELETE", adm+"/signet/links/"+op.ID, "", nil)
	if v := decodeAs[ledgerLink](t, "operator DELETE", resp); resp.status != 200 || !v.Revoked {
		t.Errorf("operator DELETE: %s", resp)
	}
	expectStatus(t, "op after DELETE", do(t, "GET", op.URL, "", nil), 403, "revoked")

	// A link whose issuing key is gone no longer works (403 revoked): the
	// ledger must not show it as active, and it cannot be extended.
	siteC := createKey(t, adm, map[string]any{"name": "C", "permissions": "sign"})
	c1 := signAt(t, site, siteC.Key, "/reports/q1.txt", nil)
	if v := getLedger(t, adm+"/signet/links/"+c1.ID, ""); !v.Active || v.Revoked {
		t.Errorf("c1 before its key is deleted: %+v", v)
	}
	expectStatus(t, "delete key C", do(t, "DELETE", adm+"/signet/keys/"+siteC.ID, "", nil), 200, "")
	expectStatus(t, "c1 once its key is deleted", do(t, "GET", c1.URL, "", nil), 403, "revoked")
	expectStatus(t, "extend c1 once its key is deleted", patch(adm+"/signet/links/"+c1.ID, "", map[string]any{"expires_in": 1200}), 403, "forbidden")
	if v := getLedger(t, adm+"/signet/links/"+c1.ID, ""); v.Active {
		t.Errorf("c1 is refused (403 revoked: its key was deleted) but the ledger shows it active: %+v", v)
	}
	for _, l := range links(admin.Key, "?active=true") {
		if l.ID == c1.ID {
			t.Errorf("?active=true lists c1, which no longer works")
		}
	}
}

// TestLinkExtendAcrossInstances: an expiry moved on one instance applies on
// the other through the store's change feed, later (the link outlives its
// token) and earlier (it ends at once), and survives a restart.
func TestLinkExtendAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, b, k := twoOnRedis(t, srv, "", "extender")
	s := signAt(t, a.site, k.Key, "/reports/q1.txt", map[string]any{"expires_in": 2})
	counted := signAt(t, a.site, k.Key, "/reports/q1.txt", map[string]any{"expires_in": 2, "max_uses": 2})
	control := signAt(t, a.site, k.Key, "/reports/q1.txt", map[string]any{"expires_in": 2})
	urlB, host := onOther(t, s.URL, b)
	controlB, _ := onOther(t, control.URL, b)
	get := func(u string) response { return fetchT(t, "GET", u, host, nil) }

	// Extended on B.
	resp := do(t, "PATCH", "http://"+b.admin+"/signet/links/"+s.ID, "", map[string]any{"expires_in": 3600})
	v := decodeAs[ledgerLink](t, "extend on B", resp)
	if resp.status != 200 || time.Until(v.ExpiresAt) < 3590*time.Second {
		t.Fatalf("PATCH on B: %s", resp)
	}
	expectStatus(t, "extend the max_uses link on A", do(t, "PATCH", "http://"+a.admin+"/signet/links/"+counted.ID, "", map[string]any{"expires_in": 3600}), 200, "")
	if la := getLedger(t, "http://"+a.admin+"/signet/links/"+s.ID, ""); !la.ExpiresAt.Equal(v.ExpiresAt) {
		t.Errorf("A's ledger: expires_at %s, want %s", la.ExpiresAt, v.ExpiresAt)
	}
	// Once the tokens' own expiry has passed (the control link shows it),
	// the extended link works on both instances.
	eventually(t, 10*time.Second, "the control link expires on A", func() bool { return get(control.URL).status == 403 })
	expectStatus(t, "control link on A", get(control.URL), 403, "expired")
	expectStatus(t, "control link on B", get(controlB), 403, "expired")
	if !time.Now().After(s.ExpiresAt) {
		t.Fatalf("the token's expiry %s has not passed", s.ExpiresAt)
	}
	for what, u := range map[string]string{"A": s.URL, "B": urlB} {
		if r := get(u); r.status != 200 || string(r.body) != q1 {
			t.Errorf("extended link past its token's expiry on %s: %s", what, r)
		}
	}
	// The extended max_uses link is still counted in the ledger.
	countedB, _ := onOther(t, counted.URL, b)
	for what, u := range map[string]string{"A": counted.URL, "B": countedB} {
		if r := get(u); r.status != 200 || string(r.body) != q1 {
			t.Errorf("extended max_uses link past its token's expiry on %s: %s", what, r)
		}
	}
	expectStatus(t, "extended max_uses link, used up", get(counted.URL), 403, "max_uses_reached")
	// At most 7 days after issue, whatever max_lifetime allows from now.
	created := getLedger(t, "http://"+a.admin+"/signet/links/"+s.ID, "").CreatedAt
	resp = do(t, "PATCH", "http://"+a.admin+"/signet/links/"+s.ID, "", map[string]any{"expires_at": created.Add(7*24*time.Hour + time.Second).UTC().Format(time.RFC3339)})
	expectField(t, "extend beyond 7 days after issue", resp, "expires_at")

	// B restarted loads the moved expiry from the store.
	b.stop()
	b.start()
	if r := get(urlB); r.status != 200 {
		t.Errorf("extended link on B after a restart: %s", r)
	}

	// Cut back to the past on A: B refuses it within a second.
	resp = do(t, "PATCH", "http://"+a.admin+"/signet/links/"+s.ID, "", map[string]any{"expires_at": "2000-01-01T00:00:00Z"})
	expectStatus(t, "PATCH into the past on A", resp, 200, "")
	expectStatus(t, "cut back, on A", get(s.URL), 403, "expired")
	start := time.Now()
	eventually(t, propagation, "the cut-back expiry reaches B", func() bool { return get(urlB).status == 403 })
	t.Logf("cut-back expiry enforced on B after %s", time.Since(start))
	expectStatus(t, "cut back, on B", get(urlB), 403, "expired")
	expectStatus(t, "the ledger on B hides it", do(t, "GET", "http://"+b.admin+"/signet/links/"+s.ID, "", nil), 404, "not_found")
}
