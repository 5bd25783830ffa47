package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
)

// This file is how every Signet API (public and admin) reads requests and
// writes answers: one strict JSON decoder, one error type, one renderer.

// Error codes of the JSON error body {"error":{"code":…,"message":…}}.
const (
	codeUnauthorized      = "unauthorized"
	codeForbidden         = "forbidden"
	codeBadRequest        = "bad_request"
	codeNotFound          = "not_found"
	codeStoreUnavailable  = "store_unavailable"
	codeInternal          = "internal_error"
	codeRateLimited       = "rate_limit_exceeded"
	codeMethodNotAllowed  = "method_not_allowed"
	codeOriginUnavailable = "origin_unavailable"
	codeConflict          = "conflict"
)

// apiError is a failed request as the APIs answer it. Handlers return it
// (or an error that toAPIError maps to one); one renderer writes it.
type apiError struct {
	status     int
	code, msg  string
	field      string // the request field at fault, for 400s
	reason     string // for the deny log and metrics (a bounded set)
	allow      string // Allow header, for 405s
	challenge  string // WWW-Authenticate, for 401s
	retryAfter int    // seconds, for 429s and 503s
}

func (e *apiError) Error() string { return e.msg }

func methodNotAllowed(allow string) *apiError {
	msg := "use " + allow
	if i := strings.LastIndex(msg, ", "); i >= 0 {
		msg = msg[:i] + " or " + msg[i+2:]
	}
	return &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, msg: msg, reason: "method", allow: allow}
}

var errStoreUnavailable = &apiError{status: http.StatusServiceUnavailable, code: codeStoreUnavailable,
	msg: "the key store is unavailable; try again", reason: "store_unavailable"}

// toAPIError maps any error of the rules, the store or the decoder to the
// answer the APIs give. notFound is the message for keystore.ErrNotFound.
func toAPIError(err error, notFound string) *apiError {
	var ae *apiError
	var fe *rules.FieldError
	var de *rules.DeniedError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return &apiError{status: http.StatusBadRequest, code: codeBadRequest, msg: fe.Error(), field: fe.Field, reason: "bad_request"}
	case errors.As(err, &de):
		return &apiError{status: http.StatusForbidden, code: codeForbidden, msg: de.Msg, reason: de.Reason}
	case errors.Is(err, keystore.ErrNoSuchUser):
		return &apiError{status: http.StatusBadRequest, code: codeBadRequest, msg: "user: no such user: create the user first", field: "user", reason: "bad_request"}
	case errors.Is(err, keystore.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: notFound, reason: "not_found"}
	case errors.Is(err, keystore.ErrExists):
		return &apiError{status: http.StatusConflict, code: codeConflict, msg: "it exists already (was the request retried?)", reason: "conflict"}
	case errors.Is(err, keystore.ErrInvalid):
		// The store refused a record or a query the rules let through.
		return &apiError{status: http.StatusBadRequest, code: codeBadRequest, msg: err.Error(), reason: "bad_request"}
	case errors.Is(err, keystore.ErrUnavailable), errors.Is(err, keystore.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return storeUnavailable() // with Retry-After, as every store failure
	}
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, msg: "internal error", reason: "internal"}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault, for 400s of the APIs.
	Field string `json:"field,omitempty"`
}

// writeAPIError writes e as a JSON error response. Messages never include
// credentials.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	if e.allow != "" {
		h.Set("Allow", e.allow)
	}
	if e.challenge != "" {
		h.Set("WWW-Authenticate", e.challenge)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	body, _ := marshal(errorBody{Error: errorDetail{Code: e.code, Message: e.msg, Field: e.field}})
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
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

// Body limits: the public API's bodies are small; the admin API's may hold
// up to rules.MaxScopes scopes.
const (
	maxPublicBody = 4 << 10
	maxAdminBody  = 64 << 10
)

// decodeJSON reads one JSON object from r's body into v, strictly: at most
// limit bytes, no unknown fields, no field given twice or in another case
// than documented (encoding/json would take the last duplicate and match
// names case-insensitively), nothing after the object. example is the shape
// shown when the body is not an object. Its errors are *rules.FieldError.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64, example string) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return rules.BadField("body", "larger than %d bytes", limit)
		}
		return rules.BadField("body", "could not be read")
	}
	notObject := rules.BadField("body", "must be a JSON object such as %s", example)
	if len(bytes.TrimSpace(body)) == 0 {
		return notObject
	}
	if err := checkNames(body, reflect.TypeOf(v).Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var timeErr *time.ParseError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return rules.BadField(jsonFieldPath(typeErr.Field), "must be a %s", jsonKind(typeErr.Type.Kind().String()))
		case errors.As(err, &timeErr):
			return rules.BadField("expires_at", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return rules.BadField(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		}
		return notObject
	}
	if dec.More() {
		return rules.BadField("body", "unexpected data after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "list"
	case "ptr", "struct":
		return "object"
	}
	return k
}

// checkNames walks the JSON text and refuses, in any object, a name given
// twice (in any case), and in an object that decodes into a struct, a name
// that matches a field only case-insensitively. Syntax errors are left to
// the decoder.
func checkNames(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var walk func(t reflect.Type, path string) error
	walk = func(t reflect.Type, path string) error {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch tok {
		case json.Delim('{'):
			fields := jsonFields(t)
			var seen []string
			for dec.More() {
				nt, err := dec.Token()
				if err != nil {
					return nil
				}
				name, _ := nt.(string)
				field := path + name
				for _, s := range seen {
					if strings.EqualFold(s, name) {
						return rules.BadField(field, "given more than once")
					}
				}
				seen = append(seen, name)
				var sub reflect.Type
				if fields != nil {
					ft, exact := fields[name]
					if !exact {
						for n := range fields {
							if strings.EqualFold(n, name) {
								return rules.BadField(field, "unknown field (names are case-sensitive: did you mean %q?)", n)
							}
						}
					}
					sub = ft
				} else if t != nil && t.Kind() == reflect.Map {
					sub = t.Elem()
				}
				if err := walk(sub, field+"."); err != nil {
					return err
				}
			}
			_, _ = dec.Token() // '}'
		case json.Delim('['):
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for dec.More() {
				if err := walk(elem, path); err != nil {
					return err
				}
			}
			_, _ = dec.Token() // ']'
		}
		return nil
	}
	return walk(t, "")
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of struct type t's fields to their types;
// nil if t is not a struct (json.RawMessage and maps included).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Time{}) {
		return nil
	}
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are the outer object's, as
			// encoding/json reads them.
			for n, ft := range jsonFields(f.Type) {
				m[n] = ft
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

// jsonFieldPath is the field path encoding/json reports, without the Go
// names of embedded structs (PolicyRequest.download_name is download_name):
// every JSON name in the APIs starts with a lower-case letter.
func jsonFieldPath(f string) string {
	parts := strings.Split(f, ".")
	kept := parts[:0]
	for _, p := range parts {
		if p != "" && !('A' <= p[0] && p[0] <= 'Z') {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return f
	}
	return strings.Join(kept, ".")
}
