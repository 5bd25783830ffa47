package verifier

import (
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestVerifySentinelErrors(t *testing.T) {
	s := testSecret("s1", 1)
	other := testSecret("s2", 99)
	c := testClaims()
	base := reqTarget(t, "GET", "files.example.com", "/reports/2026/q1.pdf")
	tok := mustSign(t, s, c, base)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	reenc := func(f func(b []byte) []byte) string {
		b := f(append([]byte(nil), raw...))
		return base64.RawURLEncoding.EncodeToString(b)
	}
	flip := func(i int) string {
		return reenc(func(b []byte) []byte { b[i] ^= 1; return b })
	}
	withQuery := func(q string) Target { tg := base; tg.RawQuery = q; return tg }
	with := func(f func(*Target)) Target {
		tg := base
		tg.RawQuery = "sig=" + tok
		f(&tg)
		return tg
	}
	bound := base.Path
	unknownConstraint := craftToken(s, uint64(c.ExpiresAt), uint64(c.IssuedAt), "", constraint(9, "x"), bound, base)
	twoPrefixes := craftToken(s, uint64(c.ExpiresAt), uint64(c.IssuedAt), "",
		append(constraint(constraintPrefix, "/reports/"), constraint(constraintPrefix, "/")...), "/reports/", base)
	badPrefix := craftToken(s, uint64(c.ExpiresAt), uint64(c.IssuedAt), "", constraint(constraintPrefix, "/a/../"), "/a/../", base)
	emptyPrefix := craftToken(s, uint64(c.ExpiresAt), uint64(c.IssuedAt), "", constraint(constraintPrefix, ""), "", base)
	expBeforeIat := craftToken(s, uint64(c.IssuedAt), uint64(c.ExpiresAt), "", nil, bound, base)
	iatZero := craftToken(s, uint64(c.ExpiresAt), 0, "", nil, bound, base)
	expHuge := craftToken(s, 1<<63, uint64(c.IssuedAt), "", nil, bound, base)
	badKeyID := craftToken(s, uint64(c.ExpiresAt), uint64(c.IssuedAt), "a b", nil, bound, base)
	crafted := craftToken(s, uint64(c.ExpiresAt), uint64(c.IssuedAt), "", nil, bound, base)

	tests := []struct {
		name string
		tg   Target
		want error
	}{
		{"valid", withQuery("sig=" + tok), nil},
		{"crafted helper is valid", withQuery("sig=" + crafted), nil},
		{"valid with encoded param name", withQuery("%73ig=" + tok), nil},

		{"no query", withQuery(""), ErrNoToken},
		{"other params only", withQuery("a=1&b=2"), ErrNoToken},
		{"similar names", withQuery("sigx=" + tok + "&xsig=1&SIG=2&si=3&sig%00=4&s+ig=5"), ErrNoToken},
		{"no token, POST", with(func(tg *Target) { tg.Method = "POST"; tg.RawQuery = "" }), ErrNoToken},

		{"repeated", withQuery("sig=" + tok + "&sig=" + tok), ErrMalformedToken},
		{"repeated, encoded name", withQuery("sig=" + tok + "&%73%69%67=x"), ErrMalformedToken},
		{"empty value", withQuery("sig="), ErrMalformedToken},
		{"no value", withQuery("sig"), ErrMalformedToken},
		{"percent-encoded token", withQuery("sig=%41" + tok[1:]), ErrMalformedToken},
		{"padding", withQuery("sig=" + tok + "="), ErrMalformedToken},
		{"standard base64 alphabet", withQuery("sig=" + strings.NewReplacer("-", "+", "_", "/").Replace(tok) + "+/"), ErrMalformedToken},
		{"newline inside", withQuery("sig=" + tok[:10] + "\n" + tok[10:]), ErrMalformedToken},
		{"CR inside", withQuery("sig=" + tok[:10] + "\r" + tok[10:]), ErrMalformedToken},
		{"truncated by one char", withQuery("sig=" + tok[:len(tok)-1]), ErrMalformedToken},
		{"truncated to 40 chars", withQuery("sig=" + tok[:40]), ErrMalformedToken},
		{"extra char", withQuery("sig=" + tok + "A"), ErrMalformedToken},
		{"token too long", withQuery("sig=" + strings.Repeat("A", MaxTokenLen+1)), ErrMalformedToken},
		{"query too long", withQuery("a=" + strings.Repeat("x", MaxQueryLen) + "&sig=" + tok), ErrMalformedToken},
		{"host too long", with(func(tg *Target) { tg.Host = strings.Repeat("h", MaxHostLen+1) }), ErrMalformedToken},
		{"path too long", with(func(tg *Target) { tg.Path = "/" + strings.Repeat("p", MaxPathLen) }), ErrMalformedToken},
		{"raw path too long", with(func(tg *Target) { tg.RawPath = "/" + strings.Repeat("p", MaxPathLen) }), ErrMalformedToken},
		{"version 2", withQuery("sig=" + reenc(func(b []byte) []byte { b[0] = 2; return b })), ErrMalformedToken},
		{"version 0", withQuery("sig=" + reenc(func(b []byte) []byte { b[0] = 0; return b })), ErrMalformedToken},
		{"secret id length 0", withQuery("sig=" + reenc(func(b []byte) []byte { b[1] = 0; return b })), ErrMalformedToken},
		{"secret id length 33", withQuery("sig=" + reenc(func(b []byte) []byte { b[1] = 33; return b })), ErrMalformedToken},
		{"key id length past end", withQuery("sig=" + reenc(func(b []byte) []byte { b[1+1+2+32] = 200; return b })), ErrMalformedToken},
		{"trailing constraint byte", withQuery("sig=" + reenc(func(b []byte) []byte {
			return append(b[:len(b)-tagLen:len(b)-tagLen], append([]byte{1}, b[len(b)-tagLen:]...)...)
		})), ErrMalformedToken},
		{"unknown constraint", withQuery("sig=" + unknownConstraint), ErrMalformedToken},
		{"repeated prefix constraint", withQuery("sig=" + twoPrefixes), ErrMalformedToken},
		{"unclean prefix", withQuery("sig=" + badPrefix), ErrMalformedToken},
		{"empty prefix", withQuery("sig=" + emptyPrefix), ErrMalformedToken},
		{"expires before issued", withQuery("sig=" + expBeforeIat), ErrMalformedToken},
		{"issued at zero", withQuery("sig=" + iatZero), ErrMalformedToken},
		{"expiry over int64", withQuery("sig=" + expHuge), ErrMalformedToken},
		{"bad key id", withQuery("sig=" + badKeyID), ErrMalformedToken},

		{"tag bit flipped", withQuery("sig=" + flip(len(raw)-1)), ErrBadSignature},
		{"expiry bit flipped", withQuery("sig=" + flip(1+1+2+7)), ErrBadSignature},
		{"url id bit flipped", withQuery("sig=" + flip(1+1+2+16)), ErrBadSignature},
		{"secret id changed", withQuery("sig=" + flip(2)), ErrBadSignature},
		{"other host", with(func(tg *Target) { tg.Host = "files.example.org" }), ErrBadSignature},
		{"other port", with(func(tg *Target) { tg.Host = "files.example.com:8443" }), ErrBadSignature},
		{"other path", with(func(tg *Target) { tg.Path = "/reports/2026/q2.pdf" }), ErrBadSignature},
		{"added param", with(func(tg *Target) { tg.RawQuery += "&a=1" }), ErrBadSignature},
		{"invalid escape in other param", with(func(tg *Target) { tg.RawQuery += "&a=%zz" }), ErrBadSignature},
		{"truncated escape in other param", with(func(tg *Target) { tg.RawQuery += "&a=%2" }), ErrBadSignature},

		{"POST", with(func(tg *Target) { tg.Method = "POST" }), ErrMethodNotAllowed},
		{"lowercase get", with(func(tg *Target) { tg.Method = "get" }), ErrMethodNotAllowed},
		{"OPTIONS", with(func(tg *Target) { tg.Method = "OPTIONS" }), ErrMethodNotAllowed},
		{"empty method", with(func(tg *Target) { tg.Method = "" }), ErrMethodNotAllowed},

		{"encoded slash", with(func(tg *Target) { tg.RawPath = "/reports%2F2026/q1.pdf" }), ErrAmbiguousPath},
	}
	v := mustVerifier(t, "", 0, other, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.tg, testNow)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && got != (Claims{}) {
				t.Fatalf("claims %+v returned with an error", got)
			}
		})
	}

	// The remaining sentinels depend on the verifier or the time.
	valid := withQuery("sig=" + tok)
	if _, err := v.Verify(valid, time.Unix(c.ExpiresAt, 0)); err != ErrExpired {
		t.Errorf("at expiry: %v, want ErrExpired", err)
	}
	if _, err := v.Verify(valid, time.Unix(c.IssuedAt-1, 0)); err != ErrNotYetValid {
		t.Errorf("before issue: %v, want ErrNotYetValid", err)
	}
	if _, err := mustVerifier(t, "", 0, other).Verify(valid, testNow); err != ErrBadSignature {
		t.Errorf("unknown secret id: %v, want ErrBadSignature", err)
	}
	sameIDOtherKey := testSecret("s1", 50)
	if _, err := mustVerifier(t, "", 0, sameIDOtherKey).Verify(valid, testNow); err != ErrBadSignature {
		t.Errorf("same id, other key: %v, want ErrBadSignature", err)
	}
	custom := base
	custom.RawQuery = "token=" + tok
	if _, err := mustVerifier(t, "token", 0, s).Verify(custom, testNow); err != nil {
		t.Errorf("custom param: %v", err)
	}
	if _, err := v.Verify(custom, testNow); err != ErrNoToken {
		t.Errorf("custom param, default verifier: %v, want ErrNoToken", err)
	}
}

