package caddymodule

import (
	"context"
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-signet/signet/keystore"
)

// Signet's metrics. The collectors are created once, here, and registered
// with each config's registry (ctx.GetMetricsRegistry()), so they appear on
// Caddy's /metrics, keep counting across reloads, and never carry a key id,
// user or path as a label. The request path uses handles resolved at init
// (no label hashing, no lock).
const metricsNamespace, metricsSubsystem = "caddy", "signet"

// credential is the kind of credential a request presents (a label value).
type credential uint8

const (
	credNone credential = iota
	credBearer
	credSignedURL
	numCredentials
)

var credNames = [numCredentials]string{credNone: "none", credBearer: "bearer", credSignedURL: "signed_url"}

// allowedReason is the reason label of an allowed request.
type allowedReason uint8

const (
	allowedOK allowedReason = iota
	allowedPublic
	numAllowed
)

// deniedReasons are the reasons a refusal is counted under, resolved to
// handles at init. A reason missing here is still counted (deniedCounter
// resolves it on the spot); TestDeniedReasonsResolved keeps the list whole.
var deniedReasons = []string{
	"missing", "malformed", "unknown_key", "expired", "disabled", "method", "scope",
	"ambiguous_path", "invalid_signature", "malformed_signature", "not_yet_valid",
	"method_not_allowed", "revoked", "lifetime", "store_unavailable", "rate_limited",
	"bad_request", "not_found", "permission", "public_key", "origin_error", "api_not_found",
	"conflict", "internal", "expiry", "offline_rule",
}

var (
	requestsVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "requests_total",
		Help: "Decisions of the signet handler, by outcome, credential and reason.",
	}, []string{"outcome", "credential", "reason"})
	verifyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "verification_duration_seconds",
		Help:    "Time Signet spent deciding a request (for the signing endpoint, including its HEAD check at the origin).",
		Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
	}, []string{"credential"})
	signedURLsIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "signed_urls_issued_total",
		Help: "Signed URLs issued, by API (public signing endpoint or admin API).",
	}, []string{"api"})
	keyChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "key_changes_total",
		Help: "API key lifecycle changes.",
	}, []string{"op"})
	userChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "user_changes_total",
		Help: "User record changes.",
	}, []string{"op"})
	revocationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "revocations_total",
		Help: "Revocations stored, by kind.",
	}, []string{"kind"})
	rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "rate_limited_total",
		Help: "API requests refused with 429, by the limit that was hit.",
	}, []string{"limit"})
	storeOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "store_operations_total",
		Help: "Key store operations, by backend, operation and result.",
	}, []string{"backend", "op", "result"})
	storeGauges = newStoreCollector()
)

// collectors is every Signet collector, for registration.
var collectors = []prometheus.Collector{
	requestsVec, verifyDuration, signedURLsIssued, keyChanges, userChanges, revocationsTotal,
	rateLimited, storeOps, storeGauges,
}

// Pre-resolved handles: the request path indexes arrays, with no label
// hashing and no lock.
var (
	allowedCounters [numCredentials][numAllowed]prometheus.Counter
	deniedCounters  = map[string]*[numCredentials]prometheus.Counter{}
	durationByCred  [numCredentials]prometheus.Observer
)

func init() {
	for cred, name := range credNames {
		allowedCounters[cred][allowedOK] = requestsVec.WithLabelValues("allowed", name, "ok")
		allowedCounters[cred][allowedPublic] = requestsVec.WithLabelValues("allowed", name, "public")
		if credential(cred) != credNone { // nothing to verify without a credential
			durationByCred[cred] = verifyDuration.WithLabelValues(name)
		}
	}
	for _, reason := range deniedReasons {
		var byCred [numCredentials]prometheus.Counter
		for cred, name := range credNames {
			byCred[cred] = requestsVec.WithLabelValues("denied", name, reason)
		}
		deniedCounters[reason] = &byCred
	}
}

