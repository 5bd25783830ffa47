package caddymodule

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// The links API, the same for both callers (see api_keys.go): the ledger of
// the links Signet issued, until they expire.
//
//	GET    …/links              the links the caller may see, newest first
//	                            (?path=, ?key_id=, ?user=, ?active=, ?limit=, ?cursor=)
//	GET    …/links/{id}         one link
//	PATCH  …/links/{id}         move its expiry: {"expires_at": …} or {"expires_in": …}
//	DELETE …/links/{id}         revoke it
//	POST   …/links/revoke       revoke every link matching a filter
//
// A link's URL is never stored (the ledger would otherwise hold working
// links), so it cannot be shown again.

// linkView is how links appear in API responses.
type linkView struct {
	ID        string              `json:"id"`
	Path      string              `json:"path"`
	Folder    bool                `json:"folder"`
	KeyID     string              `json:"key_id"`
	User      string              `json:"user"`
	CreatedAt time.Time           `json:"created_at"`
	ExpiresAt time.Time           `json:"expires_at"`
	Policy    keystore.LinkPolicy `json:"policy"`
	Uses      int64               `json:"uses"`
	LastUsed  *time.Time          `json:"last_used"`
	Revoked   bool                `json:"revoked"`
	Active    bool                `json:"active"`
}

func (c apiCall) viewOfLink(l *keystore.Link, now time.Time) linkView {
	v := linkView{ID: l.ID, Path: l.Path, Folder: l.Folder, KeyID: l.KeyID, User: l.User, CreatedAt: l.CreatedAt,
		ExpiresAt: l.ExpiresAt, Policy: l.Policy, Uses: l.Uses, LastUsed: l.LastUsed}
	v.Revoked = c.linkRevoked(l, now)
	// In force as the request path decides: not revoked, the issuing key
	// still vouching for all it grants, not expired, uses left.
	v.Active = !v.Revoked && now.Before(l.ExpiresAt) && (l.Policy.MaxUses == 0 || l.Uses < l.Policy.MaxUses)
	if v.Active && l.KeyID != "" {
		_, why := vouching(c.cache(), l.KeyID, l.Path, now)
		v.Active = why == ""
	}
	return v
}

// linkRevoked reports whether a revocation (by id, key or prefix) covers l.
func (c apiCall) linkRevoked(l *keystore.Link, now time.Time) bool {
	id, err := verifier.ParseURLID(l.ID)
	if err != nil {
		return false
	}
	cl := verifier.Claims{ID: id, KeyID: l.KeyID, IssuedAt: l.CreatedAt.Unix(), ExpiresAt: l.ExpiresAt.Unix()}
	if l.Folder {
		cl.Prefix = l.Path
	}
	return c.cache().Revoked(&cl, l.Path, now) != ""
}

// linksAPI is the links API as a resource: no create (links are made by
// signing), and revoke on the collection.
func (c apiCall) linksAPI() resource {
	return resource{list: c.listLinks, get: c.getLink, update: c.patchLink, remove: c.revokeLink}
}

var errNoSuchLink = &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "no such link (or it has expired)", reason: "not_found"}

func (c apiCall) listLinks() error {
	q := c.r.URL.Query()
	f, err := rules.LinkFilter(c.actor, keystore.LinkFilter{PathPrefix: q.Get("path"), KeyID: q.Get("key_id"), User: q.Get("user")})
	if err != nil {
		return err
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			return rules.BadField("limit", "must be a whole number from 1 to 1000")
		}
	}
	var active *bool
	switch s := q.Get("active"); s {
	case "":
	case "true", "false":
		b := s == "true"
		active = &b
	default:
		return rules.BadField("active", "must be true or false")
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	now := time.Now()
	cursor := q.Get("cursor")
	out := make([]linkView, 0, limit)
	// The active filter is applied here (revocations live in the view), so
	// read pages until the page is full or the ledger is done.
	for {
		links, next, err := c.cache().ListLinks(ctx, f, cursor, limit-len(out), now)
		if err != nil {
			if errors.Is(err, keystore.ErrInvalid) {
				return rules.BadField("cursor", "not a cursor this API returned")
			}
			return err
		}
		for _, l := range links {
			v := c.viewOfLink(l, now)
			if active == nil || v.Active == *active {
				out = append(out, v)
			}
		}
		cursor = next
		if next == "" || len(out) >= limit {
			break
		}
	}
	return writeJSON(c.w, http.StatusOK, map[string]any{"links": out, "next": cursor})
}

