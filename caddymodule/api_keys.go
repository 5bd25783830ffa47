package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
)

// The key API, the same for both callers: the admin API (/signet/keys…,
// the operator) and the public API ({api}/keys…, an API key). Who may do
// what is package rules; these functions only ask it, touch the store and
// answer.
//
//	POST   …/keys        create a key; the response holds its value, once
//	GET    …/keys        the keys the caller may see (never values)
//	GET    …/keys/{id}   one key
//	PATCH  …/keys/{id}   change name, user, scopes, permissions, expiry
//	DELETE …/keys/{id}   delete (revoke) a key and its links

// apiCall is one call of the key or user API.
type apiCall struct {
	w     http.ResponseWriter
	r     *http.Request
	app   *App
	st    *running
	actor rules.Actor
	api   string // "admin" or "public", for audit lines
}

func (c apiCall) cache() *keystore.Cache { return c.st.backend.cache }

// users looks a user up in the in-process view (the store checks again,
// atomically, when a key is written).
func (c apiCall) users(name string) *keystore.User { return c.cache().User(name) }

// audit writes one audit line naming the actor, never a key value.
func (c apiCall) audit(msg string, fields ...zap.Field) {
	auditLog().Info(msg, append([]zap.Field{zap.String("api", c.api), zap.String("actor", c.actor.ID())}, fields...)...)
}

func (c apiCall) createKey() error {
	var req rules.NewKeyRequest
	if err := decodeJSON(c.w, c.r, &req, maxAdminBody, `{"name": "ci"}`); err != nil {
		return err
	}
	k, token, err := rules.NewKey(c.actor, req, c.users, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	if err := c.cache().CreateKey(ctx, k); err != nil {
		return err
	}
	c.app.countKeyChange("created")
	c.audit("key created", zap.String("key_id", k.ID), zap.String("name", k.Name), zap.String("type", string(k.Type)),
		zap.String("user", k.User), zap.Strings("scopes", k.Scopes), zap.String("permissions", string(k.Permissions)))
	v := viewOf(k, c.cache())
	v.Key = token
	return writeJSON(c.w, http.StatusCreated, v)
}

func (c apiCall) listKeys() error {
	if err := rules.MayListKeys(c.actor); err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	keys, err := c.cache().Store().ListKeys(ctx)
	if err != nil {
		return err
	}
	out := make([]keyView, 0, len(keys))
	for _, k := range keys {
		if rules.ReadKey(c.actor, k) == nil {
			out = append(out, viewOf(k, c.cache()))
		}
	}
	return writeJSON(c.w, http.StatusOK, map[string]any{"keys": out})
}

// key reads key id for the caller: ErrNotFound, or the rule's refusal.
func (c apiCall) key(id string) (*keystore.Key, error) {
	// Callers who may manage no key learn nothing, not even whether the
	// id exists.
	if err := rules.MayListKeys(c.actor); err != nil {
		return nil, err
	}
	if !keystore.ValidKeyID(id) {
		return nil, errNoSuchKey
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	k, err := c.cache().Store().GetKey(ctx, id)
	if err != nil {
		return nil, keyNotFound(err)
	}
	return k, rules.ReadKey(c.actor, k)
}

var errNoSuchKey = &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "no such key", reason: "not_found"}

func keyNotFound(err error) error {
	if errors.Is(err, keystore.ErrNotFound) {
		return errNoSuchKey
	}
	return err
}

func (c apiCall) getKey(id string) error {
	k, err := c.key(id)
	if err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, viewOf(k, c.cache()))
}

func (c apiCall) updateKey(id string) error {
	var req rules.KeyUpdate
	if err := decodeJSON(c.w, c.r, &req, maxAdminBody, `{"permissions": "none"}`); err != nil {
		return err
	}
	fn, err := rules.UpdateKey(c.actor, req, c.users, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	k, err := c.cache().UpdateKey(ctx, id, fn)
	if err != nil {
		return keyNotFound(err)
	}
	c.app.countKeyChange("updated")
	c.audit("key updated", zap.String("key_id", k.ID), zap.String("name", k.Name), zap.String("user", k.User),
		zap.Strings("scopes", k.Scopes), zap.String("permissions", string(k.Permissions)))
	return writeJSON(c.w, http.StatusOK, viewOf(k, c.cache()))
}

func (c apiCall) deleteKey(id string) error {
	k, err := c.key(id)
	if err == nil {
		err = rules.DeleteKey(c.actor, k)
	}
	if err != nil {
		return err
	}
	ctx, cancel := storeContext(c.r)
	defer cancel()
	if k, err = c.cache().DeleteKey(ctx, id); err != nil {
		return keyNotFound(err)
	}
	c.app.countKeyChange("deleted")
	c.audit("key deleted", zap.String("key_id", k.ID), zap.String("name", k.Name), zap.String("user", k.User))
	return writeJSON(c.w, http.StatusOK, map[string]any{"deleted": viewOf(k, c.cache())})
}

// keysAPI is the key API as a resource (see resource.serve).
func (c apiCall) keysAPI() resource {
	return resource{create: c.createKey, list: c.listKeys, get: c.getKey, update: c.updateKey, remove: c.deleteKey}
}

// resource is one family of the key and user APIs: a collection (…/keys)
// and its items (…/keys/{id}).
type resource struct {
	create, list        func() error
	get, update, remove func(id string) error
	// item, if set, checks an item request once its method is known to be
	// one of itemMethods, before the method runs.
	item func(id string) error
}

// The methods of a collection and of its items.
var (
	collectionMethods = []string{http.MethodGet, http.MethodPost}
	itemMethods       = []string{http.MethodGet, http.MethodPatch, http.MethodDelete}
)

// serve routes r: collection is true for the collection, else id names
// the item.
func (res resource) serve(r *http.Request, collection bool, id string) error {
	if collection {
		switch {
		case r.Method == http.MethodPost && res.create != nil:
			return res.create()
		case r.Method == http.MethodGet:
			return res.list()
		case res.create == nil:
			return methodNotAllowed(http.MethodGet)
		}
		return methodNotAllowed(strings.Join(collectionMethods, ", "))
	}
	if !slices.Contains(itemMethods, r.Method) {
		return methodNotAllowed(strings.Join(itemMethods, ", "))
	}
	if res.item != nil {
		if err := res.item(id); err != nil {
			return err
		}
	}
	switch r.Method {
	case http.MethodGet:
		return res.get(id)
	case http.MethodPatch:
		return res.update(id)
	}
	return res.remove(id)
}

func storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), storeTimeout)
}
