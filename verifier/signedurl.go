package verifier

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Signed-URL token format, version 1 (docs/signed-urls.md is the full
// specification):
//
//	token   = base64url-unpadded( 0x01 || payload || tag )
//	payload = u8 len(secret_id) || secret_id
//	          || u64be expires_at || u64be issued_at || url_id (16 bytes)
//	          || u8 len(key_id) || key_id
//	          || *( u8 type || u16be len(value) || value )   ; constraints
//	tag     = HMAC-SHA256(secret, mac_input)
//
//	mac_input = F("signet-url") || F(0x01 || payload)
//	            || F(host) || F("GET") || F(path or prefix) || F(canonical query)
//	F(x)      = u16be len(x) || x

// Sentinel errors of signed-URL verification. Callers compare with
// errors.Is; the messages are safe to show to clients and never include the
// token. A path refused by CheckPath is reported as ErrAmbiguousPath.
var (
	// ErrMalformedToken means the signature parameter is present but its
	// value is not a well-formed token: bad encoding, wrong structure,
	// unsupported version, a repeated parameter, a size limit exceeded, or
	// (after the tag was verified) claims the verifier does not understand,
	// such as an unknown constraint type.
	ErrMalformedToken = errors.New("malformed signed URL")

	// ErrBadSignature means the tag does not match: the token was altered,
	// was signed with a secret that is not (or no longer) in the ring, or
	// the request (host, method class, path, other query parameters)
	// differs from the one it was signed for.
	ErrBadSignature = errors.New("invalid signed URL signature")

	// ErrExpired means the token's expiry time has passed.
	ErrExpired = errors.New("signed URL expired")

	// ErrNotYetValid means the token was issued in the future, beyond the
	// allowed clock skew.
	ErrNotYetValid = errors.New("signed URL not yet valid")

	// ErrMethodNotAllowed means the request method is neither GET nor
	// HEAD, the only methods a signed URL can grant.
	ErrMethodNotAllowed = errors.New("method not allowed with a signed URL")

	// ErrNoToken means the request carries no signature parameter at all,
	// so the caller may fall back to other credentials.
	ErrNoToken = errors.New("no signed URL token")
)

// Limits of the signed-URL format. Verify refuses inputs over these sizes
// with ErrMalformedToken as soon as it has found the token, before decoding
// it; Sign refuses to create tokens that would exceed them.
const (
	// DefaultParam is the query parameter that carries the token when
	// Verifier.Param is empty.
	DefaultParam = "sig"
	// MaxTokenLen is the longest accepted token, in bytes.
	MaxTokenLen = 512
	// MaxQueryLen is the longest accepted raw query, signature included.
	MaxQueryLen = 8192
	// MaxSignQueryLen is the longest raw query Sign accepts (the other
	// parameters only), leaving room for the signature parameter.
	MaxSignQueryLen = MaxQueryLen - 1024
	// MaxHostLen is the longest accepted host (with port).
	MaxHostLen = 300
	// MaxPathLen is the longest accepted path, decoded or raw.
	MaxPathLen = 4096
	// MaxPrefixLen is the longest granted path prefix.
	MaxPrefixLen = 200
	// MaxKeyIDLen is the longest API key id a token can carry.
	MaxKeyIDLen = 64
	// MinSecretLen is the minimum length of a signing secret's key.
	MinSecretLen = 32
	// URLIDLen is the length of a URL id: unpadded base64url of 16 bytes.
	URLIDLen = 22
)

const (
	tokenVersion     byte = 1
	maxSecretIDLen        = 32
	maxParamLen           = 64
	urlIDRawLen           = 16
	tagLen                = sha256.Size
	constraintPrefix byte = 1
	macLabel              = "signet-url"
	methodClassGET        = "GET"
	maxRawTokenLen        = MaxTokenLen * 3 / 4
	// version, secret id length, expires_at, issued_at, url id, key id length
	minPayloadLen = 1 + 1 + 8 + 8 + urlIDRawLen + 1
)

// b64Values maps each byte to its value in the base64url alphabet, or to
// 0xFF when it is not in the alphabet.
var b64Values = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeBase64URL decodes unpadded base64url from s into dst, which must
// have room for len(s)*3/4 bytes. It is strict: any byte outside the
// alphabet (padding, CR and LF included), a dangling single character or
// non-zero trailing bits make it fail, so every byte string has exactly one
// accepted spelling. It does not allocate.
func decodeBase64URL(dst []byte, s string) (int, bool) {
	n, i := 0, 0
	for ; i+4 <= len(s); i += 4 {
		a, b, c, d := b64Values[s[i]], b64Values[s[i+1]], b64Values[s[i+2]], b64Values[s[i+3]]
		if a|b|c|d > 63 {
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	switch len(s) - i {
	case 1:
		return 0, false
	case 2:
		a, b := b64Values[s[i]], b64Values[s[i+1]]
		if a|b > 63 || b&0x0F != 0 {
			return 0, false
		}
		dst[n] = a<<2 | b>>4
		n++
	case 3:
		a, b, c := b64Values[s[i]], b64Values[s[i+1]], b64Values[s[i+2]]
		if a|b|c > 63 || c&0x03 != 0 {
			return 0, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[n], dst[n+1] = byte(v>>10), byte(v>>2)
		n += 2
	}
	return n, true
}

// Secret is one entry of the signing-secret ring.
type Secret struct {
	ID  string // 1–32 chars of [A-Za-z0-9_-]
	Key []byte // at least 32 bytes
}

// Validate reports whether s can sign and verify: a valid id (see
// ValidSecretID) and a key of at least MinSecretLen bytes.
func (s Secret) Validate() error {
	if !ValidSecretID(s.ID) {
		return errors.New("verifier: signing secret id must be 1-32 characters of [A-Za-z0-9_-]")
	}
	if len(s.Key) < MinSecretLen {
		return fmt.Errorf("verifier: signing secret %q is shorter than %d bytes", s.ID, MinSecretLen)
	}
	return nil
}

// Claims are what a token asserts.
type Claims struct {
	ExpiresAt int64  // unix seconds
	IssuedAt  int64  // unix seconds; also the not-before
	ID        string // URL id: 22 chars, unpadded base64url of 16 random bytes
	KeyID     string // id of the issuing API key; "" when issued by an operator
	SecretID  string // id of the secret that signed
	Prefix    string // "" = the token grants exactly Target.Path; else the granted path prefix
}

// Target is the request a token is bound to.
type Target struct {
	Host     string // Host header / URL authority, any case, maybe with port
	Method   string // "GET" or "HEAD"
	Path     string // decoded path (r.URL.Path)
	RawPath  string // r.URL.RawPath (may be empty); used only for CheckPath
	RawQuery string // the raw query; for Verify it includes the signature parameter, for Sign it must not
}

// NewURLID returns a new random URL id: 16 bytes from crypto/rand as
// unpadded base64url (22 characters).
func NewURLID() (string, error) {
	var b [urlIDRawLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ValidSecretID reports whether id is a valid signing-secret id: 1 to 32
// characters of [A-Za-z0-9_-].
func ValidSecretID(id string) bool {
	if len(id) == 0 || len(id) > maxSecretIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isBase64URL(id[i]) {
			return false
		}
	}
	return true
}

// Sign returns the token for claims c bound to target t (t.RawQuery = the
// other params, without the signature param). c.SecretID is set from s.ID.
//
// c must have 0 < IssuedAt < ExpiresAt, a valid URL id (see NewURLID), a
// KeyID of at most MaxKeyIDLen printable ASCII characters (no space), and a
// Prefix that is empty or a valid scope (see CheckScope) of at most
// MaxPrefixLen bytes covering t.Path. t must be a GET or HEAD request
// (ErrMethodNotAllowed otherwise) with a non-empty host and a path that
// passes CheckPath (ErrAmbiguousPath otherwise), and t.RawQuery must be at
// most MaxSignQueryLen bytes of well-formed percent-encoding. Sign does not
// enforce a maximum lifetime; that is the caller's policy.
func Sign(s Secret, c Claims, t Target) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	c.SecretID = s.ID
	var id [urlIDRawLen]byte
	if !decodeURLID(id[:], c.ID) {
		return "", errors.New("verifier: sign: URL id must be 22 characters of unpadded base64url")
	}
	switch {
	case c.IssuedAt <= 0 || c.ExpiresAt <= c.IssuedAt:
		return "", errors.New("verifier: sign: need 0 < issued_at < expires_at")
	case !validKeyID(c.KeyID):
		return "", errors.New("verifier: sign: key id must be at most 64 printable ASCII characters")
	case len(c.Prefix) > MaxPrefixLen:
		return "", errors.New("verifier: sign: prefix too long")
	case c.Prefix != "" && CheckScope(c.Prefix) != nil:
		return "", errors.New("verifier: sign: prefix is not a clean absolute path")
	}
	if t.Method != "GET" && t.Method != "HEAD" {
		return "", ErrMethodNotAllowed
	}
	switch {
	case len(t.Host) > MaxHostLen || len(appendHost(nil, t.Host)) == 0:
		return "", errors.New("verifier: sign: host missing or too long")
	case len(t.Path) > MaxPathLen || len(t.RawPath) > MaxPathLen:
		return "", errors.New("verifier: sign: path too long")
	case len(t.RawQuery) > MaxSignQueryLen:
		return "", errors.New("verifier: sign: query too long")
	}
	if err := CheckPath(t.Path, t.RawPath); err != nil {
		return "", err
	}
	if c.Prefix != "" && !ScopeCovers(c.Prefix, t.Path) {
		return "", errors.New("verifier: sign: path is not covered by the prefix")
	}

	raw := make([]byte, 0, minPayloadLen+len(c.SecretID)+len(c.KeyID)+3+len(c.Prefix)+tagLen)
	raw = append(raw, tokenVersion, byte(len(c.SecretID)))
	raw = append(raw, c.SecretID...)
	raw = binary.BigEndian.AppendUint64(raw, uint64(c.ExpiresAt))
	raw = binary.BigEndian.AppendUint64(raw, uint64(c.IssuedAt))
	raw = append(raw, id[:]...)
	raw = append(raw, byte(len(c.KeyID)))
	raw = append(raw, c.KeyID...)
	if c.Prefix != "" {
		raw = append(raw, constraintPrefix)
		raw = binary.BigEndian.AppendUint16(raw, uint16(len(c.Prefix)))
		raw = append(raw, c.Prefix...)
	}

	msg := appendMACHead(make([]byte, 0, 256), raw, t.Host)
	if c.Prefix != "" {
		msg = appendField(msg, c.Prefix)
	} else {
		msg = appendField(msg, t.Path)
	}
	msg, _, ok := appendQueryField(msg, t.RawQuery, "", nil)
	if !ok {
		return "", errors.New("verifier: sign: query has an invalid percent-encoding")
	}
	m := hmac.New(sha256.New, s.Key)
	m.Write(msg)
	raw = m.Sum(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	if len(token) > MaxTokenLen {
		return "", errors.New("verifier: sign: token too long")
	}
	return token, nil
}

// AppendToken returns rawQuery with param=token appended (properly escaped),
// for building the URL. The rest of rawQuery is kept byte for byte, so
// StripParam(AppendToken(q, p, tok), p) == q whenever q has no p parameter.
func AppendToken(rawQuery, param, token string) string {
	b := make([]byte, 0, len(rawQuery)+len(param)+len(token)+2)
	b = append(b, rawQuery...)
	if rawQuery != "" {
		b = append(b, '&')
	}
	for i := 0; i < len(param); i++ {
		b = appendEscaped(b, param[i])
	}
	b = append(b, '=')
	for i := 0; i < len(token); i++ {
		b = appendEscaped(b, token[i])
	}
	return string(b)
}

// StripParam returns rawQuery without every occurrence of param (leaving
// the rest byte-for-byte), for forwarding to the origin. A pair is an
// occurrence when its name, percent-decoded, equals param (so "%73ig=…" is
// removed along with "sig=…"), exactly as Verify counts them. The "&"
// separators of the remaining pairs, including empty ones, are kept.
func StripParam(rawQuery, param string) string {
	if _, n := findParam(rawQuery, param); n == 0 {
		return rawQuery
	}
	b := make([]byte, 0, len(rawQuery))
	first := true
	for q := rawQuery; ; {
		pair, rest, more := strings.Cut(q, "&")
		name, _, _ := strings.Cut(pair, "=")
		if !nameIs(name, param) {
			if !first {
				b = append(b, '&')
			}
			b = append(b, pair...)
			first = false
		}
		if !more {
			break
		}
		q = rest
	}
	return string(b)
}

// Verifier checks signed URLs against a ring of signing secrets. Create it
// once and share it: Verify is safe for concurrent use. It caches a pool of
// keyed HMACs per ring entry, so a Verifier must not be copied after first
// use, and its Ring (including the key bytes) must not be modified while
// Verify may run: to rotate secrets while serving, build a new Verifier and
// swap it in. (Assigning a new Ring between calls is detected and rebuilds
// the cache.)
type Verifier struct {
	Ring  []Secret      // the first signs, all verify (rotation)
	Param string        // query parameter name, default "sig" when empty
	Skew  time.Duration // allowed clock skew for not-before

	// state caches keyed HMACs per ring entry; built lazily by Verify.
	state atomic.Pointer[ringState]
}

// Validate reports configuration errors that would make Verify refuse
// every token: an empty ring, an invalid or duplicate secret, a parameter
// name that is not 1–64 unreserved URL characters, or a negative skew.
func (v *Verifier) Validate() error {
	if len(v.Ring) == 0 {
		return errors.New("verifier: no signing secret")
	}
	for i, s := range v.Ring {
		if err := s.Validate(); err != nil {
			return err
		}
		for _, o := range v.Ring[:i] {
			if o.ID == s.ID {
				return fmt.Errorf("verifier: duplicate signing secret id %q", s.ID)
			}
		}
	}
	if v.Param != "" && !validParam(v.Param) {
		return fmt.Errorf("verifier: invalid signature parameter name %q", v.Param)
	}
	if v.Skew < 0 {
		return errors.New("verifier: negative clock skew")
	}
	return nil
}

// Verify finds the token in t.RawQuery (exactly one occurrence of Param,
// else ErrMalformedToken if repeated, ErrNoToken if absent) and checks it.
//
// The order is strict and stops at the first failure: (1) find the
// parameter; (2) cap lengths (ErrMalformedToken); (3) refuse methods other
// than GET and HEAD (ErrMethodNotAllowed); (4) split and decode
// (ErrMalformedToken); (5) pick the secret by the id in the payload
// (unknown: ErrBadSignature); (6) compare the tag in constant time
// (ErrBadSignature); only then (7) read the claims: expiry (ErrExpired, when
// now >= ExpiresAt) and not-before (ErrNotYetValid, when now+Skew <
// IssuedAt); (8) constraints (unknown: ErrMalformedToken); (9) the path
// (CheckPath: ErrAmbiguousPath) and, for a prefix token, that the prefix
// covers it at a segment boundary (ErrBadSignature). It returns the zero
// Claims with every error.
func (v *Verifier) Verify(t Target, now time.Time) (Claims, error) {
	param := v.Param
	if param == "" {
		param = DefaultParam
	}
	if !validParam(param) {
		return Claims{}, ErrMalformedToken
	}
	tok, n := findParam(t.RawQuery, param)
	switch {
	case n == 0:
		return Claims{}, ErrNoToken
	case n > 1:
		return Claims{}, ErrMalformedToken
	}

	// 2. Cap lengths; 3. method class.
	if len(tok) == 0 || len(tok) > MaxTokenLen || len(t.RawQuery) > MaxQueryLen ||
		len(t.Host) > MaxHostLen || len(t.Path) > MaxPathLen || len(t.RawPath) > MaxPathLen {
		return Claims{}, ErrMalformedToken
	}
	if t.Method != "GET" && t.Method != "HEAD" {
		return Claims{}, ErrMethodNotAllowed
	}

	// 4. Split and decode, into a stack buffer.
	var raw [maxRawTokenLen]byte
	nr, ok := decodeBase64URL(raw[:], tok)
	if !ok {
		return Claims{}, ErrMalformedToken
	}
	p, ok := splitToken(raw[:nr])
	if !ok {
		return Claims{}, ErrMalformedToken
	}

	// 5. Pick the secret by id; an unknown id is a bad signature.
	idx := -1
	for i := range v.Ring {
		if v.Ring[i].ID == string(p.secretID) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return Claims{}, ErrBadSignature
	}
	km := v.keyed(idx)
	if !km.valid {
		return Claims{}, ErrBadSignature
	}

	// 6. Compare the tag in constant time.
	ms := km.pool.Get().(*macState)
	buf := appendMACHead(ms.buf[:0], p.signed, t.Host)
	if p.hasPrefix {
		buf = appendField(buf, p.prefix)
	} else {
		buf = appendField(buf, t.Path)
	}
	buf, ms.spans, ok = appendQueryField(buf, t.RawQuery, param, ms.spans)
	ms.buf = buf
	good := false
	if ok {
		ms.mac.Reset()
		ms.mac.Write(buf)
		good = hmac.Equal(ms.mac.Sum(ms.sum[:0]), p.tag)
	}
	km.pool.Put(ms)
	if !good {
		return Claims{}, ErrBadSignature
	}

	// 7. Only now read the claims: times first.
	if p.issuedAt == 0 || p.expiresAt > math.MaxInt64 || p.expiresAt <= p.issuedAt || !validKeyID(p.keyID) {
		return Claims{}, ErrMalformedToken
	}
	if !now.Before(time.Unix(int64(p.expiresAt), 0)) {
		return Claims{}, ErrExpired
	}
	skew := v.Skew
	if skew < 0 {
		skew = 0
	}
	if now.Add(skew).Before(time.Unix(int64(p.issuedAt), 0)) {
		return Claims{}, ErrNotYetValid
	}

	// 8. Constraints: each known type at most once; anything else fails closed.
	var prefix []byte
	hasPrefix := false
	for b := p.constraints; len(b) > 0; {
		typ, l := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		val := b[3 : 3+l]
		b = b[3+l:]
		switch {
		case typ == constraintPrefix && !hasPrefix:
			prefix, hasPrefix = val, true
		default:
			return Claims{}, ErrMalformedToken
		}
	}
	if hasPrefix && (len(prefix) == 0 || len(prefix) > MaxPrefixLen) {
		return Claims{}, ErrMalformedToken
	}

	// One allocation holds the URL id, the key id and the prefix.
	var sb [URLIDLen + MaxKeyIDLen + MaxPrefixLen]byte
	base64.RawURLEncoding.Encode(sb[:URLIDLen], p.urlID)
	k := URLIDLen + copy(sb[URLIDLen:], p.keyID)
	e := k + copy(sb[k:], prefix)
	s := string(sb[:e])
	c := Claims{
		ExpiresAt: int64(p.expiresAt),
		IssuedAt:  int64(p.issuedAt),
		ID:        s[:URLIDLen],
		KeyID:     s[URLIDLen:k],
		SecretID:  v.Ring[idx].ID,
		Prefix:    s[k:e],
	}
	if c.Prefix != "" && CheckScope(c.Prefix) != nil {
		return Claims{}, ErrMalformedToken
	}

	// 9. The path: unambiguous, and granted.
	if err := CheckPath(t.Path, t.RawPath); err != nil {
		return Claims{}, err
	}
	if hasPrefix && !ScopeCovers(c.Prefix, t.Path) {
		return Claims{}, ErrBadSignature
	}
	return c, nil
}

// tokenParts is a token split into its fields, before the tag is checked.
// Nothing in it is trusted until the tag matches.
type tokenParts struct {
	signed      []byte // version || payload: everything the tag follows
	tag         []byte
	secretID    []byte
	expiresAt   uint64
	issuedAt    uint64
	urlID       []byte
	keyID       []byte
	constraints []byte
	prefix      []byte // value of the first prefix constraint
	hasPrefix   bool
}

// splitToken checks the structure of raw (lengths only) and splits it.
// It returns values, not a pointer, so raw can stay on the caller's stack.
func splitToken(raw []byte) (p tokenParts, ok bool) {
	if len(raw) < minPayloadLen+tagLen || raw[0] != tokenVersion {
		return p, false
	}
	p.signed, p.tag = raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	b := p.signed[1:]
	n := int(b[0])
	b = b[1:]
	if n == 0 || n > maxSecretIDLen || len(b) < n+8+8+urlIDRawLen+1 {
		return p, false
	}
	p.secretID, b = b[:n], b[n:]
	p.expiresAt = binary.BigEndian.Uint64(b)
	p.issuedAt = binary.BigEndian.Uint64(b[8:])
	p.urlID, b = b[16:16+urlIDRawLen], b[16+urlIDRawLen:]
	n = int(b[0])
	b = b[1:]
	if n > MaxKeyIDLen || len(b) < n {
		return p, false
	}
	p.keyID, b = b[:n], b[n:]
	p.constraints = b
	for len(b) > 0 {
		if len(b) < 3 {
			return p, false
		}
		typ, l := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		b = b[3:]
		if len(b) < l {
			return p, false
		}
		if typ == constraintPrefix && !p.hasPrefix {
			p.prefix, p.hasPrefix = b[:l], true
		}
		b = b[l:]
	}
	return p, true
}

// ringState holds one keyed HMAC pool per ring entry, built from a
// specific Ring slice.
type ringState struct {
	macs []keyedMAC
}

type keyedMAC struct {
	id    string
	key   []byte // the ring's own slice, to detect a replaced ring
	valid bool
	pool  sync.Pool // of *macState
}

// macState is a keyed HMAC with scratch space, reused through a sync.Pool.
type macState struct {
	mac   hash.Hash
	buf   []byte
	spans []span
	sum   [sha256.Size]byte
}

// keyed returns the HMAC pool for v.Ring[i], (re)building the state when
// the ring is new or was replaced. Concurrent rebuilds are harmless: each
// builds an equivalent state and the last store wins.
func (v *Verifier) keyed(i int) *keyedMAC {
	st := v.state.Load()
	if st == nil || !st.matches(v.Ring, i) {
		st = newRingState(v.Ring)
		v.state.Store(st)
	}
	return &st.macs[i]
}

func (st *ringState) matches(ring []Secret, i int) bool {
	if len(st.macs) != len(ring) {
		return false
	}
	m, s := &st.macs[i], &ring[i]
	return m.id == s.ID && len(m.key) == len(s.Key) && (len(s.Key) == 0 || &m.key[0] == &s.Key[0])
}

func newRingState(ring []Secret) *ringState {
	st := &ringState{macs: make([]keyedMAC, len(ring))}
	for i, s := range ring {
		m := &st.macs[i]
		m.id, m.key, m.valid = s.ID, s.Key, s.Validate() == nil
		if !m.valid {
			continue
		}
		key := bytes.Clone(s.Key)
		m.pool.New = func() any {
			return &macState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 512)}
		}
	}
	return st
}

// appendMACHead appends the MAC input up to the path field: the label,
// the version and payload, the normalised host and the method class.
func appendMACHead(buf, signed []byte, host string) []byte {
	buf = appendField(buf, macLabel)
	buf = appendField(buf, signed)
	at := len(buf)
	buf = append(buf, 0, 0)
	buf = appendHost(buf, host)
	binary.BigEndian.PutUint16(buf[at:], uint16(len(buf)-at-2))
	return appendField(buf, methodClassGET)
}

// appendField appends x with a 2-byte big-endian length prefix. The size
// limits keep every field under 64 KiB.
func appendField[T string | []byte](buf []byte, x T) []byte {
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(x)))
	return append(buf, x...)
}

// appendHost appends host lowercased (ASCII), without a trailing ":80" or
// ":443".
func appendHost(buf []byte, host string) []byte {
	if strings.HasSuffix(host, ":80") {
		host = host[:len(host)-3]
	} else if strings.HasSuffix(host, ":443") {
		host = host[:len(host)-4]
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// span locates one canonical "name=value" pair in the scratch buffer.
type span struct{ start, eq, end int }

// appendQueryField appends the canonical form of rawQuery, without the
// pairs named skip (none when skip is ""), as a length-prefixed field. It
// reports false when rawQuery has an invalid percent-encoding.
func appendQueryField(buf []byte, rawQuery, skip string, spans []span) ([]byte, []span, bool) {
	at := len(buf)
	buf = append(buf, 0, 0)
	base := len(buf)
	spans = spans[:0]
	ok := true
	for q := rawQuery; ; {
		pair, rest, more := strings.Cut(q, "&")
		if pair != "" {
			name, value, _ := strings.Cut(pair, "=")
			if skip == "" || !nameIs(name, skip) {
				start := len(buf)
				if buf, ok = appendCanonical(buf, name); !ok {
					return buf, spans, false
				}
				eq := len(buf)
				buf = append(buf, '=')
				if buf, ok = appendCanonical(buf, value); !ok {
					return buf, spans, false
				}
				spans = append(spans, span{start, eq, len(buf)})
			}
		}
		if !more {
			break
		}
		q = rest
	}
	if len(spans) > 1 {
		slices.SortFunc(spans, func(a, b span) int {
			if c := bytes.Compare(buf[a.start:a.eq], buf[b.start:b.eq]); c != 0 {
				return c
			}
			return bytes.Compare(buf[a.eq+1:a.end], buf[b.eq+1:b.end])
		})
		out := len(buf)
		for i, sp := range spans {
			if i > 0 {
				buf = append(buf, '&')
			}
			buf = append(buf, buf[sp.start:sp.end]...)
		}
		n := copy(buf[base:], buf[out:])
		buf = buf[:base+n]
	}
	binary.BigEndian.PutUint16(buf[at:], uint16(len(buf)-base))
	return buf, spans, true
}

// appendCanonical appends the canonical form of one raw query name or
// value: every %XX escape is decoded, then every byte is written as itself
// if it is unreserved (A-Z a-z 0-9 - . _ ~) and as %XX (uppercase hex)
// otherwise; except that a literal '+' or ';' is kept as is, because
// origins disagree on what they mean (space, separator), so neither is
// equivalent to any escape. It reports false for an invalid escape.
func appendCanonical(buf []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return buf, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return buf, false
			}
			buf = appendEscaped(buf, hi<<4|lo)
			i += 2
		case '+', ';':
			buf = append(buf, c)
		default:
			buf = appendEscaped(buf, c)
		}
	}
	return buf, true
}

