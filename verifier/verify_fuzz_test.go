package verifier

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file fuzzes signed-URL verification against a reference model
// written independently of verify.go and canonical.go: a straightforward (allocating)
// canonical query, host rule and path rule, as docs/signed-urls.md states
// them.
//
//	go test -run '^$' -fuzz FuzzVerify$ -fuzztime 60s ./verifier/
//	go test -run '^$' -fuzz FuzzVerifyMutation -fuzztime 60s ./verifier/
//	go test -run '^$' -fuzz FuzzSignVerify -fuzztime 60s ./verifier/

// refCanon is the documented canonical form of one query name or value.
func refCanon(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+' || c == ';':
			b.WriteByte(c)
		case c == '%':
			if len(s) < i+3 {
				return "", false
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteString(refEscape(byte(v)))
			i += 2
		default:
			b.WriteString(refEscape(c))
		}
	}
	return b.String(), true
}

func refEscape(c byte) string {
	if c != 0 && strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", c) >= 0 {
		return string(rune(c))
	}
	return fmt.Sprintf("%%%02X", c)
}

// refCanonicalQuery is the documented canonical query of raw without the
// pairs whose canonical name is skip ("" skips nothing).
func refCanonicalQuery(raw, skip string) (string, bool) {
	type kv struct{ k, v string }
	var pairs []kv
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		ck, ok := refCanon(k)
		if !ok {
			return "", false
		}
		if skip != "" && ck == skip {
			continue
		}
		cv, ok := refCanon(v)
		if !ok {
			return "", false
		}
		pairs = append(pairs, kv{ck, cv})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&"), true
}

// refTokens returns the values of the pairs whose canonical name is param.
func refTokens(raw, param string) []string {
	var vals []string
	for _, p := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(p, "=")
		if ck, ok := refCanon(k); ok && ck == param {
			vals = append(vals, v)
		}
	}
	return vals
}

func refHost(h string) string {
	h = strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, h)
	if s, ok := strings.CutSuffix(h, ":80"); ok {
		return s
	}
	return strings.TrimSuffix(h, ":443")
}

// refAccepts reports whether req is, per the documented equivalences, the
// request that token (claims c, signed for orig) grants at testNow.
func refAccepts(orig Target, c Claims, token string, req Target) bool {
	toks := refTokens(req.RawQuery, DefaultParam)
	if len(toks) != 1 || toks[0] != token {
		return false
	}
	if req.Method != "GET" && req.Method != "HEAD" {
		return false
	}
	if len(req.RawQuery) > MaxQueryLen || len(req.Host) > MaxHostLen || len(req.Path) > MaxPathLen || len(req.RawPath) > MaxPathLen {
		return false
	}
	if refHost(req.Host) != refHost(orig.Host) {
		return false
	}
	// A folder (prefix) token binds no query; an exact one the canonical query.
	if c.Prefix == "" {
		q0, ok0 := refCanonicalQuery(orig.RawQuery, "")
		q1, ok1 := refCanonicalQuery(req.RawQuery, DefaultParam)
		if !ok0 || !ok1 || q0 != q1 {
			return false
		}
	}
	if CheckPath(req.Path, req.RawPath) != nil {
		return false
	}
	if c.Prefix == "" {
		return req.Path == orig.Path
	}
	return ScopeCovers(c.Prefix, req.Path)
}

var (
	fuzzS1   = testSecret("fz1", 3)
	fuzzS2   = testSecret("fz2", 4)
	fuzzRing = []Secret{fuzzS1, fuzzS2}
)

// fuzzBase is a signed request the mutation fuzzer starts from.
type fuzzBase struct {
	orig  Target // as signed (no signature parameter)
	c     Claims
	token string
	uri   string // the request URI sent, signature included
}

func fuzzBases(tb testing.TB) []fuzzBase {
	mk := func(s Secret, prefix, method, host, uri string) fuzzBase {
		c := testClaims()
		c.Prefix = prefix
		orig := reqTarget(tb, method, host, uri)
		if prefix != "" {
			orig.RawQuery = "" // a folder token binds no query
		}
		tok := mustSign(tb, s, c, orig)
		c = verified(c, s)
		sep := "?"
		if strings.Contains(uri, "?") {
			sep = "&"
		}
		return fuzzBase{orig: orig, c: c, token: tok, uri: uri + sep + "sig=" + tok}
	}
	return []fuzzBase{
		mk(fuzzS1, "", "GET", "files.example.com", "/reports/2026/q1.pdf"),
		mk(fuzzS2, "", "GET", "Files.Example.com:443", "/a/b%20c.pdf?b=2&a=%7E1+x;y&a=0"),
		mk(fuzzS1, "/a/", "HEAD", "files.example.com", "/a/b.pdf?download=1"),
		mk(fuzzS2, "", "GET", "[::1]:8080", "/caf%C3%A9/%E2%9C%93.txt?q=%C3%A9&empty&=v"),
	}
}

