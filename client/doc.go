// Package client is the Go client library of Signet: an offline signer
// for signed links, and a client for Signet's public API.
//
// It imports only the standard library and
// github.com/caddy-signet/signet/verifier (itself standard library only),
// so an application can use it without Caddy:
//
//	go get github.com/caddy-signet/signet/client
//
// # Signing offline
//
// A secret API key created with offline signing ("offline_signing": true
// in the key API, or caddy signet keys create NAME --offline-signing)
// signs links itself: the key id and the signing secret are derived from
// the key value, and a link costs one HMAC, no network call. The server
// checks such a link on every use as it checks the links it issues (the
// key's scope, permission and expiry, the max_lifetime, revocations, the
// policies' rules). Links signed offline are not in the server's ledger
// (a max_uses one is recorded at its first use): they cannot be listed or
// extended, and are revoked by id (their
// SignedURL.ID), by key or by prefix with Client.Revoke, or all at once by
// turning the key's offline signing off.
//
//	signer, err := client.NewSigner(os.Getenv("SIGNET_KEY")) // once
//	…
//	link, err := signer.SignURL("https://files.example.com", "/reports/2026/q1 summary.pdf",
//		5*time.Minute, client.DownloadName("Q1 summary.pdf"))
//	// https://files.example.com/reports/2026/q1%20summary.pdf?sig=AR…
//
// A folder link (Folder) grants a folder and everything under it, with
// any query; PathForm gives its path form, under which relative links
// keep the token. The policies (DownloadName, Inline, ContentType,
// MaxUses, ClientCIDR) are bound into the token. The format and the URL
// rules are in docs/signed-urls.md; every input is checked before signing
// with the rules the server applies, so the server accepts a link SignURL
// returns as long as the key signs offline, may sign for the path and
// the lifetime is within the server's max_lifetime (7 days by default).
//
// # The API client
//
// New makes a Client for the signing endpoint (Client.Sign, links the
// server records in its ledger), the key API, the users API, the links
// API and revocations. API errors are *Error values that match the
// sentinels ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound,
// ErrConflict, ErrRateLimited and ErrUnavailable with errors.Is:
//
//	c := client.New("https://files.example.com", os.Getenv("SIGNET_KEY"))
//	link, err := c.Sign(ctx, "/reports/q1.pdf", client.SignRequest{ExpiresIn: time.Hour, MaxUses: 1})
//	var apiErr *client.Error
//	switch {
//	case errors.Is(err, client.ErrRateLimited) && errors.As(err, &apiErr):
//		time.Sleep(apiErr.RetryAfter) // or WithRetry
//	case errors.Is(err, client.ErrNotFound):
//		// no such file
//	}
//
// docs/client-go.md is the guide, with a complete HTTP handler
// (examples/gohandler).
package client
