// Command vectorgen adds generated cases to the signed-URL test vectors
// (verifier/testdata/signed-url-vectors.json): more file and folder links
// with reserved and non-ASCII characters, and the "offline" section of
// links signed with an API key. Vectors already in the file are kept as
// they are; generated ones replace those of the same name. It computes the
// MAC input and the URLs by its own reading of docs/signed-urls.md and
// checks that verifier.Sign makes the same tag, so the file holds what two
// implementations agree on (the libraries in sdk/ and client/, and the
// documentation's Python signer, are checked against it in make test).
//
//	go run ./internal/vectorgen [-w verifier/testdata/signed-url-vectors.json]
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"log"
	"net/netip"
	"os"
	"sort"
	"strings"

	"github.com/caddy-signet/signet/verifier"
)

type file struct {
	Comment []string          `json:"comment"`
	Vectors []json.RawMessage `json:"vectors"`
	Offline []offline         `json:"offline"`
}

type policy struct {
	DownloadName string `json:"download_name"`
	Inline       bool   `json:"inline"`
	ContentType  string `json:"content_type"`
	MaxUses      uint32 `json:"max_uses"`
	ClientCIDR   string `json:"client_cidr"`
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
		Policy    policy `json:"policy"`
	} `json:"claims"`
	Target struct {
		Host     string `json:"host"`
		Method   string `json:"method"`
		Path     string `json:"path"`
		RawPath  string `json:"raw_path"`
		RawQuery string `json:"raw_query"`
	} `json:"target"`
	CanonicalQuery string  `json:"canonical_query"`
	MACInputHex    string  `json:"mac_input_hex"`
	Token          string  `json:"token"`
	Checks         []check `json:"checks"`
}

type check struct {
	Method      string `json:"method"`
	Host        string `json:"host"`
	RequestURI  string `json:"request_uri"`
	Now         int64  `json:"now"`
	SkewSeconds int64  `json:"skew_seconds"`
	Error       string `json:"error"`
}

// offline is a link signed with an API key: the signer's inputs and what
// it must produce.
type offline struct {
	Name      string `json:"name"`
	APIKey    string `json:"api_key"`
	KeyID     string `json:"key_id"`
	SecretHex string `json:"secret_hex"`
	Inputs    struct {
		BaseURL    string      `json:"base_url"`
		Path       string      `json:"path"`
		Query      string      `json:"query,omitempty"`
		QueryPairs [][2]string `json:"query_pairs,omitempty"`
		Folder     bool        `json:"folder"`
		Now        int64       `json:"now"`
		ExpiresIn  int64       `json:"expires_in"`
		URLID      string      `json:"url_id"`
		Param      string      `json:"param"`
		API        string      `json:"api"`
		Policies   policy      `json:"policies"`
	} `json:"inputs"`
	Claims struct {
		ExpiresAt int64  `json:"expires_at"`
		IssuedAt  int64  `json:"issued_at"`
		Prefix    string `json:"prefix"`
	} `json:"claims"`
	MACInputHex string  `json:"mac_input_hex"`
	Token       string  `json:"token"`
	URL         string  `json:"url"`
	PathURL     string  `json:"path_url,omitempty"`
	Checks      []check `json:"checks"`
}

const t0 = 1767261600 // 2026-01-01T10:00:00Z

