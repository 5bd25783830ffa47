// Package caddymodule is Signet's Caddy glue: the signet app (which owns the
// key store), the HTTP handler http.handlers.signet, the admin API module
// admin.api.signet, Caddyfile parsing and the `caddy signet` commands.
package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults.
const (
	defaultLastUsedInterval = time.Minute
	boltOpenTimeout         = 10 * time.Second
	defaultMaxLifetime      = 7 * 24 * time.Hour
	defaultClockSkew        = 30 * time.Second
	defaultMaxStaleness     = 30 * time.Second
	defaultResyncInterval   = 5 * time.Minute
)

// App is the signet app: it owns the key store and its in-process cache,
// which every signet handler of the config and the admin API share. It is
// configured by the global `signet` Caddyfile option; without one it runs
// with defaults (the embedded store in Caddy's data directory).
type App struct {
	// Store selects where API keys and signing secrets are kept.
	// Default: the embedded store, a bbolt file at
	// `{caddy data dir}/signet/signet.db`.
	Store *StoreConfig `json:"store,omitempty"`

	// LastUsedInterval is how often the last-used time of each key is
	// written to the store. Default: 1m; at least 1s. A negative value
	// disables last-used tracking. The store's settings are fixed when it is
	// first opened: a reload that changes this value takes effect only
	// after a restart (or a reload onto another store file).
	LastUsedInterval caddy.Duration `json:"last_used_interval,omitempty"`

	// SigningSecrets is the signed-URL secret ring: the first signs, all
	// verify, so secrets rotate without breaking links in flight (add the
	// new one first, remove the old one after the longest lifetime).
	// Secrets may be `{env.*}` or `{file.*}` placeholders and must be at
	// least 32 bytes. Default: one secret generated at first start and kept
	// in the store (shared by every instance on the same store).
	SigningSecrets []SigningSecret `json:"signing_secrets,omitempty"`

	// MaxLifetime caps the lifetime of signed URLs. Default and upper
	// bound: 7d.
	MaxLifetime caddy.Duration `json:"max_lifetime,omitempty"`

	// ClockSkew is how far in the future a signed URL's issue time may be
	// (clocks of instances differ a little). Default: 30s.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`

	// QueryParam is the query parameter that carries the signature.
	// Default: `sig`.
	QueryParam string `json:"query_param,omitempty"`

	// MaxStaleness is how long this instance keeps deciding from its last
	// good view of the store once the store stops answering (or, after an
	// outage, until a full resync has caught up). Past it, requests that
	// need the store's data fail closed with 503 `store_unavailable`,
	// unless ServeStale is set. Default: 30s.
	MaxStaleness caddy.Duration `json:"max_staleness,omitempty"`

	// ServeStale keeps deciding from the last good view however old it
	// is, instead of failing closed. Revocations and key changes made
	// meanwhile are then not enforced until the store is back.
	ServeStale bool `json:"serve_stale,omitempty"`

	// ResyncInterval is how often the whole in-process view is reloaded
	// from the store, repairing change messages that were lost.
	// Default: 5m.
	ResyncInterval caddy.Duration `json:"resync_interval,omitempty"`

	// DisableMetrics turns Signet's Prometheus metrics off (they are on by
	// default, in Caddy's registry: see docs/reference.md).
	DisableMetrics bool `json:"disable_metrics,omitempty"`

	// DenyLogLevel is the level of the log line written for each refused
	// request (logger `http.handlers.signet`, message "request denied",
	// with its reason): debug (default), info, warn, error, or off.
	DenyLogLevel string `json:"deny_log_level,omitempty"`

	// BaseURL is the scheme and host (e.g. `https://files.example.com`)
	// of URLs signed through the admin API and CLI when the request names
	// none. (The signing endpoint uses the site's `public_base_url`, or
	// the request's own scheme and host.)
	BaseURL string `json:"base_url,omitempty"`

	backend  *backend
	verifier *verifier.Verifier
	baseURL  *url.URL
	poolKey  string
}

// SigningSecret is one entry of the signing-secret ring.
type SigningSecret struct {
	// ID names the secret inside tokens: 1–32 characters of
	// [A-Za-z0-9_-], e.g. `2026-01`.
	ID string `json:"id"`
	// Secret is the key, at least 32 bytes; `{env.*}`/`{file.*}`
	// placeholders are resolved at load.
	Secret string `json:"secret"`
}

