package tests

// Issue 9, "what reaches the origin": Signet guards a reverse_proxy origin
// that the test writes itself (origin_test.go), and the attack requests go
// to Caddy over raw TCP so the test controls their framing exactly. After
// Signet only a clean GET or HEAD may arrive: no upgrade, no trailers, no
// body, no method override, no credential, no signature.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	// caddyAddr is where the in-process Caddy's site listens, and
	// caddyHost the Host the site (and its signed URLs) answer to.
	caddyAddr = "localhost:9080"
	caddyHost = "localhost:9080"
)

// cleanReadConfig guards a reverse_proxy origin (%s: its host:port).
const cleanReadConfig = testGlobal + `http://localhost:9080 {
	signet {
		public /public/
	}
	reverse_proxy %s
}
`

// cleanRead is a Caddy guarding a recording origin, with the credentials
// the tests present.
type cleanRead struct {
	origin *recordingOrigin
	key    createdKey // site-wide, sign
	alice  createdKey // scoped to /alice/
	// signedURL is an operator-signed URL for /reports/q1.txt, signedTarget
	// its request-target and sig its signature value.
	signedURL, signedTarget, sig string
}

func startCleanRead(t *testing.T, mode originMode) *cleanRead {
	t.Helper()
	o := startOrigin(t, mode)
	startCaddy(t, fmt.Sprintf(cleanReadConfig, o.Addr()))
	s := &cleanRead{origin: o}
	s.key = createKey(t, caddytestAdmin, map[string]any{"name": "reader", "permissions": "sign"})
	createUser(t, caddytestAdmin, map[string]any{"name": "alice", "scopes": []string{"/alice/"}})
	s.alice = createKey(t, caddytestAdmin, map[string]any{"name": "alice", "user": "alice", "scopes": []string{"/alice/"}})
	s.signedURL = adminSign(t, caddytestAdmin, "http://"+caddyHost, "/reports/q1.txt")
	u, err := url.Parse(s.signedURL)
	if err != nil {
		t.Fatal(err)
	}
	s.signedTarget = u.RequestURI()
	s.sig = u.Query().Get("sig")
	if s.sig == "" {
		t.Fatalf("signed URL without sig: %s", s.signedURL)
	}
	return s
}

// adminSign signs path as the operator (POST /signet/sign, which does not
// ask the origin whether the file exists) and returns the URL.
func adminSign(t testing.TB, admin, baseURL, path string) string {
	t.Helper()
	resp := do(t, http.MethodPost, admin+"/signet/sign", "", map[string]any{"path": path, "expires_in": 3600, "base_url": baseURL})
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || resp.status != 200 || s.URL == "" {
		t.Fatalf("admin sign %s: %s", path, resp)
	}
	return s.URL
}

// credential is a way of presenting a request: its target and the header
// lines it adds.
type credential struct {
	name, target string
	headers      []string
}

// creds returns a request for a public path, one with a valid bearer key
// and one with a valid signed URL.
func (s *cleanRead) creds() []credential {
	return []credential{
		{"public", "/public/hello.txt", nil},
		{"bearer", "/reports/q1.txt", []string{"Authorization: Bearer " + s.key.Key}},
		{"signed", s.signedTarget, nil},
	}
}

func with(lines []string, more ...string) []string {
	return append(append([]string(nil), lines...), more...)
}

// expectOriginOrRefusal accepts the origin's 200 (the request arrived,
// cleaned) or a 4xx JSON refusal from Signet; anything else fails.
func expectOriginOrRefusal(t *testing.T, what string, resp response) {
	t.Helper()
	switch {
	case resp.status == 200 && strings.HasPrefix(string(resp.body), "origin: "):
	case resp.status >= 400 && resp.status < 500 && resp.errorCode() != "":
	default:
		t.Errorf("%s: got %s, want the origin's 200 or a 4xx JSON error from Signet", what, resp)
	}
}

// expectFromOrigin requires the origin's 200: a clean read must still work.
func expectFromOrigin(t *testing.T, what string, resp response) {
	t.Helper()
	if resp.status != 200 || !strings.HasPrefix(string(resp.body), "origin: ") {
		t.Fatalf("%s: got %s, want the origin's 200", what, resp)
	}
}

