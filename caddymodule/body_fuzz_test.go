package caddymodule

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
)

// FuzzRequestBodies: any body sent to the signing, revocation or key APIs
// is either accepted or refused with a field error (a 400), never a panic
// or another kind of error.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"expires_in": 3600}`, `{"expires_in": 0}`, `{"expires_in": "3600"}`, `{"expires_in": 1e3}`,
		`{"expires_in": 99999999999999999999}`, `{"url": "https://h/a?sig=x"}`, `{"id": "AAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"key_id": "key_aaaaaaaaaaaaaaaa"}`, `{"prefix": "/a/"}`, `{"name": "x", "scopes": ["/"]}`,
		`[]`, `null`, `{`, ``, `{"expires_in": 1} x`, `{"a":{"b":[{"c":1,"C":2}]}}`, `{"name":"x","NaMe":"y"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		isField := func(err error) {
			var fe *rules.FieldError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("non-field error for %q: %v", body, err)
			}
		}
		decode := func(v any) error {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			return decodeJSON(httptest.NewRecorder(), r, v, maxAdminBody, "{}")
		}
		var sr signRequest
		err := decode(&sr)
		isField(err)
		if err == nil {
			_, err = rules.ExpiresIn(sr.ExpiresIn, 7*24*time.Hour)
			isField(err)
		}
		var rr rules.RevokeRequest
		if err := decode(&rr); err == nil {
			_, _, err = rules.Revocation(rr, nil, time.Now())
			isField(err)
		} else {
			isField(err)
		}
		var cr rules.NewKeyRequest
		if err := decode(&cr); err == nil {
			_, _, err = rules.NewKey(rules.Operator, cr, func(string) *keystore.User { return nil }, time.Now())
			isField(err)
		} else {
			isField(err)
		}
		var ur rules.KeyUpdate
		if err := decode(&ur); err == nil {
			_, err = rules.UpdateKey(rules.Operator, ur, func(string) *keystore.User { return nil }, time.Now())
			isField(err)
		} else {
			isField(err)
		}
	})
}
