package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
//			store redis <url>
//			store redis {
//				url         <redis://…|rediss://…>
//				addresses   <host:port>...
//				master_name <name>
//				username    <user>
//				password    <password>
//				db          <n>
//				tls
//				namespace   <prefix>
//			}
//			max_staleness <duration>
//			serve_stale
//			self_service on|off
//			metrics off
//			deny_log_level debug|info|warn|error|off
//			resync_interval <duration>
//			last_used_interval <duration>|off
//			signing_secret <id> <secret>
//			max_lifetime <duration>
//			clock_skew <duration>
//			query_param <name>
//			base_url <scheme://host[:port]>
//		}
//	}
//
// `store file <path>` keeps keys in the embedded store at path (default:
// Caddy's data directory). `store redis` shares them through Redis: one
// server by URL, Sentinels (addresses + master_name) or Cluster nodes
// (addresses); password and url may be `{env.*}` placeholders.
// `max_staleness` (default 30s) is how long decisions continue from the
// last good view when the store stops answering, before failing closed
// with 503 (`serve_stale` keeps serving instead); `self_service on` lets
// every user key manage its own user's keys through the public API (never
// wider than itself; default off: only users with self_service may); `resync_interval`
// (default 5m) reloads the whole view periodically. `metrics off` turns
// Signet's Prometheus metrics off; `deny_log_level` sets the level of the
// line logged per refused request (default debug; off disables it). `last_used_interval` sets how often key last-used times are
// written (default 1m); `off` disables tracking. `signing_secret` may be
// repeated: the secrets form the signed-URL ring in the order given (the
// first signs, all verify); secrets may be `{env.*}` or `{file.*}`
// placeholders; without any, a secret is generated and kept in the store.
// `max_lifetime` caps signed URLs (default and maximum 7d), `clock_skew`
// is the tolerance for issue times in the future (default 30s),
// `query_param` names the signature parameter (default sig), and
// `base_url` is the scheme and host of URLs signed by the admin API and
// CLI. Every other option may appear once.
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
				if d.NextArg() {
					return d.ArgErr()
				}
			case "redis":
				sc, err := parseRedisStore(d)
				if err != nil {
					return err
				}
				a.Store = sc
			default:
				return d.Errf("store: unknown type %q (want file or redis)", typ)
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
				a.LastUsedInterval = caddy.Duration(dur)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "signing_secret":
			seen[opt] = false // repeatable
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Err("signing_secret: want <id> <secret>")
			}
			a.SigningSecrets = append(a.SigningSecrets, SigningSecret{ID: args[0], Secret: args[1]})
		case "metrics":
			if !d.NextArg() || d.Val() != "off" || d.NextArg() {
				return d.Err("metrics: the only form is `metrics off` (metrics are on by default)")
			}
			a.DisableMetrics = true
		case "deny_log_level":
			if !d.NextArg() {
				return d.ArgErr()
			}
			a.DenyLogLevel = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "serve_stale":
			if d.NextArg() {
				return d.ArgErr()
			}
			a.ServeStale = true
		case "self_service":
			if !d.NextArg() || (d.Val() != "on" && d.Val() != "off") || d.NextArg() {
				return d.Err("self_service: want on or off")
			}
			a.SelfService = d.Val() == "on"
		case "max_staleness", "resync_interval":
			dur, err := parseDurationArg(d, opt)
			if err != nil {
				return err
			}
			if dur == 0 { // in JSON, 0 spells "the default"; written out, it is a mistake
				return d.Errf("%s: must be at least 1s, got %q", opt, d.Val())
			}
			if opt == "max_staleness" {
				a.MaxStaleness = caddy.Duration(dur)
			} else {
				a.ResyncInterval = caddy.Duration(dur)
			}
		case "max_lifetime", "clock_skew":
			dur, err := parseDurationArg(d, opt)
			if err != nil {
				return err
			}
			if dur == 0 && opt == "max_lifetime" {
				return d.Errf("max_lifetime: must be between 1s and 7d, got %q", d.Val())
			}
			if opt == "max_lifetime" {
				a.MaxLifetime = caddy.Duration(dur)
			} else {
				a.ClockSkew = caddy.Duration(dur)
			}
		case "query_param":
			if !d.NextArg() {
				return d.ArgErr()
			}
			a.QueryParam = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "base_url":
			if !d.NextArg() {
				return d.ArgErr()
			}
			a.BaseURL = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized signet option %q", opt)
		}
		if err := a.check(); err != nil {
			return d.Err(err.Error())
		}
	}
	return nil
}

