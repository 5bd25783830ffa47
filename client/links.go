package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// The links API ({api}/links): the links in the server's ledger that the
// client's key may see (its own, its user's, or every link for a site
// administrator). Links signed offline are not in the ledger until their
// first use with max uses, and are otherwise revoked with Revoke.

// ListLinks returns one page of the links that f selects
// (GET {api}/links), newest first. Pass the page's Next as f.Cursor for
// the next one, or use AllLinks.
func (c *Client) ListLinks(ctx context.Context, f LinkFilter) (*LinkPage, error) {
	q := url.Values{}
	if f.Path != "" {
		q.Set("path", f.Path)
	}
	if f.KeyID != "" {
		q.Set("key_id", f.KeyID)
	}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Active != nil {
		q.Set("active", strconv.FormatBool(*f.Active))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Cursor != "" {
		q.Set("cursor", f.Cursor)
	}
	var out LinkPage
	if err := c.do(ctx, http.MethodGet, "/links", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllLinks iterates over every link that f selects, from f.Cursor on,
// page by page (of f.Limit links). It stops at the first error, which it
// yields with a zero Link:
//
//	for l, err := range c.AllLinks(ctx, client.LinkFilter{Path: "/reports/"}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(l.ID, l.Path, l.ExpiresAt)
//	}
func (c *Client) AllLinks(ctx context.Context, f LinkFilter) iter.Seq2[Link, error] {
	return func(yield func(Link, error) bool) {
		for {
			page, err := c.ListLinks(ctx, f)
			if err != nil {
				yield(Link{}, err)
				return
			}
			for _, l := range page.Links {
				if !yield(l, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			f.Cursor = page.Next
		}
	}
}

// GetLink returns one link (GET {api}/links/{id}); a link that expired
// (or was ended by UpdateLink) is ErrNotFound.
func (c *Client) GetLink(ctx context.Context, id string) (*Link, error) {
	var out Link
	if err := c.do(ctx, http.MethodGet, "/links/"+escapeSegment(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateLink moves a link's expiry, later (extend) or earlier (shorten),
// without changing its URL (PATCH {api}/links/{id}), and returns the link
// as it now is.
func (c *Client) UpdateLink(ctx context.Context, id string, u LinkUpdate) (*Link, error) {
	var out Link
	if err := c.do(ctx, http.MethodPatch, "/links/"+escapeSegment(id), nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteLink revokes a link by its id (DELETE {api}/links/{id}) and
// returns it, revoked.
func (c *Client) DeleteLink(ctx context.Context, id string) (*Link, error) {
	var out Link
	if err := c.do(ctx, http.MethodDelete, "/links/"+escapeSegment(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeLinks revokes every unexpired link in the ledger that s selects
// and the client's key may see (POST {api}/links/revoke), and returns how
// many it revoked; links revoked already are not counted again.
func (c *Client) RevokeLinks(ctx context.Context, s LinkSelection) (int, error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	if err := c.do(ctx, http.MethodPost, "/links/revoke", nil, s, &out); err != nil {
		return 0, err
	}
	return out.Revoked, nil
}