// expectRawLacks fails for every needle (case-insensitive) found in the
// bytes the origin received.
func expectRawLacks(t *testing.T, o *recordingOrigin, needles map[string]string) {
	t.Helper()
	raw := strings.ToLower(o.Raw())
	for what, n := range needles {
		if n != "" && strings.Contains(raw, strings.ToLower(n)) {
			t.Errorf("the origin received %s (%q) in the bytes: %q", what, n, clip(o.Raw()))
		}
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// expectNoSecretRequest fails if a request for /secret.txt reached the
// origin in any form.
func expectNoSecretRequest(t *testing.T, o *recordingOrigin) {
	t.Helper()
	for _, r := range o.Requests() {
		if strings.Contains(r.RequestURI, "secret.txt") {
			t.Errorf("%s reached the origin without going through Signet's checks", r)
		}
	}
	expectRawLacks(t, o, map[string]string{"a request for /secret.txt": "/secret.txt"})
}

// upgrades are the header lines of an h2c and of a WebSocket upgrade.
var upgrades = []struct {
	name    string
	headers []string
}{
	{"h2c", []string{"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA", "TE: trailers"}},
	{"websocket", []string{"Connection: keep-alive, Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}},
}

// expectNoUpgradeHeaders fails for any request at the origin that still
// asks for a protocol switch.
func expectNoUpgradeHeaders(t *testing.T, o *recordingOrigin) {
	t.Helper()
	for _, r := range o.Requests() {
		for _, h := range []string{"Upgrade", "Http2-Settings", "Te"} {
			if v, ok := r.Header[h]; ok {
				t.Errorf("%s reached the origin with %s: %q", r, h, v)
			}
		}
		if headerHasToken(r.Header["Connection"], "upgrade") {
			t.Errorf("%s reached the origin with Connection: %q", r, r.Header["Connection"])
		}
	}
	if n := o.Switched(); n != 0 {
		t.Errorf("the origin got to answer 101 Switching Protocols (%d times)", n)
	}
}

// headerHasToken reports whether a comma-separated header names token
// (case-insensitive).
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// followUpIsChecked sends a credential-less GET /secret.txt on the same
// client connection: Signet must answer it (401), the origin never see it.
func followUpIsChecked(t *testing.T, rc *rawConn, o *recordingOrigin) {
	t.Helper()
	second, err := rc.roundTrip("GET", rawRequest("GET", "/secret.txt", caddyHost, nil, ""))
	switch {
	case err != nil:
		t.Errorf("follow-up GET /secret.txt on the same connection: %v, want Signet's 401", err)
	case second.status != 401 || second.errorCode() != "unauthorized":
		t.Errorf("follow-up GET /secret.txt without credentials on the same connection: got %s, want Signet's 401 unauthorized", second)
	}
	expectNoSecretRequest(t, o)
}

// TestCleanReadNoUpgradeTunnel: an h2c or WebSocket upgrade, on a public
// path, with a valid key or with a valid signed URL, never reaches an
// origin that switches whenever asked; the client never gets a 101; and a
// credential-less request written next on the same connection is answered
// by Signet (401), not by the origin through a tunnel.
func TestCleanReadNoUpgradeTunnel(t *testing.T) {
	s := startCleanRead(t, switchOnUpgrade)
	for _, up := range upgrades {
		for _, c := range s.creds() {
			t.Run(up.name+"/"+c.name, func(t *testing.T) {
				s.origin.reset()
				rc := dialRaw(t, caddyAddr)
				first, err := rc.roundTrip("GET", rawRequest("GET", c.target, caddyHost, with(c.headers, up.headers...), ""))
				if err != nil {
					t.Fatalf("first response: %v", err)
				}
				if first.status == http.StatusSwitchingProtocols {
					t.Errorf("the client got 101 Switching Protocols (Upgrade: %s): the connection is now a tunnel to the origin", first.header.Get("Upgrade"))
				} else {
					expectOriginOrRefusal(t, "the upgrade request", first)
				}
				expectNoUpgradeHeaders(t, s.origin)
				followUpIsChecked(t, rc, s.origin)
			})
		}
	}
}

// TestCleanReadOriginSwitchesUnasked: an origin that answers 101 to every
// request (with `Upgrade: websocket`, or a bare 101) gets no tunnel: the
// client never sees a 101, and a follow-up request on the same client
// connection is checked by Signet.
func TestCleanReadOriginSwitchesUnasked(t *testing.T) {
	for _, m := range []struct {
		name string
		mode originMode
	}{{"upgrade-websocket", switchAlways}, {"bare-101", switchAlwaysBare}} {
		t.Run(m.name, func(t *testing.T) {
			s := startCleanRead(t, m.mode)
			for _, c := range s.creds() {
				t.Run(c.name, func(t *testing.T) {
					s.origin.reset()
					rc := dialRaw(t, caddyAddr)
					first, err := rc.roundTrip("GET", rawRequest("GET", c.target, caddyHost, c.headers, ""))
					if err != nil {
						t.Fatalf("first response: %v", err)
					}
					if first.status == http.StatusSwitchingProtocols {
						t.Errorf("the client got 101 Switching Protocols for a request that asked for none")
					}
					// The plain GET must have reached the origin, which answered
					// 101: otherwise this proves nothing.
					if s.origin.Switched() == 0 {
						t.Fatalf("the origin sent no 101 (client got %s): nothing was tested", first)
					}
					t.Logf("the origin answered 101; the client got %d", first.status)
					followUpIsChecked(t, rc, s.origin)
				})
			}
		})
	}
}

// TestCleanReadNoTrailers: request trailers, announced or not, carrying a
// valid key in Authorization or a secret header, never reach the origin,
// on a public path or on an accepted bearer request.
func TestCleanReadNoTrailers(t *testing.T) {
	s := startCleanRead(t, answerOK)
	const secret = "trailer-secret-8c1d"
	bearer := "Authorization: Bearer " + s.key.Key
	for _, c := range []struct {
		name, target string
		headers      []string
		trailer      string
	}{
		{"public/authorization", "/public/hello.txt", []string{"Trailer: Authorization"}, bearer},
		{"public/x-secret", "/public/hello.txt", []string{"Trailer: X-Secret"}, "X-Secret: " + secret},
		{"public/unannounced", "/public/hello.txt", nil, "X-Secret: " + secret},
		{"bearer/authorization", "/reports/q1.txt", []string{bearer, "Trailer: Authorization"}, bearer},
		{"bearer/x-secret", "/reports/q1.txt", []string{bearer, "Trailer: X-Secret"}, "X-Secret: " + secret},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.origin.reset()
			rc := dialRaw(t, caddyAddr)
			resp, err := rc.roundTrip("GET", rawRequest("GET", c.target, caddyHost,
				with(c.headers, "Transfer-Encoding: chunked"), "0\r\n"+c.trailer+"\r\n\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			expectOriginOrRefusal(t, "chunked GET with a trailer", resp)
			for _, r := range s.origin.Requests() {
				if len(r.Trailer) != 0 {
					t.Errorf("%s reached the origin with trailers %v", r, r.Trailer)
				}
				if v, ok := r.Header["Trailer"]; ok {
					t.Errorf("%s reached the origin announcing trailers: Trailer: %q", r, v)
				}
				if v, ok := r.Header["Authorization"]; ok {
					t.Errorf("%s reached the origin with Authorization: %q", r, v)
				}
			}
			expectRawLacks(t, s.origin, map[string]string{
				"the key": s.key.Key, "an Authorization field": "authorization:", "the X-Secret field": "x-secret", "the trailer's secret": secret,
			})
		})
	}
}

// TestCleanReadNoBody: a GET or HEAD with a Content-Length body, or a
// chunked GET, whose body holds a whole request for /secret.txt, reaches
// the origin (if at all) with no body and no body framing, and the
// smuggled request never arrives; on a public path, with a key and with a
// signed URL.
func TestCleanReadNoBody(t *testing.T) {
	s := startCleanRead(t, answerOK)
	smuggled := "GET /secret.txt HTTP/1.1\r\nHost: " + caddyHost + "\r\nX-Smuggled: 1\r\n\r\n"
	framings := []struct {
		name, method string
		headers      []string
		body         string
	}{
		{"GET content-length", "GET", []string{fmt.Sprintf("Content-Length: %d", len(smuggled))}, smuggled},
		{"HEAD content-length", "HEAD", []string{fmt.Sprintf("Content-Length: %d", len(smuggled))}, smuggled},
		{"GET chunked", "GET", []string{"Transfer-Encoding: chunked"}, fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)},
	}
	for _, f := range framings {
		for _, c := range s.creds() {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				s.origin.reset()
				rc := dialRaw(t, caddyAddr)
				resp, err := rc.roundTrip(f.method, rawRequest(f.method, c.target, caddyHost, with(c.headers, f.headers...), f.body))
				if err != nil {
					t.Fatal(err)
				}
				if f.method == "HEAD" {
					if resp.status != 200 && (resp.status < 400 || resp.status >= 500) {
						t.Errorf("HEAD with a body: got %d, want the origin's 200 or a 4xx from Signet", resp.status)
					}
				} else {
					expectOriginOrRefusal(t, f.name, resp)
				}
				for _, r := range s.origin.Requests() {
					if len(r.Body) != 0 {
						t.Errorf("%s reached the origin with a %d-byte body: %q", r, len(r.Body), r.Body)
					}
					if v := r.Header.Get("Content-Length"); v != "" && v != "0" {
						t.Errorf("%s reached the origin with Content-Length: %s", r, v)
					}
					if len(r.TransferEncoding) != 0 || r.Header.Get("Transfer-Encoding") != "" {
						t.Errorf("%s reached the origin with Transfer-Encoding: %q", r, r.TransferEncoding)
					}
				}
				expectNoSecretRequest(t, s.origin)
				expectRawLacks(t, s.origin, map[string]string{"the smuggled request's header": "X-Smuggled"})
			})
		}
	}
}

// TestCleanReadNoTE: `TE: trailers` (which a reverse proxy passes on by
// default) does not reach the origin.
func TestCleanReadNoTE(t *testing.T) {
	s := startCleanRead(t, answerOK)
	for _, c := range s.creds() {
		t.Run(c.name, func(t *testing.T) {
			s.origin.reset()
			rc := dialRaw(t, caddyAddr)
			resp, err := rc.roundTrip("GET", rawRequest("GET", c.target, caddyHost, with(c.headers, "TE: trailers"), ""))
			if err != nil {
				t.Fatal(err)
			}
			expectOriginOrRefusal(t, "GET with TE", resp)
			for _, r := range s.origin.Requests() {
				if v, ok := r.Header["Te"]; ok {
					t.Errorf("%s reached the origin with TE: %q", r, v)
				}
			}
		})
	}
}

// TestCleanReadNoMethodOverride: X-HTTP-Method-Override, X-HTTP-Method and
// X-Method-Override on a public, a bearer and a signed GET never reach the
// origin.
func TestCleanReadNoMethodOverride(t *testing.T) {
	s := startCleanRead(t, answerOK)
	overrides := []string{"X-HTTP-Method-Override: DELETE", "X-HTTP-Method: PUT", "X-Method-Override: POST"}
	for _, c := range s.creds() {
		t.Run(c.name, func(t *testing.T) {
			s.origin.reset()
			rc := dialRaw(t, caddyAddr)
			resp, err := rc.roundTrip("GET", rawRequest("GET", c.target, caddyHost, with(c.headers, overrides...), ""))
			if err != nil {
				t.Fatal(err)
			}
			expectOriginOrRefusal(t, "GET with method overrides", resp)
			for _, r := range s.origin.Requests() {
				for _, h := range []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"} {
					if v, ok := r.Header[h]; ok {
						t.Errorf("%s reached the origin with %s: %q", r, h, v)
					}
				}
			}
			expectRawLacks(t, s.origin, map[string]string{"a method override": "method-override", "X-HTTP-Method": "x-http-method"})
		})
	}
}