// parseRedisStore reads `store redis <url>` or `store redis { … }`; the
// dispenser is on "redis".
func parseRedisStore(d *caddyfile.Dispenser) (*StoreConfig, error) {
	sc := &StoreConfig{Type: "redis"}
	if d.NextArg() {
		sc.URL = d.Val()
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("store redis: duplicate option %q", opt)
		}
		seen[opt] = true
		if opt == "tls" {
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			sc.TLS = true
			continue
		}
		args := d.RemainingArgs()
		if len(args) == 0 || (opt != "addresses" && len(args) != 1) {
			return nil, d.Errf("store redis: %s: wrong argument count", opt)
		}
		switch opt {
		case "url":
			if sc.URL != "" {
				return nil, d.Err("store redis: the URL is given twice")
			}
			sc.URL = args[0]
		case "addresses":
			sc.Addresses = args
		case "master_name":
			sc.MasterName = args[0]
		case "username":
			sc.Username = args[0]
		case "password":
			sc.Password = args[0]
		case "db":
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 0 {
				return nil, d.Errf("store redis: db must be a non-negative number, got %q", args[0])
			}
			sc.DB = n
		case "namespace":
			sc.Namespace = args[0]
		default:
			return nil, d.Errf("store redis: unrecognized option %q", opt)
		}
	}
	if sc.URL != "" && seen["db"] {
		return nil, d.Err("store redis: with a URL, give the database in it (redis://host:6379/2), not as db")
	}
	if err := sc.check(); err != nil {
		return nil, d.Err(err.Error())
	}
	return sc, nil
}

// parseDurationArg reads the one duration argument of option opt.
func parseDurationArg(d *caddyfile.Dispenser, opt string) (time.Duration, error) {
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return 0, d.Errf("%s: bad duration %q: %v", opt, d.Val(), err)
	}
	if dur < 0 {
		return 0, d.Errf("%s: must not be negative, got %q", opt, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return dur, nil
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
//		public          <path-prefix>...
//		realm           <name>
//		api             <path-prefix>
//		public_base_url <scheme://host[:port]>
//		rate_limit      key|client <events> <window>|off
//	}
//
// The block is optional. `public` lists path prefixes served without
// credentials (may be repeated); `realm` names the WWW-Authenticate realm;
// `api` moves the public API (default /_signet/v1); `public_base_url` sets
// the scheme and host of URLs the signing endpoint returns (default: the
// request's); `rate_limit key` and `rate_limit client` limit the signing
// endpoint per API key (default 100 per 1s) and per client IP (default 200
// per 1s), or turn the limit off.
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
			h.PublicPaths = append(h.PublicPaths, args...)
			if err := h.check(); err != nil {
				return d.Err(err.Error())
			}
			continue
		case "realm", "api", "public_base_url":
			if seen[opt] {
				return d.Errf("duplicate option %q", opt)
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			v := d.Val()
			switch opt {
			case "realm":
				h.Realm = v
			case "api":
				h.API = v
			case "public_base_url":
				h.PublicBaseURL = v
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "rate_limit":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Err("rate_limit: want key|client <events> <window>, or key|client off")
			}
			var r Rate
			switch {
			case len(args) == 2 && args[1] == "off":
				r.Events = -1
			case len(args) == 3:
				n, err := strconv.Atoi(args[1])
				if err != nil || n < 1 {
					return d.Errf("rate_limit: events must be a positive whole number, got %q", args[1])
				}
				w, err := caddy.ParseDuration(args[2])
				if err != nil || w <= 0 {
					return d.Errf("rate_limit: bad window %q (want e.g. 1s or 1m)", args[2])
				}
				r = Rate{Events: n, Window: caddy.Duration(w)}
			default:
				return d.Err("rate_limit: want key|client <events> <window>, or key|client off")
			}
			switch args[0] {
			case "key":
				h.RateLimitKey = &r
			case "client":
				h.RateLimitClient = &r
			default:
				return d.Errf("rate_limit: %q is neither key nor client", args[0])
			}
			opt += " " + args[0]
			if seen[opt] {
				return d.Errf("duplicate option %q", opt)
			}
		default:
			return d.Errf("unrecognized signet option %q", opt)
		}
		if err := h.check(); err != nil {
			return d.Err(err.Error())
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