// deniedCounter is the counter of a refusal for cred and reason.
func deniedCounter(cred credential, reason string) prometheus.Counter {
	if c := deniedCounters[reason]; c != nil {
		return c[cred]
	}
	return requestsVec.WithLabelValues("denied", credNames[cred], reason)
}

// observeDuration records how long deciding a request took.
func observeDuration(cred credential, start time.Time) {
	if o := durationByCred[cred]; o != nil {
		o.Observe(time.Since(start).Seconds())
	}
}

// registerMetrics adds Signet's collectors to the config's registry;
// collectors already there (a reload onto the same registry) are fine.
func registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// storeCollector exports the state of the running app's store as gauges,
// read at scrape time.
type storeCollector struct {
	up, staleness, resyncAge, keys, revocations *prometheus.Desc
}

func newStoreCollector() *storeCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, name), help, []string{"backend"}, nil)
	}
	return &storeCollector{
		up:          d("store_up", "1 while the key store answers and the in-process view is complete, else 0."),
		staleness:   d("store_staleness_seconds", "Seconds since the store last answered with the in-process view complete."),
		resyncAge:   d("resync_age_seconds", "Seconds since the last successful full reload of the in-process view."),
		keys:        d("view_keys", "API keys in the in-process view."),
		revocations: d("view_revocations", "Revocation records in the in-process view."),
	}
}

func (s *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.up
	ch <- s.staleness
	ch <- s.resyncAge
	ch <- s.keys
	ch <- s.revocations
}

func (s *storeCollector) Collect(ch chan<- prometheus.Metric) {
	app := current.Load()
	if app == nil {
		return
	}
	st := app.s.live.Load()
	if st == nil {
		return
	}
	c, backend := st.backend.cache, app.Store.Type
	now := time.Now()
	staleness := now.Sub(c.LastOK()).Seconds()
	up := 1.0
	if staleness > 3*healthInterval.Seconds() {
		up = 0
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, backend)
	}
	gauge(s.up, up)
	gauge(s.staleness, staleness)
	gauge(s.resyncAge, now.Sub(c.LoadedAt()).Seconds())
	gauge(s.keys, float64(c.Len()))
	gauge(s.revocations, float64(c.RevocationCount()))
}

// meteredStore counts every operation of the store it wraps.
type meteredStore struct {
	keystore.Store
	backend string
}

func (m meteredStore) count(op string, err error) {
	result := "ok"
	if err != nil && !errors.Is(err, keystore.ErrNotFound) && !errors.Is(err, keystore.ErrExists) && !errors.Is(err, keystore.ErrNoSuchUser) {
		result = "error"
	}
	storeOps.WithLabelValues(m.backend, op, result).Inc()
}

func (m meteredStore) CreateKey(ctx context.Context, k *keystore.Key) error {
	err := m.Store.CreateKey(ctx, k)
	m.count("create_key", err)
	return err
}

func (m meteredStore) GetKey(ctx context.Context, id string) (*keystore.Key, error) {
	k, err := m.Store.GetKey(ctx, id)
	m.count("get_key", err)
	return k, err
}

func (m meteredStore) ListKeys(ctx context.Context) ([]*keystore.Key, error) {
	ks, err := m.Store.ListKeys(ctx)
	m.count("list_keys", err)
	return ks, err
}

func (m meteredStore) UpdateKey(ctx context.Context, id string, fn func(*keystore.Key) error) (*keystore.Key, error) {
	k, err := m.Store.UpdateKey(ctx, id, fn)
	m.count("update_key", err)
	return k, err
}

func (m meteredStore) DeleteKey(ctx context.Context, id string) (*keystore.Key, error) {
	k, err := m.Store.DeleteKey(ctx, id)
	m.count("delete_key", err)
	return k, err
}

func (m meteredStore) TouchKeys(ctx context.Context, lu map[string]time.Time) error {
	err := m.Store.TouchKeys(ctx, lu)
	m.count("touch_keys", err)
	return err
}

