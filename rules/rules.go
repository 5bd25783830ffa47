// Package rules decides who may do what in Signet: which keys may be
// created or changed, who may sign a link for a path and for how long, who
// may revoke what, and whether the key that issued a link still vouches for
// it. It has no Caddy and no HTTP in it, so the admin API, the public API
// and the CLI (through the admin API) all ask the same questions of the same
// code, and table tests cover every rule.
//
// Errors are *FieldError (the request is malformed: a 400 naming the field)
// or *DeniedError (the caller may not do this: a 403). Anything else is a
// backend failure.
package rules

import (
	"fmt"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// Actor is who asks: the site operator (Caddy's admin endpoint, and so the
// CLI) or the holder of an API key, with the key's user record.
type Actor struct {
	// Key is the caller's key; nil for the operator.
	Key *keystore.Key
	// User is the record of Key's user; nil for site-wide keys (and for a
	// user key whose user record is missing, which may do nothing).
	User *keystore.User
	// SiteSelfService is the site setting `self_service`: every user may
	// manage its own keys (otherwise only users with SelfService set).
	SiteSelfService bool
}

// Operator is the site operator, who may do everything.
var Operator = Actor{}

// KeyActor is the holder of key k, whose user record is u.
func KeyActor(k *keystore.Key, u *keystore.User, siteSelfService bool) Actor {
	return Actor{Key: k, User: u, SiteSelfService: siteSelfService}
}

// IsOperator reports whether a is the operator.
func (a Actor) IsOperator() bool { return a.Key == nil }

// ID names the actor in audit lines: "admin" for the operator, else the key
// id. Never a key value.
func (a Actor) ID() string {
	if a.Key == nil {
		return "admin"
	}
	return a.Key.ID
}

// Access is what the actor may do.
func (a Actor) Access() Access {
	if a.Key == nil {
		return Access{Scopes: []string{"/"}, Perm: verifier.PermAdmin}
	}
	return Effective(a.Key, a.User)
}

// IsAdmin reports whether a is a site administrator, who may do
// everything: the operator, or a secret key whose access (its own, and
// its user's) is admin over the whole site (scope /). An admin key scoped
// to a folder is not one: it could otherwise create a key for / and so
// more access than it has.
func (a Actor) IsAdmin() bool {
	if a.Key == nil {
		return true
	}
	acc := a.Access()
	return a.Key.Type == verifier.KeySecret && acc.Perm.Allows(verifier.PermAdmin) && acc.Covers("/")
}

// FieldError is a malformed request: Field names the request field at
// fault (or "body").
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// BadField returns a *FieldError for field.
func BadField(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// DeniedError is a refusal: the caller is known but may not do this.
// Reason is a short label for logs and metrics (bounded set); Msg is shown
// to the caller.
type DeniedError struct {
	Reason, Msg string
}

func (e *DeniedError) Error() string { return e.Msg }

func deny(reason, msg string) error { return &DeniedError{Reason: reason, Msg: msg} }