// TestCleanReadNoCredentials: what reaches the origin carries no
// Authorization and no sig parameter, and a Referer holding a signed URL
// arrives with its sig parameter removed and the rest of it kept.
func TestCleanReadNoCredentials(t *testing.T) {
	s := startCleanRead(t, answerOK)
	page := "http://" + caddyHost + "/page.html?lang=en&sig=" + s.sig + "&x=1"
	for _, c := range []struct {
		name, target string
		headers      []string
		wantURI      string
	}{
		{"public with a key and a sig parameter", "/public/hello.txt?x=1&sig=" + s.sig, []string{"Authorization: Bearer " + s.key.Key}, "/public/hello.txt?x=1"},
		{"bearer", "/reports/q1.txt", []string{"Authorization: Bearer " + s.key.Key}, "/reports/q1.txt"},
		{"signed", s.signedTarget, nil, "/reports/q1.txt"},
		{"signed with an Authorization header", s.signedTarget, []string{"Authorization: Bearer " + s.key.Key}, "/reports/q1.txt"},
	} {
		for _, ref := range []struct{ name, value, want string }{
			{"referer is the signed URL", s.signedURL, "http://" + caddyHost + "/reports/q1.txt"},
			{"referer with other parameters", page, "http://" + caddyHost + "/page.html?lang=en&x=1"},
		} {
			t.Run(c.name+"/"+ref.name, func(t *testing.T) {
				s.origin.reset()
				rc := dialRaw(t, caddyAddr)
				resp, err := rc.roundTrip("GET", rawRequest("GET", c.target, caddyHost, with(c.headers, "Referer: "+ref.value), ""))
				if err != nil {
					t.Fatal(err)
				}
				expectFromOrigin(t, c.name, resp)
				reqs := s.origin.Requests()
				if len(reqs) != 1 {
					t.Fatalf("the origin got %d requests, want 1: %v", len(reqs), reqs)
				}
				r := reqs[0]
				if r.RequestURI != c.wantURI {
					t.Errorf("the origin got %q, want %q", r.RequestURI, c.wantURI)
				}
				if v, ok := r.Header["Authorization"]; ok {
					t.Errorf("%s reached the origin with Authorization: %q", r, v)
				}
				if got := r.Header.Values("Referer"); len(got) != 1 || !sameURL(got[0], ref.want) {
					t.Errorf("the origin got Referer %q, want %q (sig removed, the rest kept)", got, ref.want)
				}
				expectRawLacks(t, s.origin, map[string]string{"the signature": s.sig, "the key": s.key.Key, "a sig parameter": "sig="})
			})
		}
	}
}

