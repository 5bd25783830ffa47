package verifier

import (
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file fuzzes signed-URL verification against a reference model
// written independently of verify.go, canonical.go and policy.go: a
// straightforward (allocating) canonical query, host rule, path rule and
// constraint (prefix and policy) rules, as docs/signed-urls.md states them.
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

// refDownloadNameOK is the documented rule for a download name: 1–200
// bytes of UTF-8, no control character, no "/" or "\", not "." or "..",
// no leading or trailing space.
func refDownloadNameOK(s string) bool {
	if len(s) < 1 || len(s) > 200 || !utf8.ValidString(s) || s == "." || s == ".." ||
		strings.ContainsAny(s, `/\`) || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl) // C0, DEL and C1 exactly
}

// refContentTypeOK is the documented rule for a content type: 1–100 bytes
// of printable ASCII, no leading or trailing space, a type/subtype
// without wildcards that mime.ParseMediaType accepts.
func refContentTypeOK(s string) bool {
	if len(s) < 1 || len(s) > 100 || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	mt, _, err := mime.ParseMediaType(s)
	typ, sub, ok := strings.Cut(mt, "/")
	return err == nil && ok && typ != "" && sub != "" && !strings.Contains(mt, "*")
}

// refParseClientCIDR is the documented reading of a client CIDR: an
// address (all bits) or address/length, lengths in plain decimal, no zone;
// an IPv4-mapped address is its IPv4 form; no host bits set.
func refParseClientCIDR(s string) (netip.Prefix, bool) {
	addr, bitsText, slash := strings.Cut(s, "/")
	ip := net.ParseIP(addr) // refuses zones
	if ip == nil || strings.Contains(s, "%") {
		return netip.Prefix{}, false
	}
	v6 := strings.Contains(addr, ":")
	raw, bits := []byte(ip.To16()), 128
	if !v6 {
		raw, bits = ip.To4(), 32
	}
	if slash {
		n, err := strconv.Atoi(bitsText)
		if err != nil || n < 0 || n > bits || bitsText != strconv.Itoa(n) {
			return netip.Prefix{}, false
		}
		bits = n
	}
	if v4 := ip.To4(); v6 && v4 != nil && bits >= 96 {
		raw, bits = v4, bits-96
	}
	return refNetwork(raw, bits)
}

// refNetwork is raw/bits when raw has no host bits set.
func refNetwork(raw []byte, bits int) (netip.Prefix, bool) {
	ip := net.IP(raw)
	if !ip.Mask(net.CIDRMask(bits, 8*len(raw))).Equal(ip) {
		return netip.Prefix{}, false
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.PrefixFrom(a, bits), true
}

// refCIDROK: a Policy's ClientCIDR is the zero Prefix or what
// refParseClientCIDR makes of its own text.
func refCIDROK(p netip.Prefix) bool {
	if p == (netip.Prefix{}) {
		return true
	}
	q, ok := refParseClientCIDR(p.String())
	return ok && q == p
}

// refPolicyOK is the documented rule for a policy Sign accepts.
func refPolicyOK(p Policy) bool {
	return (p.DownloadName == "" || refDownloadNameOK(p.DownloadName)) &&
		(p.ContentType == "" || refContentTypeOK(p.ContentType)) && refCIDROK(p.ClientCIDR)
}

// refEncodeConstraints is the documented encoding of a prefix and a valid
// policy: type, u16be length, value, one per set field, in type order.
func refEncodeConstraints(prefix string, p Policy) []byte {
	var b []byte
	add := func(typ byte, v []byte) {
		b = append(b, typ, byte(len(v)>>8), byte(len(v)))
		b = append(b, v...)
	}
	if prefix != "" {
		add(1, []byte(prefix))
	}
	if p.DownloadName != "" || p.Inline {
		flag := byte(0)
		if p.Inline {
			flag = 1
		}
		add(2, append([]byte{flag}, p.DownloadName...))
	}
	if p.ContentType != "" {
		add(3, []byte(p.ContentType))
	}
	if p.MaxUses != 0 {
		add(4, []byte{byte(p.MaxUses >> 24), byte(p.MaxUses >> 16), byte(p.MaxUses >> 8), byte(p.MaxUses)})
	}
	if p.ClientCIDR.IsValid() {
		a := p.ClientCIDR.Addr()
		add(5, append(a.AsSlice(), byte(p.ClientCIDR.Bits())))
	}
	return b
}

type refConstraint struct {
	typ byte
	val []byte
}

// refSplitConstraints splits b into its constraints, or fails when a
// length runs past the end.
func refSplitConstraints(b []byte) ([]refConstraint, bool) {
	var list []refConstraint
	for len(b) > 0 {
		if len(b) < 3 || len(b) < 3+(int(b[1])<<8|int(b[2])) {
			return nil, false
		}
		n := int(b[1])<<8 | int(b[2])
		list = append(list, refConstraint{b[0], b[3 : 3+n]})
		b = b[3+n:]
	}
	return list, true
}

// refConstraints is the documented reading of a token's constraints: types
// 1–5 in strictly ascending order, each value valid and in its one
// encoding.
func refConstraints(b []byte) (prefix string, p Policy, ok bool) {
	list, ok := refSplitConstraints(b)
	if !ok {
		return "", Policy{}, false
	}
	for i, c := range list {
		if i > 0 && c.typ <= list[i-1].typ {
			return "", Policy{}, false
		}
		v := c.val
		switch c.typ {
		case 1:
			if len(v) > 200 || CheckScope(string(v)) != nil {
				return "", Policy{}, false
			}
			prefix = string(v)
		case 2:
			if len(v) == 0 || v[0] > 1 || v[0] == 0 && len(v) == 1 || len(v) > 1 && !refDownloadNameOK(string(v[1:])) {
				return "", Policy{}, false
			}
			p.Inline, p.DownloadName = v[0] == 1, string(v[1:])
		case 3:
			if !refContentTypeOK(string(v)) {
				return "", Policy{}, false
			}
			p.ContentType = string(v)
		case 4:
			if len(v) != 4 || string(v) == "\x00\x00\x00\x00" {
				return "", Policy{}, false
			}
			p.MaxUses = uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
		case 5:
			if len(v) != 5 && len(v) != 17 || int(v[len(v)-1]) > 8*(len(v)-1) {
				return "", Policy{}, false
			}
			if len(v) == 17 && net.IP(v[:16]).To4() != nil {
				return "", Policy{}, false // IPv4-mapped: only the IPv4 form is valid
			}
			if p.ClientCIDR, ok = refNetwork(v[:len(v)-1], int(v[len(v)-1])); !ok {
				return "", Policy{}, false
			}
		default:
			return "", Policy{}, false
		}
	}
	return prefix, p, true
}

var (
	fuzzS1   = testSecret("fz1", 3)
	fuzzS2   = testSecret("fz2", 4)
	fuzzRing = []Secret{fuzzS1, fuzzS2}
)

// fuzzBase is a signed request the mutation fuzzer starts from.
type fuzzBase struct {
	s     Secret
	orig  Target // as signed (no signature parameter)
	c     Claims
	token string
	uri   string // the request URI sent, signature included
}

func fuzzBases(tb testing.TB) []fuzzBase {
	mk := func(s Secret, prefix string, pol Policy, method, host, uri string) fuzzBase {
		c := testClaims()
		c.Prefix = prefix
		c.Policy = pol
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
		return fuzzBase{s: s, orig: orig, c: c, token: tok, uri: uri + sep + "sig=" + tok}
	}
	return []fuzzBase{
		mk(fuzzS1, "", Policy{}, "GET", "files.example.com", "/reports/2026/q1.pdf"),
		mk(fuzzS2, "", Policy{}, "GET", "Files.Example.com:443", "/a/b%20c.pdf?b=2&a=%7E1+x;y&a=0"),
		mk(fuzzS1, "/a/", Policy{}, "HEAD", "files.example.com", "/a/b.pdf?download=1"),
		mk(fuzzS2, "", Policy{}, "GET", "[::1]:8080", "/caf%C3%A9/%E2%9C%93.txt?q=%C3%A9&empty&=v"),
		mk(fuzzS1, "", Policy{DownloadName: `日本語 "q1"; v2.pdf`, ContentType: "text/plain; charset=utf-8", MaxUses: 256},
			"GET", "files.example.com", "/reports/2026/q1.pdf?v=1"),
		mk(fuzzS2, "/a/", Policy{Inline: true, MaxUses: 1, ClientCIDR: netip.MustParsePrefix("192.0.2.0/24")},
			"GET", "files.example.com", "/a/b.pdf"),
		mk(fuzzS1, "/a/", allPolicies(), "GET", "files.example.com", "/a/b.pdf?x=1"),
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
	pc := testClaims()
	pc.Policy = allPolicies()
	f.Add("GET", "h", "/f", "", "sig="+mustSign(f, fuzzS2, pc, Target{Host: "h", Method: "GET", Path: "/f"}), int64(0))
	pc.Prefix, pc.Policy = "/", maxPolicy()
	f.Add("GET", "h", "/f", "", "sig="+mustSign(f, fuzzS1, pc, Target{Host: "h", Method: "GET", Path: "/f"}), int64(0))
	// Constraints only a secret holder could sign, valid and not.
	craftQ := func(cons []byte, bound string) string {
		return "sig=" + craftToken(fuzzS1, uint64(testNow.Unix()+3600), uint64(testNow.Unix()), "k", cons, bound, Target{Host: "h", Path: "/f"})
	}
	f.Add("GET", "h", "/f", "", craftQ(refEncodeConstraints("", allPolicies()), "/f"), int64(0))
	f.Add("GET", "h", "/f", "", craftQ(append(constraint(constraintMaxUses, "\x00\x00\x00\x01"), constraint(constraintDisposition, "\x01")...), "/f"), int64(0))
	f.Add("GET", "h", "/f", "", craftQ(constraint(constraintClientCIDR, "\x0a\x00\x00\x01\x08"), "/f"), int64(0))

	// A key-signed token (offline signing), and the key's secret under the
	// ring's first id.
	offline := mustOfflineKey(f, testAPIKey)
	offlineSecret := Secret{ID: offline.KeyID(), Key: OfflineSecret(testAPIKey)}
	kc := testClaims()
	kc.KeyID = offline.KeyID()
	f.Add("GET", "h", "/f", "", "sig="+mustSign(f, offlineSecret, kc, Target{Host: "h", Method: "GET", Path: "/f"}), int64(0))
	kc.KeyID = fuzzS1.ID
	f.Add("GET", "h", "/f", "", "sig="+mustSign(f, Secret{ID: fuzzS1.ID, Key: OfflineSecret(testAPIKey)}, kc, Target{Host: "h", Method: "GET", Path: "/f"}), int64(0))

	v := mustVerifierOpts(f, "", 30*time.Second, []Option{WithOfflineKeys(func(id KeyRef) *OfflineKey {
		if id.String() == offline.KeyID() {
			return offline
		}
		return nil
	})}, fuzzRing...)
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
		if !refPolicyOK(c.Policy) || c.ExpiresAt != c.SignedExpiresAt {
			t.Fatalf("accepted claims %+v", c)
		}
		var s Secret
		for _, r := range fuzzRing {
			if r.ID == c.SecretID && !c.KeySigned() {
				s = r
			}
		}
		if c.KeySigned() {
			if c.KeyID != offline.KeyID() {
				t.Fatalf("accepted a token signed by the unknown key %q", c.KeyID)
			}
			s = offlineSecret
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
// or the raw query; or to the constraints (prefix and policy) of the
// token, re-signed with a valid tag as only a secret holder could. Verify
// must accept exactly the documented equivalent forms (host case and
// default port; query order, percent-encoding, empty pairs and "a" = "a=";
// percent-encoding of the path that decodes to the same path) and the
// constraints the model reads as valid, and refuse everything else.
func FuzzVerifyMutation(f *testing.F) {
	bases := fuzzBases(f)
	for i := range bases {
		for field := range uint8(fuzzFields) {
			for op := range uint8(3) {
				f.Add(uint8(i), field, op, uint16(7*int(field)+int(op)), byte('A'+field))
			}
		}
	}
	f.Add(uint8(1), uint8(1), uint8(0), uint16(0), byte('f')) // host case: equivalent
	f.Add(uint8(0), uint8(2), uint8(0), uint16(2), byte('%')) // broken escape
	f.Add(uint8(2), uint8(2), uint8(1), uint16(3), byte('/')) // "//"
	f.Add(uint8(6), uint8(6), uint8(0), uint16(0), byte(3))   // prefix -> content type
	f.Add(uint8(6), uint8(6), uint8(0), uint16(6), byte(1))   // attachment -> inline
	f.Add(uint8(4), uint8(6), uint8(2), uint16(3), byte(0))   // a byte less of the name

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
		c0, tok0 := base.c, base.token
		switch field % fuzzFields {
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
		case 6: // the constraints, re-signed for the request as it is
			cons := []byte(mutate(string(refEncodeConstraints(base.c.Prefix, base.c.Policy))))
			// The tag covers the path, or the value of a prefix constraint
			// wherever it is, and the query for an exact token only.
			bound, signed := req, req
			if list, ok := refSplitConstraints(cons); ok {
				for _, c := range list {
					if c.typ == constraintPrefix {
						bound.Path, signed.RawQuery = string(c.val), ""
						break
					}
				}
			}
			tok0 = craftToken(base.s, uint64(c0.ExpiresAt), uint64(c0.IssuedAt), c0.KeyID, cons, bound.Path, signed)
			req.RawQuery = strings.Replace(req.RawQuery, "sig="+base.token, "sig="+tok0, 1)
			prefix, pol, ok := refConstraints(cons)
			if !ok {
				tok0 = "" // the model refuses them: nothing may verify
			}
			c0.Prefix, c0.Policy = prefix, pol
			base.orig = signed
			if prefix == "" {
				base.orig.RawQuery = StripParam(req.RawQuery, DefaultParam)
			}
		}
		c, err := v.Verify(req, testNow)
		want := tok0 != "" && refAccepts(base.orig, c0, tok0, req)
		if (err == nil) != want {
			t.Fatalf("field %d: Verify(%+v) = %v, reference model accepts: %v", field%fuzzFields, req, err, want)
		}
		if err == nil && c != c0 {
			t.Fatalf("claims %+v, want %+v", c, c0)
		}
	})
}

// fuzzFields is how many parts of a request FuzzVerifyMutation mutates.
const fuzzFields = 7

// FuzzSignVerify signs arbitrary requests: whatever Sign accepts must
// verify with the same claims, AppendToken/StripParam must round-trip, and
// the canonical query and base64url decoder must match the reference.
func FuzzSignVerify(f *testing.F) {
	f.Add("files.example.com", "/reports/2026/q1.pdf", "", "key_1", false, false, "", false, "", uint32(0), "")
	f.Add("H:443", "/a/b%20c.pdf", "b=2&a=1&a", "", true, true, "", false, "", uint32(0), "")
	f.Add("h", "/caf%C3%A9", "x=%c3%a9&y=a+b;c&=&&", "k:1/2", false, true, "", false, "", uint32(0), "")
	f.Add("h", "/", "%zz", "", true, false, "", false, "", uint32(0), "")
	f.Add("h", "/r.pdf", "", "k", false, false, `日本語 "q"; x.pdf`, false, "application/pdf", uint32(3), "203.0.113.0/24")
	f.Add("h", "/a/r.pdf", "", "", true, false, "", true, "text/plain; charset=utf-8", uint32(1<<32-1), "2001:db8::/32")
	f.Add("h", "/r.pdf", "", "", false, false, "a\r\nSet-Cookie: x", false, "text/plain\r\n", uint32(0), "203.0.113.7/24")
	f.Add("h", "/r.pdf", "", "", false, false, "..", true, "text", uint32(0), "::ffff:203.0.113.0/120")
	f.Add("h", "/r.pdf", "", "", false, false, " x", false, "*/*", uint32(0), "fe80::1%eth0")
	v := mustVerifier(f, "", 0, fuzzRing...)
	f.Fuzz(func(t *testing.T, host, uri, query, keyID string, prefix, head bool, name string, inline bool, ctype string, maxUses uint32, cidr string) {
		// Cross-check the policy rules against the reference.
		if ok := CheckDownloadName(name) == nil; ok != refDownloadNameOK(name) {
			t.Fatalf("CheckDownloadName(%q): ok %v, reference %v", name, ok, !ok)
		}
		if ok := CheckContentType(ctype) == nil; ok != refContentTypeOK(ctype) {
			t.Fatalf("CheckContentType(%q): ok %v, reference %v", ctype, ok, !ok)
		}
		pol := Policy{DownloadName: name, Inline: inline, ContentType: ctype, MaxUses: maxUses}
		got, err := ParseClientCIDR(cidr)
		want, ok := refParseClientCIDR(cidr)
		if (err == nil) != ok || got != want {
			t.Fatalf("ParseClientCIDR(%q) = %v, %v; reference %v, %v", cidr, got, err, want, ok)
		}
		if err == nil {
			pol.ClientCIDR = got
		} else if p, err := netip.ParsePrefix(cidr); err == nil {
			pol.ClientCIDR = p // as given: Sign must judge it as the model does
		}
		if ok := pol.Check() == nil; ok != refPolicyOK(pol) {
			t.Fatalf("(%+v).Check(): ok %v, reference %v", pol, ok, !ok)
		}

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
		_, errNoPolicy := Sign(fuzzS2, c, tg)
		c.Policy = pol
		tok, err := Sign(fuzzS2, c, tg)
		switch {
		case err == nil && !refPolicyOK(pol):
			t.Fatalf("Sign accepted the policy %+v", pol)
		case err != nil && errNoPolicy == nil && refPolicyOK(pol):
			t.Fatalf("Sign refused the valid policy %+v: %v", pol, err)
		}
		if err != nil {
			if errors.Is(err, ErrAmbiguousPath) && CheckPath(tg.Path, tg.RawPath) == nil {
				t.Fatalf("Sign: %v for a clean path", err)
			}
			return
		}
		if len(tok) > MaxTokenLen {
			t.Fatalf("token of %d bytes", len(tok))
		}
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		if cons := raw[minPayloadLen+len(fuzzS2.ID)+len(keyID) : len(raw)-tagLen]; string(cons) != string(refEncodeConstraints(c.Prefix, pol)) {
			t.Fatalf("constraints %x, reference %x", cons, refEncodeConstraints(c.Prefix, pol))
		}
		full := AppendToken(query, DefaultParam, tok)
		if StripParam(full, DefaultParam) != query && len(refTokens(query, DefaultParam)) == 0 {
			t.Fatalf("StripParam(AppendToken(%q)) = %q", query, StripParam(full, DefaultParam))
		}
		tg.RawQuery = full
		vc, err := v.Verify(tg, testNow)
		if len(refTokens(query, DefaultParam)) > 0 {
			if err != ErrMalformedToken {
				t.Fatalf("query already had a signature parameter: %v", err)
			}
			return
		}
		if c = verified(c, fuzzS2); err != nil || vc != c {
			t.Fatalf("Verify(Sign(%+v, %+v)) = %+v, %v", c, tg, vc, err)
		}
	})
}
