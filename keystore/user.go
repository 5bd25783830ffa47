package keystore

// STUB: replaced by the users-store branch (same contract).

import (
	"errors"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

type User struct {
	Name        string              `json:"name"`
	Scopes      []string            `json:"scopes"`
	Permissions verifier.Permission `json:"permissions"`
	SelfService bool                `json:"self_service"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	Rev         uint64              `json:"rev"`
}

func (u *User) Clone() *User { c := *u; c.Scopes = append([]string(nil), u.Scopes...); return &c }

func ValidUserName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

var ErrNoSuchUser = errors.New("no such user")
