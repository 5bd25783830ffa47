package verifier

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"strings"
	"testing"
	"unsafe"
)

func TestCheckDownloadName(t *testing.T) {
	tests := []struct {
		name string
		err  error // nil: valid
	}{
		{"report.pdf", nil},
		{"日本語 report.pdf", nil},
		{`a "quoted" name.pdf`, nil},
		{"x;y.pdf", nil},
		{"100% done.txt", nil},
		{"a b  c", nil},
		{".bashrc", nil},
		{"...", nil},
		{"it's", nil},
		{"é", nil},
		{"a=b,c", nil},
		{"\u00a0x\u00a0", nil}, // no-break spaces are not spaces here
		{strings.Repeat("n", 200), nil},
		{strings.Repeat("é", 100), nil}, // 200 bytes

		{"", errNameEmpty},
		{strings.Repeat("n", 201), errNameLong},
		{strings.Repeat("é", 100) + "x", errNameLong},
		{"a\xffb", errNameUTF8},
		{"\xc0\xaf", errNameUTF8},
		{"a\r\nSet-Cookie: x", errNameControl},
		{"a\nb", errNameControl},
		{"a\x00b", errNameControl},
		{"a\tb", errNameControl},
		{"a\x7fb", errNameControl},
		{"a\u0085b", errNameControl},
		{"a\u009fb", errNameControl},
		{"../x", errNameSlash},
		{"a/b", errNameSlash},
		{`a\b`, errNameSlash},
		{"/", errNameSlash},
		{".", errNameDots},
		{"..", errNameDots},
		{" x", errNameSpace},
		{"x ", errNameSpace},
		{" ", errNameSpace},
	}
	for _, tt := range tests {
		if err := CheckDownloadName(tt.name); err != tt.err {
			t.Errorf("CheckDownloadName(%q) = %v, want %v", tt.name, err, tt.err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = CheckDownloadName("日本語 report.pdf") }); n != 0 {
		t.Errorf("CheckDownloadName: %v allocs", n)
	}
}

func TestCheckContentType(t *testing.T) {
	tests := []struct {
		ct  string
		err error
	}{
		{"application/pdf", nil},
		{"text/html", nil},
		{"text/plain; charset=utf-8", nil},
		{"text/plain;charset=UTF-8", nil},
		{`text/plain; charset="utf-8"`, nil},
		{"TEXT/Plain", nil},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", nil},
		{"video/mp4; codecs=\"avc1.42E01E, mp4a.40.2\"", nil},
		{"text/plain;", nil},
		{"a/" + strings.Repeat("b", 98), nil},

		{"", errTypeEmpty},
		{"a/" + strings.Repeat("b", 99), errTypeLong},
		{"text/plain\r\n", errTypeASCII},
		{"text/plain\r\nSet-Cookie: x=1", errTypeASCII},
		{"text/plain\x00", errTypeASCII},
		{"text/plain;\tcharset=utf-8", errTypeASCII},
		{"text/plain; name=\"é\"", errTypeASCII},
		{" text/plain", errTypeSpace},
		{"text/plain ", errTypeSpace},
		{"text", errTypeSubtype},
		{"text/", errTypeParse},
		{"/plain", errTypeParse},
		{"a/b/c", errTypeParse},
		{"text/plain; charset", errTypeParse},
		{"text/plain; a=1; a=2", errTypeParse},
		{"text/plain;;", errTypeParse},
		{"te xt/plain", errTypeParse},
		{"*/*", errTypeWildcard},
		{"text/*", errTypeWildcard},
	}
	for _, tt := range tests {
		if err := CheckContentType(tt.ct); err != tt.err {
			t.Errorf("CheckContentType(%q) = %v, want %v", tt.ct, err, tt.err)
		}
	}
}

func TestParseClientCIDR(t *testing.T) {
	tests := []struct {
		in, want string // want "" = refused
		err      string // the error's text, when refused and worth pinning
	}{
		{"203.0.113.7", "203.0.113.7/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"203.0.113.0/24", "203.0.113.0/24", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"2001:DB8::/32", "2001:db8::/32", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"::/0", "::/0", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"::ffff:203.0.113.7", "203.0.113.7/32", ""},
		{"::ffff:203.0.113.0/120", "203.0.113.0/24", ""},
		{"::ffff:cb00:7100/120", "203.0.113.0/24", ""},
		{"::ffff:0.0.0.0/96", "0.0.0.0/0", ""},

		{"203.0.113.7/24", "", "client CIDR has host bits set: did you mean 203.0.113.0/24?"},
		{"2001:db8::1/32", "", "client CIDR has host bits set: did you mean 2001:db8::/32?"},
		{"::ffff:203.0.113.7/120", "", "client CIDR has host bits set: did you mean 203.0.113.0/24?"},
		{"::ffff:1.2.3.4/80", "", "client CIDR has host bits set: did you mean ::/80?"},
		{"fe80::1%eth0", "", errCIDRZone.Error()},
		{"fe80::%eth0/64", "", errCIDRZone.Error()},
		{"", "", errCIDREmpty.Error()},
		{"203.0.113.0/33", "", errCIDRSyntax.Error()},
		{"2001:db8::/129", "", errCIDRSyntax.Error()},
		{"203.0.113.0/024", "", ""},
		{"203.0.113.07", "", ""},
		{"203.0.113", "", ""},
		{"203.0.113.0/", "", ""},
		{"/24", "", ""},
		{" 203.0.113.7", "", ""},
		{"203.0.113.7 ", "", ""},
		{"example.com", "", ""},
		{"203.0.113.0/24/8", "", ""},
		{"[2001:db8::1]", "", ""},
	}
	for _, tt := range tests {
		p, err := ParseClientCIDR(tt.in)
		switch {
		case tt.want != "" && (err != nil || p.String() != tt.want):
			t.Errorf("ParseClientCIDR(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		case tt.want == "" && (err == nil || p != netip.Prefix{}):
			t.Errorf("ParseClientCIDR(%q) = %v, %v; want an error", tt.in, p, err)
		case tt.want == "" && tt.err != "" && err.Error() != tt.err:
			t.Errorf("ParseClientCIDR(%q): error %q, want %q", tt.in, err, tt.err)
		case tt.want != "" && (Policy{ClientCIDR: p}).Check() != nil:
			t.Errorf("ParseClientCIDR(%q) = %v, which Check refuses: %v", tt.in, p, (Policy{ClientCIDR: p}).Check())
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	pfx := netip.MustParsePrefix
	good := []Policy{
		{},
		{Inline: true},
		{DownloadName: "a.pdf"},
		{DownloadName: "a.pdf", Inline: true},
		{ContentType: "text/plain"},
		{MaxUses: 1},
		{MaxUses: 1<<32 - 1},
		{ClientCIDR: pfx("203.0.113.0/24")},
		{ClientCIDR: pfx("2001:db8::/32")},
		{ClientCIDR: pfx("::/0")},
		allPolicies(),
	}
	for _, p := range good {
		if err := p.Check(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := []struct {
		p   Policy
		err string
	}{
		{Policy{DownloadName: "a\r\nb"}, errNameControl.Error()},
		{Policy{DownloadName: " ", Inline: true}, errNameSpace.Error()},
		{Policy{ContentType: "text"}, errTypeSubtype.Error()},
		{Policy{ClientCIDR: pfx("203.0.113.7/24")}, "client CIDR has host bits set: did you mean 203.0.113.0/24?"},
		{Policy{ClientCIDR: pfx("::ffff:203.0.113.0/120")}, errCIDRMapped.Error()},
		{Policy{ClientCIDR: netip.PrefixFrom(netip.MustParseAddr("203.0.113.0"), 33)}, errCIDRInvalid.Error()},
		{Policy{ClientCIDR: netip.PrefixFrom(netip.MustParseAddr("2001:db8::"), -1)}, errCIDRInvalid.Error()},
	}
	for _, tt := range bad {
		if err := tt.p.Check(); err == nil || err.Error() != tt.err {
			t.Errorf("%+v: %v, want %q", tt.p, err, tt.err)
		}
		c := testClaims()
		c.Policy = tt.p
		tok, err := Sign(testSecret("s1", 1), c, Target{Host: "h", Method: "GET", Path: "/f"})
		if err == nil || err.Error() != "cannot sign: "+tt.err {
			t.Errorf("Sign with %+v: %q, %v", tt.p, tok, err)
		}
		if tok, err := mustVerifier(t, "", 0, testSecret("s1", 1)).Sign(c, Target{Host: "h", Method: "GET", Path: "/f"}); err == nil {
			t.Errorf("(*Verifier).Sign with %+v: %q", tt.p, tok)
		}
	}
}

// allPolicies sets every policy, with values that take every code path.
func allPolicies() Policy {
	return Policy{
		DownloadName: `日本語 "report"; v2.pdf`,
		Inline:       true,
		ContentType:  "application/pdf",
		MaxUses:      3,
		ClientCIDR:   netip.MustParsePrefix("2001:db8:7::/48"),
	}
}

// maxPolicy is every policy at its largest encoding.
func maxPolicy() Policy {
	return Policy{
		DownloadName: strings.Repeat("n", MaxDownloadNameLen),
		ContentType:  "a/" + strings.Repeat("b", MaxContentTypeLen-2),
		MaxUses:      1<<32 - 1,
		ClientCIDR:   netip.MustParsePrefix("2001:db8::1/128"),
	}
}

// tokenConstraints returns the constraint bytes of a token made with the
// given key id and secret id.
func tokenConstraints(t *testing.T, tok string, secretID, keyID string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	return raw[minPayloadLen+len(secretID)+len(keyID) : len(raw)-tagLen]
}

func TestPolicyEncoding(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		p    Policy
		want string // hex of the constraints
	}{
		{Policy{}, ""},
		{Policy{Inline: true}, "02000101"},
		{Policy{DownloadName: "a.pdf"}, "0200060061" + "2e706466"},
		{Policy{DownloadName: "a.pdf", Inline: true}, "0200060161" + "2e706466"},
		{Policy{DownloadName: "é"}, "02000300c3a9"},
		{Policy{ContentType: "text/plain"}, "03000a746578742f706c61696e"},
		{Policy{MaxUses: 1}, "04000400000001"},
		{Policy{MaxUses: 1<<32 - 1}, "040004ffffffff"},
		{Policy{ClientCIDR: pfx("203.0.113.0/24")}, "050005cb00710018"},
		{Policy{ClientCIDR: pfx("0.0.0.0/0")}, "0500050000000000"},
		{Policy{ClientCIDR: pfx("2001:db8::/32")}, "050011" + "20010db8000000000000000000000000" + "20"},
		{Policy{ClientCIDR: pfx("2001:db8::1/128")}, "050011" + "20010db8000000000000000000000001" + "80"},
		{Policy{MaxUses: 2, ContentType: "a/b", Inline: true, ClientCIDR: pfx("10.0.0.0/8")},
			"02000101" + "030003612f62" + "04000400000002" + "0500050a00000008"},
	}
	s := testSecret("s1", 1)
	for _, tt := range tests {
		c := testClaims()
		c.Policy = tt.p
		tok := mustSign(t, s, c, Target{Host: "h", Method: "GET", Path: "/f"})
		got := tokenConstraints(t, tok, s.ID, c.KeyID)
		if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
			t.Errorf("%+v: constraints %x, want %x", tt.p, got, want)
		}
		// With a prefix, the policy follows it.
		c.Prefix = "/"
		tok = mustSign(t, s, c, Target{Host: "h", Method: "GET", Path: "/f"})
		got = tokenConstraints(t, tok, s.ID, c.KeyID)
		if want := append(constraint(constraintPrefix, "/"), mustHex(t, tt.want)...); !bytes.Equal(got, want) {
			t.Errorf("%+v with a prefix: constraints %x, want %x", tt.p, got, want)
		}
	}
}

// TestPolicyRoundTrip: each policy alone and all together, on exact and
// folder links, comes back from Verify (and VerifyToken) exactly as signed.
func TestPolicyRoundTrip(t *testing.T) {
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
	pfx := netip.MustParsePrefix
	policies := map[string]Policy{
		"none":                 {},
		"download name":        {DownloadName: "日本語 report.pdf"},
		"quoted name":          {DownloadName: `a "quoted" name.pdf`},
		"name with ;":          {DownloadName: "x;y.pdf"},
		"inline":               {Inline: true},
		"inline with a name":   {DownloadName: "x.pdf", Inline: true},
		"content type":         {ContentType: "text/plain; charset=utf-8"},
		"max uses":             {MaxUses: 1},
		"max uses, u32 max":    {MaxUses: 1<<32 - 1},
		"client IPv4":          {ClientCIDR: pfx("203.0.113.0/24")},
		"client IPv4 host":     {ClientCIDR: pfx("203.0.113.7/32")},
		"client IPv6":          {ClientCIDR: pfx("2001:db8::/32")},
		"client IPv6 host":     {ClientCIDR: pfx("2001:db8::1/128")},
		"any IPv4 client":      {ClientCIDR: pfx("0.0.0.0/0")},
		"all":                  allPolicies(),
		"all, at their limits": maxPolicy(),
	}
	for name, p := range policies {
		for _, folder := range []bool{false, true} {
			c := testClaims()
			c.Policy = p
			tg := reqTarget(t, "GET", "files.example.com", "/a/b.pdf?x=1")
			if folder {
				c.Prefix = "/a/"
				tg.RawQuery = ""
			}
			tok := mustSign(t, s, c, tg)
			want := verified(c, s)
			got, err := v.Verify(signedTarget(t, s, c, tg), testNow)
			if err != nil || got != want {
				t.Errorf("%s (folder %v): %+v, %v; want %+v", name, folder, got, err, want)
			}
			if folder {
				got, err = v.VerifyToken(tok, tg, testNow)
				if err != nil || got != want {
					t.Errorf("%s, VerifyToken: %+v, %v; want %+v", name, got, err, want)
				}
			}
			if pol := got.Policy; p != (Policy{}) && p == pol && pol.Check() != nil {
				t.Errorf("%s: Verify returned a policy Check refuses", name)
			}
		}
	}
}

// TestPolicyBitFlip: changing any bit of the policy in a signed token
// breaks it. A flipped type or value bit is a bad signature; a flipped
// length bit breaks the structure, or at best the tag.
func TestPolicyBitFlip(t *testing.T) {
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
	for _, prefix := range []string{"", "/a/"} {
		c := testClaims()
		c.Prefix = prefix
		c.Policy = allPolicies()
		tg := reqTarget(t, "GET", "files.example.com", "/a/b.pdf")
		raw, _ := base64.RawURLEncoding.DecodeString(mustSign(t, s, c, tg))
		start := minPayloadLen + len(s.ID) + len(c.KeyID)
		if prefix != "" {
			start += 3 + len(prefix)
		}
		// The offsets of the length fields of each constraint.
		lengths := map[int]bool{}
		for i := start; i < len(raw)-tagLen; {
			lengths[i+1], lengths[i+2] = true, true
			i += 3 + int(binary.BigEndian.Uint16(raw[i+1:]))
		}
		for i := start; i < len(raw)-tagLen; i++ {
			for bit := range 8 {
				b := bytes.Clone(raw)
				b[i] ^= 1 << bit
				req := tg
				req.RawQuery = "sig=" + base64.RawURLEncoding.EncodeToString(b)
				_, err := v.Verify(req, testNow)
				switch {
				case lengths[i] && err != ErrMalformedToken && err != ErrBadSignature:
					t.Errorf("prefix %q, length byte %d bit %d: %v", prefix, i-start, bit, err)
				case !lengths[i] && err != ErrBadSignature:
					t.Errorf("prefix %q, byte %d bit %d: %v, want ErrBadSignature", prefix, i-start, bit, err)
				}
			}
		}
	}
}

// TestPolicyMalformed: constraints that Sign never makes are refused as
// malformed even when a secret holder signed them (a valid tag).
func TestPolicyMalformed(t *testing.T) {
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
	c := testClaims()
	base := reqTarget(t, "GET", "files.example.com", "/a/b.pdf")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	disp := func(flag byte, name string) []byte { return constraint(constraintDisposition, string(flag)+name) }
	ctype := func(s string) []byte { return constraint(constraintContentType, s) }
	uses := func(n uint32) []byte {
		return constraint(constraintMaxUses, string(binary.BigEndian.AppendUint32(nil, n)))
	}
	cidr := func(v ...byte) []byte { return constraint(constraintClientCIDR, string(v)) }
	v6 := func(bits byte, addr ...byte) []byte {
		a := make([]byte, 16)
		copy(a, addr)
		return cidr(append(a, bits)...)
	}
	mapped := append(make([]byte, 10), 0xff, 0xff, 203, 0, 113, 0)
	prefix := constraint(constraintPrefix, "/a/")

	good := map[string][]byte{
		"disposition":              disp(0, "x.pdf"),
		"inline, no name":          disp(1, ""),
		"content type":             ctype("text/plain"),
		"max uses":                 uses(1),
		"cidr v4":                  cidr(203, 0, 113, 0, 24),
		"cidr v6":                  v6(32, 0x20, 0x01, 0x0d, 0xb8),
		"cidr ::/0":                v6(0),
		"all, with a prefix":       cat(prefix, disp(1, "x"), ctype("a/b"), uses(9), cidr(10, 0, 0, 0, 8)),
		"name of 200 bytes":        disp(0, strings.Repeat("n", 200)),
		"content type of 100":      ctype("a/" + strings.Repeat("b", 98)),
		"mapped prefix under /96":  v6(80),
		"zero network, all bits 0": cidr(0, 0, 0, 0, 0),
	}
	bad := map[string][]byte{
		"out of order":                cat(ctype("a/b"), disp(1, "")),
		"out of order, last two":      cat(uses(1), cidr(10, 0, 0, 0, 8), ctype("a/b")),
		"prefix after a policy":       cat(disp(1, ""), prefix),
		"repeated disposition":        cat(disp(1, ""), disp(1, "")),
		"repeated max uses":           cat(uses(1), uses(2)),
		"repeated content type":       cat(ctype("a/b"), ctype("a/b")),
		"repeated cidr":               cat(cidr(10, 0, 0, 0, 8), cidr(10, 0, 0, 0, 8)),
		"unknown type 6":              constraint(6, "x"),
		"unknown type 0":              constraint(0, ""),
		"unknown type 0xff":           constraint(0xff, ""),
		"unknown type after policies": cat(disp(1, ""), uses(1), constraint(6, "")),
		"disposition empty":           constraint(constraintDisposition, ""),
		"attachment without a name":   disp(0, ""),
		"disposition flag 2":          disp(2, "x"),
		"disposition flag 0xff":       disp(0xff, "x"),
		"name with CRLF":              disp(0, "a\r\nSet-Cookie: x"),
		"name ..":                     disp(0, ".."),
		"name with /":                 disp(1, "../x"),
		"name of 201 bytes":           disp(0, strings.Repeat("n", 201)),
		"name not UTF-8":              disp(0, "a\xff"),
		"name with leading space":     disp(0, " a"),
		"content type empty":          ctype(""),
		"content type without slash":  ctype("text"),
		"content type with CRLF":      ctype("text/plain\r\n"),
		"content type of 101":         ctype("a/" + strings.Repeat("b", 99)),
		"content type wildcard":       ctype("*/*"),
		"max uses 0":                  uses(0),
		"max uses in 3 bytes":         constraint(constraintMaxUses, "\x00\x00\x01"),
		"max uses in 5 bytes":         constraint(constraintMaxUses, "\x00\x00\x00\x00\x01"),
		"max uses in 8 bytes":         constraint(constraintMaxUses, "\x00\x00\x00\x00\x00\x00\x00\x01"),
		"cidr empty":                  cidr(),
		"cidr 4 bytes":                cidr(10, 0, 0, 0),
		"cidr 6 bytes":                cidr(10, 0, 0, 0, 8, 0),
		"cidr 16 bytes":               cidr(make([]byte, 16)...),
		"cidr 18 bytes":               cidr(make([]byte, 18)...),
		"cidr v4 /33":                 cidr(10, 0, 0, 0, 33),
		"cidr v4 /255":                cidr(0, 0, 0, 0, 255),
		"cidr v6 /129":                v6(129),
		"cidr v4 host bits":           cidr(203, 0, 113, 7, 24),
		"cidr v6 host bits":           v6(32, 0x20, 0x01, 0x0d, 0xb8, 0, 1),
		"cidr v4-mapped /120":         cidr(append(bytes.Clone(mapped), 120)...),
		"cidr v4-mapped /128":         cidr(append(bytes.Clone(mapped), 128)...),
	}
	check := func(name string, cons []byte, want error) {
		bound := base.Path
		if bytes.Contains(cons, prefix) {
			bound = "/a/" // the verifier binds a prefix constraint wherever it is
		}
		tok := craftToken(s, uint64(c.ExpiresAt), uint64(c.IssuedAt), "", cons, bound, base)
		req := base
		req.RawQuery = "sig=" + tok
		if got, err := v.Verify(req, testNow); err != want || err != nil && got != (Claims{}) {
			t.Errorf("%s (%x): %+v, %v; want %v", name, cons, got, err, want)
		}
	}
	for name, cons := range good {
		check(name, cons, nil)
	}
	for name, cons := range bad {
		check(name, cons, ErrMalformedToken)
	}
}

// TestPolicyInterned: the strings of a verified policy are interned, and
// the content type table only ever holds values that passed the check.
func TestPolicyInterned(t *testing.T) {
	if raceEnabled() {
		t.Skip("allocation counts are not meaningful under -race")
	}
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
	c := testClaims()
	c.Policy = allPolicies()
	tg := signedTarget(t, s, c, reqTarget(t, "GET", "h", "/f"))
	a, err := v.Verify(tg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.Verify(tg, testNow)
	if unsafe.StringData(a.Policy.DownloadName) != unsafe.StringData(b.Policy.DownloadName) ||
		unsafe.StringData(a.Policy.ContentType) != unsafe.StringData(b.Policy.ContentType) {
		t.Error("the download name or content type was not interned")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = v.Verify(tg, testNow) }); n != 0 {
		t.Errorf("Verify with every policy: %v allocs", n)
	}

	var nt names
	nt.seed = maphash.MakeSeed()
	for _, ct := range []string{"text", "text/plain", "text/plain\r\n", "text/plain", "*/*", "a/b"} {
		got, ok := nt.getChecked([]byte(ct), validContentType)
		if ok != (CheckContentType(ct) == nil) || ok && got != ct || !ok && got != "" {
			t.Errorf("getChecked(%q) = %q, %v", ct, got, ok)
		}
	}
	kept := 0
	for i := range nt.slots {
		if p := nt.slots[i].Load(); p != nil {
			kept++
			if CheckContentType(*p) != nil {
				t.Errorf("the content type table holds %q", *p)
			}
		}
	}
	if kept != 2 {
		t.Errorf("%d content types kept, want 2", kept)
	}
}
