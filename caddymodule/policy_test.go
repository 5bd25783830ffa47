package caddymodule

import (
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
)

func TestContentDisposition(t *testing.T) {
	for _, tt := range []struct {
		name   string
		inline bool
		want   string
	}{
		{"report.pdf", false, `attachment; filename="report.pdf"`},
		{"report.pdf", true, `inline; filename="report.pdf"`},
		{"", true, `inline`},
		{"日本語 report.pdf", false, `attachment; filename="___ report.pdf"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E%20report.pdf`},
		{`a "quoted" name.pdf`, false, `attachment; filename="a \"quoted\" name.pdf"`},
		{`x;y.pdf`, false, `attachment; filename="x;y.pdf"`},
		{`100% done.txt`, false, `attachment; filename="100_ done.txt"; filename*=UTF-8''100%25%20done.txt`},
		{`back\slash`, false, `attachment; filename="back\\slash"`},
	} {
		got := contentDisposition(tt.name, tt.inline)
		if got != tt.want {
			t.Errorf("contentDisposition(%q, %v)\n got %s\nwant %s", tt.name, tt.inline, got, tt.want)
			continue
		}
		// Go's own parser (RFC 6266 and 8187) reads back the exact name.
		typ, params, err := mime.ParseMediaType(got)
		if err != nil || (typ == "inline") != tt.inline || params["filename"] != tt.name && tt.name != "" {
			t.Errorf("mime.ParseMediaType(%s) = %q %q %v, want the name %q", got, typ, params, err, tt.name)
		}
	}
}

// TestPolicyWriter: the link's headers replace the origin's on 200 and 206
// only, also when the origin adds its own (as reverse_proxy does).
func TestPolicyWriter(t *testing.T) {
	for _, status := range []int{200, 206, 304, 404, 500} {
		rec := httptest.NewRecorder()
		w := &policyWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: rec},
			disposition: `attachment; filename="a.pdf"`, contentType: "application/pdf"}
		w.Header().Add("Content-Type", "text/html")
		w.Header().Add("Content-Disposition", "inline")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("x"))
		ct, cd := rec.Header().Values("Content-Type"), rec.Header().Values("Content-Disposition")
		ok := status == 200 || status == 206
		if ok && (strings.Join(ct, ",") != "application/pdf" || strings.Join(cd, ",") != `attachment; filename="a.pdf"` ||
			rec.Header().Get("X-Content-Type-Options") != "nosniff") {
			t.Errorf("%d: Content-Type %q, Content-Disposition %q", status, ct, cd)
		}
		if !ok && (strings.Join(ct, ",") != "text/html" || strings.Join(cd, ",") != "inline") {
			t.Errorf("%d: the origin's headers changed: %q %q", status, ct, cd)
		}
		if w.status != status {
			t.Errorf("recorded status %d, want %d", w.status, status)
		}
	}
	// An implicit 200 (Write without WriteHeader) gets the headers too.
	rec := httptest.NewRecorder()
	w := &policyWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}, contentType: "text/plain"}
	_, _ = w.Write([]byte("x"))
	if rec.Header().Get("Content-Type") != "text/plain" || w.status != http.StatusOK {
		t.Errorf("implicit 200: %q %d", rec.Header().Get("Content-Type"), w.status)
	}
}

func TestResumesDownload(t *testing.T) {
	for rng, want := range map[string]bool{
		"": false, "bytes=0-": false, "bytes=0-1023": false, "bytes=5-": true, "bytes=-500": true,
		"bytes=5-,0-": false, "bytes=5-9,20-29": false, "items=5-": false, " bytes=7-9 ": true,
	} {
		var v []string
		if rng != "" {
			v = []string{rng}
		}
		if got := resumesDownload(v); got != want {
			t.Errorf("resumesDownload(%q) = %v, want %v", rng, got, want)
		}
	}
	if resumesDownload([]string{"bytes=5-", "bytes=6-"}) {
		t.Error("two Range headers resume")
	}
}

func TestJSONFieldPath(t *testing.T) {
	for in, want := range map[string]string{
		"PolicyRequest.download_name": "download_name", "expires_in": "expires_in", "access.scopes": "access.scopes", "Odd": "Odd",
	} {
		if got := jsonFieldPath(in); got != want {
			t.Errorf("jsonFieldPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStoreInvalidIsBadRequest: a record or query the store refuses as
// invalid is answered 400, never 500.
func TestStoreInvalidIsBadRequest(t *testing.T) {
	e := toAPIError(fmt.Errorf("%w: link x: already expired", keystore.ErrInvalid), "not found")
	if e.status != http.StatusBadRequest || e.code != codeBadRequest {
		t.Errorf("ErrInvalid → %d %s", e.status, e.code)
	}
}

// TestLedgerWriteUnavailable: a link the ledger cannot record is not
// handed out: 503 with Retry-After, like every store failure.
func TestLedgerWriteUnavailable(t *testing.T) {
	s := newTestSite(t, nil, nil)
	_, token := s.key(t, rules.NewKeyRequest{Scopes: []string{"/r/"}, Permissions: "sign"})
	_ = s.st.backend.store.Close() // the store stops answering; the view is not stale yet
	r := httptest.NewRequest("POST", "http://files.example.com/_signet/v1/files/r/q1.pdf/signed-url", strings.NewReader(`{"expires_in": 60}`))
	r.Header.Set("Authorization", "Bearer "+token)
	w := s.serveWith(t, r, &origin{})
	if w.Code != http.StatusServiceUnavailable || errorCode(w) != "store_unavailable" || w.Header().Get("Retry-After") != "5" {
		t.Fatalf("signing with the ledger down: %d %s, Retry-After %q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
}
