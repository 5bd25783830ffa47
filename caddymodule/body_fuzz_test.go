package caddymodule

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzRequestBodies: any body sent to the signing, revocation or key APIs
// is either accepted or refused with a field error (a 400), never a panic
// or another kind of error.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"expires_in": 3600}`, `{"expires_in": 0}`, `{"expires_in": "3600"}`, `{"expires_in": 1e3}`,
		`{"expires_in": 99999999999999999999}`, `{"url": "https://h/a?sig=x"}`, `{"id": "AAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"key_id": "key_aaaaaaaaaaaaaaaa"}`, `{"prefix": "/a/"}`, `{"name": "x", "scopes": ["/"]}`,
		`[]`, `null`, `{`, ``, `{"expires_in": 1} x`,
	} {
		f.Add(s)
	}
	app := &App{MaxLifetime: 7 * 24 * 3600 * 1e9}
	f.Fuzz(func(t *testing.T, body string) {
		isField := func(err error) {
			var fe *fieldError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("non-field error for %q: %v", body, err)
			}
		}
		req := func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		}
		var sr signRequest
		err := decodeSignBody(httptest.NewRecorder(), req(), &sr)
		isField(err)
		if err == nil {
			_, err = parseExpiresIn(sr.ExpiresIn, time.Duration(app.MaxLifetime))
			isField(err)
		}
		var rr revokeRequest
		isField(decodeSmallJSON(httptest.NewRecorder(), req(), &rr, revokeExample))
		var cr createKeyRequest
		if err := decodeJSON(httptest.NewRecorder(), req(), &cr); err == nil {
			_, _, err = newKey(cr, time.Now())
			isField(err)
		} else {
			isField(err)
		}
		var ur updateKeyRequest
		if err := decodeJSON(httptest.NewRecorder(), req(), &ur); err == nil {
			_, err = applyUpdate(ur, time.Now())
			isField(err)
		} else {
			isField(err)
		}
	})
}
