// Package verifier holds Signet's pure decision logic: the API-key token
// format, path and scope rules, and the signed-URL format: its token
// (token.go), canonical request (canonical.go), secrets (ring.go), link
// policies (policy.go), signing (sign.go) and verification (verify.go).
//
// It depends on the standard library only and performs no I/O: every
// function that needs the current time takes it as an argument, so the
// behaviour is fully determined by its inputs.
package verifier
