package client

import (
	"context"
	"net/http"
)

// The users API ({api}/users): site administrators only.

// ListUsers returns every user (GET {api}/users), ordered by name.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var out struct {
		Users []User `json:"users"`
	}
	if err := c.do(ctx, http.MethodGet, "/users", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

// GetUser returns one user (GET {api}/users/{name}).
func (c *Client) GetUser(ctx context.Context, name string) (*User, error) {
	var out User
	if err := c.do(ctx, http.MethodGet, "/users/"+escapeSegment(name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateUser creates a user (POST {api}/users).
func (c *Client) CreateUser(ctx context.Context, u NewUser) (*User, error) {
	var out User
	if err := c.do(ctx, http.MethodPost, "/users", nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateUser changes the fields of a user that u sets
// (PATCH {api}/users/{name}); every key of the user follows.
func (c *Client) UpdateUser(ctx context.Context, name string, u UserUpdate) (*User, error) {
	var out User
	if err := c.do(ctx, http.MethodPatch, "/users/"+escapeSegment(name), nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUser deletes a user and every key of the user
// (DELETE {api}/users/{name}).
func (c *Client) DeleteUser(ctx context.Context, name string) (*DeletedUser, error) {
	var out DeletedUser
	if err := c.do(ctx, http.MethodDelete, "/users/"+escapeSegment(name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
