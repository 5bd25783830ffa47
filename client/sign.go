package client

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// Limits of an offline signature, as the server applies them.
const (
	// MaxLifetime is the longest lifetime a link may be signed with. A
	// server with a shorter max_lifetime refuses links that live longer
	// (403 expired).
	MaxLifetime = 7 * 24 * time.Hour
	// MaxMaxUses is the largest MaxUses a link may have.
	MaxMaxUses = 1_000_000
	// DefaultParam is the signature parameter a server uses unless
	// configured otherwise.
	DefaultParam = verifier.DefaultParam
	// DefaultAPI is the API prefix a server uses unless configured
	// otherwise (the handler's api option).
	DefaultAPI = "/_signet/v1"
)

// Signer signs links offline with one API key: the key's id and offline
// secret are derived once, in NewSigner, and every signature then costs
// one HMAC. A Signer is immutable and safe for concurrent use.
type Signer struct {
	key   tokenSigner
	keyID string
}

// tokenSigner makes the token for claims bound to a target:
// *verifier.OfflineKey, or a ring secret in tests.
type tokenSigner interface {
	Sign(c verifier.Claims, t verifier.Target) (string, error)
}

// NewSigner checks the API key value key (a secret key, sk_ and 48
// characters with a valid checksum) and derives its key id and offline
// signing secret. The key must have been created with offline signing
// ("offline_signing": true), or the server refuses its links; NewSigner
// cannot tell, since it never calls the server. Errors never contain the
// key.
func NewSigner(key string) (*Signer, error) {
	k, err := verifier.OfflineKeyOf(key)
	switch {
	case errors.Is(err, verifier.ErrNotSigningKey):
		return nil, fmt.Errorf("client: key: %w", err)
	case err != nil:
		return nil, fmt.Errorf("client: key: not an API key value (sk_ and 48 characters, as shown when the key was created): %w", err)
	}
	return &Signer{key: k, keyID: k.KeyID()}, nil
}

// KeyID returns the id of the signer's key, as the APIs show it
// (key_ and 16 characters).
func (s *Signer) KeyID() string { return s.keyID }

// SignURL signs a link to path on the server at baseURL with key and
// returns its URL. It keeps the Signer of the last key it was given, so a
// loop over one key derives it once; with several keys, make a Signer
// for each with NewSigner and call its SignURL.
func SignURL(baseURL, path, key string, expiresIn time.Duration, opts ...Option) (string, error) {
	s, err := lastSigner(key)
	if err != nil {
		return "", err
	}
	return s.SignURL(baseURL, path, expiresIn, opts...)
}

// last is the Signer SignURL made most recently, with its key.
var last atomic.Pointer[keyedSigner]

type keyedSigner struct {
	key string
	s   *Signer
}

// lastSigner returns the Signer of key: the last one if it is key's
// (compared in constant time), else a new one, which it keeps.
func lastSigner(key string) (*Signer, error) {
	if l := last.Load(); l != nil && len(l.key) == len(key) && subtle.ConstantTimeCompare([]byte(l.key), []byte(key)) == 1 {
		return l.s, nil
	}
	s, err := NewSigner(key)
	if err != nil {
		return nil, err
	}
	last.Store(&keyedSigner{key: key, s: s})
	return s, nil
}

// SignURL signs a link to path, valid for expiresIn from now, and returns
// its URL: baseURL, the escaped path, and the query with the signature
// parameter last. A folder link (Folder) returns the folder's URL, or
// with PathForm its path form.
//
// baseURL is scheme://host[:port] (http or https), without a path, query
// or fragment: the host is bound into the token, so it must be the one
// the link is requested with. path is the decoded path ("/team a/é.pdf",
// not "/team%20a/%C3%A9.pdf"), a clean absolute path (no dot segments,
// empty segments, backslashes, control characters or %XX sequences).
// expiresIn is whole seconds, from 1 s to MaxLifetime. Every input is
// checked before signing; the errors say what is wrong.
func (s *Signer) SignURL(baseURL, path string, expiresIn time.Duration, opts ...Option) (string, error) {
	var r signing
	if err := s.prepare(&r, baseURL, path, expiresIn, opts); err != nil {
		return "", err
	}
	tok, err := s.key.Sign(r.claims, r.target)
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	if r.folder && r.pathForm {
		return r.pathURL(tok), nil
	}
	return r.queryURL(tok), nil
}

