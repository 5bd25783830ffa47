package caddymodule

import (
	"context"

	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
)

const revokeExample = `{"url": "https://files.example.com/a.pdf?sig=…"}`

// revokeResponse answers a revocation.
type revokeResponse struct {
	// Revocation is the record now enforced; absent when the URL had
	// expired already (AlreadyExpired).
	Revocation     *keystore.Revocation `json:"revocation,omitempty"`
	AlreadyExpired bool                 `json:"already_expired,omitempty"`
}

// revoke stores rev (nil: the URL had expired already), counts it and
// writes the audit line. It is the one place revocations are stored (public
// API and admin API alike); who may is rules.MayRevoke.
func (a *App) revoke(ctx context.Context, st *running, rev *keystore.Revocation, api string, actor rules.Actor) (revokeResponse, error) {
	if rev == nil {
		return revokeResponse{AlreadyExpired: true}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := st.backend.cache.Revoke(ctx, *rev); err != nil {
		return revokeResponse{}, err
	}
	if !a.DisableMetrics {
		revocationsTotal.WithLabelValues(string(rev.Kind)).Inc()
	}
	byKey := ""
	if actor.Key != nil {
		byKey = actor.Key.ID
	}
	fields := []zap.Field{zap.String("api", api), zap.String("by_key_id", byKey),
		zap.String("kind", string(rev.Kind)), zap.String("target", rev.Target), zap.Time("expires_at", rev.ExpiresAt)}
	if !rev.Before.IsZero() {
		fields = append(fields, zap.Time("before", rev.Before))
	}
	auditLog().Info("revoked", fields...)
	return revokeResponse{Revocation: rev}, nil
}
