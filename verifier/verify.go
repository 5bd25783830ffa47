package verifier

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync/atomic"
	"time"
)

// Verifier checks and signs URLs with a ring of signing secrets. Build it
// once with NewVerifier and share it: it is immutable and safe for
// concurrent use. To change secrets while serving, build a new Verifier and
// swap it in.
type Verifier struct {
	ring   ring // the first signs, all verify (rotation)
	param  string
	skew   time.Duration
	expiry func(id URLID, signed int64) int64 // nil: the token's own expiry
	keys   func(id KeyRef) *OfflineKey        // nil: key-signed tokens are refused
	names  names
	types  names // content types that passed CheckContentType, and only those (the check allocates)
}

// Option configures a Verifier (see NewVerifier).
type Option struct{ apply func(*Verifier) }

// WithExpiry makes f decide the expiry in force of every token whose tag
// matched: Verify and VerifyToken call f(id, signed) with the link's id and
// the token's own expiry (unix seconds), at most once per call, and check
// ErrExpired against what it returns, a later or an earlier unix time (or
// signed itself, for links whose expiry has not moved); an expiry at or
// before the token's issued_at has passed, whatever the clock skew. This
// lets a server extend or shorten links after issue without changing their
// URL. f is on the request path: it must be fast, must not block, and must
// be safe for concurrent use. A nil f sets no hook.
func WithExpiry(f func(id URLID, signed int64) int64) Option {
	return Option{func(v *Verifier) { v.expiry = f }}
}

// NewVerifier returns a Verifier for ring (the first secret signs, all
// verify; at least one, each valid, ids unique), the query parameter param
// that carries tokens (1–64 characters of A-Z a-z 0-9 - . _ ~; DefaultParam
// when empty), and the clock skew allowed for not-before (not negative),
// with opts applied in order (WithExpiry). It copies the keys and prepares
// their HMACs.
func NewVerifier(ring []Secret, param string, skew time.Duration, opts ...Option) (*Verifier, error) {
	if param == "" {
		param = DefaultParam
	}
	if !ValidParam(param) {
		return nil, fmt.Errorf("invalid signature parameter name %q", param)
	}
	if skew < 0 {
		return nil, errors.New("negative clock skew")
	}
	r, err := newRing(ring)
	if err != nil {
		return nil, err
	}
	v := &Verifier{ring: r, param: param, skew: skew}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(v)
		}
	}
	v.names.seed = maphash.MakeSeed()
	v.types.seed = maphash.MakeSeed()
	return v, nil
}

// Param returns the query parameter that carries tokens.
func (v *Verifier) Param() string { return v.param }

// Verify finds the token in t.RawQuery (exactly one occurrence of Param,
// else ErrMalformedToken if repeated, ErrNoToken if absent) and checks it.
//
// The order is strict and stops at the first failure: (1) find the
// parameter; (2) cap lengths (ErrMalformedToken); (3) refuse methods other
// than GET and HEAD (ErrMethodNotAllowed); (4) split and decode
// (ErrMalformedToken); (5) pick the secret by the id in the payload
// (unknown: ErrBadSignature); (6) compare the tag in constant time
// (ErrBadSignature); only then (7) read the claims: expiry (ErrExpired, when
// now >= the expiry in force: the token's, or what the WithExpiry hook
// returns for it) and not-before (ErrNotYetValid, when now+skew <
// IssuedAt); (8) constraints, the prefix and the policy (unknown types,
// types out of order or repeated, malformed values: ErrMalformedToken);
// (9) the path (CheckPath: ErrAmbiguousPath) and, for a prefix token, that
// the prefix covers it at a segment boundary (ErrBadSignature). It returns
// the zero Claims with every error, and does not allocate (once the key
// ids, prefixes, download names and content types it has seen are
// interned).
//
// The policy is returned in Claims.Policy, not enforced: applying it to
// the response, counting uses and checking the client address are the
// caller's.
func (v *Verifier) Verify(t Target, now time.Time) (Claims, error) {
	// 1. Find the parameter.
	tok, n, others := findParam(t.RawQuery, v.param)
	switch {
	case n == 0:
		return Claims{}, ErrNoToken
	case n > 1:
		return Claims{}, ErrMalformedToken
	}
	if !others {
		// A query holding only the token has the empty canonical form: no
		// need to scan it again.
		t.RawQuery = ""
	}
	return v.verify(tok, t, now, false)
}

// VerifyToken checks tok, a folder token presented outside the query (in
// the path of a path_url, or in a cookie), for the request t. Only a
// folder token (one with a prefix constraint) can be presented this way:
// any other is refused with ErrNotFolderToken before any crypto. A folder
// token binds no query, so t.RawQuery only counts against the size limit.
// The checks and errors are otherwise Verify's, from step 2 on.
func (v *Verifier) VerifyToken(tok string, t Target, now time.Time) (Claims, error) {
	return v.verify(tok, t, now, true)
}

