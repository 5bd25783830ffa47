// Package verifier holds Signet's pure decision logic: the API-key token
// format, path and scope rules, and (in signedurl.go) the signed-URL format.
//
// It depends on the standard library only and performs no I/O: every
// function that needs the current time takes it as an argument, so the
// behaviour is fully determined by its inputs.
package verifier
