package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is 2026-01-01T10:00:00Z.
var testNow = time.Unix(1767261600, 0)

const testURLID = "AAECAwQFBgcICQoLDA0ODw" // bytes 0x00…0x0f

func testSecret(id string, fill byte) Secret {
	k := make([]byte, 32)
	for i := range k {
		k[i] = fill + byte(i)
	}
	return Secret{ID: id, Key: k}
}

func testClaims() Claims {
	return Claims{
		IssuedAt:  testNow.Unix(),
		ExpiresAt: testNow.Unix() + 3600,
		ID:        testURLID,
		KeyID:     "key_7Qm2",
	}
}

// reqTarget builds a Target the way net/http does from a request line.
func reqTarget(tb testing.TB, method, host, uri string) Target {
	tb.Helper()
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		tb.Fatalf("ParseRequestURI(%q): %v", uri, err)
	}
	return Target{Host: host, Method: method, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
}

func mustSign(tb testing.TB, s Secret, c Claims, t Target) string {
	tb.Helper()
	tok, err := Sign(s, c, t)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return tok
}

// signedTarget signs c for t and returns t with the token in its query.
func signedTarget(tb testing.TB, s Secret, c Claims, t Target) Target {
	tb.Helper()
	t.RawQuery = AppendToken(t.RawQuery, DefaultParam, mustSign(tb, s, c, t))
	return t
}

// craftToken builds a token from a hand-made payload with a valid tag, to
// reach the checks made after the tag (claims and constraints).
func craftToken(s Secret, exp, iat uint64, keyID string, constraints []byte, bound string, t Target) string {
	raw := []byte{tokenVersion, byte(len(s.ID))}
	raw = append(raw, s.ID...)
	raw = binary.BigEndian.AppendUint64(raw, exp)
	raw = binary.BigEndian.AppendUint64(raw, iat)
	id, _ := base64.RawURLEncoding.DecodeString(testURLID)
	raw = append(raw, id...)
	raw = append(raw, byte(len(keyID)))
	raw = append(raw, keyID...)
	raw = append(raw, constraints...)
	msg := appendMACHead(nil, raw, t.Host)
	msg = appendField(msg, bound)
	msg, _, _ = appendQueryField(msg, t.RawQuery, DefaultParam, nil)
	m := hmac.New(sha256.New, s.Key)
	m.Write(msg)
	return base64.RawURLEncoding.EncodeToString(m.Sum(raw))
}