func TestVerifyRotation(t *testing.T) {
	old, cur, next := testSecret("2025-12", 1), testSecret("2026-01", 2), testSecret("2026-02", 3)
	tg := reqTarget(t, "GET", "files.example.com", "/reports/2026/q1.pdf")
	byOld := signedTarget(t, old, testClaims(), tg)
	byCur := signedTarget(t, cur, testClaims(), tg)

	v := mustVerifier(t, "", 0, cur, old)
	for name, x := range map[string]Target{"ring[0]": byCur, "ring[1]": byOld} {
		c, err := v.Verify(x, testNow)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := map[string]string{"ring[0]": cur.ID, "ring[1]": old.ID}[name]; c.SecretID != want {
			t.Fatalf("%s: SecretID %q, want %q", name, c.SecretID, want)
		}
	}
	// The old secret is retired: its links stop working, the others keep going.
	v2 := mustVerifier(t, "", 0, next, cur)
	if _, err := v2.Verify(byOld, testNow); err != ErrBadSignature {
		t.Fatalf("removed secret: %v, want ErrBadSignature", err)
	}
	if _, err := v2.Verify(byCur, testNow); err != nil {
		t.Fatalf("ring[1] after rotation: %v", err)
	}
	// A secret with the same id and another key is another secret.
	if _, err := mustVerifier(t, "", 0, testSecret("2026-01", 9)).Verify(byCur, testNow); err != ErrBadSignature {
		t.Fatalf("same id, other key: %v, want ErrBadSignature", err)
	}
}

