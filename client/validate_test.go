package client

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// TestRefused: every input the server would refuse, or that would make a
// URL other than the one signed, is refused before signing with an
// error that says what is wrong, and never shows the key.
func TestRefused(t *testing.T) {
	s := testSigner(t)
	long := strings.Repeat("a", 200)
	for _, c := range []struct {
		base, path string
		life       time.Duration
		opts       []Option
		want       string
	}{
		{"files.example.com", "/a", time.Hour, nil, "must start with https:// or http://"},
		{"ftp://files.example.com", "/a", time.Hour, nil, "must start with https:// or http://"},
		{"https://", "/a", time.Hour, nil, "must start with https://"},
		{"https://files.example.com/", "/a", time.Hour, nil, "without a path"},
		{"https://files.example.com/base", "/a", time.Hour, nil, "without a path"},
		{"https://files.example.com?x=1", "/a", time.Hour, nil, "without a query"},
		{"https://files.example.com#top", "/a", time.Hour, nil, "without a fragment"},
		{"https://user@files.example.com", "/a", time.Hour, nil, "user information"},
		{"https://:8080", "/a", time.Hour, nil, "has no host"},
		{"https://files.example.com:", "/a", time.Hour, nil, "empty port"},
		{"https://files.example.com:0", "/a", time.Hour, nil, "port"},
		{"https://files.example.com:65536", "/a", time.Hour, nil, "port"},
		{"https://files.example.com:80a", "/a", time.Hour, nil, "port"},
		{"https://fïles.example.com", "/a", time.Hour, nil, "punycode"},
		{"https://files example.com", "/a", time.Hour, nil, "character other than"},
		{"https://[2001:db8::1", "/a", time.Hour, nil, "unclosed ["},
		{"https://[files]", "/a", time.Hour, nil, "invalid IPv6"},
		{"https://[fe80::1%25eth0]", "/a", time.Hour, nil, "invalid IPv6"},
		{"https://[::1]x", "/a", time.Hour, nil, "other than :port"},

		{"https://h", "", time.Hour, nil, "must be an absolute path"},
		{"https://h", "a.txt", time.Hour, nil, "must be an absolute path"},
		{"https://h", "/a/../b", time.Hour, nil, "ambiguous"},
		{"https://h", "/a//b", time.Hour, nil, "ambiguous"},
		{"https://h", `/a\b`, time.Hour, nil, "ambiguous"},
		{"https://h", "/a%2e%2e/b", time.Hour, nil, "ambiguous"},
		{"https://h", "/a/b.", time.Hour, nil, "ambiguous"},
		{"https://h", "/a\x00b", time.Hour, nil, "ambiguous"},
		{"https://h", "/a\xffb", time.Hour, nil, "ambiguous"},
		{"https://h", "/" + strings.Repeat("a", 4096), time.Hour, nil, "longer than 4096 bytes"},
		{"https://h", "/" + strings.Repeat("é", 700), time.Hour, nil, "longer than 4096 bytes once escaped"},

		{"https://h", "/a", 0, nil, "between 1s and 168h0m0s"},
		{"https://h", "/a", -time.Second, nil, "between 1s and 168h0m0s"},
		{"https://h", "/a", 999 * time.Millisecond, nil, "between 1s and 168h0m0s"},
		{"https://h", "/a", MaxLifetime + time.Second, nil, "between 1s and 168h0m0s"},
		{"https://h", "/a", 1500 * time.Millisecond, nil, "whole seconds"},

		{"https://h", "/a", time.Hour, []Option{Param("")}, "signature parameter must be"},
		{"https://h", "/a", time.Hour, []Option{Param("s g")}, "signature parameter must be"},
		{"https://h", "/a", time.Hour, []Option{Param(strings.Repeat("s", 65))}, "signature parameter must be"},
		{"https://h", "/a", time.Hour, []Option{PathForm(), API("api")}, "api: must be a clean absolute path"},
		{"https://h", "/a", time.Hour, []Option{PathForm(), API("/a/../b")}, "api: must be a clean absolute path"},
		{"https://h", "/a", time.Hour, []Option{PathForm(), API("/")}, "api: must be a clean absolute path"},

		{"https://h", "/a", time.Hour, []Option{RawQuery("a=%zz")}, `"%" must start an escape`},
		{"https://h", "/a", time.Hour, []Option{RawQuery("a=1%")}, `"%" must start an escape`},
		{"https://h", "/a", time.Hour, []Option{RawQuery("a=1#x")}, `"#"`},
		{"https://h", "/a", time.Hour, []Option{RawQuery("a=1\nb")}, "control character"},
		{"https://h", "/a", time.Hour, []Option{RawQuery("a=1&sig=x")}, `signature parameter "sig"`},
		{"https://h", "/a", time.Hour, []Option{RawQuery("a=1&%73ig=x")}, `signature parameter "sig"`},
		{"https://h", "/a", time.Hour, []Option{RawQuery(strings.Repeat("a", verifier.MaxSignQueryLen+1))}, "query: longer than"},
		{"https://h", "/a", time.Hour, []Option{QueryPair("sig", "x")}, `signature parameter "sig"`},
		{"https://h", "/a", time.Hour, []Option{Param("t"), RawQuery("t=1")}, `signature parameter "t"`},
		{"https://h", "/a", time.Hour, []Option{QueryPair("a", strings.Repeat("é", 1200))}, "query: longer than"},
		{"https://h", "/a", time.Hour, []Option{QueryPair("a", "1"), RawQuery("b=2")}, "not both"},

		{"https://h", "/a", time.Hour, []Option{Folder(), QueryPair("a", "1")}, "a folder link binds no query"},
		{"https://h", "/a", time.Hour, []Option{Folder(), RawQuery("a=1")}, "a folder link binds no query"},
		{"https://h", "/a", time.Hour, []Option{Folder(), DownloadName("x.zip")}, "cannot set response headers"},
		{"https://h", "/a", time.Hour, []Option{Folder(), Inline()}, "cannot set response headers"},
		{"https://h", "/a", time.Hour, []Option{PathForm(), ContentType("text/plain")}, "cannot set response headers"},
		{"https://h", "/a;b", time.Hour, []Option{Folder()}, "no ';'"},
		{"https://h", "/" + long, time.Hour, []Option{Folder()}, "at most 200 bytes"},

		{"https://h", "/a", time.Hour, []Option{DownloadName("a/b.txt")}, `download name: download name contains "/"`},
		{"https://h", "/a", time.Hour, []Option{DownloadName("..")}, `cannot be "." or ".."`},
		{"https://h", "/a", time.Hour, []Option{DownloadName(" x")}, "starts or ends with a space"},
		{"https://h", "/a", time.Hour, []Option{DownloadName("a\r\nb")}, "control character"},
		{"https://h", "/a", time.Hour, []Option{DownloadName(long + "x")}, "longer than 200 bytes"},
		{"https://h", "/a", time.Hour, []Option{ContentType("text/html")}, "cannot be set by a link"},
		{"https://h", "/a", time.Hour, []Option{ContentType("image/svg+xml")}, "cannot be set by a link"},
		{"https://h", "/a", time.Hour, []Option{ContentType("text")}, "type/subtype"},
		{"https://h", "/a", time.Hour, []Option{ContentType("text/*")}, "wildcard"},
		{"https://h", "/a", time.Hour, []Option{ContentType("text/plain; charset")}, "not a valid media type"},
		{"https://h", "/a", time.Hour, []Option{MaxUses(-1)}, "from 1 to 1000000"},
		{"https://h", "/a", time.Hour, []Option{MaxUses(MaxMaxUses + 1)}, "from 1 to 1000000"},
		{"https://h", "/a", time.Hour, []Option{ClientCIDR("203.0.113.7/24")}, "did you mean 203.0.113.0/24?"},
		{"https://h", "/a", time.Hour, []Option{ClientCIDR("nonsense")}, "must be an IP address"},
		{"https://h", "/a", time.Hour, []Option{ClientCIDR("fe80::1%eth0")}, "zone"},
		{"https://h", "/a", time.Hour, []Option{Now(time.Unix(0, 0))}, "signing time"},
	} {
		u, err := s.SignURL(c.base, c.path, c.life, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "client: ") {
			t.Errorf("%q %q %s %v: got %q %v, want an error containing %q", c.base, clip(c.path), c.life, c.opts, u, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("error shows the key: %v", err)
		}
	}
}

// TestKeysRefused: only a secret key's value can sign, and errors never
// show it.
func TestKeysRefused(t *testing.T) {
	pub, err := verifier.NewKeyToken(verifier.KeyPublic)
	if err != nil {
		t.Fatal(err)
	}
	bad := testKey[:len(testKey)-1] + "x" // a checksum mismatch
	for _, c := range []struct {
		key  string
		want error
		msg  string
	}{
		{"", verifier.ErrMalformedKey, "not an API key value"},
		{"sk_short", verifier.ErrMalformedKey, "not an API key value"},
		{bad, verifier.ErrMalformedKey, "not an API key value"},
		{" " + testKey, verifier.ErrMalformedKey, "not an API key value"},
		{pub, verifier.ErrNotSigningKey, "public keys cannot sign"},
	} {
		_, err := NewSigner(c.key)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) || (c.key != "" && strings.Contains(err.Error(), c.key)) {
			t.Errorf("NewSigner(%.8q…): %v, want %v", c.key, err, c.want)
		}
		if _, err := SignURL("https://h", "/a", c.key, time.Hour); !errors.Is(err, c.want) {
			t.Errorf("SignURL(%.8q…): %v, want %v", c.key, err, c.want)
		}
	}
}

