// Package signet is the import path users give xcaddy:
//
//	xcaddy build --with github.com/caddy-signet/signet
//
// Importing it registers Signet's Caddy modules (the signet app,
// http.handlers.signet, admin.api.signet), the `signet` Caddyfile directive
// and global option, and the `caddy signet` commands.
package signet

import (
	// Register Signet's modules with Caddy.
	_ "github.com/caddy-signet/signet/caddymodule"
)