// TestVerifierOwnsItsKeys: NewVerifier copies the ring, so what the caller
// does with its slices afterwards changes nothing.
func TestVerifierOwnsItsKeys(t *testing.T) {
	cur := testSecret("2026-01", 2)
	tg := signedTarget(t, cur, testClaims(), reqTarget(t, "GET", "files.example.com", "/f"))
	key := append([]byte(nil), cur.Key...)
	ring := []Secret{{ID: cur.ID, Key: key}}
	v := mustVerifier(t, "", 0, ring...)
	key[0] ^= 1
	ring[0].ID = "other"
	if _, err := v.Verify(tg, testNow); err != nil {
		t.Fatalf("after the caller changed its key bytes and ring: %v", err)
	}
	tok, err := v.Sign(testClaims(), reqTarget(t, "GET", "files.example.com", "/f"))
	if err != nil || "sig="+tok != tg.RawQuery {
		t.Fatalf("Sign after the caller changed its key: %q, %v; want %q", tok, err, tg.RawQuery)
	}
}

func TestVerifySkewAndExpiry(t *testing.T) {
	s := testSecret("s1", 1)
	c := testClaims()
	tg := signedTarget(t, s, c, reqTarget(t, "HEAD", "files.example.com", "/a/b.pdf"))
	iat, exp := time.Unix(c.IssuedAt, 0), time.Unix(c.ExpiresAt, 0)
	tests := []struct {
		skew time.Duration
		now  time.Time
		want error
	}{
		{0, iat, nil},
		{0, iat.Add(-time.Nanosecond), ErrNotYetValid},
		{0, iat.Add(-time.Second), ErrNotYetValid},
		{30 * time.Second, iat.Add(-30 * time.Second), nil},
		{30 * time.Second, iat.Add(-30*time.Second - time.Nanosecond), ErrNotYetValid},
		{30 * time.Second, iat.Add(-29*time.Second - 999*time.Millisecond), nil},
		{0, iat.Add(999 * time.Millisecond), nil},
		{0, exp.Add(-time.Nanosecond), nil},
		{0, exp.Add(-999 * time.Millisecond), nil},
		{0, exp, ErrExpired}, // expired when now >= expires_at
		{0, exp.Add(time.Second), ErrExpired},
		{time.Hour, exp, ErrExpired}, // the skew never extends the expiry
		{time.Hour, exp.Add(-time.Second), nil},
	}
	for _, tt := range tests {
		v := mustVerifier(t, "", tt.skew, s)
		if _, err := v.Verify(tg, tt.now); err != tt.want {
			t.Errorf("skew %v, now %v: %v, want %v", tt.skew, tt.now.UTC(), err, tt.want)
		}
	}
}

