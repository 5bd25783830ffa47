package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The monitoring examples in examples/ must only use metrics Signet
// exports, with the labels and label values it gives them. exSpec is
// Signet's metrics specification; TestExamplesMetricsScraped checks the
// examples against a running instance too.

// exMetric is one metric of the specification: its type and its labels,
// each with its values when the set is enumerated (nil: any value).
type exMetric struct {
	typ    dto.MetricType
	labels map[string][]string
}

var exDeniedReasons = []string{
	"missing", "malformed", "unknown_key", "expired", "disabled", "method", "scope",
	"ambiguous_path", "invalid_signature", "malformed_signature", "not_yet_valid", "revoked",
	"lifetime", "store_unavailable", "rate_limited", "bad_request", "not_found", "permission",
	"public_key", "origin_error", "api_not_found", "expiry", "conflict", "internal",
}

var exBackend = map[string][]string{"backend": {"file", "redis"}}

var exSpec = map[string]exMetric{
	"caddy_signet_requests_total": {dto.MetricType_COUNTER, map[string][]string{
		"outcome":    {"allowed", "denied"},
		"credential": {"bearer", "signed_url", "none"},
		"reason":     append([]string{"ok", "public"}, exDeniedReasons...),
	}},
	"caddy_signet_verification_duration_seconds": {dto.MetricType_HISTOGRAM, map[string][]string{
		"credential": {"bearer", "signed_url"},
	}},
	"caddy_signet_signed_urls_issued_total": {dto.MetricType_COUNTER, map[string][]string{"api": {"public", "admin"}}},
	"caddy_signet_key_changes_total":        {dto.MetricType_COUNTER, map[string][]string{"op": {"created", "updated", "deleted"}}},
	"caddy_signet_user_changes_total":       {dto.MetricType_COUNTER, map[string][]string{"op": {"created", "updated", "deleted"}}},
	"caddy_signet_revocations_total":        {dto.MetricType_COUNTER, map[string][]string{"kind": {"url", "key", "prefix"}}},
	"caddy_signet_rate_limited_total":       {dto.MetricType_COUNTER, map[string][]string{"limit": {"key", "client"}}},
	"caddy_signet_store_operations_total": {dto.MetricType_COUNTER, map[string][]string{
		"backend": {"file", "redis"},
		"op": {"create_key", "get_key", "list_keys", "update_key", "delete_key",
			"create_user", "get_user", "list_users", "update_user", "delete_user",
			"touch_keys", "secret", "revoke", "list_revocations", "ping"},
		"result": {"ok", "error"},
	}},
	"caddy_signet_store_up":                {dto.MetricType_GAUGE, exBackend},
	"caddy_signet_store_staleness_seconds": {dto.MetricType_GAUGE, exBackend},
	"caddy_signet_resync_age_seconds":      {dto.MetricType_GAUGE, exBackend},
	"caddy_signet_view_keys":               {dto.MetricType_GAUGE, exBackend},
	"caddy_signet_view_revocations":        {dto.MetricType_GAUGE, exBackend},
}

// exTargetLabels are labels Prometheus adds at scrape time.
var exTargetLabels = []string{"instance", "job"}

// exRequiredAlerts are the alerts examples/prometheus-alerts.yml must
// define. exImmediateAlerts may omit `for`.
var (
	exRequiredAlerts = []string{
		"SignetDenyRateSpike", "SignetStoreDown", "SignetResyncStale",
		"SignetStoreStale", "SignetStoreErrors", "SignetRateLimiting",
	}
	exImmediateAlerts = map[string]string{
		"SignetStoreStale": "staleness grows one second per second: a `for` would let it pass max_staleness first",
	}
	exSeverities = []string{"critical", "warning", "info"}
)

var (
	exMetricRe   = regexp.MustCompile(`\bcaddy_signet_[a-zA-Z0-9_]+\b`)
	exSelectorRe = regexp.MustCompile(`\b(caddy_signet_[a-zA-Z0-9_]+)\s*\{([^}]*)\}`)
	exMatcherRe  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	exGroupingRe = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	exDocRefRe   = regexp.MustCompile(`\bdocs/[a-zA-Z0-9_./-]+\.md(?:#[a-zA-Z0-9_-]+)?`)
)

// exExpr is a PromQL expression and where an example file uses it.
type exExpr struct{ where, expr string }

// exBaseMetric maps a name used in PromQL to the metric family it belongs
// to: histograms are queried through _bucket, _sum and _count.
func exBaseMetric(name string) (family string, ok bool) {
	if _, ok := exSpec[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if m, ok := exSpec[base]; found && ok && m.typ == dto.MetricType_HISTOGRAM {
			return base, true
		}
	}
	return "", false
}

