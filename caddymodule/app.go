// Package caddymodule is Signet's Caddy glue: the signet app (which owns the
// key store), the HTTP handler http.handlers.signet, the admin API module
// admin.api.signet, Caddyfile parsing and the `caddy signet` commands. Who
// may do what is decided in package rules; this package only asks.
package caddymodule

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
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
	defaultMaxLifetime      = 7 * 24 * time.Hour
	defaultClockSkew        = 30 * time.Second
	defaultMaxStaleness     = 30 * time.Second
	defaultResyncInterval   = 5 * time.Minute
	// healthInterval is how often the cache pings the store.
	healthInterval = time.Second
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

	// SelfService lets every user key (a secret key with at least read)
	// list, create, update and delete the keys of its own user through the
	// public API, never wider than itself. Without it, only users whose
	// record has self_service may. Default: off.
	SelfService bool `json:"self_service,omitempty"`

	// BaseURL is the scheme and host (e.g. `https://files.example.com`)
	// of URLs signed through the admin API and CLI when the request names
	// none. (The signing endpoint uses the site's `public_base_url`, or
	// the request's own scheme and host.)
	BaseURL string `json:"base_url,omitempty"`

	baseURL *url.URL
	ring    []verifier.Secret // the configured ring, resolved
	poolKey string            // the store's key in the backends pool
	open    func() (keystore.Store, error)

	s *appState
}

// appState is an app's runtime state, behind a pointer so the config struct
// stays copyable.
type appState struct {
	apiMu  sync.Mutex
	apis   []string                // the API prefixes of the handlers using this app
	mu     sync.Mutex              // serialises opening
	live   atomic.Pointer[running] // set once the store is open
	loaded bool                    // this config holds a backends reference
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

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "signet",
		New: func() caddy.Module { return new(App) },
	}
}

// check validates the configuration as given (zero values mean defaults).
// Provision calls it before anything is opened; the Caddyfile parser calls
// it after each option, so an error points at the option's line.
func (a *App) check() error {
	if _, _, err := denyLevel(a.DenyLogLevel); err != nil {
		return err
	}
	if a.LastUsedInterval > 0 && a.LastUsedInterval < caddy.Duration(time.Second) {
		return fmt.Errorf("last_used_interval: must be at least 1s (or off), got %s", time.Duration(a.LastUsedInterval))
	}
	if a.MaxStaleness != 0 && a.MaxStaleness < caddy.Duration(time.Second) {
		return fmt.Errorf("max_staleness: must be at least 1s (the store is pinged every second), got %s", time.Duration(a.MaxStaleness))
	}
	if a.ResyncInterval > 0 && a.ResyncInterval < caddy.Duration(time.Second) {
		return fmt.Errorf("resync_interval: must be at least 1s, got %s", time.Duration(a.ResyncInterval))
	}
	if a.MaxLifetime != 0 && (a.MaxLifetime < caddy.Duration(time.Second) || a.MaxLifetime > caddy.Duration(defaultMaxLifetime)) {
		return fmt.Errorf("max_lifetime: must be between 1s and 7d, got %s", time.Duration(a.MaxLifetime))
	}
	if a.ClockSkew < 0 || a.ClockSkew > caddy.Duration(time.Hour) {
		return fmt.Errorf("clock_skew: must be between 0 and 1h, got %s", time.Duration(a.ClockSkew))
	}
	if a.BaseURL != "" {
		if _, err := parseBaseURL(a.BaseURL); err != nil {
			return fmt.Errorf("base_url: %v", err)
		}
	}
	// The signature parameter's rules are the verifier's own.
	if _, err := buildVerifier([]verifier.Secret{{ID: "check", Key: make([]byte, verifier.MinSecretLen)}}, a.QueryParam, 0); err != nil {
		return fmt.Errorf("query_param: %v", err)
	}
	for i, s := range a.SigningSecrets {
		if !verifier.ValidSecretID(s.ID) {
			return fmt.Errorf("signing_secret: id %q must be 1-32 characters of A-Z a-z 0-9 - _", s.ID)
		}
		if keystore.ValidKeyID(s.ID) {
			// A token whose secret id is its key id is key-signed.
			return fmt.Errorf("signing_secret: id %q has the form of an API key id (key_…), which marks links keys sign themselves; choose another", s.ID)
		}
		for _, o := range a.SigningSecrets[:i] {
			if o.ID == s.ID {
				return fmt.Errorf("signing_secret: duplicate id %q", s.ID)
			}
		}
		if !strings.Contains(s.Secret, "{") && len(s.Secret) < verifier.MinSecretLen {
			return fmt.Errorf("signing_secret %s: the secret must be at least %d bytes (try: openssl rand -base64 48)", s.ID, verifier.MinSecretLen)
		}
	}
	if a.Store != nil {
		return a.Store.check()
	}
	return nil
}

