package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
)

// This file is the app's store: its configuration, how it is opened, and
// the state that outlives config reloads (one store handle and one cache
// per store, shared through a caddy.UsagePool).

const (
	boltOpenTimeout = 10 * time.Second
	redisPingWait   = 10 * time.Second
	// secretWait bounds loading the generated signing secret; when this
	// process holds it already (a reload), a shorter wait, then the held one.
	secretWait, secretWaitHeld = 30 * time.Second, 5 * time.Second
)

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

// check validates the store settings as given.
func (sc *StoreConfig) check() error {
	switch sc.Type {
	case "", "file":
		if sc.URL != "" || len(sc.Addresses) > 0 {
			return errors.New("store file: url and addresses are for the redis store")
		}
		return nil
	case "redis":
	default:
		return fmt.Errorf("store: unknown type %q (want file or redis)", sc.Type)
	}
	switch {
	case sc.URL != "" && len(sc.Addresses) > 0:
		return errors.New("store redis: give either a URL or addresses, not both")
	case sc.URL == "" && len(sc.Addresses) == 0:
		return errors.New("store redis: give a URL (store redis redis://host:6379) or addresses in a block")
	case sc.URL != "" && sc.DB != 0:
		return errors.New("store redis: with a URL, give the database in it (redis://host:6379/2), not as db")
	case sc.URL != "" && !strings.Contains(sc.URL, "{") && !strings.HasPrefix(sc.URL, "redis://") && !strings.HasPrefix(sc.URL, "rediss://"):
		return fmt.Errorf("store redis: URL %q must start with redis:// or rediss://", sc.URL)
	case sc.DB < 0:
		return fmt.Errorf("store redis: db must be a non-negative number, got %d", sc.DB)
	}
	return nil
}

// opener resolves the settings and returns the store's key in the backends
// pool and the function that opens it (called only if no running config
// holds that store already).
func (sc *StoreConfig) opener() (string, func() (keystore.Store, error), error) {
	switch sc.Type {
	case "", "file":
		path := sc.Path
		if path == "" {
			path = filepath.Join(caddy.AppDataDir(), "signet", "signet.db")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", nil, fmt.Errorf("store path %q: %v", path, err)
		}
		return "file:" + abs, func() (keystore.Store, error) {
			st, err := keystore.OpenBolt(abs, boltOpenTimeout)
			if err != nil {
				return nil, err
			}
			return meteredStore{Store: st, backend: "file"}, nil
		}, nil
	}
	opts, key, err := sc.redisOptions()
	if err != nil {
		return "", nil, fmt.Errorf("store redis: %v", err)
	}
	return key, func() (keystore.Store, error) {
		st := keystore.NewRedisStore(redis.NewUniversalClient(opts), sc.Namespace)
		ctx, cancel := context.WithTimeout(context.Background(), redisPingWait)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("store redis: cannot reach Redis: %v", err)
		}
		return meteredStore{Store: st, backend: "redis"}, nil
	}, nil
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
	if sc.URL != "" {
		u, err := resolve(sc.URL)
		if err != nil {
			return nil, "", err
		}
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, "", fmt.Errorf("url: %v", err)
		}
		opts.Addrs, opts.Username, opts.Password, opts.DB, opts.TLSConfig = []string{o.Addr}, o.Username, o.Password, o.DB, o.TLSConfig
	} else {
		opts.Addrs, opts.MasterName, opts.DB = sc.Addresses, sc.MasterName, sc.DB
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
		Derive:           func(k *keystore.Key, _ *keystore.User) any { return derivePlaceholders(k) },
		OnError: func(op string, err error) {
			caddy.Log().Named("signet").Warn("background store work failed", zap.String("op", op), zap.Error(err))
		},
	}
}

// backend is the state that outlives config reloads: one store handle and
// one cache per store, shared through a caddy.UsagePool.
type backend struct {
	store keystore.Store
	cache *keystore.Cache
	// generated is the generated signing secret last loaded from the store.
	generated atomic.Pointer[keystore.Secret]
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

// generatedSecret loads the signing secret of a zero-configuration install
// from the store, creating it on first start. If this process holds it
// already (a reload onto the same store) and the store cannot be reached,
// the held secret is used: a reload during an outage must not fail (an
// operator may be switching on serve_stale). If the store lost it (a Redis
// restart without its data), the held one is put back rather than
// invalidating every link in flight.
func (b *backend) generatedSecret() (keystore.Secret, error) {
	prev := b.generated.Load()
	gen, wait := generateSecret, secretWait
	if prev != nil {
		gen, wait = func() (keystore.Secret, error) { return *prev, nil }, secretWaitHeld
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sec, err := b.store.Secret(ctx, gen)
	if err != nil {
		if prev == nil {
			return keystore.Secret{}, err
		}
		caddy.Log().Named("signet").Warn("the store did not answer; signing with the generated secret already loaded", zap.Error(err))
		return *prev, nil
	}
	b.generated.Store(&sec)
	return sec, nil
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

// Interface guards
var _ caddy.Destructor = (*backend)(nil)