func sentinel(err error) bool {
	for _, e := range []error{ErrMalformedToken, ErrBadSignature, ErrExpired, ErrNotYetValid, ErrMethodNotAllowed, ErrNoToken, ErrAmbiguousPath} {
		if err == e {
			return true
		}
	}
	return false
}

// FuzzVerify feeds arbitrary requests to Verify: it must not panic, must
// return one of the sentinel errors or claims, and whatever it accepts must
// be exactly what Sign produces for those claims and that request.
func FuzzVerify(f *testing.F) {
	for _, b := range fuzzBases(f) {
		u, _ := url.ParseRequestURI(b.uri)
		f.Add(b.orig.Method, b.orig.Host, u.Path, u.RawPath, u.RawQuery, int64(0))
	}
	tok := mustSign(f, fuzzS1, testClaims(), Target{Host: "h", Method: "GET", Path: "/f"})
	f.Add("GET", "h", "/f", "", "sig="+tok, int64(3600))
	f.Add("GET", "h", "/f", "", "sig="+tok+"&sig="+tok, int64(0))
	f.Add("GET", "h", "/f", "", "%73ig="+tok[:40], int64(-1))
	f.Add("POST", "", "", "%2F", "sig=AQ", int64(0))
	f.Add("HEAD", "H:80", "/f/", "/f%2f", "sig="+strings.Repeat("A", 600), int64(1<<40))
	f.Add("GET", "h", "/\x00", "", "sig=\r\n&a=%", int64(0))

	v := mustVerifier(f, "", 30*time.Second, fuzzRing...)
	f.Fuzz(func(t *testing.T, method, host, path, rawPath, query string, dt int64) {
		tg := Target{Host: host, Method: method, Path: path, RawPath: rawPath, RawQuery: query}
		now := testNow.Add(time.Duration(dt) * time.Second)
		c, err := v.Verify(tg, now)
		if err != nil {
			if !sentinel(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			if c != (Claims{}) {
				t.Fatalf("claims %+v with error %v", c, err)
			}
			return
		}
		toks := refTokens(query, DefaultParam)
		if len(toks) != 1 {
			t.Fatalf("accepted %d tokens", len(toks))
		}
		var s Secret
		for _, r := range fuzzRing {
			if r.ID == c.SecretID {
				s = r
			}
		}
		tg.RawQuery = StripParam(query, DefaultParam)
		if c.Prefix != "" {
			tg.RawQuery = "" // a folder token binds no query
		}
		again, err := Sign(s, c, tg)
		if err != nil && len(tg.RawQuery) <= MaxSignQueryLen {
			t.Fatalf("accepted a request Sign refuses: %v (%+v)", err, tg)
		}
		if err == nil && again != toks[0] {
			t.Fatalf("accepted token %q, but Sign gives %q", toks[0], again)
		}
	})
}

// FuzzVerifyMutation applies one mutation (replace, insert or delete one
// byte) to one part of a validly signed request: the token, the host, the
// request URI (re-parsed like net/http does), the method, the decoded path
// or the raw query. Verify must accept exactly the documented equivalent
// forms (host case and default port; query order, percent-encoding, empty
// pairs and "a" = "a="; percent-encoding of the path that decodes to the
// same path) and refuse everything else.
func FuzzVerifyMutation(f *testing.F) {
	bases := fuzzBases(f)
	for i := range bases {
		for field := range uint8(6) {
			for op := range uint8(3) {
				f.Add(uint8(i), field, op, uint16(7*int(field)+int(op)), byte('A'+field))
			}
		}
	}
	f.Add(uint8(1), uint8(1), uint8(0), uint16(0), byte('f')) // host case: equivalent
	f.Add(uint8(0), uint8(2), uint8(0), uint16(2), byte('%')) // broken escape
	f.Add(uint8(2), uint8(2), uint8(1), uint16(3), byte('/')) // "//"

	v := mustVerifier(f, "", 0, fuzzRing...)
	f.Fuzz(func(t *testing.T, which, field, op uint8, pos uint16, b byte) {
		base := bases[int(which)%len(bases)]
		mutate := func(s string) string {
			p := 0
			if len(s) > 0 {
				p = int(pos) % len(s)
			}
			switch op % 3 {
			case 0:
				if len(s) == 0 {
					return s
				}
				return s[:p] + string([]byte{b}) + s[p+1:]
			case 1:
				if len(s) > 0 {
					p = int(pos) % (len(s) + 1)
				}
				return s[:p] + string([]byte{b}) + s[p:]
			default:
				if len(s) == 0 {
					return s
				}
				return s[:p] + s[p+1:]
			}
		}
		req := reqTarget(t, base.orig.Method, base.orig.Host, base.uri)
		switch field % 6 {
		case 0: // the token bytes, in place
			req.RawQuery = strings.Replace(req.RawQuery, "sig="+base.token, "sig="+mutate(base.token), 1)
		case 1:
			req.Host = mutate(req.Host)
		case 2:
			u, err := url.ParseRequestURI(mutate(base.uri))
			if err != nil {
				return // net/http would answer 400
			}
			req.Path, req.RawPath, req.RawQuery = u.Path, u.RawPath, u.RawQuery
		case 3:
			req.Method = mutate(req.Method)
		case 4:
			req.Path, req.RawPath = mutate(req.Path), ""
		case 5:
			req.RawQuery = mutate(req.RawQuery)
		}
		c, err := v.Verify(req, testNow)
		want := refAccepts(base.orig, base.c, base.token, req)
		if (err == nil) != want {
			t.Fatalf("field %d: Verify(%+v) = %v, reference model accepts: %v", field%6, req, err, want)
		}
		if err == nil && c != base.c {
			t.Fatalf("claims %+v, want %+v", c, base.c)
		}
	})
}

// FuzzSignVerify signs arbitrary requests: whatever Sign accepts must
// verify with the same claims, AppendToken/StripParam must round-trip, and
// the canonical query and base64url decoder must match the reference.
func FuzzSignVerify(f *testing.F) {
	f.Add("files.example.com", "/reports/2026/q1.pdf", "", "key_1", false, false)
	f.Add("H:443", "/a/b%20c.pdf", "b=2&a=1&a", "", true, true)
	f.Add("h", "/caf%C3%A9", "x=%c3%a9&y=a+b;c&=&&", "k:1/2", false, true)
	f.Add("h", "/", "%zz", "", true, false)
	v := mustVerifier(f, "", 0, fuzzRing...)
	f.Fuzz(func(t *testing.T, host, uri, query, keyID string, prefix, head bool) {
		// Cross-check the canonical query against the reference.
		b, _, ok := appendQueryField(nil, query, "", nil)
		ref, refOK := refCanonicalQuery(query, "")
		if len(query) <= MaxQueryLen && (ok != refOK || ok && string(b[2:]) != ref) {
			t.Fatalf("canonical(%q) = %q %v, reference %q %v", query, b, ok, ref, refOK)
		}
		// Cross-check the token decoder against encoding/base64 (which skips CR/LF).
		if !strings.ContainsAny(uri, "\r\n") && len(uri) <= MaxTokenLen {
			var dst [maxRawTokenLen]byte
			n, ok := decodeBase64URL(dst[:], uri)
			want, err := base64.RawURLEncoding.Strict().DecodeString(uri)
			if ok != (err == nil) || ok && string(dst[:n]) != string(want) {
				t.Fatalf("decodeBase64URL(%q) = %x %v, encoding/base64: %x %v", uri, dst[:n], ok, want, err)
			}
		}

		u, err := url.ParseRequestURI(uri)
		if err != nil || u.RawQuery != "" {
			return
		}
		method := "GET"
		if head {
			method = "HEAD"
		}
		tg := Target{Host: host, Method: method, Path: u.Path, RawPath: u.RawPath, RawQuery: query}
		c := testClaims()
		c.KeyID = keyID
		if prefix {
			if i := strings.LastIndexByte(u.Path, '/'); i >= 0 {
				c.Prefix = u.Path[:i+1]
			}
		}
		if c.Prefix != "" {
			tg.RawQuery = "" // a folder token binds no query, so any query works with it
		}
		tok, err := Sign(fuzzS2, c, tg)
		if err != nil {
			if errors.Is(err, ErrAmbiguousPath) && CheckPath(tg.Path, tg.RawPath) == nil {
				t.Fatalf("Sign: %v for a clean path", err)
			}
			return
		}
		if len(tok) > MaxTokenLen {
			t.Fatalf("token of %d bytes", len(tok))
		}
		full := AppendToken(query, DefaultParam, tok)
		if StripParam(full, DefaultParam) != query && len(refTokens(query, DefaultParam)) == 0 {
			t.Fatalf("StripParam(AppendToken(%q)) = %q", query, StripParam(full, DefaultParam))
		}
		tg.RawQuery = full
		got, err := v.Verify(tg, testNow)
		if len(refTokens(query, DefaultParam)) > 0 {
			if err != ErrMalformedToken {
				t.Fatalf("query already had a signature parameter: %v", err)
			}
			return
		}
		if c = verified(c, fuzzS2); err != nil || got != c {
			t.Fatalf("Verify(Sign(%+v, %+v)) = %+v, %v", c, tg, got, err)
		}
	})
}