// link reads link id for the caller: 404, or the rule's refusal.
func (c apiCall) link(id string) (*keystore.Link, error) {
	if err := rules.MayListLinks(c.actor); err != nil {
		return nil, err
	}
	if _, err := verifier.ParseURLID(id); err != nil {
		return nil, errNoSuchLink
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	l, err := c.cache().GetLink(ctx, id, time.Now())
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, errNoSuchLink
	}
	if err != nil {
		return nil, err
	}
	return l, rules.SeeLink(c.actor, l)
}

func (c apiCall) getLink(id string) error {
	l, err := c.link(id)
	if err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, c.viewOfLink(l, time.Now()))
}

func (c apiCall) patchLink(id string) error {
	var req rules.LinkPatch
	if err := decodeJSON(c.w, c.r, &req, maxPublicBody, `{"expires_in": 172800}`); err != nil {
		return err
	}
	l, err := c.link(id)
	if err != nil {
		return err
	}
	var issuer *keystore.Key
	if l.KeyID != "" {
		if e := c.cache().ByID(l.KeyID); e != nil {
			issuer = e.Key
		}
	}
	now := time.Now()
	exp, err := rules.MoveExpiry(c.actor, l, issuer, req, time.Duration(c.app.MaxLifetime), now)
	if err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	if l, err = c.cache().SetLinkExpiry(ctx, id, exp, now); err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return errNoSuchLink
		}
		return err
	}
	c.audit("link expiry moved", zap.String("url_id", l.ID), zap.Time("expires_at", l.ExpiresAt))
	return writeJSON(c.w, http.StatusOK, c.viewOfLink(l, now))
}

func (c apiCall) revokeLink(id string) error {
	l, err := c.link(id)
	if err != nil {
		return err
	}
	now := time.Now()
	if _, err := c.app.revoke(c.r.Context(), c.st, linkRevocation(l, now), c.api, c.actor); err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, c.viewOfLink(l, now))
}

// linkRevocation revokes l by id for as long as it could live.
func linkRevocation(l *keystore.Link, now time.Time) *keystore.Revocation {
	until := l.CreatedAt.Add(rules.LinkLongest)
	if until.Before(now) {
		until = now.Add(time.Minute)
	}
	return &keystore.Revocation{Kind: keystore.RevokeURL, Target: l.ID, ExpiresAt: until.UTC().Truncate(time.Second)}
}

// bulkRevoke is POST …/links/revoke.
func (c apiCall) bulkRevoke() error {
	var req rules.BulkRevoke
	if err := decodeJSON(c.w, c.r, &req, maxPublicBody, `{"path": "/reports/"}`); err != nil {
		return err
	}
	f, err := req.Filter(c.actor)
	if err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	now := time.Now()
	n := 0
	for cursor := ""; ; {
		links, next, err := c.cache().ListLinks(ctx, f, cursor, 1000, now)
		if err != nil {
			return err
		}
		for _, l := range links {
			if c.linkRevoked(l, now) {
				continue // counted once, when it was revoked
			}
			if _, err := c.app.revoke(ctx, c.st, linkRevocation(l, now), c.api, c.actor); err != nil {
				return err
			}
			n++
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	return writeJSON(c.w, http.StatusOK, map[string]any{"revoked": n})
}