// sameURL compares two absolute URLs by scheme, host, path and query
// values (the order and spelling of the query may differ).
func sameURL(got, want string) bool {
	g, err1 := url.Parse(got)
	w, err2 := url.Parse(want)
	if err1 != nil || err2 != nil {
		return false
	}
	gq, wq := g.Query(), w.Query()
	if g.Scheme != w.Scheme || g.Host != w.Host || g.Path != w.Path || len(gq) != len(wq) {
		return false
	}
	for k, v := range wq {
		if strings.Join(gq[k], "\x00") != strings.Join(v, "\x00") {
			return false
		}
	}
	return true
}

// TestCleanReadDotSegmentParams: a `..` segment carrying `;` parameters,
// in any spelling, is ambiguous (400 bad_request) and nothing reaches the
// origin, on a public path and inside a key's scope.
func TestCleanReadDotSegmentParams(t *testing.T) {
	s := startCleanRead(t, answerOK)
	aliceAuth := []string{"Authorization: Bearer " + s.alice.Key}
	for _, c := range []struct {
		target  string
		headers []string
	}{
		{"/public/..;/secret.txt", nil},
		{"/public/%2e%2e;/secret.txt", nil},
		{"/public/..;jsessionid=1/secret.txt", nil},
		{"/alice/..;/secret.txt", aliceAuth},
	} {
		t.Run(c.target, func(t *testing.T) {
			s.origin.reset()
			rc := dialRaw(t, caddyAddr)
			resp, err := rc.roundTrip("GET", rawRequest("GET", c.target, caddyHost, c.headers, ""))
			if err != nil {
				t.Fatal(err)
			}
			if resp.status != 400 || resp.errorCode() != "bad_request" || !strings.HasPrefix(resp.header.Get("Content-Type"), "application/json") {
				t.Errorf("GET %s: got %s (Content-Type %q), want 400 JSON bad_request", c.target, resp, resp.header.Get("Content-Type"))
			}
			if reqs := s.origin.Requests(); len(reqs) != 0 {
				t.Errorf("GET %s reached the origin as %v", c.target, reqs)
			}
		})
	}
}