// TestVerifyWithExpiry: the hook decides the expiry in force, is called
// once and only for tokens whose tag matched, and Claims carry both
// expiries.
func TestVerifyWithExpiry(t *testing.T) {
	s := testSecret("s1", 1)
	c := testClaims() // valid from testNow for an hour
	tg := signedTarget(t, s, c, reqTarget(t, "GET", "files.example.com", "/a/b.pdf"))
	inForce := map[URLID]int64{}
	var calls []int64 // the signed expiry of each call
	v := mustVerifierOpts(t, "", 0, []Option{WithExpiry(func(id URLID, signed int64) int64 {
		calls = append(calls, signed)
		if id != c.ID {
			t.Errorf("hook called with id %v, want %v", id, c.ID)
		}
		if e, ok := inForce[id]; ok {
			return e
		}
		return signed
	})}, s)
	signedExp := time.Unix(c.ExpiresAt, 0)

	tests := []struct {
		name   string
		moved  int64 // 0: not moved
		now    time.Time
		want   error
		expiry int64 // Claims.ExpiresAt on success
	}{
		{"not moved, valid", 0, testNow, nil, c.ExpiresAt},
		{"not moved, expired", 0, signedExp, ErrExpired, 0},
		{"extended: past the token's expiry, still valid", c.ExpiresAt + 3600, signedExp.Add(time.Minute), nil, c.ExpiresAt + 3600},
		{"extended: expires at the new time", c.ExpiresAt + 3600, signedExp.Add(time.Hour), ErrExpired, 0},
		{"shortened: valid until the new time", c.IssuedAt + 60, testNow.Add(59 * time.Second), nil, c.IssuedAt + 60},
		{"shortened: expired before the token's expiry", c.IssuedAt + 60, testNow.Add(60 * time.Second), ErrExpired, 0},
		{"shortened to before issue", c.IssuedAt - 1, testNow, ErrExpired, 0},
	}
	for _, tt := range tests {
		clear(inForce)
		if tt.moved != 0 {
			inForce[c.ID] = tt.moved
		}
		calls = calls[:0]
		got, err := v.Verify(tg, tt.now)
		if err != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			continue
		}
		if len(calls) != 1 || calls[0] != c.ExpiresAt {
			t.Errorf("%s: hook calls %v, want one with the signed expiry %d", tt.name, calls, c.ExpiresAt)
		}
		want := verified(c, s)
		want.ExpiresAt = tt.expiry
		if err == nil && got != want {
			t.Errorf("%s: claims %+v, want %+v", tt.name, got, want)
		}
		if err == nil && (got.SignedExpiresAt != c.ExpiresAt || got.ExpiresAt != tt.expiry) {
			t.Errorf("%s: expiries %d (signed %d), want %d (signed %d)", tt.name, got.ExpiresAt, got.SignedExpiresAt, tt.expiry, c.ExpiresAt)
		}
	}

	// A link cut back to its issue time has expired, even within the skew
	// that would let it be used before its issue.
	for _, cut := range []int64{c.IssuedAt, c.IssuedAt - 10} {
		sv := mustVerifierOpts(t, "", time.Minute, []Option{WithExpiry(func(URLID, int64) int64 { return cut })}, s)
		if _, err := sv.Verify(tg, testNow.Add(-30*time.Second)); err != ErrExpired {
			t.Errorf("cut to %d, 30 s before issue with a minute of skew: %v, want ErrExpired", cut-c.IssuedAt, err)
		}
	}

	// The hook is not consulted before the tag matched: not for a bad
	// signature, a malformed token, an unknown secret, a refused method or
	// a missing token; nor does an extension rescue any of them.
	inForce[c.ID] = c.ExpiresAt + 3600
	other := signedTarget(t, testSecret("s1", 2), c, reqTarget(t, "GET", "files.example.com", "/a/b.pdf"))
	alien := signedTarget(t, testSecret("s9", 1), c, reqTarget(t, "GET", "files.example.com", "/a/b.pdf"))
	wrongPath := tg
	wrongPath.Path = "/a/c.pdf"
	post := tg
	post.Method = "POST"
	for _, x := range []struct {
		name string
		tg   Target
		want error
	}{
		{"other key", other, ErrBadSignature},
		{"unknown secret", alien, ErrBadSignature},
		{"other path", wrongPath, ErrBadSignature},
		{"malformed", reqTarget(t, "GET", "files.example.com", "/a/b.pdf?sig=AQ"), ErrMalformedToken},
		{"POST", post, ErrMethodNotAllowed},
		{"no token", reqTarget(t, "GET", "files.example.com", "/a/b.pdf"), ErrNoToken},
	} {
		calls = calls[:0]
		if _, err := v.Verify(x.tg, signedExp.Add(time.Minute)); err != x.want {
			t.Errorf("%s: %v, want %v", x.name, err, x.want)
		}
		if len(calls) != 0 {
			t.Errorf("%s: the hook was called %d times", x.name, len(calls))
		}
	}
	// VerifyToken uses it too.
	fc := c
	fc.Prefix = "/a/"
	ftok := mustSign(t, s, fc, reqTarget(t, "GET", "files.example.com", "/a/"))
	calls = calls[:0]
	got, err := v.VerifyToken(ftok, reqTarget(t, "GET", "files.example.com", "/a/x"), signedExp.Add(time.Minute))
	if err != nil || got.ExpiresAt != c.ExpiresAt+3600 || got.SignedExpiresAt != c.ExpiresAt || len(calls) != 1 {
		t.Errorf("VerifyToken: %+v, %v, %d calls", got, err, len(calls))
	}
	// A nil hook and a zero Option set nothing.
	for _, o := range []Option{WithExpiry(nil), {}} {
		nv := mustVerifierOpts(t, "", 0, []Option{o}, s)
		if got, err := nv.Verify(tg, testNow); err != nil || got != verified(c, s) {
			t.Errorf("no hook: %+v, %v", got, err)
		}
		if _, err := nv.Verify(tg, signedExp); err != ErrExpired {
			t.Errorf("no hook, at expiry: %v", err)
		}
	}
}

