package caddymodule

import (

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-signet/signet/verifier"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("signet", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("signet", parseHandlerDirective)
	// Authentication runs where basic_auth does: after rewrites, before
	// anything that responds. Users need no `order` or `route`.
	httpcaddyfile.RegisterDirectiveOrder("signet", httpcaddyfile.Before, "basic_auth")
}

// UnmarshalCaddyfile sets up the signet app from the global option:
//
//	{
//		signet {
//			store file <path>
//			last_used_interval <duration>|off
//		}
//	}
//
// `store file <path>` keeps keys in the embedded store at path (default:
// Caddy's data directory). `store redis <url>` is reserved for the Redis
// store. `last_used_interval` sets how often key last-used times are
// written (default 1m); `off` disables tracking. Each option may appear
// once.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume option name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("duplicate option %q", opt)
		}
		seen[opt] = true
		switch opt {
		case "store":
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch typ := d.Val(); typ {
			case "file":
				if !d.NextArg() {
					return d.Err("store file: missing path")
				}
				a.Store = &StoreConfig{Type: "file", Path: d.Val()}
			case "redis":
				return d.Err("store redis: not supported yet (the Redis store arrives in a later release); use: store file <path>")
			default:
				return d.Errf("store: unknown type %q (want file)", typ)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "last_used_interval":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if d.Val() == "off" {
				a.LastUsedInterval = -1
			} else {
				dur, err := caddy.ParseDuration(d.Val())
				if err != nil {
					return d.Errf("last_used_interval: bad duration %q: %v", d.Val(), err)
				}
				if dur <= 0 {
					return d.Errf("last_used_interval: must be positive (or off), got %q", d.Val())
				}
				a.LastUsedInterval = caddy.Duration(dur)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized signet option %q", opt)
		}
	}
	return nil
}

func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the signet global option may appear only once")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "signet", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	signet [<matcher>] {
//		public <path-prefix>...
//		realm  <name>
//	}
//
// The block is optional. `public` lists path prefixes served without
// credentials (may be repeated); `realm` names the WWW-Authenticate realm.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "public":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, p := range args {
				if err := verifier.CheckScope(p); err != nil {
					return d.Errf("public: bad path prefix %q: must be a clean absolute path like /public/", p)
				}
			}
			h.PublicPaths = append(h.PublicPaths, args...)
			continue
		case "realm":
			if seen[opt] {
				return d.Errf("duplicate option %q", opt)
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Realm = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized signet option %q", opt)
		}
		seen[opt] = true
	}
	return nil
}

func parseHandlerDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return handler, nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
)
