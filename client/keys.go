package client

import (
	"context"
	"net/http"
)

// The key API ({api}/keys): a site administrator's key manages every key;
// with self-service, a user's secret key manages the keys of its own user,
// never wider than itself.

// ListKeys returns the keys the client's key may see
// (GET {api}/keys), ordered by creation time.
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	if err := c.do(ctx, http.MethodGet, "/keys", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// GetKey returns one key (GET {api}/keys/{id}).
func (c *Client) GetKey(ctx context.Context, id string) (*Key, error) {
	var out Key
	if err := c.do(ctx, http.MethodGet, "/keys/"+escapeSegment(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateKey creates a key (POST {api}/keys) and returns it with its
// value, which is never shown again.
func (c *Client) CreateKey(ctx context.Context, k NewKey) (*CreatedKey, error) {
	var out CreatedKey
	if err := c.do(ctx, http.MethodPost, "/keys", nil, k, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateKey changes the fields of a key that u sets
// (PATCH {api}/keys/{id}) and returns the key as it now is.
func (c *Client) UpdateKey(ctx context.Context, id string, u KeyUpdate) (*Key, error) {
	var out Key
	if err := c.do(ctx, http.MethodPatch, "/keys/"+escapeSegment(id), nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteKey deletes a key (DELETE {api}/keys/{id}), which ends it and
// every link it issued, and returns the deleted key.
func (c *Client) DeleteKey(ctx context.Context, id string) (*Key, error) {
	var out struct {
		Deleted Key `json:"deleted"`
	}
	if err := c.do(ctx, http.MethodDelete, "/keys/"+escapeSegment(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.Deleted, nil
}