func constraint(typ byte, v string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// errName maps the error names used in testdata to errors.
var errNames = map[string]error{
	"":                   nil,
	"malformed":          ErrMalformedToken,
	"bad_signature":      ErrBadSignature,
	"expired":            ErrExpired,
	"not_yet_valid":      ErrNotYetValid,
	"method_not_allowed": ErrMethodNotAllowed,
	"no_token":           ErrNoToken,
	"ambiguous_path":     ErrAmbiguousPath,
}

type vectorFile struct {
	Comment []string `json:"comment"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	Name   string `json:"name"`
	Secret struct {
		ID     string `json:"id"`
		KeyHex string `json:"key_hex"`
	} `json:"secret"`
	Claims struct {
		ExpiresAt int64  `json:"expires_at"`
		IssuedAt  int64  `json:"issued_at"`
		ID        string `json:"id"`
		KeyID     string `json:"key_id"`
		Prefix    string `json:"prefix"`
	} `json:"claims"`
	Target struct {
		Host     string `json:"host"`
		Method   string `json:"method"`
		Path     string `json:"path"`
		RawPath  string `json:"raw_path"`
		RawQuery string `json:"raw_query"`
	} `json:"target"`
	CanonicalQuery string        `json:"canonical_query"`
	MACInputHex    string        `json:"mac_input_hex"`
	Token          string        `json:"token"`
	Checks         []vectorCheck `json:"checks"`
}

type vectorCheck struct {
	Method      string `json:"method"`
	Host        string `json:"host"`
	RequestURI  string `json:"request_uri"`
	Now         int64  `json:"now"`
	SkewSeconds int64  `json:"skew_seconds"`
	Error       string `json:"error"`
}

func TestSignedURLVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/signed-url-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 6 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	for _, vec := range f.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			key, err := hex.DecodeString(vec.Secret.KeyHex)
			if err != nil {
				t.Fatal(err)
			}
			s := Secret{ID: vec.Secret.ID, Key: key}
			c := Claims{
				ExpiresAt: vec.Claims.ExpiresAt, IssuedAt: vec.Claims.IssuedAt, ID: vec.Claims.ID,
				KeyID: vec.Claims.KeyID, Prefix: vec.Claims.Prefix,
			}
			tg := Target(vec.Target)
			tok, err := Sign(s, c, tg)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if tok != vec.Token {
				t.Fatalf("token\n got %s\nwant %s", tok, vec.Token)
			}

			// The documented intermediate values.
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				t.Fatal(err)
			}
			signed := raw[:len(raw)-tagLen]
			cq, _, _ := appendQueryField(nil, tg.RawQuery, "", nil)
			if got := string(cq[2:]); got != vec.CanonicalQuery {
				t.Errorf("canonical query %q, want %q", got, vec.CanonicalQuery)
			}
			bound := tg.Path
			if c.Prefix != "" {
				bound = c.Prefix
			}
			msg := appendMACHead(nil, signed, tg.Host)
			msg = appendField(msg, bound)
			msg, _, _ = appendQueryField(msg, tg.RawQuery, "", nil)
			if got := hex.EncodeToString(msg); got != vec.MACInputHex {
				t.Errorf("MAC input\n got %s\nwant %s", got, vec.MACInputHex)
			}
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			if !hmac.Equal(m.Sum(nil), raw[len(raw)-tagLen:]) {
				t.Error("tag is not HMAC-SHA256(key, MAC input)")
			}

			for i, chk := range vec.Checks {
				v := &Verifier{Ring: []Secret{s}, Skew: time.Duration(chk.SkewSeconds) * time.Second}
				got, err := v.Verify(reqTarget(t, chk.Method, chk.Host, chk.RequestURI), time.Unix(chk.Now, 0))
				want, ok := errNames[chk.Error]
				if !ok {
					t.Fatalf("check %d: unknown error name %q", i, chk.Error)
				}
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Errorf("check %d (%s %s %s): err = %v, want %v", i, chk.Method, chk.Host, chk.RequestURI, err, want)
					continue
				}
				wantClaims := c
				wantClaims.SecretID = s.ID
				if err == nil && got != wantClaims {
					t.Errorf("check %d: claims %+v, want %+v", i, got, wantClaims)
				}
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := testSecret("s1", 1)
	v := &Verifier{Ring: []Secret{s}}
	for _, method := range []string{"GET", "HEAD"} {
		c := testClaims()
		tg := signedTarget(t, s, c, reqTarget(t, method, "files.example.com", "/reports/2026/q1.pdf?download=1"))
		// Signed with either method, the token serves both.
		for _, m := range []string{"GET", "HEAD"} {
			tg.Method = m
			got, err := v.Verify(tg, testNow)
			if err != nil {
				t.Fatalf("%s-signed, %s: %v", method, m, err)
			}
			c.SecretID = "s1"
			if got != c {
				t.Fatalf("claims %+v, want %+v", got, c)
			}
		}
	}
}

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
	v := &Verifier{Ring: []Secret{other, s}}
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
	if _, err := (&Verifier{Ring: []Secret{other}}).Verify(valid, testNow); err != ErrBadSignature {
		t.Errorf("unknown secret id: %v, want ErrBadSignature", err)
	}
	sameIDOtherKey := testSecret("s1", 50)
	if _, err := (&Verifier{Ring: []Secret{sameIDOtherKey}}).Verify(valid, testNow); err != ErrBadSignature {
		t.Errorf("same id, other key: %v, want ErrBadSignature", err)
	}
	short := Secret{ID: "s1", Key: s.Key[:31]}
	if _, err := (&Verifier{Ring: []Secret{short}}).Verify(valid, testNow); err != ErrBadSignature {
		t.Errorf("invalid (short) secret in ring: %v, want ErrBadSignature", err)
	}
	if _, err := (&Verifier{Ring: []Secret{s}, Param: "s&g"}).Verify(valid, testNow); err != ErrMalformedToken {
		t.Errorf("invalid param name: %v, want ErrMalformedToken", err)
	}
	if _, err := (&Verifier{}).Verify(valid, testNow); err != ErrBadSignature {
		t.Errorf("empty ring: %v, want ErrBadSignature", err)
	}
	custom := base
	custom.RawQuery = "token=" + tok
	if _, err := (&Verifier{Ring: []Secret{s}, Param: "token"}).Verify(custom, testNow); err != nil {
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

	v := &Verifier{Ring: []Secret{cur, old}}
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
	v2 := &Verifier{Ring: []Secret{next, cur}}
	if _, err := v2.Verify(byOld, testNow); err != ErrBadSignature {
		t.Fatalf("removed secret: %v, want ErrBadSignature", err)
	}
	if _, err := v2.Verify(byCur, testNow); err != nil {
		t.Fatalf("ring[1] after rotation: %v", err)
	}
	// Replacing the Ring of a used Verifier takes effect (the cache is rebuilt).
	v.Ring = []Secret{next}
	if _, err := v.Verify(byCur, testNow); err != ErrBadSignature {
		t.Fatalf("after replacing Ring: %v, want ErrBadSignature", err)
	}
	v.Ring = []Secret{testSecret("2026-01", 9)} // same id, other key
	if _, err := v.Verify(byCur, testNow); err != ErrBadSignature {
		t.Fatalf("after replacing the key of an id: %v, want ErrBadSignature", err)
	}
	v.Ring = []Secret{cur}
	if _, err := v.Verify(byCur, testNow); err != nil {
		t.Fatalf("after restoring: %v", err)
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
		{-time.Hour, iat, nil}, // a negative skew counts as zero
		{-time.Hour, iat.Add(-time.Second), ErrNotYetValid},
		{0, exp.Add(-time.Nanosecond), nil},
		{0, exp, ErrExpired}, // expired when now >= expires_at
		{0, exp.Add(time.Second), ErrExpired},
		{time.Hour, exp, ErrExpired}, // the skew never extends the expiry
		{time.Hour, exp.Add(-time.Second), nil},
	}
	for _, tt := range tests {
		v := &Verifier{Ring: []Secret{s}, Skew: tt.skew}
		if _, err := v.Verify(tg, tt.now); err != tt.want {
			t.Errorf("skew %v, now %v: %v, want %v", tt.skew, tt.now.UTC(), err, tt.want)
		}
	}
}

func TestPathTricks(t *testing.T) {
	s := testSecret("s1", 1)
	v := &Verifier{Ring: []Secret{s}}
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
		{"/a%E2%88%95b.pdf", bad, bad}, // division slash "∕" is not "/"
		{"/a%EF%BC%8Fb.pdf", bad, bad}, // fullwidth solidus "／" is not "/"
		{"/a/b.pdf%C0%AF", bad, amb},   // overlong UTF-8 "/"
		{"/a/%C0%AE%C0%AE/b.pdf", bad, amb},
		{"/a/b.pdf%FF", bad, amb}, // invalid UTF-8
		{"/a/b.pdf%20", bad, ok},  // trailing space: another name, under the prefix
		{"/a", bad, ok},           // the prefix covers its own directory
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

func TestCanonicalQueryEquivalence(t *testing.T) {
	s := testSecret("s1", 1)
	v := &Verifier{Ring: []Secret{s}}
	tests := []struct {
		signed, sent string
		equivalent   bool
	}{
		{"a=1&b=2", "b=2&a=1", true},
		{"b=2&a=1", "a=%31&b=2", true},
		{"a=1", "a=1&", true}, // empty pairs are dropped
		{"a=1", "&a=1", true},
		{"a=1&b=2", "a=1&&b=2", true},
		{"a", "a=", true}, // a name without "=" has the empty value
		{"x=~", "x=%7e", true},
		{"x=%2a", "x=*", true},
		{"x=%c3%a9", "x=%C3%A9", true},
		{"x=%c3%a9", "x=é", true},
		{"x=a/b?c", "x=a%2Fb%3Fc", true},
		{"x=a b", "x=a%20b", true},
		{"a=b=c", "a=b%3Dc", true}, // the first "=" splits
		{"a=1&a=2", "a=2&a=1", true},
		{"a=2&a=10&b", "b&a=10&a=2", true},
		{"", "", true},

		{"a=1", "a=2", false},
		{"a=1", "A=1", false},
		{"a=1", "a=1&b", false},
		{"a=1", "a=1&a=1", false},
		{"a=1&a=2", "a=1", false},
		{"", "a=", false},
		{"a=b=c", "a%3Db=c", false},
		{"x=a%20b", "x=a+b", false}, // '+' is not a space…
		{"x=a+b", "x=a%2Bb", false}, // …nor an escaped '+'
		{"x=1;y=2", "x=1%3By=2", false},
		{"x=1;y=2", "x=1;y%3D2", true},
		{"x=1;y=2", "x=1&y=2", false},
		{"x=%00", "x=", false},
	}
	for _, tt := range tests {
		tg := Target{Host: "h.example", Method: "GET", Path: "/f", RawQuery: tt.signed}
		tok := mustSign(t, s, testClaims(), tg)
		for _, sigFirst := range []bool{false, true} {
			q := AppendToken(tt.sent, DefaultParam, tok)
			if sigFirst {
				q = "sig=" + tok
				if tt.sent != "" {
					q += "&" + tt.sent
				}
			}
			tg.RawQuery = q
			_, err := v.Verify(tg, testNow)
			if tt.equivalent && err != nil {
				t.Errorf("signed %q, sent %q: %v, want success", tt.signed, q, err)
			}
			if !tt.equivalent && err != ErrBadSignature {
				t.Errorf("signed %q, sent %q: %v, want ErrBadSignature", tt.signed, q, err)
			}
		}
	}
	if _, err := Sign(s, testClaims(), Target{Host: "h", Method: "GET", Path: "/f", RawQuery: "a=%zz"}); err == nil {
		t.Error("Sign accepted an invalid escape")
	}
}

func TestCanonicalQueryForm(t *testing.T) {
	tests := []struct{ raw, skip, want string }{
		{"", "", ""},
		{"b=2&a=1", "", "a=1&b=2"},
		{"a=%31&b", "", "a=1&b="},
		{"z=%7e%41&y=A+B;C&x=%2b", "", "x=%2B&y=A+B;C&z=~A"},
		{"é=ü ", "", "%C3%A9=%C3%BC%20"},
		{"a=2&a=10&a=1", "", "a=1&a=10&a=2"},
		{"a=1&sig=xyz&%73ig=q&b=2", "sig", "a=1&b=2"},
		{"sig=xyz", "sig", ""},
		{"ab=1&a=2&a%00=3", "", "a=2&a%00=3&ab=1"},
		{"a-=1&a=2", "", "a=2&a-=1"}, // by name, then value; not by "name=value"
	}
	for _, tt := range tests {
		b, _, ok := appendQueryField(nil, tt.raw, tt.skip, nil)
		if !ok {
			t.Errorf("%q: not ok", tt.raw)
			continue
		}
		if got := string(b[2:]); got != tt.want || int(binary.BigEndian.Uint16(b)) != len(got) {
			t.Errorf("canonical(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestHostNormalization(t *testing.T) {
	s := testSecret("s1", 1)
	v := &Verifier{Ring: []Secret{s}}
	tok := mustSign(t, s, testClaims(), Target{Host: "Files.Example.COM:443", Method: "GET", Path: "/f"})
	for host, want := range map[string]error{
		"files.example.com":      nil,
		"FILES.EXAMPLE.COM":      nil,
		"files.example.com:443":  nil,
		"files.example.com:80":   nil,
		"files.example.com:8443": ErrBadSignature,
		"files.example.com:080":  ErrBadSignature,
		"files.example.com.":     ErrBadSignature,
		"files.example.com:":     ErrBadSignature,
		"files.example.org":      ErrBadSignature,
		"":                       ErrBadSignature,
	} {
		if _, err := v.Verify(Target{Host: host, Method: "GET", Path: "/f", RawQuery: "sig=" + tok}, testNow); err != want {
			t.Errorf("host %q: %v, want %v", host, err, want)
		}
	}
	tok6 := mustSign(t, s, testClaims(), Target{Host: "[2001:DB8::1]:80", Method: "GET", Path: "/f"})
	if _, err := v.Verify(Target{Host: "[2001:db8::1]", Method: "GET", Path: "/f", RawQuery: "sig=" + tok6}, testNow); err != nil {
		t.Errorf("IPv6 host: %v", err)
	}
}

func TestStripParamAndAppendToken(t *testing.T) {
	strip := []struct{ in, want string }{
		{"", ""},
		{"sig=x", ""},
		{"a=1", "a=1"},
		{"a=1&sig=x", "a=1"},
		{"sig=x&a=1", "a=1"},
		{"a=1&sig=x&b=%2f+c", "a=1&b=%2f+c"},
		{"a=1&&sig=x&b=2", "a=1&&b=2"},
		{"a=1&", "a=1&"},
		{"sig=1&%73ig=2&%73%49g=3&sig", "%73%49g=3"},
		{"sigx=1&xsig=2&SIG=3", "sigx=1&xsig=2&SIG=3"},
		{"s%zzig=1&sig=2", "s%zzig=1"},
	}
	for _, tt := range strip {
		if got := StripParam(tt.in, "sig"); got != tt.want {
			t.Errorf("StripParam(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := StripParam("a=1&token=x", "token"); got != "a=1" {
		t.Errorf("custom param: %q", got)
	}

	tok := mustSign(t, testSecret("s1", 1), testClaims(), Target{Host: "h", Method: "GET", Path: "/f"})
	for _, q := range []string{"", "a=1", "a=1&", "&", "b=%2F&a=x+y", "a=1;b=2", "x=%C3%A9&&y"} {
		full := AppendToken(q, "sig", tok)
		if got := StripParam(full, "sig"); got != q {
			t.Errorf("StripParam(AppendToken(%q)) = %q", q, got)
		}
		if v, n := findParam(full, "sig"); n != 1 || v != tok {
			t.Errorf("AppendToken(%q) = %q: token not found once", q, full)
		}
		u, err := url.ParseQuery(full)
		if got := u.Get("sig"); err != nil && q != "a=1;b=2" || got != tok {
			t.Errorf("url.ParseQuery(%q): sig %q, err %v", full, got, err)
		}
	}
	if got := AppendToken("a=1", "my sig", "a/b"); got != "a=1&my%20sig=a%2Fb" {
		t.Errorf("AppendToken escaping: %q", got)
	}
}

func TestSignRejects(t *testing.T) {
	s := testSecret("s1", 1)
	good := Target{Host: "h", Method: "GET", Path: "/a/b.pdf"}
	mod := func(f func(*Claims, *Target)) (Claims, Target) {
		c, tg := testClaims(), good
		f(&c, &tg)
		return c, tg
	}
	tests := []struct {
		name string
		s    Secret
		c    Claims
		t    Target
		want error // nil: any error
	}{
		{"short key", Secret{ID: "s1", Key: make([]byte, 31)}, testClaims(), good, nil},
		{"bad secret id", testSecret("s 1", 1), testClaims(), good, nil},
		{"long secret id", testSecret(strings.Repeat("s", 33), 1), testClaims(), good, nil},
	}
	add := func(name string, want error, f func(*Claims, *Target)) {
		c, tg := mod(f)
		tests = append(tests, struct {
			name string
			s    Secret
			c    Claims
			t    Target
			want error
		}{name, s, c, tg, want})
	}
	add("no url id", nil, func(c *Claims, _ *Target) { c.ID = "" })
	add("short url id", nil, func(c *Claims, _ *Target) { c.ID = testURLID[:21] })
	add("url id bad char", nil, func(c *Claims, _ *Target) { c.ID = testURLID[:21] + "=" })
	add("url id bad trailing bits", nil, func(c *Claims, _ *Target) { c.ID = testURLID[:21] + "x" })
	add("issued at zero", nil, func(c *Claims, _ *Target) { c.IssuedAt = 0 })
	add("expires before issued", nil, func(c *Claims, _ *Target) { c.ExpiresAt = c.IssuedAt })
	add("key id too long", nil, func(c *Claims, _ *Target) { c.KeyID = strings.Repeat("k", 65) })
	add("key id with space", nil, func(c *Claims, _ *Target) { c.KeyID = "k 1" })
	add("unclean prefix", nil, func(c *Claims, _ *Target) { c.Prefix = "/a/../" })
	add("relative prefix", nil, func(c *Claims, _ *Target) { c.Prefix = "a/" })
	add("prefix too long", nil, func(c *Claims, tg *Target) {
		c.Prefix = "/" + strings.Repeat("p", MaxPrefixLen)
		tg.Path = c.Prefix + "/f"
	})
	add("prefix does not cover", nil, func(c *Claims, _ *Target) { c.Prefix = "/b/" })
	add("POST", ErrMethodNotAllowed, func(_ *Claims, tg *Target) { tg.Method = "POST" })
	add("no host", nil, func(_ *Claims, tg *Target) { tg.Host = "" })
	add("host only a default port", nil, func(_ *Claims, tg *Target) { tg.Host = ":443" })
	add("ambiguous path", ErrAmbiguousPath, func(_ *Claims, tg *Target) { tg.Path = "/a/../b.pdf" })
	add("encoded slash", ErrAmbiguousPath, func(_ *Claims, tg *Target) { tg.RawPath = "/a%2Fb.pdf" })
	add("query too long", nil, func(_ *Claims, tg *Target) { tg.RawQuery = strings.Repeat("a", MaxSignQueryLen+1) })
	add("invalid escape", nil, func(_ *Claims, tg *Target) { tg.RawQuery = "a=%G0" })
	for _, tt := range tests {
		tok, err := Sign(tt.s, tt.c, tt.t)
		if err == nil || (tt.want != nil && err != tt.want) {
			t.Errorf("%s: token %q, err %v, want %v", tt.name, tok, err, tt.want)
		}
	}

	// The largest token Sign can make still fits the verifier's limits.
	c := testClaims()
	c.KeyID = strings.Repeat("k", MaxKeyIDLen)
	c.Prefix = "/" + strings.Repeat("p", MaxPrefixLen-1)
	big := Secret{ID: strings.Repeat("s", 32), Key: make([]byte, 64)}
	tg := Target{Host: strings.Repeat("h", MaxHostLen), Method: "GET", Path: c.Prefix + "/f", RawQuery: strings.Repeat("q", MaxSignQueryLen)}
	tok, err := Sign(big, c, tg)
	if err != nil {
		t.Fatalf("largest token: %v", err)
	}
	tg.RawQuery = AppendToken(tg.RawQuery, strings.Repeat("p", maxParamLen), tok)
	if _, err := (&Verifier{Ring: []Secret{big}, Param: strings.Repeat("p", maxParamLen)}).Verify(tg, testNow); err != nil {
		t.Fatalf("largest token (%d chars): %v", len(tok), err)
	}
}

func TestSecretsAndIDs(t *testing.T) {
	for id, want := range map[string]bool{
		"s1": true, "2026-01_a": true, strings.Repeat("a", 32): true,
		"": false, strings.Repeat("a", 33): false, "a b": false, "a.b": false, "é": false, "a=": false,
	} {
		if ValidSecretID(id) != want {
			t.Errorf("ValidSecretID(%q) = %v", id, !want)
		}
	}
	seen := map[string]bool{}
	for range 100 {
		id, err := NewURLID()
		if err != nil {
			t.Fatal(err)
		}
		var b [16]byte
		if len(id) != URLIDLen || !decodeURLID(b[:], id) || seen[id] {
			t.Fatalf("bad or repeated URL id %q", id)
		}
		seen[id] = true
	}

	s1, s2 := testSecret("s1", 1), testSecret("s2", 2)
	for _, tt := range []struct {
		v  *Verifier
		ok bool
	}{
		{&Verifier{Ring: []Secret{s1, s2}}, true},
		{&Verifier{Ring: []Secret{s1}, Param: "token", Skew: time.Minute}, true},
		{&Verifier{}, false},
		{&Verifier{Ring: []Secret{s1, s1}}, false},
		{&Verifier{Ring: []Secret{{ID: "x", Key: []byte("short")}}}, false},
		{&Verifier{Ring: []Secret{s1}, Param: "a&b"}, false},
		{&Verifier{Ring: []Secret{s1}, Param: strings.Repeat("p", 65)}, false},
		{&Verifier{Ring: []Secret{s1}, Skew: -time.Second}, false},
	} {
		if err := tt.v.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.v.Ring, err)
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	s1, s2 := testSecret("s1", 1), testSecret("s2", 2)
	v := &Verifier{Ring: []Secret{s1, s2}}
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

// raceEnabled reports whether the test binary was built with -race, where
// sync.Pool deliberately drops items and allocation counts mean nothing.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

func TestVerifyAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("allocation counts are not meaningful under -race")
	}
	v, tg := benchVerifier(t)
	if _, err := v.Verify(tg, testNow); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = v.Verify(tg, testNow) }); n > 1 {
		t.Errorf("Verify: %v allocs/op, want <= 1", n)
	}
	tg.RawQuery = ""
	if n := testing.AllocsPerRun(200, func() { _, _ = v.Verify(tg, testNow) }); n != 0 {
		t.Errorf("Verify without a token: %v allocs/op, want 0", n)
	}
	tg.RawQuery = "a=1&b=2"
	if n := testing.AllocsPerRun(200, func() { _ = StripParam(tg.RawQuery, "sig") }); n != 0 {
		t.Errorf("StripParam without the param: %v allocs/op, want 0", n)
	}
}

func benchVerifier(tb testing.TB) (*Verifier, Target) {
	s := testSecret("2026-01", 7)
	c := testClaims()
	c.KeyID = "key_01J9ZQ4M8T"
	tg := signedTarget(tb, s, c, reqTarget(tb, "GET", "files.example.com", "/reports/2026/q1.pdf"))
	return &Verifier{Ring: []Secret{s, testSecret("2025-12", 8)}}, tg
}

func BenchmarkSign(b *testing.B) {
	s := testSecret("2026-01", 7)
	c := testClaims()
	c.KeyID = "key_01J9ZQ4M8T"
	tg := reqTarget(b, "GET", "files.example.com", "/reports/2026/q1.pdf")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(s, c, tg); err != nil {
			b.Fatal(err)
		}
	}
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
	v := &Verifier{Ring: []Secret{s}}
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
