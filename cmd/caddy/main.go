// Command caddy is Caddy with its standard modules and Signet: what
// `xcaddy build --with github.com/caddy-signet/signet` generates. `make run`
// and the end-to-end tests use it.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddy-signet/signet"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
