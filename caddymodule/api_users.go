package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
)

// The user API, the same for both callers (see api_keys.go), for site
// administrators only:
//
//	POST   …/users          create a user
//	GET    …/users          list users
//	GET    …/users/{name}   one user
//	PATCH  …/users/{name}   change scopes, permissions, self_service
//	DELETE …/users/{name}   delete a user and all its keys (and their links)
//
// A change applies to every key of the user, and every link those keys
// issued, on the next request on every instance.

// userView is how users appear in API responses.
type userView struct {
	Name        string    `json:"name"`
	Scopes      []string  `json:"scopes"`
	Permissions string    `json:"permissions"`
	SelfService bool      `json:"self_service"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewOfUser(u *keystore.User) userView {
	v := userView{Name: u.Name, Scopes: u.Scopes, Permissions: string(u.Permissions), SelfService: u.SelfService,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	return v
}

func (c apiCall) auditUser(msg string, u *keystore.User) {
	c.audit(msg, zap.String("user", u.Name), zap.Strings("scopes", u.Scopes),
		zap.String("permissions", string(u.Permissions)), zap.Bool("self_service", u.SelfService))
}

func (c apiCall) createUser() error {
	var req rules.UserRequest
	if err := decodeJSON(c.w, c.r, &req, maxAdminBody, `{"name": "alice", "scopes": ["/alice/"]}`); err != nil {
		return err
	}
	u, err := rules.NewUser(c.actor, req, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	if err := c.cache().CreateUser(ctx, u); err != nil {
		return err
	}
	c.app.countUserChange("created")
	c.auditUser("user created", u)
	return writeJSON(c.w, http.StatusCreated, viewOfUser(u))
}

func (c apiCall) listUsers() error {
	if err := rules.ReadUsers(c.actor); err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	users, err := c.cache().Store().ListUsers(ctx)
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, viewOfUser(u))
	}
	return writeJSON(c.w, http.StatusOK, map[string]any{"users": out})
}

func (c apiCall) getUser(name string) error {
	if err := rules.ReadUsers(c.actor); err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	u, err := c.cache().Store().GetUser(ctx, name)
	if err != nil {
		return userNotFound(err)
	}
	return writeJSON(c.w, http.StatusOK, viewOfUser(u))
}

func (c apiCall) updateUser(name string) error {
	var req rules.UserUpdate
	if err := decodeJSON(c.w, c.r, &req, maxAdminBody, `{"permissions": "none"}`); err != nil {
		return err
	}
	fn, err := rules.UpdateUser(c.actor, req, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	u, err := c.cache().UpdateUser(ctx, name, fn)
	if err != nil {
		return userNotFound(err)
	}
	c.app.countUserChange("updated")
	c.auditUser("user updated", u)
	return writeJSON(c.w, http.StatusOK, viewOfUser(u))
}

func (c apiCall) deleteUser(name string) error {
	if err := rules.DeleteUser(c.actor); err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	u, keys, err := c.cache().DeleteUser(ctx, name)
	if err != nil {
		return userNotFound(err)
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	c.app.countUserChange("deleted")
	c.audit("user deleted", zap.String("user", u.Name), zap.Strings("deleted_keys", ids))
	return writeJSON(c.w, http.StatusOK, map[string]any{"deleted": viewOfUser(u), "deleted_keys": ids})
}

// usersAPI is the user API as a resource (see resource.serve).
func (c apiCall) usersAPI() resource {
	return resource{create: c.createUser, list: c.listUsers, get: c.getUser, update: c.updateUser, remove: c.deleteUser,
		item: func(name string) error {
			// Before anything that could tell whether the user exists.
			if err := rules.ReadUsers(c.actor); err != nil {
				return err
			}
			if !keystore.ValidUserName(name) {
				return errNoSuchUser
			}
			return nil
		}}
}

func userNotFound(err error) error {
	if errors.Is(err, keystore.ErrNotFound) || errors.Is(err, keystore.ErrNoSuchUser) {
		return errNoSuchUser
	}
	return err
}

var errNoSuchUser = &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "no such user", reason: "not_found"}
