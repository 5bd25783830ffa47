package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"strings"
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

// Label values (bounded sets).
const (
	credBearer    = "bearer"
	credSignedURL = "signed_url"
	credNone      = "none"
)

var deniedReasons = []string{
	"missing", "malformed", "unknown_key", "expired", "disabled", "method", "scope",
	"ambiguous_path", "invalid_signature", "malformed_signature", "not_yet_valid",
	"method_not_allowed", "revoked", "lifetime", "store_unavailable", "rate_limited",
	"bad_request", "not_found", "permission", "public_key", "origin_error", "api_not_found",
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
	requestsVec, verifyDuration, signedURLsIssued, keyChanges, revocationsTotal,
	rateLimited, storeOps, storeGauges,
}

// requestCounter is a pre-resolved handle of caddy_signet_requests_total.
type requestCounter struct{ outcome, cred, reason string }

var (
	requestCounters = map[requestCounter]prometheus.Counter{}
	durationByCred  = map[string]prometheus.Observer{}
)

func init() {
	for _, cred := range []string{credBearer, credSignedURL, credNone} {
		for _, reason := range deniedReasons {
			requestCounters[requestCounter{"denied", cred, reason}] = requestsVec.WithLabelValues("denied", cred, reason)
		}
		for _, reason := range []string{"ok", "public"} {
			requestCounters[requestCounter{"allowed", cred, reason}] = requestsVec.WithLabelValues("allowed", cred, reason)
		}
		if cred != credNone { // nothing to verify without a credential
			durationByCred[cred] = verifyDuration.WithLabelValues(cred)
		}
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

// decision is what the handler notes about a request before deciding it:
// the credential it presents (for metrics) and when the decision started.
type decision struct {
	cred  string
	start time.Time
}

// countRequest records one decision of the handler.
func (h *Handler) countRequest(dc decision, outcome, reason string) {
	if !h.metrics {
		return
	}
	if c := requestCounters[requestCounter{outcome, dc.cred, reason}]; c != nil {
		c.Inc()
	}
	if dc.cred != credNone {
		durationByCred[dc.cred].Observe(time.Since(dc.start).Seconds())
	}
}

// newDecision classifies r before anything is removed from it.
func (h *Handler) newDecision(r *http.Request, now time.Time) decision {
	dc := decision{cred: credNone, start: now}
	switch {
	case r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, h.param+"="):
		dc.cred = credSignedURL
	case len(r.Header["Authorization"]) > 0:
		dc.cred = credBearer
	}
	return dc
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
	if app == nil || app.backend == nil {
		return
	}
	c, backend := app.backend.cache, app.Store.Type
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

// healthInterval is how often the cache pings the store.
const healthInterval = time.Second

// meteredStore counts every operation of the store it wraps.
type meteredStore struct {
	keystore.Store
	backend string
}

func (m meteredStore) count(op string, err error) {
	result := "ok"
	if err != nil && !errors.Is(err, keystore.ErrNotFound) && !errors.Is(err, keystore.ErrExists) {
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