// exCheckExpr checks one expression against exSpec and returns the metric
// families it uses.
func exCheckExpr(t *testing.T, e exExpr) []string {
	t.Helper()
	if strings.TrimSpace(e.expr) == "" {
		t.Errorf("%s: empty expression", e.where)
		return nil
	}
	if err := exBalanced(e.expr); err != nil {
		t.Errorf("%s: %v in %q", e.where, err, e.expr)
	}
	var families []string
	names := exMetricRe.FindAllString(e.expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: %q uses no caddy_signet_ metric", e.where, e.expr)
	}
	usesBuckets := false
	for _, n := range names {
		base, ok := exBaseMetric(n)
		if !ok {
			t.Errorf("%s: %s is not a Signet metric (expression %q)", e.where, n, e.expr)
			continue
		}
		usesBuckets = usesBuckets || strings.HasSuffix(n, "_bucket")
		if !slices.Contains(families, base) {
			families = append(families, base)
		}
	}
	// Label matchers, per selector.
	for _, sel := range exSelectorRe.FindAllStringSubmatch(e.expr, -1) {
		base, ok := exBaseMetric(sel[1])
		if !ok {
			continue
		}
		spec := exSpec[base]
		for _, m := range exMatcherRe.FindAllStringSubmatch(sel[2], -1) {
			label, op, val := m[1], m[2], m[3]
			values, known := spec.labels[label]
			switch {
			case slices.Contains(exTargetLabels, label):
			case label == "le" && strings.HasSuffix(sel[1], "_bucket"):
			case !known:
				t.Errorf("%s: %s has no label %q (expression %q)", e.where, base, label, e.expr)
			case op == "=" && values != nil && !slices.Contains(values, val):
				t.Errorf("%s: %s{%s=%q}: not a value of %s (%v)", e.where, base, label, val, label, values)
			}
		}
	}
	// Grouping labels: a label of one of the expression's metrics.
	for _, g := range exGroupingRe.FindAllStringSubmatch(e.expr, -1) {
		for _, label := range strings.Split(g[1], ",") {
			label = strings.TrimSpace(label)
			if label == "" || slices.Contains(exTargetLabels, label) || (label == "le" && usesBuckets) {
				continue
			}
			found := false
			for _, f := range families {
				_, ok := exSpec[f].labels[label]
				found = found || ok
			}
			if !found {
				t.Errorf("%s: groups by %q, a label none of %v has (expression %q)", e.where, label, families, e.expr)
			}
		}
	}
	return families
}

// exBalanced reports unbalanced brackets or quotes outside strings.
func exBalanced(expr string) error {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	var quote rune
	escaped := false
	for _, r := range expr {
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == quote:
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return fmt.Errorf("unbalanced %q", r)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 {
		return fmt.Errorf("unterminated %c string", quote)
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}

// exReadExample reads a file of examples/.
func exReadExample(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// exDashboardExprs parses examples/grafana-dashboard.json, checks its
// shape and returns its PromQL: every panel target and the query of every
// query variable.
func exDashboardExprs(t *testing.T) []exExpr {
	t.Helper()
	raw := exReadExample(t, "grafana-dashboard.json")
	type datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	type target struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	}
	type panel struct {
		ID         int                      `json:"id"`
		Type       string                   `json:"type"`
		Title      string                   `json:"title"`
		Datasource *datasource              `json:"datasource"`
		Targets    []target                 `json:"targets"`
		Panels     []panel                  `json:"panels"`
		GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	}
	type input struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	}
	var d struct {
		Inputs        []input `json:"__inputs"`
		Title         string  `json:"title"`
		UID           string  `json:"uid"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
		Templating    struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Query      json.RawMessage `json:"query"`
				Datasource *datasource     `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("examples/grafana-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 {
		t.Errorf("dashboard: title %q, uid %q, schemaVersion %d; want a title, a uid and schemaVersion >= 36", d.Title, d.UID, d.SchemaVersion)
	}
	const dsRef = "${DS_PROMETHEUS}"
	if !slices.Contains(d.Inputs, input{"DS_PROMETHEUS", "datasource", "prometheus"}) {
		t.Errorf("dashboard: no __inputs entry DS_PROMETHEUS (a prometheus datasource)")
	}
	checkDS := func(where string, ds *datasource) {
		if ds == nil || ds.Type != "prometheus" || ds.UID != dsRef {
			t.Errorf("%s: datasource %+v, want {prometheus %s}", where, ds, dsRef)
		}
	}

	var exprs []exExpr
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type != "query" {
			continue
		}
		checkDS("variable "+v.Name, v.Datasource)
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Errorf("variable %s: query %s is neither a string nor an object with a query", v.Name, v.Query)
			}
			q = obj.Query
		}
		exprs = append(exprs, exExpr{"variable " + v.Name, q})
	}
	if vars["DS_PROMETHEUS"] != "datasource" {
		t.Errorf("dashboard: variables %v, want DS_PROMETHEUS of type datasource", vars)
	}
	if vars["instance"] != "query" {
		t.Errorf("dashboard: variables %v, want instance of type query", vars)
	}

	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %q", p.Title)
			if p.Title == "" {
				t.Errorf("panel %d has no title", p.ID)
			}
			if other, dup := ids[p.ID]; dup {
				t.Errorf("%s: id %d already used by %q", where, p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: gridPos %+v", where, p.GridPos)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			checkDS(where, p.Datasource)
			if len(p.Targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			for _, tg := range p.Targets {
				w := fmt.Sprintf("%s target %s", where, tg.RefID)
				if tg.Datasource != nil {
					checkDS(w, tg.Datasource)
				}
				if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
					t.Errorf("%s: %q does not filter on the instance variable", w, tg.Expr)
				}
				exprs = append(exprs, exExpr{w, tg.Expr})
			}
		}
	}
	walk(d.Panels)
	if len(ids) < 12 {
		t.Errorf("dashboard: %d panels, want at least 12", len(ids))
	}
	exCheckDocRefs(t, "examples/grafana-dashboard.json", string(raw))
	return exprs
}