// nameIs reports whether the raw query name decodes to param without a
// literal '+' or ';'; for a valid param (unreserved characters only) that
// is exactly "the canonical form of name is param". It does not allocate.
func nameIs(name, param string) bool {
	j := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case '%':
			if i+2 >= len(name) {
				return false
			}
			hi, ok1 := unhex(name[i+1])
			lo, ok2 := unhex(name[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			i += 2
		case '+', ';':
			return false
		}
		if j >= len(param) || param[j] != c {
			return false
		}
		j++
	}
	return j == len(param)
}

// findParam returns the value of the first pair of rawQuery named param
// (see nameIs) and how many there are, counting at most two.
func findParam(rawQuery, param string) (value string, n int) {
	for q := rawQuery; ; {
		pair, rest, more := strings.Cut(q, "&")
		name, val, _ := strings.Cut(pair, "=")
		if nameIs(name, param) {
			if n == 0 {
				value = val
			}
			if n++; n == 2 {
				return value, n
			}
		}
		if !more {
			return value, n
		}
		q = rest
	}
}

const upperHex = "0123456789ABCDEF"

func appendEscaped(buf []byte, c byte) []byte {
	if isUnreserved(c) {
		return append(buf, c)
	}
	return append(buf, '%', upperHex[c>>4], upperHex[c&15])
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isUnreserved(c byte) bool {
	return isBase64URL(c) || c == '.' || c == '~'
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// validParam reports whether param is 1–64 unreserved URL characters.
func validParam(param string) bool {
	if len(param) == 0 || len(param) > maxParamLen {
		return false
	}
	for i := 0; i < len(param); i++ {
		if !isUnreserved(param[i]) {
			return false
		}
	}
	return true
}

// validKeyID reports whether id is at most MaxKeyIDLen printable ASCII
// characters other than space.
func validKeyID[T string | []byte](id T) bool {
	if len(id) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// decodeURLID decodes a 22-character URL id into dst (16 bytes).
func decodeURLID(dst []byte, id string) bool {
	if len(id) != URLIDLen {
		return false
	}
	n, ok := decodeBase64URL(dst, id)
	return ok && n == urlIDRawLen
}