// Sign is SignURL returning the whole link: for a folder link both its
// URL and its path form, and for every link its id (by which it can be
// revoked), what it grants and its expiry. The result has the shape of
// the signing endpoint's.
func (s *Signer) Sign(baseURL, path string, expiresIn time.Duration, opts ...Option) (*SignedURL, error) {
	var r signing
	if err := s.prepare(&r, baseURL, path, expiresIn, opts); err != nil {
		return nil, err
	}
	tok, err := s.key.Sign(r.claims, r.target)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	out := &SignedURL{
		URL:       r.queryURL(tok),
		Path:      r.target.Path,
		Folder:    r.folder,
		ExpiresAt: time.Unix(r.claims.ExpiresAt, 0).UTC(),
		ID:        r.claims.ID.String(),
	}
	if r.folder {
		out.PathURL = r.pathURL(tok)
	}
	return out, nil
}

// Option is one setting of a signature, made by the functions below
// (Folder, Query, DownloadName, …) and passed to SignURL. Options are
// applied in order; where two set the same thing, the last one counts
// (query pairs add up instead). The zero Option sets nothing.
type Option struct {
	kind  optKind
	s, s2 string
	n     int64
	t     time.Time
	v     url.Values
	urlID verifier.URLID
}

type optKind uint8

const (
	optNone optKind = iota
	optFolder
	optPathForm
	optQuery
	optPair
	optRawQuery
	optDownloadName
	optInline
	optContentType
	optMaxUses
	optClientCIDR
	optParam
	optAPI
	optNow
	optURLID
)

// Folder makes a folder link: the path is a folder, and the link grants it
// and every path under it, at a segment boundary, with any query. Its
// prefix is the path with one trailing "/" ("/movie" and "/movie/" both
// give "/movie/"): at most 200 bytes, without ";". A folder link takes no
// query and no response-header policies (DownloadName, Inline,
// ContentType); it may take MaxUses and ClientCIDR.
func Folder() Option { return Option{kind: optFolder} }

// PathForm makes SignURL return a folder link's path form,
// base + api + "/t/" + token + folder, under which relative references
// keep the token (a player following index.m3u8 to seg1.ts). It implies
// Folder.
func PathForm() Option { return Option{kind: optPathForm} }

// Query adds the parameters of v to a file link's query, sorted by name
// (as url.Values.Encode sorts them), each name's values in their order.
// Names and values are escaped as the spec writes query pairs: every byte
// that is not unreserved (A-Z a-z 0-9 - . _ ~) as %XX, so a space is %20
// and "+" is %2B (not url.Values.Encode's "+" for a space). For a query in
// an order of your own, use QueryPair or RawQuery. The signature
// parameter itself cannot be one of them.
func Query(v url.Values) Option { return Option{kind: optQuery, v: v} }

// QueryPair adds one name=value pair to a file link's query, after the
// ones before it, escaped as Query escapes them.
func QueryPair(name, value string) Option { return Option{kind: optPair, s: name, s2: value} }

// RawQuery sets a file link's query as a string, used byte for byte (it
// is bound in its canonical form, so any spelling of the same parameters
// verifies). It must be well-formed percent-encoding, without "#" or
// control characters and without the signature parameter, and at most
// 7102 bytes. It cannot be combined with Query or QueryPair.
func RawQuery(q string) Option { return Option{kind: optRawQuery, s: q} }

// DownloadName makes the file a download with this name
// (Content-Disposition: attachment, or inline with Inline): 1-200 bytes
// of UTF-8 without control characters, "/" or "\", not "." or "..", no
// leading or trailing space. File links only.
func DownloadName(name string) Option { return Option{kind: optDownloadName, s: name} }

// Inline asks for Content-Disposition: inline instead of attachment (the
// browser shows the file), with or without DownloadName. File links only.
func Inline() Option { return Option{kind: optInline} }

// ContentType makes the server answer with this Content-Type (and
// X-Content-Type-Options: nosniff): a type/subtype with optional
// parameters, 1-100 bytes of printable ASCII, no wildcard, and not a type
// a browser runs as a page or a script (HTML, XHTML, SVG, XML,
// JavaScript, multipart). File links only.
func ContentType(ct string) Option { return Option{kind: optContentType, s: ct} }

