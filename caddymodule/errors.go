package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Error codes of the JSON error body {"error":{"code":…,"message":…}}.
const (
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeBadRequest       = "bad_request"
	codeNotFound         = "not_found"
	codeStoreUnavailable = "store_unavailable"
	codeInternal         = "internal_error"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault, for 400s of the APIs.
	Field string `json:"field,omitempty"`
}

// writeError writes a JSON error response. Messages never include
// credentials.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeErrorDetail(w, status, errorDetail{Code: code, Message: message})
}

func writeErrorDetail(w http.ResponseWriter, status int, d errorDetail) {
	body, _ := marshal(errorBody{Error: d})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// marshal encodes v as JSON followed by a newline, without escaping <, >
// and & (the bodies are JSON, never embedded in HTML).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