func TestPathTricks(t *testing.T) {
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
	const host = "files.example.com"
	exact := mustSign(t, s, testClaims(), reqTarget(t, "GET", host, "/a/b.pdf"))
	pc := testClaims()
	pc.Prefix = "/a/"
	prefix := mustSign(t, s, pc, reqTarget(t, "GET", host, "/a/b.pdf"))

	ok, bad, amb := error(nil), ErrBadSignature, ErrAmbiguousPath
	tests := []struct {
		uri                string // request path as sent
		wantExact, wantPre error
	}{
		{"/a/b.pdf", ok, ok},
		{"/a/%62.pdf", ok, ok},      // the decoded path is identical: same file
		{"/a/%62%2Epdf", ok, ok},    // ditto, mixed case and an escaped "."
		{"/%61/b%2epdf", ok, ok},    // ditto
		{"/a/b.PDF", bad, ok},       // another file, under the prefix
		{"/A/b.pdf", bad, bad},      // paths are case-sensitive
		{"/a/b.pd", bad, ok},        // another file, under the prefix
		{"/a/./b.pdf", bad, amb},    // dot segment
		{"/a/%2e/b.pdf", bad, amb},  // encoded dot segment
		{"/a/../a/b.pdf", bad, amb}, // dot-dot segment
		{"/a/%2e%2e/a/b.pdf", bad, amb},
		{"/a/%2E%2E/%2E%2E/etc/passwd", bad, amb},
		{"/a/..%2f..%2fetc/passwd", bad, amb},
		{"/a/b.pdf/..", bad, amb},
		{"/a//b.pdf", bad, amb},  // empty segment
		{"//a/b.pdf", bad, amb},  // empty segment
		{"/a%2Fb.pdf", amb, amb}, // decodes to /a/b.pdf, but an encoded slash is refused
		{"/a%2fb.pdf", amb, amb},
		{"/a/b%2Fc.pdf", bad, amb},
		{"/a/b.pdf%00", bad, amb}, // NUL
		{"/a/b%00.pdf", bad, amb}, // NUL
		{"/a/b.pdf%09", bad, amb}, // control character
		{`/a\b.pdf`, bad, amb},    // backslash
		{"/a/x%5C..%5Cb.pdf", bad, amb},
		{"/a/x%5cb.pdf", bad, amb},
		{"/a/b.pdf/", bad, ok},         // trailing slash: another name, under the prefix
		{"/a/b.pdf;x", bad, ok},        // ";" is part of the name: another file, under the prefix
		{"/a/b.pdf%3Bx", bad, ok},      // ditto
		{"/a;x/b.pdf", bad, bad},       // "/a;x" is not the directory "/a"
		{"/a/%EF%BD%82.pdf", bad, ok},  // fullwidth "ｂ": another file, under the prefix
		{"/a/b%E2%80%8B.pdf", bad, ok}, // zero-width space: another file
		{"/a%E2%88%95b.pdf", bad, amb}, // division slash: "/" to a best-fit Windows origin
		{"/a%EF%BC%8Fb.pdf", bad, amb}, // fullwidth solidus: "/" to a best-fit Windows origin
		{"/a/b.pdf%C0%AF", bad, amb},   // overlong UTF-8 "/"
		{"/a/%C0%AE%C0%AE/b.pdf", bad, amb},
		{"/a/b.pdf%FF", bad, amb}, // invalid UTF-8
		{"/a/b.pdf%20", bad, amb}, // trailing space: Win32 opens b.pdf
		{"/a/b.pdf.", bad, amb},   // trailing dot: likewise
		{"/a/..;/b.pdf", bad, amb},
		{"/a/%2e%2e;x/b.pdf", bad, amb},   // ".." once Tomcat cuts the ";" parameter
		{"/a/%252e%252e/b.pdf", bad, amb}, // "%2e%2e" left for a second decoding
		{"/a", bad, ok},                   // the prefix covers its own directory
		{"/a/", bad, ok},
		{"/ab.pdf", bad, bad}, // segment boundary
		{"/a2/b.pdf", bad, bad},
		{"/", bad, bad},
	}
	for _, tt := range tests {
		for _, mode := range []struct {
			name  string
			token string
			want  error
		}{{"exact", exact, tt.wantExact}, {"prefix", prefix, tt.wantPre}} {
			tg := reqTarget(t, "GET", host, tt.uri+"?sig="+mode.token)
			c, err := v.Verify(tg, testNow)
			if err != mode.want {
				t.Errorf("%s %q (Path %q, RawPath %q): %v, want %v", mode.name, tt.uri, tg.Path, tg.RawPath, err, mode.want)
				continue
			}
			if err != nil {
				continue
			}
			// Whatever verifies is exactly the signed file, or under the prefix.
			switch {
			case mode.name == "exact" && tg.Path != "/a/b.pdf":
				t.Errorf("exact token granted %q", tg.Path)
			case mode.name == "prefix" && (c.Prefix != "/a/" || !ScopeCovers("/a/", tg.Path) || CheckPath(tg.Path, tg.RawPath) != nil):
				t.Errorf("prefix token granted %q", tg.Path)
			}
		}
	}
}