func main() {
	path := flag.String("w", "verifier/testdata/signed-url-vectors.json", "the vectors file to update")
	flag.Parse()
	data, err := os.ReadFile(*path)
	if err != nil {
		log.Fatal(err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		log.Fatal(err)
	}
	gen := fileVectors()
	names := map[string]bool{}
	for _, v := range gen {
		names[v.Name] = true
	}
	var kept []json.RawMessage
	for _, raw := range f.Vectors {
		var v struct{ Name string }
		if err := json.Unmarshal(raw, &v); err != nil {
			log.Fatal(err)
		}
		if !names[v.Name] {
			kept = append(kept, raw)
		}
	}
	for _, v := range gen {
		b, err := marshal(v)
		if err != nil {
			log.Fatal(err)
		}
		kept = append(kept, b)
	}
	f.Vectors = kept
	f.Offline = offlineVectors()
	f.Comment = comments
	out, err := marshal(f)
	if err != nil {
		log.Fatal(err)
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, out, "", "  "); err != nil {
		log.Fatal(err)
	}
	ind.WriteByte('\n')
	if err := os.WriteFile(*path, ind.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d vectors, %d offline\n", *path, len(f.Vectors), len(f.Offline))
}

var comments = []string{
	"Signet signed-URL test vectors (token version 1). See docs/signed-urls.md.",
	"Sign(secret, claims, target) must return token exactly; mac_input_hex is the HMAC-SHA256 input, canonical_query the canonical form of target.raw_query.",
	"claims.policy is the link's policy, each field zero when unset (\"\", false, 0); client_cidr is the network in its canonical text form. The policy is encoded as constraints after the prefix, in ascending type order: 0x02 disposition, 0x03 content type, 0x04 max uses, 0x05 client CIDR.",
	"Each check verifies the request (method, host, request_uri as sent on the request line) with a ring holding only this secret, at unix time now with the given not-before skew, and expects error (\"\" = success, with the vector's claims).",
	"Some checks carry a token other than the vector's: one bit of it flipped, or other constraints signed with a valid tag (which only a secret holder can make; the verifier refuses those Sign never makes as malformed).",
	"Error names: malformed, bad_signature, expired, not_yet_valid, method_not_allowed, no_token, ambiguous_path.",
	"offline: links signed with an API key (docs/signed-urls.md, \"Signing with an API key\"). key_id and secret_hex are derived from api_key; a signer given inputs (base_url, the decoded path, query as a raw string used byte for byte or query_pairs written name=value with the path's escaping, folder, the policies, and for reproducibility now, expires_in and url_id) must return url exactly (path_url for folder links: the path form under api). claims are what the token then carries (key id and secret id both key_id). Checks verify with a verifier that knows only this key's offline secret (and no ring secret that could sign it).",
	"Generated by go run ./internal/vectorgen, which keeps the vectors already in the file.",
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// The secret of the generated file vectors, and the API keys of the
// offline ones.
var (
	secretKey = seq(0x40, 32)
	apiKeys   = []string{apiKey(seq(0, 32)), apiKey(seq(0xa0, 32))}
)

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// apiKey is the secret key value with random part r: "sk_" and base64url
// of r and the CRC-32 of "sk_" r.
func apiKey(r []byte) string {
	b := binary.BigEndian.AppendUint32(append([]byte(nil), r...), crc32.ChecksumIEEE(append([]byte("sk_"), r...)))
	return "sk_" + base64.RawURLEncoding.EncodeToString(b)
}

func urlID(fill byte) string { return base64.RawURLEncoding.EncodeToString(seq(fill, 16)) }

// escapePath writes each byte that is not unreserved and not "/" as %XX.
func escapePath(p string) string { return escape(p, true) }

func escape(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || slash && c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

// canonComponent and canonQuery follow "Canonical query".
func canonComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			v, err := hex.DecodeString(s[i+1 : i+3])
			if err != nil {
				log.Fatalf("bad escape in %q", s)
			}
			c, i = v[0], i+2
		case c == '+' || c == ';':
			b.WriteByte(c)
			continue
		}
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func canonQuery(raw string) string {
	var pairs [][2]string
	for _, piece := range strings.Split(raw, "&") {
		if piece == "" {
			continue
		}
		n, v, _ := strings.Cut(piece, "=")
		pairs = append(pairs, [2]string{canonComponent(n), canonComponent(v)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	var out []string
	for _, p := range pairs {
		out = append(out, p[0]+"="+p[1])
	}
	return strings.Join(out, "&")
}

func normHost(h string) string {
	if s, ok := strings.CutSuffix(h, ":80"); ok {
		h = s
	} else if s, ok := strings.CutSuffix(h, ":443"); ok {
		h = s
	}
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	}, h)
}

func field(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// macInput is the MAC input of token (its bytes without the tag).
func macInput(signed []byte, host, bound, cq string) []byte {
	b := field(nil, "signet-url")
	b = field(b, string(signed))
	b = field(b, normHost(host))
	b = field(b, "GET")
	b = field(b, bound)
	return field(b, cq)
}

func toPolicy(p policy) verifier.Policy {
	vp := verifier.Policy{DownloadName: p.DownloadName, Inline: p.Inline, ContentType: p.ContentType, MaxUses: p.MaxUses}
	if p.ClientCIDR != "" {
		vp.ClientCIDR = netip.MustParsePrefix(p.ClientCIDR)
	}
	return vp
}

// checkTag checks that tok's tag is HMAC-SHA256(key, the MAC input built
// here), and returns the input.
func checkTag(name, tok string, key []byte, host, bound, cq string) []byte {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		log.Fatal(err)
	}
	msg := macInput(raw[:len(raw)-32], host, bound, cq)
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	if !hmac.Equal(m.Sum(nil), raw[len(raw)-32:]) {
		log.Fatalf("%s: verifier.Sign's tag is not HMAC of this MAC input", name)
	}
	return msg
}

// flip changes one character of tok in its middle to another base64url
// character.
func flip(tok string) string {
	b := []byte(tok)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

type fileCase struct {
	name, keyID, host, path, rawQuery, prefix string
	pol                                       policy
	idFill                                    byte
	// alt are other request URIs (without the token) that must verify;
	// bad those that must not, with the error expected.
	alt []string
	bad [][2]string
}

func fileVectors() []vector {
	cases := []fileCase{
		{
			name: "reserved characters in the path", keyID: "key_r3s3rv3dchars00", host: "files.example.com",
			path: "/a b/c+d&f=g;h,i@j!k$l'm(n)o*p:q/[1] 100%.pdf", idFill: 0x10,
			alt: []string{"/a%20b/c+d&f=g;h,i@j!k$l'm(n)o*p:q/%5B1%5D%20100%25.pdf", "/a%20b/c%2Bd%26f%3Dg%3Bh%2Ci%40j%21k%24l%27m%28n%29o%2Ap%3Aq/%5b1%5d%20100%25.pdf"},
			bad: [][2]string{{"/a%20b/c%20d&f=g;h,i@j!k$l'm(n)o*p:q/%5B1%5D%20100%25.pdf", "bad_signature"}, {"/a%20b/c+d&f=g;h,i@j!k$l'm(n)o*p:q%2F%5B1%5D%20100%25.pdf", "ambiguous_path"}},
		},
		{
			name: "spaces and plus signs in path and query", host: "files.example.com", path: "/my files/a+b c.txt",
			rawQuery: "q=hello%20world&p=1%2B1&s=a+b&r=100%25", idFill: 0x20,
			alt: []string{"/my%20files/a%2Bb%20c.txt?r=100%25&s=a+b&p=1%2b1&q=hello%20world"},
			bad: [][2]string{{"/my%20files/a%2Bb%20c.txt?q=hello+world&p=1%2B1&s=a+b&r=100%25", "bad_signature"}, {"/my%20files/a%2Bb%20c.txt?q=hello%20world&p=1+1&s=a+b&r=100%25", "bad_signature"}, {"/my+files/a%2Bb%20c.txt?q=hello%20world&p=1%2B1&s=a+b&r=100%25", "bad_signature"}},
		},
		{
			name: "query parameters in many orders", keyID: "key_0rd3r5aaaaaaaaaa", host: "files.example.com", path: "/data/export.csv",
			rawQuery: "z=26&a=1&m=13&a=0&b=&c", idFill: 0x30,
			alt: []string{"/data/export.csv?a=0&a=1&b=&c=&m=13&z=26", "/data/export.csv?c&b&m=13&a=1&z=26&a=0", "/data/export.csv?a=1&&z=26&m=13&c&b=&a=0&"},
			bad: [][2]string{{"/data/export.csv?a=1&z=26&m=13&a=0&b=", "bad_signature"}, {"/data/export.csv?a=1&z=26&m=13&a=0&b=&c&d", "bad_signature"}, {"/data/export.csv?a=1&z=26&m=13&a=00&b=&c", "bad_signature"}},
		},
		{
			name: "download name with reserved characters and spaces", host: "files.example.com", path: "/reports/q2.pdf",
			pol: policy{DownloadName: "report (final) & notes, 100% [v2] +1.pdf"}, idFill: 0x40,
		},
		{
			name: "download name in Cyrillic with an emoji", keyID: "key_3m0j1aaaaaaaaaaa", host: "files.example.com", path: "/отчёты/2026.pdf",
			pol: policy{DownloadName: "отчёт 2026 🎉.pdf", ContentType: "application/pdf"}, idFill: 0x50,
		},
		{
			name: "folder link with reserved characters", host: "files.example.com", path: "/shared/Q1 & Q2 (2026)/", prefix: "/shared/Q1 & Q2 (2026)/",
			idFill: 0x60,
			alt:    []string{"/shared/Q1%20%26%20Q2%20(2026)/deck.pdf?page=3", "/shared/Q1%20&%20Q2%20%282026%29/a%20b/c.txt"},
			bad:    [][2]string{{"/shared/Q1%20%26%20Q2%20(2026)2/deck.pdf", "bad_signature"}, {"/shared/Q1%20&%20Q2%20(2026)/../x", "ambiguous_path"}},
		},
		{
			name: "every policy on a file link with a query", keyID: "key_a11p011c1esaaaaa", host: "files.example.com", path: "/releases/app 2.0.zip",
			rawQuery: "channel=beta&arch=x86_64",
			pol:      policy{DownloadName: "app-2.0 (beta).zip", Inline: true, ContentType: "application/zip", MaxUses: 5, ClientCIDR: "198.51.100.0/24"}, idFill: 0x70,
		},
	}
	key := secretKey
	s := verifier.Secret{ID: "2026-02", Key: key}
	var out []vector
	for _, c := range cases {
		var v vector
		v.Name = c.name
		v.Secret.ID, v.Secret.KeyHex = s.ID, hex.EncodeToString(key)
		v.Claims.IssuedAt, v.Claims.ExpiresAt = t0, t0+3600
		v.Claims.ID, v.Claims.KeyID, v.Claims.Prefix, v.Claims.Policy = urlID(c.idFill), c.keyID, c.prefix, c.pol
		v.Target.Host, v.Target.Method, v.Target.Path = c.host, "GET", c.path
		if c.prefix == "" {
			v.Target.RawQuery = c.rawQuery
		}
		id, err := verifier.ParseURLID(v.Claims.ID)
		if err != nil {
			log.Fatal(err)
		}
		claims := verifier.Claims{IssuedAt: t0, ExpiresAt: t0 + 3600, ID: id, KeyID: c.keyID, Prefix: c.prefix, Policy: toPolicy(c.pol)}
		tok, err := verifier.Sign(s, claims, verifier.Target{Host: c.host, Method: "GET", Path: c.path, RawQuery: v.Target.RawQuery})
		if err != nil {
			log.Fatalf("%s: %v", c.name, err)
		}
		v.Token = tok
		v.CanonicalQuery = canonQuery(v.Target.RawQuery)
		bound, cq := c.path, v.CanonicalQuery
		if c.prefix != "" {
			bound, cq = c.prefix, ""
		}
		v.MACInputHex = hex.EncodeToString(checkTag(c.name, tok, key, c.host, bound, cq))
		withTok := func(uri, tok string) string {
			if strings.Contains(uri, "?") {
				return uri + "&sig=" + tok
			}
			return uri + "?sig=" + tok
		}
		base := escapePath(c.path)
		if v.Target.RawQuery != "" {
			base += "?" + v.Target.RawQuery
		}
		v.Checks = append(v.Checks,
			check{"GET", c.host, withTok(base, tok), t0, 0, ""},
			check{"HEAD", c.host, withTok(base, tok), t0 + 3599, 0, ""},
			check{"GET", c.host, withTok(base, tok), t0 + 3600, 0, "expired"},
			check{"GET", c.host, withTok(base, flip(tok)), t0, 0, "bad_signature"},
			check{"GET", "other.example.com", withTok(base, tok), t0, 0, "bad_signature"},
		)
		for _, a := range c.alt {
			v.Checks = append(v.Checks, check{"GET", c.host, withTok(a, tok), t0 + 60, 0, ""})
		}
		for _, b := range c.bad {
			v.Checks = append(v.Checks, check{"GET", c.host, withTok(b[0], tok), t0 + 60, 0, b[1]})
		}
		out = append(out, v)
	}
	return out
}

type offlineCase struct {
	name, base, path, query string
	pairs                   [][2]string
	folder                  bool
	key                     int
	expiresIn               int64
	param, api              string
	pol                     policy
	idFill                  byte
	// alt are other request URIs (tokens appended) that must verify.
	alt []string
}

func offlineVectors() []offline {
	cases := []offlineCase{
		{name: "file link", base: "https://files.example.com", path: "/reports/2026/q1.pdf", expiresIn: 300, idFill: 0x00},
		{name: "file link, query as a string kept byte for byte", base: "https://files.example.com", path: "/invoices/INV-0042.pdf",
			query: "v=2&a=1&name=x%20y", expiresIn: 3600, idFill: 0x11, key: 1,
			alt: []string{"/invoices/INV-0042.pdf?a=1&name=x%20y&v=2"}},
		{name: "file link, query as pairs", base: "https://files.example.com", path: "/search/results.json",
			pairs: [][2]string{{"q", "a b+c"}, {"lang", "fr"}, {"é", "ü/ß"}, {"empty", ""}}, expiresIn: 600, idFill: 0x22},
		{name: "non-ASCII and reserved characters in the path", base: "https://files.example.com", path: "/docs/café menu (v2) & notes+100%.pdf",
			expiresIn: 900, idFill: 0x33, alt: []string{"/docs/caf%C3%A9%20menu%20(v2)%20&%20notes+100%25.pdf"}},
		{name: "host in capitals with a port", base: "https://Files.Example.COM:8443", path: "/a.txt", expiresIn: 60, idFill: 0x44},
		{name: "plain http, default port, custom parameter name", base: "http://localhost:80", path: "/dl/setup.exe", param: "s",
			expiresIn: 86400, idFill: 0x55, key: 1},
		{name: "folder link", base: "https://media.example.com", path: "/movie", folder: true, expiresIn: 7200, idFill: 0x66,
			alt: []string{"/movie/index.m3u8?sig=", "/movie/hd/seg-001.ts?_HLS_msn=3&sig="}},
		{name: "folder link, non-ASCII folder with a trailing slash", base: "https://files.example.com", path: "/фото/лето 2026/",
			folder: true, api: "/files-api/v1", expiresIn: 604800, idFill: 0x77},
		{name: "every policy on a file link", base: "https://files.example.com", path: "/shared/cv.pdf", expiresIn: 1800, idFill: 0x88,
			pol: policy{DownloadName: `Résumé "final"; v2.pdf`, ContentType: "application/pdf", MaxUses: 3, ClientCIDR: "203.0.113.0/24"}},
		{name: "inline with a content type parameter", base: "https://files.example.com", path: "/logs/today.log", expiresIn: 120, idFill: 0x99,
			pol: policy{Inline: true, ContentType: "text/plain; charset=utf-8"}, key: 1},
		{name: "policies on a folder link", base: "https://files.example.com", path: "/team/", folder: true, expiresIn: 3600, idFill: 0xaa,
			pol: policy{MaxUses: 10, ClientCIDR: "2001:db8::/32"}},
	}
	var out []offline
	for _, c := range cases {
		var o offline
		o.Name = c.name
		o.APIKey = apiKeys[c.key]
		ok, err := verifier.OfflineKeyOf(o.APIKey)
		if err != nil {
			log.Fatal(err)
		}
		o.KeyID = verifier.KeyIDOf(o.APIKey)
		secret := verifier.OfflineSecret(o.APIKey)
		o.SecretHex = hex.EncodeToString(secret)
		in := &o.Inputs
		in.BaseURL, in.Path, in.Query, in.QueryPairs, in.Folder = c.base, c.path, c.query, c.pairs, c.folder
		in.Now, in.ExpiresIn, in.URLID, in.Policies = t0+7, c.expiresIn, urlID(c.idFill), c.pol
		in.Param, in.API = c.param, c.api
		if in.Param == "" {
			in.Param = "sig"
		}
		if in.API == "" {
			in.API = "/_signet/v1"
		}
		host := strings.SplitN(c.base, "://", 2)[1]
		rawQuery := c.query
		for _, p := range c.pairs {
			if rawQuery != "" {
				rawQuery += "&"
			}
			rawQuery += escape(p[0], false) + "=" + escape(p[1], false)
		}
		prefix := ""
		if c.folder {
			prefix = strings.TrimSuffix(c.path, "/") + "/"
		}
		o.Claims.IssuedAt, o.Claims.ExpiresAt, o.Claims.Prefix = in.Now, in.Now+c.expiresIn, prefix
		id, _ := verifier.ParseURLID(in.URLID)
		claims := verifier.Claims{IssuedAt: in.Now, ExpiresAt: in.Now + c.expiresIn, ID: id, Prefix: prefix, Policy: toPolicy(c.pol)}
		signPath := c.path
		if c.folder {
			signPath = prefix
		}
		tok, err := ok.Sign(claims, verifier.Target{Host: host, Method: "GET", Path: signPath, RawQuery: rawQuery})
		if err != nil {
			log.Fatalf("%s: %v", c.name, err)
		}
		o.Token = tok
		bound, cq := c.path, canonQuery(rawQuery)
		if c.folder {
			bound, cq = prefix, ""
		}
		o.MACInputHex = hex.EncodeToString(checkTag(c.name, tok, secret, host, bound, cq))
		uri := escapePath(signPath) + "?"
		if rawQuery != "" {
			uri += rawQuery + "&"
		}
		uri += in.Param + "=" + tok
		o.URL = c.base + uri
		if c.folder {
			o.PathURL = c.base + in.API + "/t/" + tok + escapePath(prefix)
		}
		o.Checks = append(o.Checks,
			check{"GET", host, uri, in.Now, 0, ""},
			check{"GET", host, strings.Replace(uri, tok, flip(tok), 1), in.Now, 0, "bad_signature"},
			check{"GET", host, uri, in.Now + c.expiresIn, 0, "expired"},
		)
		for _, a := range c.alt {
			switch {
			case strings.HasSuffix(a, "="):
				a += tok
			case strings.Contains(a, "?"):
				a += "&" + in.Param + "=" + tok
			default:
				a += "?" + in.Param + "=" + tok
			}
			o.Checks = append(o.Checks, check{"GET", host, a, in.Now + 1, 0, ""})
		}
		out = append(out, o)
	}
	return out
}