// StoreConfig selects and configures the key store backend.
type StoreConfig struct {
	// Type is the backend: "file" (the embedded bbolt store, for one
	// instance; default) or "redis" (shared by many instances).
	Type string `json:"type,omitempty"`

	// Path is the embedded store's file. Default:
	// `{caddy data dir}/signet/signet.db`. Relative paths are relative
	// to Caddy's working directory.
	Path string `json:"path,omitempty"`

	// URL of a single Redis server: `redis://[user:password@]host:port[/db]`,
	// or `rediss://…` for TLS.
	URL string `json:"url,omitempty"`
	// Addresses of Redis Sentinels (with MasterName) or of Redis Cluster
	// nodes (without), as host:port.
	Addresses []string `json:"addresses,omitempty"`
	// MasterName is the Sentinel master's name.
	MasterName string `json:"master_name,omitempty"`
	// Username and Password authenticate to Redis (they override those in
	// URL). `{env.*}` and `{file.*}` placeholders are resolved at load.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// DB is the Redis database number (not for Cluster).
	DB int `json:"db,omitempty"`
	// TLS connects with TLS (implied by rediss://).
	TLS bool `json:"tls,omitempty"`
	// Namespace prefixes every Redis key and channel (inside a hash tag,
	// so Cluster keeps them in one slot). Default: `signet`.
	Namespace string `json:"namespace,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "signet",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision opens (or reuses, across config reloads) the key store and its
// cache.
func (a *App) Provision(ctx caddy.Context) error {
	if _, _, err := denyLevel(a.DenyLogLevel); err != nil {
		return err
	}
	if !a.DisableMetrics {
		if err := registerMetrics(ctx); err != nil {
			return fmt.Errorf("registering metrics: %v", err)
		}
	}
	if a.Store == nil {
		a.Store = &StoreConfig{}
	}
	if a.Store.Type == "" {
		a.Store.Type = "file"
	}
	if a.LastUsedInterval == 0 {
		a.LastUsedInterval = caddy.Duration(defaultLastUsedInterval)
	}
	if a.LastUsedInterval > 0 && a.LastUsedInterval < caddy.Duration(time.Second) {
		return fmt.Errorf("last_used_interval must be at least 1s (or negative to disable), got %s", time.Duration(a.LastUsedInterval))
	}
	switch a.Store.Type {
	case "file":
		path := a.Store.Path
		if path == "" {
			path = filepath.Join(caddy.AppDataDir(), "signet", "signet.db")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return fmt.Errorf("store path %q: %v", path, err)
		}
		a.poolKey = "file:" + abs
		b, err := loadBackend(a.poolKey, func() (keystore.Store, error) {
			st, err := keystore.OpenBolt(abs, boltOpenTimeout)
			if err != nil {
				return nil, err
			}
			return meteredStore{Store: st, backend: "file"}, nil
		}, a.cacheOptions())
		if err != nil {
			return err
		}
		a.backend = b
	case "redis":
		opts, key, err := a.Store.redisOptions()
		if err != nil {
			return fmt.Errorf("store redis: %v", err)
		}
		a.poolKey = key
		b, err := loadBackend(a.poolKey, func() (keystore.Store, error) {
			st := keystore.NewRedisStore(redis.NewUniversalClient(opts), a.Store.Namespace)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := st.Ping(ctx); err != nil {
				_ = st.Close()
				return nil, fmt.Errorf("cannot reach Redis: %v", err)
			}
			return meteredStore{Store: st, backend: "redis"}, nil
		}, a.cacheOptions())
		if err != nil {
			return fmt.Errorf("store redis: %v", err)
		}
		a.backend = b
	default:
		return fmt.Errorf("unknown store type %q (want file or redis)", a.Store.Type)
	}
	if a.MaxStaleness == 0 {
		a.MaxStaleness = caddy.Duration(defaultMaxStaleness)
	}
	if a.MaxStaleness < caddy.Duration(time.Second) {
		return fmt.Errorf("max_staleness must be at least 1s (the store is pinged every second), got %s", time.Duration(a.MaxStaleness))
	}
	return a.provisionSigning()
}

// denyLevel parses deny_log_level.
func denyLevel(s string) (zapcore.Level, bool, error) {
	switch s {
	case "", "debug":
		return zapcore.DebugLevel, true, nil
	case "info":
		return zapcore.InfoLevel, true, nil
	case "warn":
		return zapcore.WarnLevel, true, nil
	case "error":
		return zapcore.ErrorLevel, true, nil
	case "off":
		return zapcore.DebugLevel, false, nil
	}
	return 0, false, fmt.Errorf("deny_log_level: %q is not one of debug, info, warn, error, off", s)
}

// auditLog is where key lifecycle changes and revocations are logged, one
// line each, never with a key value. Route it with Caddy's `log` option
// (`include signet.audit`).
func auditLog() *zap.Logger { return caddy.Log().Named("signet.audit") }

// Stale reports whether requests must fail closed because the store has not
// answered for longer than max_staleness.
func (a *App) Stale(now time.Time) bool {
	return !a.ServeStale && a.backend.cache.Stale(now, time.Duration(a.MaxStaleness))
}

// redisOptions builds the go-redis options the config describes, and the
// pool key that identifies the store they reach (one client per store,
// shared across reloads).
func (sc *StoreConfig) redisOptions() (*redis.UniversalOptions, string, error) {
	repl := caddy.NewReplacer()
	resolve := func(v string) (string, error) { return repl.ReplaceOrErr(v, true, true) }
	opts := &redis.UniversalOptions{
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		MaxRetries:   1,
	}
	switch {
	case sc.URL != "" && len(sc.Addresses) > 0:
		return nil, "", errors.New("give either url or addresses, not both")
	case sc.URL != "":
		u, err := resolve(sc.URL)
		if err != nil {
			return nil, "", err
		}
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, "", fmt.Errorf("url: %v", err)
		}
		opts.Addrs, opts.Username, opts.Password, opts.DB, opts.TLSConfig = []string{o.Addr}, o.Username, o.Password, o.DB, o.TLSConfig
	case len(sc.Addresses) > 0:
		opts.Addrs, opts.MasterName, opts.DB = sc.Addresses, sc.MasterName, sc.DB
	default:
		return nil, "", errors.New("needs a url (redis://host:6379) or addresses")
	}
	if sc.Username != "" {
		v, err := resolve(sc.Username)
		if err != nil {
			return nil, "", err
		}
		opts.Username = v
	}
	if sc.Password != "" {
		v, err := resolve(sc.Password)
		if err != nil {
			return nil, "", err
		}
		opts.Password = v
	}
	if sc.TLS && opts.TLSConfig == nil {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	ns := sc.Namespace
	if ns == "" {
		ns = "signet"
	}
	// Any change of how to connect makes a new client (credentials enter
	// the key only as a digest).
	cred := sha256.Sum256([]byte(opts.Username + "\x00" + opts.Password))
	key := fmt.Sprintf("redis:%s|%s|%d|%s|%x|%t", strings.Join(opts.Addrs, ","), opts.MasterName, opts.DB, ns, cred[:8], opts.TLSConfig != nil)
	return opts, key, nil
}

// provisionSigning builds the signed-URL verifier from the configured ring,
// or from the store's generated secret when none is configured.
func (a *App) provisionSigning() error {
	if a.MaxLifetime == 0 {
		a.MaxLifetime = caddy.Duration(defaultMaxLifetime)
	}
	if a.ClockSkew == 0 {
		a.ClockSkew = caddy.Duration(defaultClockSkew)
	}
	if a.MaxLifetime < caddy.Duration(time.Second) || a.MaxLifetime > caddy.Duration(defaultMaxLifetime) {
		return fmt.Errorf("max_lifetime must be between 1s and 7d, got %s", time.Duration(a.MaxLifetime))
	}
	if a.ClockSkew < 0 || a.ClockSkew > caddy.Duration(time.Hour) {
		return fmt.Errorf("clock_skew must be between 0 and 1h, got %s", time.Duration(a.ClockSkew))
	}
	if a.BaseURL != "" {
		u, err := parseBaseURL(a.BaseURL)
		if err != nil {
			return fmt.Errorf("base_url: %v", err)
		}
		a.baseURL = u
	}
	var ring []verifier.Secret
	if len(a.SigningSecrets) > 0 {
		repl := caddy.NewReplacer()
		for _, s := range a.SigningSecrets {
			key, err := repl.ReplaceOrErr(s.Secret, true, true)
			if err != nil {
				return fmt.Errorf("signing secret %q: %v", s.ID, err)
			}
			ring = append(ring, verifier.Secret{ID: s.ID, Key: []byte(key)})
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		gen := generateSecret
		if prev := a.backend.generated.Load(); prev != nil {
			// The store lost the secret this process has been signing with
			// (a Redis restart without its data): put it back rather than
			// invalidate every link in flight.
			gen = func() (keystore.Secret, error) { return *prev, nil }
		}
		sec, err := a.backend.store.Secret(ctx, gen)
		if err != nil {
			return fmt.Errorf("loading the generated signing secret: %v", err)
		}
		a.backend.generated.Store(&sec)
		ring = []verifier.Secret{{ID: sec.ID, Key: sec.Key}}
	}
	v, err := verifier.NewVerifier(ring, a.QueryParam, time.Duration(a.ClockSkew))
	if err != nil {
		return fmt.Errorf("signed URLs: %v", err)
	}
	a.verifier = v
	return nil
}

// generateSecret makes the signing secret of a zero-configuration install:
// 32 random bytes, id "gen-" plus 8 random characters.
func generateSecret() (keystore.Secret, error) {
	var b [37]byte
	if _, err := rand.Read(b[:]); err != nil {
		return keystore.Secret{}, err
	}
	id := "gen-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[32:]))
	return keystore.Secret{ID: id, Key: b[:32], CreatedAt: time.Now().UTC()}, nil
}

// parseBaseURL accepts `scheme://host[:port]` with an optional trailing
// slash and nothing else.
func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: want scheme://host[:port], e.g. https://files.example.com", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func (a *App) cacheOptions() keystore.CacheOptions {
	lu := time.Duration(a.LastUsedInterval)
	if lu < 0 {
		lu = 0
	}
	resync := time.Duration(a.ResyncInterval)
	if resync == 0 {
		resync = defaultResyncInterval
	}
	return keystore.CacheOptions{
		HealthInterval:   healthInterval,
		LastUsedInterval: lu,
		ResyncInterval:   max(resync, 0),
		Derive:           derivePlaceholders,
		OnError: func(op string, err error) {
			caddy.Log().Named("signet").Warn("background store work failed", zap.String("op", op), zap.Error(err))
		},
	}
}