// MaxUses limits the link to n downloads, 1 to MaxMaxUses. The server
// records a link signed offline at its first use and counts from there.
func MaxUses(n int) Option { return Option{kind: optMaxUses, n: int64(n)} }

// ClientCIDR restricts the link to clients in a network ("203.0.113.0/24",
// "2001:db8::/32") or at one address ("203.0.113.7"), as the server sees
// the client. Host bits must be zero; an IPv4-mapped IPv6 network is taken
// in its IPv4 form.
func ClientCIDR(cidr string) Option { return Option{kind: optClientCIDR, s: cidr} }

// Param sets the name of the signature parameter, when the server's
// signed_url param option is not the default "sig": 1-64 unreserved
// characters.
func Param(name string) Option { return Option{kind: optParam, s: name} }

// API sets the server's API prefix (its api option, default
// "/_signet/v1"), which a folder link's path form starts with.
func API(prefix string) Option { return Option{kind: optAPI, s: prefix} }

// Now sets the signing time instead of the clock (issued_at is t in unix
// seconds, rounded down), for reproducible links in tests.
func Now(t time.Time) Option { return Option{kind: optNow, t: t} }

// URLID sets the link's id instead of 16 random bytes, for reproducible
// links in tests. Never reuse an id for real links: revocations by id
// would end both.
func URLID(id verifier.URLID) Option { return Option{kind: optURLID, urlID: id} }

// signing is one signature being prepared: the checked inputs, the claims
// and target to sign, and what the URL is built from.
type signing struct {
	base     string
	api      string
	param    string
	folder   bool
	pathForm bool
	claims   verifier.Claims
	target   verifier.Target
}

// settings are the options of one signature, as given.
type settings struct {
	folder, pathForm    bool
	inline              bool
	hasRaw, hasPairs    bool
	hasNow, hasID       bool
	rawQuery            string
	downloadName        string
	contentType         string
	cidr                string
	maxUses             int64
	param, api          string
	now                 time.Time
	id                  verifier.URLID
	firstPair, lastPair int // option indexes of the pair options
}

