package caddymodule

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/rules"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearer a b", "", false},
		{"Bearer a\tb", "", false},
		{"Bearerabc", "", false},
	}
	for _, tt := range tests {
		got, ok := bearerToken(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func fieldOf(err error) string {
	var fe *rules.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// TestDecodeJSONErrors: every API body is decoded strictly, and each
// refusal names the field at fault.
func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		body, field string
	}{
		{``, "body"},
		{`{`, "body"},
		{`[]`, "body"},
		{`{"name": 5}`, "name"},
		{`{"scopes": "/"}`, "scopes"},
		{`{"nmae": "x"}`, "nmae"},
		{`{"expires_at": "tomorrow"}`, "expires_at"},
		{`{"name": "a"} {}`, "body"},
		{`{"name": "` + strings.Repeat("a", maxAdminBody) + `"}`, "body"},
		// Duplicates (encoding/json would keep the last one) and names in
		// another case (encoding/json would match them) are refused.
		{`{"name": "a", "name": "b"}`, "name"},
		{`{"name": "a", "NAME": "b"}`, "NAME"},
		{`{"Name": "a"}`, "Name"},
		{`{"name": "a", "scopes": ["/"], "Scopes": ["/"]}`, "Scopes"},
		{`{"name": "a", "type": "secret", "Type": "public"}`, "Type"},
		{`{"name": "a"}`, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/signet/keys", strings.NewReader(tt.body))
		var req rules.NewKeyRequest
		err := decodeJSON(httptest.NewRecorder(), r, &req, maxAdminBody, "{}")
		if got := fieldOf(err); got != tt.field {
			t.Errorf("decodeJSON(%.40q) field = %q (err %v), want %q", tt.body, got, err, tt.field)
		}
	}
	// The signing body: the two examples.
	for body, field := range map[string]string{
		`{"expires_in":604801,"expires_in":60}`: "expires_in",
		`{"Expires_In":60}`:                     "Expires_In",
		`{"expires_in":60}`:                     "",
	} {
		var req signRequest
		err := decodeJSON(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)), &req, maxPublicBody, signExample)
		if got := fieldOf(err); got != field {
			t.Errorf("sign body %s: field %q (err %v), want %q", body, got, err, field)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":                  now.Add(30 * 24 * time.Hour),
		"12h":                  now.Add(12 * time.Hour),
		"2030-01-02T15:04:05Z": time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC),
	} {
		got, err := parseExpiry(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "0s"} {
		if _, err := parseExpiry(in, now); err == nil {
			t.Errorf("parseExpiry(%q) = nil error", in)
		}
	}
}