// Validate checks the configuration.
func (a *App) Validate() error { return nil }

// current is the app of the running config; the admin API, which Caddy
// instantiates separately, reaches the store through it.
var current atomic.Pointer[App]

// Start makes the app the one the admin API serves.
func (a *App) Start() error {
	current.Store(a)
	return nil
}

// Stop stops serving the admin API from this app, unless a newer config's
// app has taken over already.
func (a *App) Stop() error {
	current.CompareAndSwap(a, nil)
	return nil
}

// Cleanup releases this config's hold on the shared store.
func (a *App) Cleanup() error {
	if a.poolKey == "" {
		return nil
	}
	_, err := backends.Delete(a.poolKey)
	return err
}

// Cache returns the in-process view of the store.
func (a *App) Cache() *keystore.Cache { return a.backend.cache }

// backend is the state that outlives config reloads: one store handle and
// one cache per store, shared through a caddy.UsagePool.
type backend struct {
	store keystore.Store
	cache *keystore.Cache
	// generated is the generated signing secret last loaded from the store.
	generated atomic.Pointer[keystore.Secret]
}

// destructWait bounds how long a config change waits for the previous
// store to shut down: an unreachable Redis must not stall a reload.
const destructWait = 3 * time.Second

// Destruct implements caddy.Destructor: the last config using the store is
// gone. It closes the cache and the store, waiting at most destructWait;
// past that, they finish closing in the background.
func (b *backend) Destruct() error {
	done := make(chan error, 1)
	go func() { done <- errors.Join(b.cache.Close(), b.store.Close()) }()
	select {
	case err := <-done:
		return err
	case <-time.After(destructWait):
		caddy.Log().Named("signet").Warn("the previous key store is still closing; continuing without waiting")
		return nil
	}
}

var backends = caddy.NewUsagePool()

func loadBackend(key string, open func() (keystore.Store, error), opts keystore.CacheOptions) (*backend, error) {
	v, _, err := backends.LoadOrNew(key, func() (caddy.Destructor, error) {
		st, err := open()
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := keystore.NewCache(ctx, st, opts)
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		return &backend{store: st, cache: c}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*backend), nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ caddy.Destructor   = (*backend)(nil)
)
