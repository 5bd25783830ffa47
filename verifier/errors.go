package verifier

import "errors"

// Sentinel errors shared by the API-key and path checks. Callers compare
// with errors.Is; the messages are safe to show to clients and never
// include the offending token.
var (
	// ErrMalformedKey means a string is not a well-formed API key: wrong
	// prefix, wrong length, bad encoding or a checksum mismatch. Such a
	// token is rejected without any store lookup.
	ErrMalformedKey = errors.New("malformed API key")

	// ErrAmbiguousPath means a request path could be read in more than one
	// way (dot segments, empty segments, encoded slashes, backslashes,
	// control characters or invalid UTF-8) and is refused, not normalised.
	ErrAmbiguousPath = errors.New("ambiguous request path")

	// ErrBadScope means a scope is not a clean absolute path prefix.
	ErrBadScope = errors.New("invalid scope")
)
