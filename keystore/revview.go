package keystore

import (
	"encoding/base64"
	"maps"
	"slices"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// revDeltaMax is how many URL revocations the small copy-on-write delta map
// holds before it is folded into the base map. Adding to the delta costs
// O(revDeltaMax); folding costs O(all revoked URLs) once per revDeltaMax
// revocations.
const revDeltaMax = 2048

// revEntry is a key or prefix revocation: URLs issued at or before before
// (unix seconds) are revoked until expires (unix seconds).
type revEntry struct {
	before, expires int64
}

type prefixRev struct {
	prefix string
	revEntry
}

// revView is an immutable snapshot of the revocations; the request path
// reads it through an atomic pointer without locks. URL ids are kept as
// their 16 raw bytes (about 35 bytes per revoked URL in all).
//
// A URL id is in delta, in urls, or in both: a link revoked again with a
// later expiry after its record was folded into urls gets a delta entry
// that shadows the older one (delta always holds the later expiry).
// shadowed counts those ids, so that each record is counted and listed
// once.
type revView struct {
	urls     map[[16]byte]int64 // URL id -> expires (unix s); rebuilt rarely
	delta    map[[16]byte]int64 // recent URL revocations, copied on write
	shadowed int                // ids in both delta and urls
	keys     map[string]revEntry
	prefixes []prefixRev
}

func newRevView() *revView {
	return &revView{urls: map[[16]byte]int64{}, delta: map[[16]byte]int64{}, keys: map[string]revEntry{}}
}

func (v *revView) len() int {
	return len(v.urls) + len(v.delta) - v.shadowed + len(v.keys) + len(v.prefixes)
}

// urlExpiry returns the expiry the view holds for a URL id, if any.
func (v *revView) urlExpiry(id [16]byte) (int64, bool) {
	if exp, ok := v.delta[id]; ok {
		return exp, true
	}
	exp, ok := v.urls[id]
	return exp, ok
}

// revoked says why the claims of a signed URL for path are revoked, or "".
func (v *revView) revoked(c *verifier.Claims, path string, now int64) string {
	if v.len() == 0 {
		return ""
	}
	if len(v.urls)+len(v.delta) > 0 {
		if exp, ok := v.urlExpiry([16]byte(c.ID)); ok && exp > now {
			return "this signed URL was revoked"
		}
	}
	if c.KeyID != "" {
		if e, ok := v.keys[c.KeyID]; ok && e.expires > now && c.IssuedAt <= e.before {
			return "the signed URLs of this key issued before a revocation are revoked"
		}
	}
	for _, p := range v.prefixes {
		if p.expires > now && c.IssuedAt <= p.before && verifier.ScopeCovers(p.prefix, path) {
			return "the signed URLs for this path issued before a revocation are revoked"
		}
	}
	return ""
}

// with returns a new view that also holds r. Records are merged, never
// withdrawn: a later "before" or "expires" wins.
func (v *revView) with(r Revocation, now int64) *revView {
	n := *v
	exp := r.ExpiresAt.Unix()
	switch r.Kind {
	case RevokeURL:
		id, ok := decodeURLID(r.Target)
		if !ok {
			return v
		}
		old, held := v.urlExpiry(id)
		if held && old >= exp {
			return v // already held (the feed and the write-through both deliver each record)
		}
		if len(v.delta) >= revDeltaMax {
			// n.urls is new and not yet published: add to it in place.
			n.urls = foldURLs(v.urls, v.delta, now)
			n.urls[id] = exp
			n.delta, n.shadowed = map[[16]byte]int64{}, 0
			return &n
		}
		n.delta = maps.Clone(v.delta)
		n.delta[id] = exp
		if _, inDelta := v.delta[id]; !inDelta && held {
			n.shadowed++ // the older record in urls is now shadowed
		}
	case RevokeKey:
		n.keys = maps.Clone(v.keys)
		n.keys[r.Target] = mergeEntry(n.keys[r.Target], revEntry{r.Before.Unix(), exp})
	case RevokePrefix:
		n.prefixes = slices.Clone(v.prefixes)
		e := revEntry{r.Before.Unix(), exp}
		if i := slices.IndexFunc(n.prefixes, func(p prefixRev) bool { return p.prefix == r.Target }); i >= 0 {
			n.prefixes[i].revEntry = mergeEntry(n.prefixes[i].revEntry, e)
		} else {
			n.prefixes = append(n.prefixes, prefixRev{r.Target, e})
		}
	}
	return &n
}

// mergeEntry combines two revocations of the same key or prefix. A later
// "before" covers everything an earlier one does; keeping the larger
// expiry is conservative.
func mergeEntry(a, b revEntry) revEntry {
	return revEntry{before: max(a.before, b.before), expires: max(a.expires, b.expires)}
}

func foldURLs(base, delta map[[16]byte]int64, now int64) map[[16]byte]int64 {
	out := make(map[[16]byte]int64, len(base)+len(delta))
	for id, exp := range base {
		if exp > now {
			out[id] = exp
		}
	}
	for id, exp := range delta {
		if exp > now {
			out[id] = max(out[id], exp)
		}
	}
	return out
}

// union returns a fresh view with every unexpired record of v and of
// loaded: a resync never forgets a revocation this instance knows, so a
// store that lost its data cannot bring a revoked link back while the
// instance runs.
func (v *revView) union(loaded []Revocation, now int64) *revView {
	n := &revView{urls: foldURLs(v.urls, v.delta, now), delta: map[[16]byte]int64{}, keys: map[string]revEntry{}}
	for k, e := range v.keys {
		if e.expires > now {
			n.keys[k] = e
		}
	}
	for _, p := range v.prefixes {
		if p.expires > now {
			n.prefixes = append(n.prefixes, p)
		}
	}
	for _, r := range loaded {
		if r.ExpiresAt.Unix() <= now {
			continue
		}
		switch r.Kind {
		case RevokeURL:
			if id, ok := decodeURLID(r.Target); ok {
				n.urls[id] = max(n.urls[id], r.ExpiresAt.Unix())
			}
		default:
			n = n.withInPlace(r)
		}
	}
	return n
}

// withInPlace adds a key or prefix record to a view not yet published.
func (v *revView) withInPlace(r Revocation) *revView {
	e := revEntry{r.Before.Unix(), r.ExpiresAt.Unix()}
	switch r.Kind {
	case RevokeKey:
		v.keys[r.Target] = mergeEntry(v.keys[r.Target], e)
	case RevokePrefix:
		if i := slices.IndexFunc(v.prefixes, func(p prefixRev) bool { return p.prefix == r.Target }); i >= 0 {
			v.prefixes[i].revEntry = mergeEntry(v.prefixes[i].revEntry, e)
		} else {
			v.prefixes = append(v.prefixes, prefixRev{r.Target, e})
		}
	}
	return v
}

// records lists the view's unexpired revocations (for a store that lost
// them, and for tests).
func (v *revView) records(now int64) []Revocation {
	var out []Revocation
	add := func(id [16]byte, exp int64) {
		if exp > now {
			out = append(out, Revocation{Kind: RevokeURL, Target: base64.RawURLEncoding.EncodeToString(id[:]), ExpiresAt: time.Unix(exp, 0).UTC()})
		}
	}
	for id, exp := range v.urls {
		if _, shadowed := v.delta[id]; !shadowed {
			add(id, exp)
		}
	}
	for id, exp := range v.delta {
		add(id, exp)
	}
	for k, e := range v.keys {
		if e.expires > now {
			out = append(out, Revocation{Kind: RevokeKey, Target: k, Before: time.Unix(e.before, 0).UTC(), ExpiresAt: time.Unix(e.expires, 0).UTC()})
		}
	}
	for _, p := range v.prefixes {
		if p.expires > now {
			out = append(out, Revocation{Kind: RevokePrefix, Target: p.prefix, Before: time.Unix(p.before, 0).UTC(), ExpiresAt: time.Unix(p.expires, 0).UTC()})
		}
	}
	return out
}

// decodeURLID is verifier.ParseURLID (strict: one spelling per id) as the
// view's map key.
func decodeURLID(s string) ([16]byte, bool) {
	id, err := verifier.ParseURLID(s)
	return id, err == nil
}
