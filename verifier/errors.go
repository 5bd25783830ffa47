package verifier

import "errors"

// Sentinel errors. Callers compare with errors.Is; the messages are safe to
// show to clients, never include the offending token, and need no trimming.
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

	// ErrMalformedURLID means a string is not the text form of a URL id:
	// 22 characters of unpadded base64url (see ParseURLID).
	ErrMalformedURLID = errors.New("malformed URL id")
)

// Sentinel errors of signed-URL verification. A path refused by CheckPath
// is reported as ErrAmbiguousPath.
var (
	// ErrMalformedToken means the signature parameter is present but its
	// value is not a well-formed token: bad encoding, wrong structure,
	// unsupported version, a repeated parameter, a size limit exceeded, or
	// (after the tag was verified) claims the verifier does not understand,
	// such as an unknown constraint type.
	ErrMalformedToken = errors.New("malformed signed URL")

	// ErrBadSignature means the tag does not match: the token was altered,
	// was signed with a secret that is not (or no longer) in the ring, or
	// the request (host, method class, path, other query parameters)
	// differs from the one it was signed for.
	ErrBadSignature = errors.New("invalid signed URL signature")

	// ErrExpired means the token's expiry time has passed.
	ErrExpired = errors.New("signed URL expired")

	// ErrNotYetValid means the token was issued in the future, beyond the
	// allowed clock skew.
	ErrNotYetValid = errors.New("signed URL not yet valid")

	// ErrMethodNotAllowed means the request method is neither GET nor
	// HEAD, the only methods a signed URL can grant.
	ErrMethodNotAllowed = errors.New("method not allowed with a signed URL")

	// ErrNotFolderToken means a token other than a folder token was
	// presented outside the query (in a path_url or a cookie), where only
	// folder tokens are accepted.
	ErrNotFolderToken = errors.New("only a folder link's token can be used in a path or a cookie")

	// ErrNoToken means the request carries no signature parameter at all,
	// so the caller may fall back to other credentials.
	ErrNoToken = errors.New("no signed URL token")
)