// TestServerRulesAgree: the signer refuses exactly the links the server
// refuses on use (rules.OfflineLink), for content types, response headers
// on folders, ';' in folders and max uses.
func TestServerRulesAgree(t *testing.T) {
	s := testSigner(t)
	cases := []struct {
		path string
		opts []Option
		p    verifier.Policy
	}{
		{"/a;b", []Option{Folder()}, verifier.Policy{}},
		{"/a", []Option{Folder(), MaxUses(MaxMaxUses)}, verifier.Policy{MaxUses: MaxMaxUses}},
		{"/a", []Option{MaxUses(MaxMaxUses + 1)}, verifier.Policy{MaxUses: MaxMaxUses + 1}},
		{"/a", []Option{Folder(), DownloadName("a.zip")}, verifier.Policy{DownloadName: "a.zip"}},
		{"/a", []Option{Folder(), Inline()}, verifier.Policy{Inline: true}},
		{"/a", []Option{Folder(), ContentType("text/plain")}, verifier.Policy{ContentType: "text/plain"}},
		{"/a", []Option{DownloadName("a.zip"), Inline()}, verifier.Policy{DownloadName: "a.zip", Inline: true}},
	}
	for _, ct := range []string{
		"text/plain", "text/plain; charset=utf-8", "application/pdf", "image/png", "video/mp4", "application/json",
		"text/css", "text/csv", "application/octet-stream", "text/markdown; charset=utf-8", "font/woff2",
		"text/html", "TEXT/HTML", "text/html; charset=utf-8", "application/xhtml+xml", "image/svg+xml", "text/xml",
		"application/xml", "application/javascript", "text/javascript", "application/ecmascript", "text/ecmascript",
		"text/xsl", "multipart/mixed", "multipart/x-mixed-replace; boundary=x", "application/rss+xml",
		"application/x-shockwave-flash", "application/vnd.ms-htmlhelp", "text/x-javascript1.2",
	} {
		cases = append(cases, struct {
			path string
			opts []Option
			p    verifier.Policy
		}{"/a", []Option{ContentType(ct)}, verifier.Policy{ContentType: ct}})
	}
	for _, c := range cases {
		_, err := s.SignURL("https://h", c.path, time.Hour, c.opts...)
		prefix := ""
		for _, o := range c.opts {
			if o.kind == optFolder {
				prefix = strings.TrimSuffix(c.path, "/") + "/"
			}
		}
		why := rules.OfflineLink(prefix, c.p)
		if (err != nil) != (why != "") {
			t.Errorf("%s %+v: signer %v, server %q", c.path, c.p, err, why)
		}
	}
}

