package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches and parses the admin endpoint's /metrics.
func scrape(t *testing.T, in *instance) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := httpClient.Get("http://" + in.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the counter or gauge value of the series of family name
// whose labels include all of want ("k=v" pairs), summed; histograms give
// their sample count.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
outer:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if labels[k] != v {
				continue outer
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// delta is the change of a series between two scrapes.
type delta struct{ before, after map[string]*dto.MetricFamily }

func (d delta) expect(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	if got := value(d.after, name, labels...) - value(d.before, name, labels...); got != want {
		t.Errorf("%s%v grew by %v, want %v", name, labels, got, want)
	}
}

func expectValue(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	if got := value(fams, name, labels...); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// TestMetricsScenario runs a known scenario on a fresh process and checks
// the exact counts on /metrics.
func TestMetricsScenario(t *testing.T) {
	in := newInstance(t, t.TempDir())
	in.start()
	file := in.site + "/reports/q1.txt"
	base := scrape(t, in)                                                              // start() probed the site: count from here
	k := in.createKey(t, "--name", "m", "--permissions", "sign")                       // created 1
	reader := in.createKey(t, "--name", "r", "--scope", "/alice/")                     // created 2
	in.mustCLI("keys", "update", reader.ID, "--name", "reader")                        // updated 1
	expectStatus(t, "ok", do(t, "GET", file, k.Key, nil), 200, "")                     // allowed bearer ok
	expectStatus(t, "ok", do(t, "GET", file, k.Key, nil), 200, "")                     // allowed bearer ok
	expectStatus(t, "missing", do(t, "GET", file, "", nil), 401, "")                   // denied none missing
	expectStatus(t, "scope", do(t, "GET", file, reader.Key, nil), 403, "")             // denied bearer scope
	s := in.signURL(t, k.Key, "/reports/q1.txt")                                       // allowed bearer ok (API), issued public 1
	expectStatus(t, "signed", do(t, "GET", s.URL, "", nil), 200, "")                   // allowed signed_url ok
	expectStatus(t, "tampered", do(t, "GET", s.URL+"x", "", nil), 403, "")             // denied signed_url malformed_signature
	in.mustCLI("revoke", s.URL)                                                        // revocations url 1
	expectStatus(t, "revoked", do(t, "GET", s.URL, "", nil), 403, "")                  // denied signed_url revoked
	in.mustCLI("revoke", "--prefix", "/alice/")                                        // revocations prefix 1
	in.mustCLI("sign", "/reports/q1.txt", "--expires-in", "1h", "--base-url", in.site) // issued admin 1
	in.mustCLI("keys", "delete", reader.ID)                                            // deleted 1

	fams := scrape(t, in)
	d := delta{base, fams}
	const req = "caddy_signet_requests_total"
	d.expect(t, 3, req, "outcome=allowed", "credential=bearer", "reason=ok")
	d.expect(t, 1, req, "outcome=allowed", "credential=signed_url", "reason=ok")
	d.expect(t, 1, req, "outcome=denied", "credential=none", "reason=missing")
	d.expect(t, 1, req, "outcome=denied", "credential=bearer", "reason=scope")
	d.expect(t, 1, req, "outcome=denied", "credential=signed_url", "reason=malformed_signature")
	d.expect(t, 1, req, "outcome=denied", "credential=signed_url", "reason=revoked")
	d.expect(t, 8, req)
	d.expect(t, 7, "caddy_signet_verification_duration_seconds") // every decision with a credential
	expectValue(t, fams, 1, "caddy_signet_signed_urls_issued_total", "api=public")
	expectValue(t, fams, 1, "caddy_signet_signed_urls_issued_total", "api=admin")
	expectValue(t, fams, 2, "caddy_signet_key_changes_total", "op=created")
	expectValue(t, fams, 1, "caddy_signet_key_changes_total", "op=updated")
	expectValue(t, fams, 1, "caddy_signet_key_changes_total", "op=deleted")
	expectValue(t, fams, 1, "caddy_signet_revocations_total", "kind=url")
	expectValue(t, fams, 1, "caddy_signet_revocations_total", "kind=prefix")
	expectValue(t, fams, 2, "caddy_signet_store_operations_total", "backend=file", "op=create_key", "result=ok")
	expectValue(t, fams, 1, "caddy_signet_store_up", "backend=file")
	expectValue(t, fams, 1, "caddy_signet_view_keys", "backend=file")
	expectValue(t, fams, 2, "caddy_signet_view_revocations", "backend=file")
	for _, name := range []string{"caddy_signet_store_staleness_seconds", "caddy_signet_resync_age_seconds", "caddy_signet_rate_limited_total"} {
		if _, ok := fams[name]; !ok && name != "caddy_signet_rate_limited_total" {
			t.Errorf("%s missing", name)
		}
	}
	// Bounded labels only: no key id, user or path anywhere in a label.
	for name, f := range fams {
		if !strings.HasPrefix(name, "caddy_signet_") {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if v := l.GetValue(); strings.Contains(v, "key_") || strings.Contains(v, "/") || strings.Contains(v, k.Key) {
					t.Errorf("%s has an unbounded label %s=%q", name, l.GetName(), v)
				}
			}
		}
	}
}

// TestMetricsSurviveReload: a reload neither fails on registration nor
// resets the counters; with `metrics off` they are gone.
func TestMetricsSurviveReload(t *testing.T) {
	in := newInstance(t, t.TempDir())
	in.start()
	file := in.site + "/reports/q1.txt"
	const req = "caddy_signet_requests_total"
	base := value(scrape(t, in), req, "reason=missing") // start() probed the site
	do(t, "GET", file, "", nil)
	do(t, "GET", file, "", nil)
	if got := value(scrape(t, in), req, "reason=missing") - base; got != 2 {
		t.Fatalf("before reload: %v", got)
	}
	reload := func(extra string) {
		cfg, err := os.ReadFile(in.config)
		if err != nil {
			t.Fatal(err)
		}
		next := strings.Replace(string(cfg), "\tsignet {\n", "\tsignet {\n\t\t"+extra+"\n", 1)
		next = strings.Replace(next, "persist_config off", "persist_config off\n\t# reload "+fmt.Sprint(time.Now().UnixNano()), 1)
		if err := os.WriteFile(in.config, []byte(next), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := run(in.bin, "reload", "--config", in.config, "--adapter", "caddyfile", "--address", in.admin)
		if err != nil {
			t.Fatalf("reload: %v\n%s", err, out)
		}
	}
	reload("deny_log_level info")
	do(t, "GET", file, "", nil)
	if got := value(scrape(t, in), req, "reason=missing") - base; got != 3 {
		t.Fatalf("after reload: %v, want 3 (counting on)", got)
	}
	reload("metrics off")
	for name := range scrape(t, in) {
		if strings.HasPrefix(name, "caddy_signet_") {
			t.Errorf("metrics off, but %s is exported", name)
		}
	}
}

// TestLogsHoldNoSecrets runs a full scenario with debug logs and an access
// log (with the documented filter) captured, and checks that no key value,
// signature or signed URL appears in them, while the audit lines do.
func TestLogsHoldNoSecrets(t *testing.T) {
	dir := t.TempDir()
	accessLog := filepath.Join(dir, "access.log")
	in := newInstanceWith(t, dir, "store file "+filepath.Join(dir, "signet.db")+"\ndeny_log_level info")
	cfg, _ := os.ReadFile(in.config)
	withLogs := strings.Replace(string(cfg), "persist_config off", "persist_config off\n\tlog {\n\t\tlevel DEBUG\n\t}", 1)
	withLogs = strings.Replace(withLogs, "\tfile_server\n", `	file_server
	log {
		output file `+accessLog+`
		format filter {
			request>uri query {
				delete sig
			}
			request>headers>Authorization delete
		}
	}
`, 1)
	if err := os.WriteFile(in.config, []byte(withLogs), 0o600); err != nil {
		t.Fatal(err)
	}
	in.start()
	file := in.site + "/reports/q1.txt"
	k := in.createKey(t, "--name", "audited", "--permissions", "sign")
	do(t, "GET", file, k.Key, nil)
	do(t, "GET", file, k.Key+"x", nil)
	s := in.signURL(t, k.Key, "/reports/q1.txt")
	do(t, "GET", s.URL, "", nil)
	do(t, "GET", s.URL+"x", "", nil)
	in.mustCLI("revoke", s.URL)
	do(t, "GET", s.URL, "", nil)
	in.mustCLI("keys", "update", k.ID, "--permissions", "none")
	in.mustCLI("keys", "delete", k.ID)
	in.stop()

	access, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	logs := in.logs.String() + string(access)
	token := s.URL[strings.Index(s.URL, "sig=")+4:]
	for what, secret := range map[string]string{
		"key value": k.Key, "key body": k.Key[3:], "signature": token, "signed URL": s.URL,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the %s", what)
		}
	}
	for _, want := range []string{`"key created"`, `"key updated"`, `"key deleted"`, `"revoked"`, `"request denied"`,
		`"reason":"malformed"`, `"reason":"revoked"`, `"logger":"signet.audit"`, k.ID} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %s", want)
		}
	}
	if !strings.Contains(string(access), `"uri":"/reports/q1.txt`) {
		t.Errorf("the access log lacks the requests:\n%s", access)
	}
	_ = http.StatusOK
}