// exRule is one rule of a Prometheus rules file.
type exRule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// exAlertExprs parses examples/prometheus-alerts.yml (unknown fields are
// errors, as for Prometheus), checks the alerts and returns their PromQL.
func exAlertExprs(t *testing.T) []exExpr {
	t.Helper()
	raw := exReadExample(t, "prometheus-alerts.yml")
	var f struct {
		Groups []struct {
			Name        string            `yaml:"name"`
			Interval    string            `yaml:"interval"`
			QueryOffset string            `yaml:"query_offset"`
			Limit       int               `yaml:"limit"`
			Labels      map[string]string `yaml:"labels"`
			Rules       []exRule          `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("examples/prometheus-alerts.yml: %v", err)
	}
	if len(f.Groups) == 0 {
		t.Fatal("examples/prometheus-alerts.yml: no groups")
	}
	var exprs []exExpr
	alerts := map[string]bool{}
	groups := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("group name %q: empty or repeated", g.Name)
		}
		groups[g.Name] = true
		for i, r := range g.Rules {
			where := fmt.Sprintf("group %s rule %d (%s%s)", g.Name, i, r.Alert, r.Record)
			exprs = append(exprs, exExpr{where, r.Expr})
			if r.Record != "" {
				if r.Alert != "" {
					t.Errorf("%s: both alert and record", where)
				}
				continue
			}
			if r.Alert == "" {
				t.Errorf("%s: neither alert nor record", where)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert defined twice", where)
			}
			alerts[r.Alert] = true
			if r.For == "" {
				if _, ok := exImmediateAlerts[r.Alert]; !ok {
					t.Errorf("%s: no `for`", where)
				}
			} else if d, err := model.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q: %v", where, r.For, err)
			}
			if !slices.Contains(exSeverities, r.Labels["severity"]) {
				t.Errorf("%s: labels.severity %q, want one of %v", where, r.Labels["severity"], exSeverities)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no annotations.%s", where, a)
				}
			}
			if !exDocRefRe.MatchString(r.Annotations["description"]) {
				t.Errorf("%s: the description points to no docs/…md page", where)
			}
		}
	}
	for _, name := range exRequiredAlerts {
		if !alerts[name] {
			t.Errorf("examples/prometheus-alerts.yml: no alert %s", name)
		}
	}
	exCheckDocRefs(t, "examples/prometheus-alerts.yml", string(raw))
	return exprs
}

// exCheckDocRefs checks that every docs/….md[#anchor] the text mentions
// exists, with a heading for the anchor.
func exCheckDocRefs(t *testing.T, where, text string) {
	t.Helper()
	seen := map[string]bool{}
	for _, ref := range exDocRefRe.FindAllString(text, -1) {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		file, anchor, _ := strings.Cut(ref, "#")
		raw, err := os.ReadFile(filepath.Join("..", file))
		if err != nil {
			t.Errorf("%s: %s: %v", where, ref, err)
			continue
		}
		if anchor != "" && !slices.Contains(exAnchors(string(raw)), anchor) {
			t.Errorf("%s: %s: no heading with anchor %q in %s", where, ref, anchor, file)
		}
	}
}

// exAnchors returns the GitHub anchors of a Markdown file's headings.
func exAnchors(md string) []string {
	var anchors []string
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		anchors = append(anchors, b.String())
	}
	return anchors
}

// exUsedMetrics checks every expression of both examples against the
// specification and returns the metric families they use, sorted.
func exUsedMetrics(t *testing.T) []string {
	t.Helper()
	exprs := append(exDashboardExprs(t), exAlertExprs(t)...)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, f := range exCheckExpr(t, e) {
			used[f] = true
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestExamplesStatic checks the dashboard and the alerts against the
// metrics specification, without a running instance.
func TestExamplesStatic(t *testing.T) {
	used := exUsedMetrics(t)
	for name := range exSpec {
		if !slices.Contains(used, name) {
			t.Errorf("the examples never use %s", name)
		}
	}
}

// TestExamplesMetricsScraped runs an instance, sends a little of every kind
// of traffic the examples chart, and checks that every metric the examples
// use is on the admin endpoint's /metrics, with its type and labels, and
// that a healthy instance trips none of the store alerts.
func TestExamplesMetricsScraped(t *testing.T) {
	used := exUsedMetrics(t)
	if t.Failed() {
		t.FailNow()
	}
	in := newInstance(t, t.TempDir())
	in.start()
	admin := "http://" + in.admin
	file := in.site + "/reports/q1.txt"
	signEndpoint := in.site + "/_signet/v1/files/reports/q1.txt/signed-url"

	expectStatus(t, "no key", do(t, http.MethodGet, file, "", nil), http.StatusUnauthorized, "")
	k := createKey(t, admin, map[string]any{"name": "m", "permissions": "sign"})
	expectStatus(t, "with key", do(t, http.MethodGet, file, k.Key, nil), http.StatusOK, "")
	resp := do(t, http.MethodPost, signEndpoint, k.Key, map[string]any{"expires_in": 60})
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || resp.status != http.StatusOK || s.URL == "" {
		t.Fatalf("sign: %s (%v)", resp, err)
	}
	expectStatus(t, "signed URL", do(t, http.MethodGet, s.URL, "", nil), http.StatusOK, "")
	// Series of counter vectors appear once they have counted something:
	// a revocation and a 429 (default rate_limit key: 100 at once).
	expectStatus(t, "revoke", do(t, http.MethodPost, admin+"/signet/revocations", "", map[string]any{"url": s.URL}), http.StatusOK, "")
	expectStatus(t, "user", do(t, http.MethodPost, admin+"/signet/users", "", map[string]any{"name": "m", "scopes": []string{"/m/"}}), http.StatusCreated, "")
	limited := false
	for i := 0; i < 1000 && !limited; i++ {
		limited = do(t, http.MethodPost, signEndpoint, k.Key, map[string]any{"expires_in": 60}).status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("no 429 after 1000 signing requests")
	}

	resp = do(t, http.MethodGet, admin+"/metrics", "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(resp.body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}

	for _, name := range used {
		spec := exSpec[name]
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			t.Errorf("%s: used by the examples, not on /metrics", name)
			continue
		}
		if f.GetType() != spec.typ {
			t.Errorf("%s: type %s on /metrics, want %s", name, f.GetType(), spec.typ)
		}
		want := make([]string, 0, len(spec.labels))
		for l := range spec.labels {
			want = append(want, l)
		}
		sort.Strings(want)
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: a series with labels %v, want %v", name, got, want)
				break
			}
		}
	}

	// A healthy instance: the store alerts' conditions are false.
	gauge := func(name string) (float64, bool) {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			return 0, false
		}
		return f.GetMetric()[0].GetGauge().GetValue(), true
	}
	for _, c := range []struct {
		name string
		ok   func(float64) bool
		want string
	}{
		{"caddy_signet_store_up", func(v float64) bool { return v == 1 }, "1"},
		{"caddy_signet_store_staleness_seconds", func(v float64) bool { return v >= 0 && v <= 20 }, "0..20 (SignetStoreStale)"},
		{"caddy_signet_resync_age_seconds", func(v float64) bool { return v >= 0 && v <= 900 }, "0..900 (SignetResyncStale)"},
		{"caddy_signet_view_keys", func(v float64) bool { return v == 1 }, "1 (the key created)"},
	} {
		if v, ok := gauge(c.name); ok && !c.ok(v) {
			t.Errorf("%s = %v on a healthy instance, want %s", c.name, v, c.want)
		}
	}
}
