package verifier

import (
	"strings"
	"testing"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
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
			if c = verified(c, s); got != c {
				t.Fatalf("claims %+v, want %+v", got, c)
			}
		}
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
		if err != nil && strings.HasPrefix(err.Error(), "verifier:") {
			t.Errorf("%s: error %q needs trimming", tt.name, err)
		}
		if tt.s.Validate() != nil {
			continue
		}
		// The method refuses the same claims and targets.
		tok, err = mustVerifier(t, "", 0, tt.s).Sign(tt.c, tt.t)
		if err == nil || (tt.want != nil && err != tt.want) {
			t.Errorf("%s: (*Verifier).Sign: token %q, err %v, want %v", tt.name, tok, err, tt.want)
		}
	}

	// The largest token Sign can make still fits the verifier's limits.
	c := testClaims()
	c.KeyID = strings.Repeat("k", MaxKeyIDLen)
	c.Prefix = "/" + strings.Repeat("p", MaxPrefixLen-1)
	c.Policy = maxPolicy()
	big := Secret{ID: strings.Repeat("s", 32), Key: make([]byte, 64)}
	bigParam := strings.Repeat("p", maxParamLen)
	tg := Target{Host: strings.Repeat("h", MaxHostLen), Method: "GET", Path: c.Prefix + "/f"}
	tok, err := Sign(big, c, tg)
	if err != nil {
		t.Fatalf("largest token: %v", err)
	}
	if len(tok) != (maxSignedTokenLen*4+2)/3 || len(tok) > MaxTokenLen {
		t.Fatalf("largest token has %d chars, want %d (at most MaxTokenLen %d)", len(tok), (maxSignedTokenLen*4+2)/3, MaxTokenLen)
	}
	// A folder token binds no query, so the longest query still verifies.
	tg.RawQuery = AppendToken(strings.Repeat("q", MaxSignQueryLen), bigParam, tok)
	if _, err := mustVerifier(t, bigParam, 0, big).Verify(tg, testNow); err != nil {
		t.Fatalf("largest token (%d chars): %v", len(tok), err)
	}
	// The largest exact token binds the longest query Sign takes, and the
	// query with the token still fits MaxQueryLen, with room for a token
	// of MaxTokenLen.
	c.Prefix = ""
	tg.RawQuery = strings.Repeat("q", MaxSignQueryLen)
	if tok, err = Sign(big, c, tg); err != nil {
		t.Fatalf("largest exact token: %v", err)
	}
	tg.RawQuery = AppendToken(tg.RawQuery, bigParam, tok)
	if _, err := mustVerifier(t, bigParam, 0, big).Verify(tg, testNow); err != nil {
		t.Fatalf("largest exact token (%d chars) with the longest query: %v", len(tok), err)
	}
	if n := MaxSignQueryLen + len("&") + maxParamLen + len("=") + MaxTokenLen; n > MaxQueryLen {
		t.Fatalf("the longest signed query with the longest token is %d bytes, over MaxQueryLen", n)
	}
}

// TestVerifierSign: the method signs with the first secret of the ring,
// exactly as Sign does with that secret.
func TestVerifierSign(t *testing.T) {
	s1, s2 := testSecret("s1", 1), testSecret("s2", 2)
	v := mustVerifier(t, "", 0, s1, s2)
	c := testClaims()
	tg := reqTarget(t, "GET", "files.example.com", "/a/b.pdf?x=1")
	want := mustSign(t, s1, c, tg)
	for range 3 { // the pooled HMAC is reset between uses
		tok, err := v.Sign(c, tg)
		if err != nil || tok != want {
			t.Fatalf("v.Sign = %q, %v; want Sign(ring[0]) = %q", tok, err, want)
		}
	}
	got, err := v.Verify(signedTarget(t, s1, c, tg), testNow)
	if c = verified(c, s1); err != nil || got != c {
		t.Fatalf("Verify: %+v, %v; want %+v", got, err, c)
	}
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