func TestNewVerifier(t *testing.T) {
	s1, s2 := testSecret("s1", 1), testSecret("s2", 2)
	tests := []struct {
		name  string
		ring  []Secret
		param string
		skew  time.Duration
		err   string // "" = success; else the whole error text
	}{
		{"two secrets", []Secret{s1, s2}, "", 0, ""},
		{"custom param and skew", []Secret{s1}, "token", time.Minute, ""},
		{"longest param", []Secret{s1}, strings.Repeat("p", 64), 0, ""},
		{"no secret", nil, "", 0, "no signing secret"},
		{"duplicate id", []Secret{s1, s2, s1}, "", 0, `duplicate signing secret id "s1"`},
		{"short key", []Secret{s1, {ID: "x", Key: []byte("short")}}, "", 0, `signing secret "x" is shorter than 32 bytes`},
		{"bad id", []Secret{{ID: "a b", Key: s1.Key}}, "", 0, "signing secret id must be 1-32 characters of [A-Za-z0-9_-]"},
		{"bad param", []Secret{s1}, "a&b", 0, `invalid signature parameter name "a&b"`},
		{"long param", []Secret{s1}, strings.Repeat("p", 65), 0, `invalid signature parameter name "` + strings.Repeat("p", 65) + `"`},
		{"negative skew", []Secret{s1}, "", -time.Second, "negative clock skew"},
	}
	for _, tt := range tests {
		v, err := NewVerifier(tt.ring, tt.param, tt.skew)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
		case tt.err != "" && v != nil:
			t.Errorf("%s: a Verifier with the error", tt.name)
		case err == nil:
			want := tt.param
			if want == "" {
				want = DefaultParam
			}
			if v.Param() != want {
				t.Errorf("%s: Param() = %q, want %q", tt.name, v.Param(), want)
			}
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	s1, s2 := testSecret("s1", 1), testSecret("s2", 2)
	v := mustVerifier(t, "", 0, s1, s2)
	a := signedTarget(t, s1, testClaims(), reqTarget(t, "GET", "files.example.com", "/a/b.pdf?x=1&y=2"))
	b := signedTarget(t, s2, testClaims(), reqTarget(t, "GET", "files.example.com", "/c/d.pdf"))
	bad := a
	bad.Path = "/a/c.pdf"
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				tg, want := a, error(nil)
				switch (g + i) % 3 {
				case 1:
					tg = b
				case 2:
					tg, want = bad, ErrBadSignature
				}
				if _, err := v.Verify(tg, testNow); err != want {
					t.Errorf("goroutine %d: %v, want %v", g, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestVerifyAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("allocation counts are not meaningful under -race")
	}
	s := testSecret("2026-01", 7)
	pc := testClaims()
	pc.Prefix = "/reports/"
	v, exact := benchVerifier(t)
	prefix := signedTarget(t, s, pc, reqTarget(t, "GET", "files.example.com", "/reports/2026/q1.pdf"))
	ambiguous := prefix
	ambiguous.Path = "/reports//q1.pdf"
	tests := []struct {
		name string
		tg   Target
		want error
	}{
		{"exact, key id", exact, nil},
		{"prefix, key id", prefix, nil},
		{"other params", signedTarget(t, s, testClaims(), reqTarget(t, "GET", "files.example.com", "/f?b=2&a=%7e1&c")), nil},
		{"no token", reqTarget(t, "GET", "files.example.com", "/f?a=1&b=2"), ErrNoToken},
		{"bad signature", signedTarget(t, testSecret("2026-01", 1), testClaims(), reqTarget(t, "GET", "h", "/f")), ErrBadSignature},
		{"malformed", reqTarget(t, "GET", "h", "/f?sig=AAAA"), ErrMalformedToken},
		{"expired", signedTarget(t, s, Claims{IssuedAt: 1, ExpiresAt: 2, KeyID: "key_2"}, reqTarget(t, "GET", "h", "/f")), ErrExpired},
		{"ambiguous under a prefix", ambiguous, ErrAmbiguousPath},
		{"every policy", signedTarget(t, s, Claims{IssuedAt: testNow.Unix(), ExpiresAt: testNow.Unix() + 1, KeyID: "k", Policy: allPolicies()},
			reqTarget(t, "GET", "files.example.com", "/f")), nil},
		{"folder, every policy at its limit", signedTarget(t, s, Claims{IssuedAt: testNow.Unix(), ExpiresAt: testNow.Unix() + 1, Prefix: "/reports/", Policy: maxPolicy()},
			reqTarget(t, "GET", "files.example.com", "/reports/2026/q1.pdf")), nil},
	}
	for _, tt := range tests {
		// The first call may intern the key id and prefix.
		if _, err := v.Verify(tt.tg, testNow); err != tt.want {
			t.Fatalf("Verify, %s: %v, want %v", tt.name, err, tt.want)
		}
		if n := testing.AllocsPerRun(200, func() { _, _ = v.Verify(tt.tg, testNow) }); n != 0 {
			t.Errorf("Verify, %s: %v allocs/op, want 0", tt.name, n)
		}
	}
	// With an expiry hook that moves the expiry (a closure over a map, as a
	// server's would be), still none.
	moved := map[URLID]int64{testURLID: testNow.Unix() + 60}
	hv := mustVerifierOpts(t, "", 0, []Option{WithExpiry(func(id URLID, signed int64) int64 {
		if e, ok := moved[id]; ok {
			return e
		}
		return signed
	})}, s, testSecret("2025-12", 8))
	for _, tt := range tests {
		if _, err := hv.Verify(tt.tg, testNow); err != tt.want {
			t.Fatalf("Verify with a hook, %s: %v, want %v", tt.name, err, tt.want)
		}
		if n := testing.AllocsPerRun(200, func() { _, _ = hv.Verify(tt.tg, testNow) }); n != 0 {
			t.Errorf("Verify with a hook, %s: %v allocs/op, want 0", tt.name, n)
		}
	}
	if n := testing.AllocsPerRun(200, func() { _ = StripParam("a=1&b=2", "sig") }); n != 0 {
		t.Errorf("StripParam without the param: %v allocs/op, want 0", n)
	}
}

// TestVerifyNames: the key ids and prefixes of verified tokens are
// interned, and a full table still returns every name.
func TestVerifyNames(t *testing.T) {
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
	var first string
	for range 2 {
		c := testClaims()
		c.KeyID = "key_a"
		got, err := v.Verify(signedTarget(t, s, c, reqTarget(t, "GET", "h", "/f")), testNow)
		if err != nil || got.KeyID != "key_a" {
			t.Fatalf("%+v, %v", got, err)
		}
		if first == "" {
			first = got.KeyID
		} else if unsafe.StringData(got.KeyID) != unsafe.StringData(first) {
			t.Error("the same key id was not interned")
		}
	}

	// Fill the table far past its size: every name comes back intact, at
	// most nameSlots are kept, and kept names are returned as kept.
	var nt names
	nt.seed = maphash.MakeSeed()
	for i := range 3 * nameSlots {
		name := fmt.Sprintf("key_%d", i)
		if got := nt.get([]byte(name)); got != name {
			t.Fatalf("get(%q) = %q", name, got)
		}
	}
	kept := 0
	for i := range nt.slots {
		if p := nt.slots[i].Load(); p != nil {
			kept++
			if got := nt.get([]byte(*p)); unsafe.StringData(got) != unsafe.StringData(*p) {
				t.Fatalf("kept name %q returned as a copy", *p)
			}
		}
	}
	if kept < nameSlots/2 || kept > nameSlots {
		t.Errorf("%d names kept of %d slots", kept, nameSlots)
	}
	if got := nt.get(nil); got != "" {
		t.Errorf("get(nil) = %q", got)
	}
}

func benchVerifier(tb testing.TB) (*Verifier, Target) {
	s := testSecret("2026-01", 7)
	c := testClaims()
	c.KeyID = "key_01J9ZQ4M8T"
	tg := signedTarget(tb, s, c, reqTarget(tb, "GET", "files.example.com", "/reports/2026/q1.pdf"))
	return mustVerifier(tb, "", 0, s, testSecret("2025-12", 8)), tg
}

func BenchmarkVerify(b *testing.B) {
	v, tg := benchVerifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tg, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyQuery has three other parameters to canonicalise and sort.
func BenchmarkVerifyQuery(b *testing.B) {
	s := testSecret("2026-01", 7)
	c := testClaims()
	c.KeyID = "key_01J9ZQ4M8T"
	tg := signedTarget(b, s, c, reqTarget(b, "GET", "files.example.com", "/reports/2026/q1.pdf?response-content-disposition=attachment&v=3&lang=en"))
	v := mustVerifier(b, "", 0, s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tg, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	v, tg := benchVerifier(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(tg, testNow); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyPolicy verifies a token with every policy set, with an
// expiry hook that looks the link up in a map.
func BenchmarkVerifyPolicy(b *testing.B) {
	s := testSecret("2026-01", 7)
	c := testClaims()
	c.KeyID = "key_01J9ZQ4M8T"
	c.Policy = allPolicies()
	tg := signedTarget(b, s, c, reqTarget(b, "GET", "files.example.com", "/reports/2026/q1.pdf"))
	moved := map[URLID]int64{{1}: 1}
	v := mustVerifierOpts(b, "", 0, []Option{WithExpiry(func(id URLID, signed int64) int64 {
		if e, ok := moved[id]; ok {
			return e
		}
		return signed
	})}, s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tg, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