// TestBaseURLs: the base URLs accepted, and the host each binds.
func TestBaseURLs(t *testing.T) {
	for base, host := range map[string]string{
		"https://files.example.com":      "files.example.com",
		"http://127.0.0.1:8080":          "127.0.0.1:8080",
		"HTTPS://Files.Example.COM:443":  "Files.Example.COM:443",
		"https://[2001:db8::1]":          "[2001:db8::1]",
		"https://[2001:DB8::1]:8443":     "[2001:DB8::1]:8443",
		"https://xn--caf-dma.example":    "xn--caf-dma.example",
		"http://localhost:1":             "localhost:1",
		"https://a_b-c~d.example:65535":  "a_b-c~d.example:65535",
		"https://[::ffff:203.0.113.7]:1": "[::ffff:203.0.113.7]:1",
	} {
		got, err := splitBaseURL(base)
		if err != nil || got != host {
			t.Errorf("%s: %q %v, want %q", base, got, err, host)
		}
		u, err := testSigner(t).SignURL(base, "/a", time.Minute)
		if err != nil || !strings.HasPrefix(u, base+"/a?sig=") {
			t.Errorf("%s: %s %v", base, u, err)
		}
	}
}

func (o Option) String() string {
	return fmt.Sprintf("{%d %q %q %d}", o.kind, clip(o.s), clip(o.s2), o.n)
}