func (m meteredStore) Secret(ctx context.Context, gen func() (keystore.Secret, error)) (keystore.Secret, error) {
	s, err := m.Store.Secret(ctx, gen)
	m.count("secret", err)
	return s, err
}

func (m meteredStore) Revoke(ctx context.Context, r keystore.Revocation) error {
	err := m.Store.Revoke(ctx, r)
	m.count("revoke", err)
	return err
}

func (m meteredStore) ListRevocations(ctx context.Context, now time.Time) ([]keystore.Revocation, error) {
	rs, err := m.Store.ListRevocations(ctx, now)
	m.count("list_revocations", err)
	return rs, err
}

func (m meteredStore) CreateUser(ctx context.Context, u *keystore.User) error {
	err := m.Store.CreateUser(ctx, u)
	m.count("create_user", err)
	return err
}

func (m meteredStore) GetUser(ctx context.Context, name string) (*keystore.User, error) {
	u, err := m.Store.GetUser(ctx, name)
	m.count("get_user", err)
	return u, err
}

func (m meteredStore) ListUsers(ctx context.Context) ([]*keystore.User, error) {
	us, err := m.Store.ListUsers(ctx)
	m.count("list_users", err)
	return us, err
}

func (m meteredStore) UpdateUser(ctx context.Context, name string, fn func(*keystore.User) error) (*keystore.User, error) {
	u, err := m.Store.UpdateUser(ctx, name, fn)
	m.count("update_user", err)
	return u, err
}

func (m meteredStore) DeleteUser(ctx context.Context, name string) (*keystore.User, []*keystore.Key, error) {
	u, ks, err := m.Store.DeleteUser(ctx, name)
	m.count("delete_user", err)
	return u, ks, err
}

func (m meteredStore) Ping(ctx context.Context) error {
	err := m.Store.Ping(ctx)
	m.count("ping", err)
	return err
}

// Interface guards
var (
	_ keystore.Store       = meteredStore{}
	_ prometheus.Collector = (*storeCollector)(nil)
)

// The ledger's operations (metered like the others; ListLinkExpiries runs
// at each resync).

func (m meteredStore) CreateLink(ctx context.Context, l *keystore.Link) error {
	err := m.Store.CreateLink(ctx, l)
	m.count("create_link", err)
	return err
}

func (m meteredStore) GetLink(ctx context.Context, id string, now time.Time) (*keystore.Link, error) {
	l, err := m.Store.GetLink(ctx, id, now)
	m.count("get_link", err)
	return l, err
}

func (m meteredStore) ListLinks(ctx context.Context, f keystore.LinkFilter, cursor string, limit int, now time.Time) ([]*keystore.Link, string, error) {
	ls, next, err := m.Store.ListLinks(ctx, f, cursor, limit, now)
	m.count("list_links", err)
	return ls, next, err
}

func (m meteredStore) SetLinkExpiry(ctx context.Context, id string, exp, now time.Time) (*keystore.Link, error) {
	l, err := m.Store.SetLinkExpiry(ctx, id, exp, now)
	m.count("set_link_expiry", err)
	return l, err
}

func (m meteredStore) ListLinkExpiries(ctx context.Context, now time.Time) ([]keystore.LinkExpiry, error) {
	es, err := m.Store.ListLinkExpiries(ctx, now)
	m.count("list_link_expiries", err)
	return es, err
}

func (m meteredStore) TouchLinks(ctx context.Context, uses map[string]keystore.LinkUse) error {
	err := m.Store.TouchLinks(ctx, uses)
	m.count("touch_links", err)
	return err
}

func (m meteredStore) UseLink(ctx context.Context, id string, max int64, client string, resume bool, grace time.Duration, now time.Time) (bool, int64, error) {
	ok, uses, err := m.Store.UseLink(ctx, id, max, client, resume, grace, now)
	m.count("use_link", err)
	return ok, uses, err
}

func (m meteredStore) ReleaseUse(ctx context.Context, id, client string) error {
	err := m.Store.ReleaseUse(ctx, id, client)
	m.count("release_use", err)
	return err
}
