package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestErrorFromResponse: the API's error bodies and Retry-After read into
// an *Error that matches the sentinels by status.
func TestErrorFromResponse(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	answer := func(status int, retryAfter, body string) *Error {
		rec := httptest.NewRecorder()
		if retryAfter != "" {
			rec.Header().Set("Retry-After", retryAfter)
		}
		rec.WriteHeader(status)
		return errorFromResponse(rec.Result(), []byte(body), now)
	}
	for _, c := range []struct {
		got      *Error
		want     Error
		sentinel error
	}{
		{answer(400, "", `{"error":{"code":"bad_request","message":"scopes: at least one scope is required","field":"scopes"}}`),
			Error{Status: 400, Code: "bad_request", Message: "scopes: at least one scope is required", Field: "scopes"}, ErrBadRequest},
		{answer(401, "", `{"error":{"code":"unauthorized","message":"unknown API key"}}`),
			Error{Status: 401, Code: "unauthorized", Message: "unknown API key"}, ErrUnauthorized},
		{answer(403, "", `{"error":{"code":"forbidden","message":"API key disabled"}}`),
			Error{Status: 403, Code: "forbidden", Message: "API key disabled"}, ErrForbidden},
		{answer(404, "", `{"error":{"code":"not_found","message":"no such key"}}`),
			Error{Status: 404, Code: "not_found", Message: "no such key"}, ErrNotFound},
		{answer(409, "", `{"error":{"code":"conflict","message":"it exists already (was the request retried?)"}}`),
			Error{Status: 409, Code: "conflict", Message: "it exists already (was the request retried?)"}, ErrConflict},
		{answer(429, "20", `{"error":{"code":"rate_limit_exceeded","message":"too many requests; retry later"}}`),
			Error{Status: 429, Code: "rate_limit_exceeded", Message: "too many requests; retry later", RetryAfter: 20 * time.Second}, ErrRateLimited},
		{answer(429, now.Add(90*time.Second).Format(http.TimeFormat), `{"error":{"code":"rate_limit_exceeded","message":"x"}}`),
			Error{Status: 429, Code: "rate_limit_exceeded", Message: "x", RetryAfter: 90 * time.Second}, ErrRateLimited},
		{answer(503, "5", `{"error":{"code":"store_unavailable","message":"the key store is unavailable; try again"}}`),
			Error{Status: 503, Code: "store_unavailable", Message: "the key store is unavailable; try again", RetryAfter: 5 * time.Second}, ErrUnavailable},
		{answer(502, "soon", "<html><body>Bad gateway</body></html>"), Error{Status: 502, Message: "<html><body>Bad gateway</body></html>"}, nil},
		{answer(500, "", ""), Error{Status: 500, Message: "Internal Server Error"}, nil},
		{answer(503, "-3", "\x00\x01binary"), Error{Status: 503, Message: "Service Unavailable"}, ErrUnavailable},
	} {
		if *c.got != c.want {
			t.Errorf("got %+v, want %+v", *c.got, c.want)
		}
		var err error = fmt.Errorf("wrapped: %w", c.got)
		for _, s := range []*Error{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrRateLimited, ErrUnavailable} {
			if errors.Is(err, s) != (error(s) == c.sentinel) {
				t.Errorf("%v: errors.Is(%v) = %v", c.got, s, !(error(s) == c.sentinel))
			}
		}
		var e *Error
		if !errors.As(err, &e) || e != c.got {
			t.Errorf("errors.As(%v) failed", err)
		}
	}
	// A code in the target narrows the match.
	e := answer(403, "", `{"error":{"code":"expired","message":"this signed URL has expired"}}`)
	if !errors.Is(e, &Error{Status: 403, Code: "expired"}) || errors.Is(e, &Error{Status: 403, Code: "revoked"}) || errors.Is(e, errors.New("x")) {
		t.Errorf("code matching of %v", e)
	}
	if got, want := answer(429, "2", `{"error":{"code":"rate_limit_exceeded","message":"too many requests; retry later"}}`).Error(),
		"signet: 429 rate_limit_exceeded: too many requests; retry later (retry after 2s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
