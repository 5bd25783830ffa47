// Package caddymodule is Signet's Caddy glue: the signet app (which owns the
// key store), the HTTP handler http.handlers.signet, the admin API module
// admin.api.signet, Caddyfile parsing and the `caddy signet` commands.
package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults.
const (
	defaultLastUsedInterval = time.Minute
	boltOpenTimeout         = 10 * time.Second
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
	// written to the store. Default: 1m. A negative value disables
	// last-used tracking.
	LastUsedInterval caddy.Duration `json:"last_used_interval,omitempty"`

	backend *backend
	poolKey string
	logger  *zap.Logger
}

// StoreConfig selects and configures the key store backend.
type StoreConfig struct {
	// Type is the backend: "file" (the embedded bbolt store, default).
	// "redis" is reserved for the shared store and not supported yet.
	Type string `json:"type,omitempty"`

	// Path is the embedded store's file. Default:
	// `{caddy data dir}/signet/signet.db`. Relative paths are relative
	// to Caddy's working directory.
	Path string `json:"path,omitempty"`
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
	a.logger = ctx.Logger()
	if a.Store == nil {
		a.Store = &StoreConfig{}
	}
	if a.Store.Type == "" {
		a.Store.Type = "file"
	}
	if a.LastUsedInterval == 0 {
		a.LastUsedInterval = caddy.Duration(defaultLastUsedInterval)
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
			return keystore.OpenBolt(abs, boltOpenTimeout)
		}, a.cacheOptions())
		if err != nil {
			return err
		}
		a.backend = b
	case "redis":
		return errors.New(`store redis: not supported yet (the Redis store arrives in a later release); use "store file <path>"`)
	default:
		return fmt.Errorf("unknown store type %q (want file)", a.Store.Type)
	}
	return nil
}

func (a *App) cacheOptions() keystore.CacheOptions {
	lu := time.Duration(a.LastUsedInterval)
	if lu < 0 {
		lu = 0
	}
	return keystore.CacheOptions{
		LastUsedInterval: lu,
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
}

// Destruct implements caddy.Destructor: the last config using the store is
// gone.
func (b *backend) Destruct() error {
	return errors.Join(b.cache.Close(), b.store.Close())
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