// prepare checks the inputs and fills r.
func (s *Signer) prepare(r *signing, baseURL, path string, expiresIn time.Duration, opts []Option) error {
	var o settings
	o.param, o.api = DefaultParam, DefaultAPI
	o.firstPair = -1
	for i := range opts {
		op := &opts[i]
		switch op.kind {
		case optFolder:
			o.folder = true
		case optPathForm:
			o.folder, o.pathForm = true, true
		case optQuery, optPair:
			if o.firstPair < 0 {
				o.firstPair = i
			}
			o.lastPair, o.hasPairs = i, true
		case optRawQuery:
			o.rawQuery, o.hasRaw = op.s, true
		case optDownloadName:
			o.downloadName = op.s
		case optInline:
			o.inline = true
		case optContentType:
			o.contentType = op.s
		case optMaxUses:
			o.maxUses = op.n
		case optClientCIDR:
			o.cidr = op.s
		case optParam:
			o.param = op.s
		case optAPI:
			o.api = op.s
		case optNow:
			o.now, o.hasNow = op.t, true
		case optURLID:
			o.id, o.hasID = op.urlID, true
		}
	}

	host, err := splitBaseURL(baseURL)
	if err != nil {
		return err
	}
	r.base = baseURL
	if err := checkPath(path); err != nil {
		return err
	}
	secs, err := lifetime(expiresIn)
	if err != nil {
		return err
	}
	if !verifier.ValidParam(o.param) {
		return fmt.Errorf("client: param: the signature parameter must be 1-64 characters of A-Z a-z 0-9 - . _ ~ (got %q)", clip(o.param))
	}
	r.param = o.param
	r.api = DefaultAPI
	if o.api != DefaultAPI {
		if r.api, err = checkAPI(o.api); err != nil {
			return err
		}
	}
	r.folder, r.pathForm = o.folder, o.pathForm

	// The policy, with the server's signing rules.
	p := &r.claims.Policy
	if o.downloadName != "" {
		if err := verifier.CheckDownloadName(o.downloadName); err != nil {
			return fmt.Errorf("client: download name: %w", err)
		}
		p.DownloadName = o.downloadName
	}
	p.Inline = o.inline
	if o.contentType != "" {
		if err := verifier.CheckContentType(o.contentType); err != nil {
			return fmt.Errorf("client: content type: %w", err)
		}
		if verifier.ActiveContentType(o.contentType) {
			return errors.New("client: content type: types a browser runs as a page or a script (HTML, XHTML, SVG, XML, JavaScript) cannot be set by a link")
		}
		p.ContentType = o.contentType
	}
	if o.maxUses != 0 {
		if o.maxUses < 1 || o.maxUses > MaxMaxUses {
			return fmt.Errorf("client: max uses: must be a whole number from 1 to %d", MaxMaxUses)
		}
		p.MaxUses = uint32(o.maxUses)
	}
	if o.cidr != "" {
		if p.ClientCIDR, err = verifier.ParseClientCIDR(o.cidr); err != nil {
			return fmt.Errorf("client: client CIDR: %w", err)
		}
	}

	// What the token binds: the path and query, or the folder.
	r.target = verifier.Target{Host: host, Method: "GET", Path: path}
	if o.folder {
		prefix := path
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		switch {
		case o.hasRaw || o.hasPairs:
			return errors.New("client: query: a folder link binds no query (it works with any); sign it without one")
		case p.DownloadName != "" || p.Inline || p.ContentType != "":
			return errors.New("client: a folder link cannot set response headers for its files (DownloadName, Inline, ContentType); sign a file link")
		case len(prefix) > verifier.MaxPrefixLen:
			return fmt.Errorf("client: path: a folder link's folder must be at most %d bytes, counted with its trailing /", verifier.MaxPrefixLen)
		case strings.IndexByte(prefix, ';') >= 0:
			return errors.New("client: path: a folder must be a clean absolute path such as /movie/ (no ';')")
		}
		r.claims.Prefix = prefix
		r.target.Path = prefix
	} else {
		switch {
		case o.hasRaw && o.hasPairs:
			return errors.New("client: query: give the query as pairs (Query, QueryPair) or as a string (RawQuery), not both")
		case o.hasRaw:
			if err := checkRawQuery(o.rawQuery, o.param); err != nil {
				return err
			}
			r.target.RawQuery = o.rawQuery
		case o.hasPairs:
			q, err := encodePairs(opts[o.firstPair:o.lastPair+1], o.param)
			if err != nil {
				return err
			}
			r.target.RawQuery = q
		}
	}

	now := o.now
	if !o.hasNow {
		now = time.Now()
	}
	r.claims.IssuedAt = now.Unix()
	if r.claims.IssuedAt <= 0 {
		return errors.New("client: now: the signing time must be after 1970-01-01T00:00:01Z")
	}
	r.claims.ExpiresAt = r.claims.IssuedAt + secs
	if o.hasID {
		r.claims.ID = o.id
	} else if r.claims.ID, err = verifier.NewURLID(); err != nil {
		return fmt.Errorf("client: url id: %w", err)
	}
	return nil
}

// lifetime checks expiresIn and returns it in seconds.
func lifetime(d time.Duration) (int64, error) {
	switch {
	case d < time.Second || d > MaxLifetime:
		return 0, fmt.Errorf("client: expiresIn: must be between 1s and %s (got %s)", MaxLifetime, d)
	case d%time.Second != 0:
		return 0, fmt.Errorf("client: expiresIn: must be whole seconds (got %s)", d)
	}
	return int64(d / time.Second), nil
}

// checkPath checks a link's decoded path.
func checkPath(path string) error {
	switch {
	case path == "" || path[0] != '/':
		return fmt.Errorf("client: path: must be an absolute path such as /reports/q1.pdf (got %q)", clip(path))
	case len(path) > verifier.MaxPathLen:
		return fmt.Errorf("client: path: longer than %d bytes", verifier.MaxPathLen)
	case escapedLen(path, '/') > verifier.MaxPathLen:
		return fmt.Errorf("client: path: longer than %d bytes once escaped", verifier.MaxPathLen)
	}
	if err := verifier.CheckPath(path, ""); err != nil {
		return fmt.Errorf("client: path: %q is refused as ambiguous (dot or empty segments, a backslash, a control character, a %%XX sequence, a trailing dot or space, or invalid UTF-8): %w", clip(path), err)
	}
	return nil
}

