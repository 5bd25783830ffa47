package verifier

import (
	"encoding/binary"
	"net/url"
	"testing"
)

func TestCanonicalQueryEquivalence(t *testing.T) {
	s := testSecret("s1", 1)
	v := mustVerifier(t, "", 0, s)
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
	v := mustVerifier(t, "", 0, s)
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
		if v, n, _ := findParam(full, "sig"); n != 1 || v != tok {
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
