package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an error answer of a Signet API: its HTTP status and the
// error body's code, message and (on 400s) field. Compare it with the
// sentinels by status, errors.Is(err, client.ErrNotFound), or get the
// details with errors.As:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.Field != "" { … }
type Error struct {
	// Status is the HTTP status, such as 404.
	Status int
	// Code is the API's machine-readable code, such as "not_found" or
	// "rate_limit_exceeded"; "" when the answer had no JSON error body
	// (a proxy's error page, say).
	Code string
	// Message is the API's explanation, safe to show; it never holds a
	// key value. Without a JSON body, the start of the body or the status
	// text.
	Message string
	// Field names the request field at fault on a 400 ("body" for the
	// body as a whole), or "".
	Field string
	// RetryAfter is the wait the answer's Retry-After header asks for
	// (on 429s, and on some 503s), or 0.
	RetryAfter time.Duration
}

// Error returns "signet: " and the status, code and message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("signet: ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteByte(' ')
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is reports whether target is an *Error with the same Status and, if
// target has one, the same Code: errors.Is(err, ErrRateLimited) holds for
// every 429, and errors.Is(err, &Error{Status: 403, Code: "forbidden"})
// only for 403 forbidden.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	return t.Status == e.Status && (t.Code == "" || t.Code == e.Code)
}

// Sentinels for errors.Is, one per status the APIs answer: each matches
// every *Error of its status.
var (
	// ErrBadRequest (400): a field of the request is invalid; Field
	// names it.
	ErrBadRequest = &Error{Status: http.StatusBadRequest, Message: "bad request"}
	// ErrUnauthorized (401): the API key is missing, malformed, unknown
	// (deleted) or expired.
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized, Message: "unauthorized"}
	// ErrForbidden (403): the key may not do this (disabled, without the
	// permission, outside its scope, another key's link, …).
	ErrForbidden = &Error{Status: http.StatusForbidden, Message: "forbidden"}
	// ErrNotFound (404): no such key, user, link or file.
	ErrNotFound = &Error{Status: http.StatusNotFound, Message: "not found"}
	// ErrConflict (409): a user of that name exists already.
	ErrConflict = &Error{Status: http.StatusConflict, Message: "conflict"}
	// ErrRateLimited (429): over a rate limit; RetryAfter says when to
	// try again.
	ErrRateLimited = &Error{Status: http.StatusTooManyRequests, Message: "rate limited"}
	// ErrUnavailable (503): the server's key store is unavailable;
	// nothing was changed (see the API reference for the one exception).
	ErrUnavailable = &Error{Status: http.StatusServiceUnavailable, Message: "unavailable"}
)

// errorFromResponse makes the *Error of a non-2xx answer whose body is
// body.
func errorFromResponse(resp *http.Response, body []byte, now time.Time) *Error {
	e := &Error{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message, e.Field = eb.Error.Code, eb.Error.Message, eb.Error.Field
		return e
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 || !isText(msg) || msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// isText reports whether s is printable text worth showing.
func isText(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}