// checkAPI checks an API prefix and returns it without a trailing "/".
func checkAPI(api string) (string, error) {
	a := strings.TrimSuffix(api, "/")
	if a == "" || a[0] != '/' || verifier.CheckPath(a, "") != nil {
		return "", fmt.Errorf("client: api: must be a clean absolute path such as /_signet/v1 (got %q)", clip(api))
	}
	return a, nil
}

// checkRawQuery checks a query given as a string.
func checkRawQuery(q, param string) error {
	if len(q) > verifier.MaxSignQueryLen {
		return fmt.Errorf("client: query: longer than %d bytes", verifier.MaxSignQueryLen)
	}
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '#':
			return errors.New(`client: query: contains "#", which would start the URL's fragment; escape it as %23`)
		case c < 0x20 || c == 0x7f:
			return errors.New("client: query: contains a control character")
		case c == '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return errors.New(`client: query: "%" must start an escape of two hex digits (write a literal % as %25)`)
			}
		}
	}
	if verifier.StripParam(q, param) != q {
		return fmt.Errorf("client: query: contains the signature parameter %q itself", param)
	}
	return nil
}

// encodePairs writes the query of the pair options in ops (Query and
// QueryPair; others are skipped), each name and value escaped.
func encodePairs(ops []Option, param string) (string, error) {
	var b strings.Builder
	add := func(name, value string) error {
		if name == param {
			return fmt.Errorf("client: query: contains the signature parameter %q itself", param)
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		writeEscaped(&b, name, 0)
		b.WriteByte('=')
		writeEscaped(&b, value, 0)
		return nil
	}
	for i := range ops {
		switch op := &ops[i]; op.kind {
		case optPair:
			if err := add(op.s, op.s2); err != nil {
				return "", err
			}
		case optQuery:
			names := make([]string, 0, len(op.v))
			for name := range op.v {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				for _, value := range op.v[name] {
					if err := add(name, value); err != nil {
						return "", err
					}
				}
			}
		}
	}
	if b.Len() > verifier.MaxSignQueryLen {
		return "", fmt.Errorf("client: query: longer than %d bytes", verifier.MaxSignQueryLen)
	}
	return b.String(), nil
}

// queryURL returns the link's URL with the token in the query:
// base + escape(path) + "?" + [query "&"] + param "=" token.
func (r *signing) queryURL(tok string) string {
	path, q := r.target.Path, r.target.RawQuery
	n := len(r.base) + escapedLen(path, '/') + 1 + len(q) + 1 + len(r.param) + 1 + len(tok)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(r.base)
	writeEscaped(&b, path, '/')
	b.WriteByte('?')
	if q != "" {
		b.WriteString(q)
		b.WriteByte('&')
	}
	b.WriteString(r.param)
	b.WriteByte('=')
	b.WriteString(tok)
	return b.String()
}

// pathURL returns a folder link's path form:
// base + api + "/t/" + token + escape(prefix).
func (r *signing) pathURL(tok string) string {
	prefix, api := r.claims.Prefix, r.api
	var b strings.Builder
	b.Grow(len(r.base) + escapedLen(api, '/') + 3 + len(tok) + escapedLen(prefix, '/'))
	b.WriteString(r.base)
	writeEscaped(&b, api, '/')
	b.WriteString("/t/")
	b.WriteString(tok)
	writeEscaped(&b, prefix, '/')
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// escapedLen is the length of s escaped by writeEscaped.
func escapedLen(s string, keep byte) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUnreserved(c) && (keep == 0 || c != keep) {
			n += 2
		}
	}
	return n
}

// writeEscaped writes s with every byte that is not unreserved
// (A-Z a-z 0-9 - . _ ~) and not keep (0 for none) as %XX, uppercase.
func writeEscaped(b *strings.Builder, s string, keep byte) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (keep != 0 && c == keep) {
			continue
		}
		b.WriteString(s[start:i])
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
		start = i + 1
	}
	b.WriteString(s[start:])
}

// escapePath returns s escaped as a link's path.
func escapePath(s string) string {
	var b strings.Builder
	b.Grow(escapedLen(s, '/'))
	writeEscaped(&b, s, '/')
	return b.String()
}

// escapeSegment returns s escaped as one path segment ("/" too).
func escapeSegment(s string) string {
	var b strings.Builder
	b.Grow(escapedLen(s, 0))
	writeEscaped(&b, s, 0)
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