// Provision checks the configuration, sets defaults and resolves secrets.
// It opens nothing: the store is opened by Start (so `caddy validate` never
// touches a store that a running instance holds), or by the first request
// if the http app starts first.
func (a *App) Provision(ctx caddy.Context) error {
	if err := a.check(); err != nil {
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
	if a.MaxStaleness == 0 {
		a.MaxStaleness = caddy.Duration(defaultMaxStaleness)
	}
	if a.MaxLifetime == 0 {
		a.MaxLifetime = caddy.Duration(defaultMaxLifetime)
	}
	if a.ClockSkew == 0 {
		a.ClockSkew = caddy.Duration(defaultClockSkew)
	}
	if a.BaseURL != "" {
		a.baseURL, _ = parseBaseURL(a.BaseURL)
	}
	repl := caddy.NewReplacer()
	for _, s := range a.SigningSecrets {
		key, err := repl.ReplaceOrErr(s.Secret, true, true)
		if err != nil {
			return fmt.Errorf("signing secret %q: %v", s.ID, err)
		}
		a.ring = append(a.ring, verifier.Secret{ID: s.ID, Key: []byte(key)})
	}
	if len(a.ring) > 0 {
		if _, err := buildVerifier(a.ring, a.QueryParam, time.Duration(a.ClockSkew)); err != nil {
			return fmt.Errorf("signed URLs: %v", err)
		}
	}
	a.s = new(appState)
	var err error
	a.poolKey, a.open, err = a.Store.opener()
	return err
}

// Validate checks the configuration.
func (a *App) Validate() error { return a.check() }

// running is what an app has once its store is open.
type running struct {
	backend  *backend
	verifier *verifier.Verifier
}

// state returns the open store and the verifier, opening the store on
// first use. The request path calls it on every request: after the first
// it is one atomic load.
func (a *App) state() (*running, error) {
	if s := a.s.live.Load(); s != nil {
		return s, nil
	}
	return a.openStore()
}

func (a *App) openStore() (*running, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if s := a.s.live.Load(); s != nil {
		return s, nil
	}
	b, err := loadBackend(a.poolKey, a.open, a.cacheOptions())
	if err != nil {
		return nil, err
	}
	a.s.loaded = true
	ring := a.ring
	if len(ring) == 0 {
		sec, err := b.generatedSecret()
		if err != nil {
			return nil, fmt.Errorf("loading the generated signing secret: %v", err)
		}
		ring = []verifier.Secret{{ID: sec.ID, Key: sec.Key}}
	}
	// A link's expiry may have been moved since it was issued (the links
	// API): the verifier asks the cache's view of moved expiries. Links a
	// key signed itself are verified with the key's offline secret, also
	// from the view.
	v, err := buildVerifier(ring, a.QueryParam, time.Duration(a.ClockSkew),
		verifier.WithExpiry(b.cache.LinkExpiry), verifier.WithOfflineKeys(b.cache.OfflineKey))
	if err != nil {
		return nil, fmt.Errorf("signed URLs: %v", err)
	}
	s := &running{backend: b, verifier: v}
	a.s.live.Store(s)
	return s, nil
}

// buildVerifier makes the signed-URL verifier over ring.
func buildVerifier(ring []verifier.Secret, param string, skew time.Duration, opts ...verifier.Option) (*verifier.Verifier, error) {
	return verifier.NewVerifier(ring, param, skew, opts...)
}

// current is the app of the running config; the admin API, which Caddy
// instantiates separately, reaches the store through it.
var current atomic.Pointer[App]

// Start opens the store (or takes the one the previous config opened) and
// makes the app the one the admin API serves.
//
// The app serves the admin API before its store is open, so an admin call
// that arrives while the store opens waits for it rather than answering
// "not running" (the http app may start, and answer, first).
func (a *App) Start() error {
	prev := current.Swap(a)
	if _, err := a.state(); err != nil {
		current.CompareAndSwap(a, prev)
		return err
	}
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
	if a.s == nil {
		return nil
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if !a.s.loaded {
		return nil
	}
	a.s.loaded = false
	_, err := backends.Delete(a.poolKey)
	return err
}

// Stale reports whether requests must fail closed because the store has not
// answered for longer than max_staleness.
func (a *App) Stale(s *running, now time.Time) bool {
	return !a.ServeStale && s.backend.cache.Stale(now, time.Duration(a.MaxStaleness))
}

// noteAPI records the API prefix of a handler that uses a.
func (a *App) noteAPI(api string) {
	if a.s == nil {
		return
	}
	a.s.apiMu.Lock()
	defer a.s.apiMu.Unlock()
	if !slices.Contains(a.s.apis, api) {
		a.s.apis = append(a.s.apis, api)
	}
}

// pathFormAPI is the API prefix of the path_url of links signed through
// the admin API: the one prefix the config's handlers use (the default when
// none does), or "" (no path_url) when they use several.
func (a *App) pathFormAPI() string {
	if a.s == nil {
		return defaultAPIPrefix
	}
	a.s.apiMu.Lock()
	defer a.s.apiMu.Unlock()
	switch len(a.s.apis) {
	case 0:
		return defaultAPIPrefix
	case 1:
		return a.s.apis[0]
	}
	return ""
}

// pathForms are the path forms of the API prefixes of the config's
// handlers (the default prefix when none uses the app yet).
func (a *App) pathForms() []verifier.PathForm {
	apis := []string{defaultAPIPrefix}
	if a.s != nil {
		a.s.apiMu.Lock()
		if len(a.s.apis) > 0 {
			apis = slices.Clone(a.s.apis)
		}
		a.s.apiMu.Unlock()
	}
	forms := make([]verifier.PathForm, len(apis))
	for i, api := range apis {
		forms[i] = verifier.NewPathForm(api)
	}
	return forms
}

// paramName is the signature parameter's name.
func (a *App) paramName() string {
	if a.QueryParam != "" {
		return a.QueryParam
	}
	return verifier.DefaultParam
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

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