// verify checks tok for t from step 2 of Verify on. t.RawQuery is the
// query the tag covers (for an exact token); folderOnly refuses tokens
// without a prefix.
func (v *Verifier) verify(tok string, t Target, now time.Time, folderOnly bool) (Claims, error) {
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
	if folderOnly && !p.hasPrefix {
		return Claims{}, ErrNotFolderToken
	}

	// 5. Pick the secret by id (a key-signed token's is its key's); an
	// unknown id is a bad signature.
	rs, offline := v.secretFor(&p)
	if rs == nil {
		return Claims{}, ErrBadSignature
	}

	// 6. Compare the tag in constant time. A folder token is bound to its
	// prefix and to no query (so relative links and any query work under
	// it, as under a key's scope); an exact token to the path and query.
	ms := rs.get()
	if p.hasPrefix {
		ms.buf, ms.spans, ok = appendMACInput(ms.buf[:0], p.signed, t.Host, p.prefix, "", v.param, ms.spans)
	} else {
		ms.buf, ms.spans, ok = appendMACInput(ms.buf[:0], p.signed, t.Host, t.Path, t.RawQuery, v.param, ms.spans)
	}
	good := ok && hmac.Equal(ms.tag(), p.tag)
	rs.put(ms)
	if !good {
		return Claims{}, ErrBadSignature
	}

	// 7. Only now read the claims: times first.
	if p.issuedAt == 0 || p.expiresAt > math.MaxInt64 || p.expiresAt <= p.issuedAt || !validKeyID(p.keyID) {
		return Claims{}, ErrMalformedToken
	}
	id, signedExp := URLID(p.urlID), int64(p.expiresAt)
	exp := signedExp
	if v.expiry != nil {
		exp = v.expiry(id, signedExp)
	}
	if now.Unix() >= exp || exp <= int64(p.issuedAt) {
		return Claims{}, ErrExpired // a link cut back to its issue has expired, whatever the skew
	}
	if now.Add(v.skew).Unix() < int64(p.issuedAt) {
		return Claims{}, ErrNotYetValid
	}

	// 8. Constraints: known types in ascending order, each at most once,
	// with well-formed values; anything else fails closed.
	cs, cidr, ok := parseConstraints(p.constraints)
	if !ok {
		return Claims{}, ErrMalformedToken
	}
	c := Claims{
		ExpiresAt:       exp,
		SignedExpiresAt: signedExp,
		IssuedAt:        int64(p.issuedAt),
		ID:              id,
		KeyID:           v.names.get(p.keyID),
		SecretID:        rs.id,
		Offline:         offline,
		Prefix:          v.names.get(cs.prefix),
		Policy: Policy{
			DownloadName: v.names.get(cs.name),
			Inline:       cs.inline,
			MaxUses:      cs.maxUses,
			ClientCIDR:   cidr,
		},
	}
	if c.Prefix != "" && CheckScope(c.Prefix) != nil ||
		c.Policy.DownloadName != "" && CheckDownloadName(c.Policy.DownloadName) != nil {
		return Claims{}, ErrMalformedToken
	}
	if len(cs.contentType) > 0 {
		if c.Policy.ContentType, ok = v.types.getChecked(cs.contentType, validContentType); !ok {
			return Claims{}, ErrMalformedToken
		}
	}

	// 9. The path: unambiguous, and granted.
	if err := CheckPath(t.Path, t.RawPath); err != nil {
		return Claims{}, err
	}
	if cs.hasPrefix && !ScopeCovers(c.Prefix, t.Path) {
		return Claims{}, ErrBadSignature
	}
	return c, nil
}

// names interns the key ids, prefixes and download names of verified
// tokens (and, in a table of their own, content types), so that Verify
// returns them without allocating. Only tokens whose tag matched add to
// it, so it holds names that a secret holder issued, which are few.
// It is a fixed open-addressing table that readers and writers share
// without a lock: a name goes into the first empty slot of its probe
// window, and when the window is full Verify allocates the name instead.
type names struct {
	seed  maphash.Seed
	slots [nameSlots]atomic.Pointer[string]
}

const (
	nameSlots  = 4096 // a power of two: the most names a Verifier keeps
	nameProbes = 8
)

// get returns b as a string, interned when there is room.
func (t *names) get(b []byte) string {
	s, _ := t.getChecked(b, nil)
	return s
}

// getChecked is get for a table that only holds names that passed valid
// (nil: any name): a name found needs no check, one not found is checked
// before it is interned. It returns "" and false for a name valid refuses.
func (t *names) getChecked(b []byte, valid func(string) bool) (string, bool) {
	if len(b) == 0 {
		return "", valid == nil || valid("")
	}
	h := maphash.Bytes(t.seed, b)
	for i := range uint64(nameProbes) {
		slot := &t.slots[(h+i)&(nameSlots-1)]
		p := slot.Load()
		if p == nil {
			s := string(b)
			if valid != nil && !valid(s) {
				return "", false
			}
			if slot.CompareAndSwap(nil, &s) {
				return s, true
			}
			p = slot.Load() // filled meanwhile
		}
		if *p == string(b) {
			return *p, true
		}
	}
	s := string(b)
	if valid != nil && !valid(s) {
		return "", false
	}
	return s, true
}

// validContentType is CheckContentType as a predicate, for getChecked.
func validContentType(s string) bool { return CheckContentType(s) == nil }
