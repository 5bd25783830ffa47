package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.yaml.in/yaml/v3"

	"github.com/caddy-signet/signet/internal/redistest"
)

// The servers docs/openapi.yaml names, and which of the instance's
// listeners each one stands for.
const (
	oaPublicServer = "http://localhost:8080"
	oaAdminServer  = "http://localhost:2019"
)

// oaDoc is docs/openapi.yaml as plain JSON-like values.
type oaDoc struct {
	root map[string]any
}

func loadOpenAPI(t *testing.T) *oaDoc {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	root, ok := jsonish(v).(map[string]any)
	if !ok {
		t.Fatal("docs/openapi.yaml: not a mapping")
	}
	if ver, _ := root["openapi"].(string); !strings.HasPrefix(ver, "3.1.") {
		t.Fatalf("docs/openapi.yaml: openapi %q, want 3.1.x", root["openapi"])
	}
	return &oaDoc{root: root}
}

// jsonish turns decoded YAML into what encoding/json would produce: string
// keys, float64 numbers, RFC 3339 strings for timestamps.
func jsonish(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonish(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonish(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonish(e)
		}
		return out
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}

// deref follows $ref (local JSON pointers only) until it reaches an object.
func (d *oaDoc) deref(v any) map[string]any {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v = d.pointer(ref)
	}
	return nil
}

func (d *oaDoc) pointer(ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	return cur
}

// oaMethods are the operation keys of a path item, in a stable order.
var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oaOp is one documented operation.
type oaOp struct {
	path, method string // "/signet/keys/{id}", "PATCH"
	server       string // the server URL that applies
	op           map[string]any
}

func (d *oaDoc) operations(t *testing.T) []oaOp {
	t.Helper()
	paths, _ := d.root["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("docs/openapi.yaml: no paths")
	}
	top := oaServerURL(d.root["servers"])
	var ops []oaOp
	for p, item := range paths {
		pi := d.deref(item)
		server := top
		if s := oaServerURL(pi["servers"]); s != "" {
			server = s
		}
		for _, m := range oaMethods {
			op, ok := pi[m].(map[string]any)
			if !ok {
				continue
			}
			opServer := server
			if s := oaServerURL(op["servers"]); s != "" {
				opServer = s
			}
			// Every {param} of the path is declared as a path parameter.
			declared := map[string]bool{}
			for _, list := range []any{pi["parameters"], op["parameters"]} {
				params, _ := list.([]any)
				for _, prm := range params {
					if pm := d.deref(prm); pm != nil && pm["in"] == "path" && pm["required"] == true {
						declared[fmt.Sprint(pm["name"])] = true
					}
				}
			}
			for _, name := range regexp.MustCompile(`\{([^}]*)\}`).FindAllStringSubmatch(p, -1) {
				if !declared[name[1]] {
					t.Errorf("%s %s: path parameter %q is not declared (in: path, required: true)", strings.ToUpper(m), p, name[1])
				}
			}
			ops = append(ops, oaOp{path: p, method: strings.ToUpper(m), server: opServer, op: op})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		return ops[i].path+" "+ops[i].method < ops[j].path+" "+ops[j].method
	})
	return ops
}

// oaServerURL returns the URL of the only server of a servers list, or "".
func oaServerURL(v any) string {
	list, _ := v.([]any)
	if len(list) != 1 {
		return ""
	}
	m, _ := list[0].(map[string]any)
	s, _ := m["url"].(string)
	return s
}

// documentedMethods returns the methods documented for path.
func (d *oaDoc) documentedMethods(path string) []string {
	paths, _ := d.root["paths"].(map[string]any)
	pi := d.deref(paths[path])
	var out []string
	for _, m := range oaMethods {
		if _, ok := pi[m]; ok {
			out = append(out, strings.ToUpper(m))
		}
	}
	return out
}

// Schema validation: the subset of JSON Schema the document uses. A keyword
// outside this subset is an error, so the document cannot promise something
// the test does not check.
var (
	oaAssertions  = []string{"$ref", "type", "enum", "const", "required", "properties", "additionalProperties", "minProperties", "maxProperties", "items", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum"}
	oaAnnotations = []string{"description", "title", "example", "examples", "default", "deprecated", "readOnly", "writeOnly", "$comment"}
)

// validate checks v (a value as encoding/json decodes it) against schema
// and returns what does not match.
func (d *oaDoc) validate(schema any, v any, at string) []string {
	s := d.deref(schema)
	if s == nil {
		return []string{at + ": schema missing or not an object"}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !slices.Contains(oaAssertions, k) && !slices.Contains(oaAnnotations, k) {
			fail("schema keyword %q is not checked by tests/openapi_test.go", k)
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch x := t.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, e := range x {
				types = append(types, fmt.Sprint(e))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return oaIsType(v, t) }) {
			fail("%s is not of type %v", oaShort(v), types)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		fail("%s is not one of %v", oaShort(v), enum)
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		fail("%s is not %v", oaShort(v), c)
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range oaStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				fail("required property %q is missing", r)
			}
		}
		for k, e := range x {
			if ps, ok := props[k]; ok {
				errs = append(errs, d.validate(ps, e, at+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(bool); ok && !ap {
				fail("property %q is not documented", k)
			}
		}
		if n, ok := s["minProperties"].(float64); ok && float64(len(x)) < n {
			fail("fewer than %v properties", n)
		}
		if n, ok := s["maxProperties"].(float64); ok && float64(len(x)) > n {
			fail("more than %v properties", n)
		}
	case []any:
		for i, e := range x {
			if it, ok := s["items"]; ok {
				errs = append(errs, d.validate(it, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
		if n, ok := s["minItems"].(float64); ok && float64(len(x)) < n {
			fail("fewer than %v items", n)
		}
		if n, ok := s["maxItems"].(float64); ok && float64(len(x)) > n {
			fail("more than %v items", n)
		}
	case string:
		n := float64(len([]rune(x)))
		if m, ok := s["minLength"].(float64); ok && n < m {
			fail("%q is shorter than %v", x, m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			fail("%q is longer than %v", x, m)
		}
		if p, ok := s["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err != nil {
				fail("pattern %q: %v", p, err)
			} else if !re.MatchString(x) {
				fail("%q does not match %s", x, p)
			}
		}
		switch f, _ := s["format"].(string); f {
		case "", "binary":
		case "date-time":
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				fail("%q is not a date-time: %v", x, err)
			}
		case "uri":
			if u, err := url.Parse(x); err != nil || u.Scheme == "" || u.Host == "" {
				fail("%q is not an absolute URI", x)
			}
		default:
			fail("format %q is not checked by tests/openapi_test.go", f)
		}
	case float64:
		if m, ok := s["minimum"].(float64); ok && x < m {
			fail("%v is less than %v", x, m)
		}
		if m, ok := s["maximum"].(float64); ok && x > m {
			fail("%v is more than %v", x, m)
		}
	}
	return errs
}

func oaIsType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func oaStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func oaShort(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// checkExamples validates every example of a media type object against its
// schema and returns the error codes the examples show.
func (d *oaDoc) checkExamples(t *testing.T, where string, media map[string]any) []string {
	t.Helper()
	var codes []string
	check := func(name string, v any) {
		for _, e := range d.validate(media["schema"], v, where+" example "+name) {
			t.Error(e)
		}
		if m, ok := v.(map[string]any); ok {
			if e, ok := m["error"].(map[string]any); ok {
				codes = append(codes, fmt.Sprint(e["code"]))
			}
		}
	}
	if v, ok := media["example"]; ok {
		check("example", v)
	}
	exs, _ := media["examples"].(map[string]any)
	for name, ex := range exs {
		if m := d.deref(ex); m != nil {
			check(name, m["value"])
		}
	}
	return codes
}

// oaEnv is the running instance the documented routes are checked against.
type oaEnv struct {
	t                 *testing.T
	in                *instance
	doc               *oaDoc
	ops               []oaOp
	servers           map[string]string // documented server URL → real base URL
	limited           string            // the site whose signing endpoint allows one request per key and hour
	clientLimited     string            // the site whose API allows one request per client and hour
	sign, read, alice createdKey
	patchMe, deleteMe createdKey
	unknownID         string
	// For the key and user APIs (openapi_users_test.go): a site-wide admin
	// key, keys the public API changes and deletes, and keys of users the
	// public and admin APIs delete.
	admin                    createdKey
	apiPatchMe, apiDeleteMe  createdKey
	apiGoneKey, adminGoneKey createdKey
}

// oaRequest is what a case sends. The URL is the documented server (mapped
// to the instance) and the documented path with params filled in.
type oaRequest struct {
	method string            // "" = the documented method
	params map[string]string // path parameters
	query  string            // the raw query, if any
	token  string            // Authorization: Bearer
	body   any               // nil, a string (sent as is) or a value (sent as JSON)
	base   string            // "" = the documented server; else this base URL
	before func()            // runs first
	after  func(response)    // extra checks of the response
}

// oaCase produces one documented response.
type oaCase struct {
	// phase 1 cases run after the instance loaded a config without
	// Signet, so the admin API has no store to serve.
	phase int
	req   func(e *oaEnv) oaRequest
}

var oaQ1 = map[string]string{"path": "reports/q1.txt"}

// oaCases produce every documented (path, method, status). Keys are
// "METHOD path status" as in the document.
var oaCases = map[string]oaCase{
	// Guarded files.
	"GET /{path} 200": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaQ1, token: e.read.Key, after: func(r response) {
			if !strings.Contains(string(r.body), "Q1") {
				e.t.Errorf("GET /reports/q1.txt: body %q", r.body)
			}
			// A folder link's token in the query: the 200 sets the
			// documented cookie, and the cookie alone then reads the file.
			tok := e.folderToken("reports", "q1.txt")
			withSig := do(e.t, http.MethodGet, e.in.site+"/reports/q1.txt?sig="+tok, "", nil)
			expectStatus(e.t, "GET /reports/q1.txt with a folder link", withSig, http.StatusOK, "")
			cookie := withSig.header.Get("Set-Cookie")
			if cookie == "" {
				e.t.Fatal("a folder link in the query set no cookie")
			}
			e.checkHeader("/{path}", http.MethodGet, "200", "Set-Cookie", cookie)
			req := mustRequest(e.t, http.MethodGet, e.in.site+"/reports/q1.txt")
			req.Header.Set("Cookie", strings.SplitN(cookie, ";", 2)[0])
			resp, err := httpClient.Do(req)
			if err != nil {
				e.t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				e.t.Errorf("GET /reports/q1.txt with the folder cookie: %d", resp.StatusCode)
			}
		}}
	}},
	"GET /{path} 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"path": "reports//q1.txt"}, token: e.read.Key}
	}},
	"GET /{path} 401": {req: func(e *oaEnv) oaRequest { return oaRequest{params: oaQ1} }},
	"GET /{path} 403": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"path": "alice2/secret.txt"}, token: e.alice.Key}
	}},
	"GET /{path} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: oaQ1, token: e.read.Key}
	}},

	// A folder link's path form. e.sign's scope is /: it covers every
	// folder.
	"GET /_signet/v1/t/{token}/{path} 200": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"token": e.folderToken("reports", "q1.txt"), "path": "reports/q1.txt"},
			query: "x=1", after: func(r response) {
				if !strings.Contains(string(r.body), "Q1") {
					e.t.Errorf("GET the path form of /reports/q1.txt: body %q", r.body)
				}
			}}
	}},
	"GET /_signet/v1/t/{token}/{path} 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"token": strings.Repeat("A", 1025), "path": "reports/q1.txt"}} // longer than any token
	}},
	"GET /_signet/v1/t/{token}/{path} 403": {req: func(e *oaEnv) oaRequest {
		// A file link's token does not work in the path.
		u, err := url.Parse(e.signed().URL)
		if err != nil {
			e.t.Fatal(err)
		}
		return oaRequest{params: map[string]string{"token": u.Query().Get("sig"), "path": "reports/q1.txt"}, after: func(r response) {
			if r.errorMessage() != "only a folder link's token works in a path_url or a cookie" {
				e.t.Errorf("a file link's token in the path: %s", r)
			}
		}}
	}},
	"GET /_signet/v1/t/{token}/{path} 503": {req: func(e *oaEnv) oaRequest {
		// An instance of its own on Redis, cut off: once its view is
		// older than max_staleness, the path form fails closed.
		srv := redistest.Start(e.t)
		in := newInstanceWith(e.t, e.t.TempDir(), "store redis "+srv.URL()+"\nmax_staleness 1s")
		in.start()
		path := "/_signet/v1/t/" + e.folderToken("reports", "q1.txt") + "/reports/q1.txt"
		srv.Stop()
		eventually(e.t, 20*time.Second, "the instance cut off from Redis answers 503", func() bool {
			return do(e.t, http.MethodGet, in.site+path, "", nil).status == http.StatusServiceUnavailable
		})
		return oaRequest{base: in.site, params: map[string]string{"token": strings.Split(path, "/")[4], "path": "reports/q1.txt"}}
	}},

	// The signing endpoint.
	"POST /_signet/v1/files/{path}/signed-url 200": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaQ1, token: e.sign.Key, body: map[string]any{"expires_in": 60}, after: func(r response) {
			e.checkSignedURL("signing endpoint", r)
		}}
	}},
	"POST /_signet/v1/files/{path}/signed-url 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaQ1, token: e.sign.Key, body: `{"expires_in": "soon"}`}
	}},
	"POST /_signet/v1/files/{path}/signed-url 401": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaQ1, body: map[string]any{"expires_in": 60}}
	}},
	"POST /_signet/v1/files/{path}/signed-url 403": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaQ1, token: e.read.Key, body: map[string]any{"expires_in": 60}}
	}},
	"POST /_signet/v1/files/{path}/signed-url 404": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"path": "reports/nope.txt"}, token: e.sign.Key, body: map[string]any{"expires_in": 60}}
	}},
	"POST /_signet/v1/files/{path}/signed-url 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodGet, params: oaQ1}
	}},
	"POST /_signet/v1/files/{path}/signed-url 429": {req: func(e *oaEnv) oaRequest {
		body := map[string]any{"expires_in": 60}
		return oaRequest{params: oaQ1, token: e.sign.Key, body: body, base: e.limited, before: func() {
			first := do(e.t, http.MethodPost, e.limited+"/_signet/v1/files/reports/q1.txt/signed-url", e.sign.Key, body)
			expectStatus(e.t, "first signature on the rate-limited site", first, http.StatusOK, "")
		}}
	}},
	"POST /_signet/v1/files/{path}/signed-url 502": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"path": "broken/x.txt"}, token: e.sign.Key, body: map[string]any{"expires_in": 60}}
	}},

	// The admin API.
	"POST /signet/keys 201": {req: func(e *oaEnv) oaRequest {
		return oaRequest{body: map[string]any{
			"name": "oa everything", "type": "secret", "user": "bob", "scopes": []string{"/bob/"},
			"permissions": "sign", "expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
			"offline_signing": true,
		}}
	}},
	"POST /signet/keys 400":       {req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"name": ""}} }},
	"POST /signet/keys 405":       {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut} }},
	"POST /signet/keys 503":       {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"name": "late"}} }},
	"GET /signet/keys 200":        {req: func(e *oaEnv) oaRequest { return oaRequest{} }},
	"GET /signet/keys 405":        {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodDelete} }},
	"GET /signet/keys 503":        {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{} }},
	"GET /signet/keys/{id} 200":   {req: func(e *oaEnv) oaRequest { return oaRequest{params: e.id(e.read)} }},
	"GET /signet/keys/{id} 404":   {req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": e.unknownID}} }},
	"GET /signet/keys/{id} 405":   {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut, params: e.id(e.read)} }},
	"GET /signet/keys/{id} 503":   {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{params: e.id(e.read)} }},
	"PATCH /signet/keys/{id} 200": {req: func(e *oaEnv) oaRequest { return oaRequest{params: e.id(e.patchMe), body: oaFullPatch} }},
	"PATCH /signet/keys/{id} 400": {req: func(e *oaEnv) oaRequest { return oaRequest{params: e.id(e.read), body: map[string]any{}} }},
	"PATCH /signet/keys/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"id": e.unknownID}, body: oaFullPatch}
	}},
	"PATCH /signet/keys/{id} 405":  {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPost, params: e.id(e.read)} }},
	"PATCH /signet/keys/{id} 503":  {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{params: e.id(e.read), body: oaFullPatch} }},
	"DELETE /signet/keys/{id} 200": {req: func(e *oaEnv) oaRequest { return oaRequest{params: e.id(e.deleteMe)} }},
	"DELETE /signet/keys/{id} 404": {req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": e.unknownID}} }},
	"DELETE /signet/keys/{id} 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut, params: e.id(e.read)} }},
	"DELETE /signet/keys/{id} 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{params: e.id(e.read)} }},
	"POST /signet/sign 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{body: map[string]any{"path": "/reports/q1.txt", "expires_in": 60}}
	}},
	"POST /signet/sign 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodGet} }},
	"POST /signet/sign 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"path": "/a.txt", "expires_in": 60}} }},
	"POST /signet/sign 200": {req: func(e *oaEnv) oaRequest {
		return oaRequest{body: map[string]any{"path": "/reports/q1.txt", "expires_in": 60, "base_url": e.in.site}, after: func(r response) {
			e.checkSignedURL("admin sign", r)
		}}
	}},

	// Revocation. Nothing revokes a key's URLs or a prefix other cases use.
	"POST /_signet/v1/revocations 200": {req: func(e *oaEnv) oaRequest {
		s := e.signed()
		return oaRequest{token: e.sign.Key, body: map[string]any{"url": s.URL}, after: func(r response) {
			e.checkRevoked(r, "url", s)
		}}
	}},
	"POST /_signet/v1/revocations 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.sign.Key, body: map[string]any{"id": oaURLID, "prefix": "/oa/"}}
	}},
	"POST /_signet/v1/revocations 401": {req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"id": oaURLID}} }},
	"POST /_signet/v1/revocations 403": {req: func(e *oaEnv) oaRequest {
		// A sign key may revoke its own URLs by whole URL only.
		return oaRequest{token: e.sign.Key, body: map[string]any{"id": oaURLID}}
	}},
	"POST /_signet/v1/revocations 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodGet} }},
	"POST /_signet/v1/revocations 429": {req: func(e *oaEnv) oaRequest {
		body := map[string]any{"id": oaURLID}
		return oaRequest{body: body, base: e.clientLimited, before: func() {
			first := do(e.t, http.MethodPost, e.clientLimited+"/_signet/v1/revocations", "", body)
			expectStatus(e.t, "first request on the client-limited site", first, http.StatusUnauthorized, "unauthorized")
		}}
	}},
	"POST /signet/revocations 200": {req: func(e *oaEnv) oaRequest {
		s := e.signed()
		return oaRequest{body: map[string]any{"id": s.ID}, after: func(r response) {
			e.checkRevoked(r, "url", s)
		}}
	}},
	"POST /signet/revocations 400": {req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"key_id": "alice"}} }},
	"POST /signet/revocations 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut} }},
	"POST /signet/revocations 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"id": oaURLID}} }},
	"GET /signet/revocations 200": {req: func(e *oaEnv) oaRequest {
		revoke := do(e.t, http.MethodPost, e.servers[oaAdminServer]+"/signet/revocations", "", map[string]any{"prefix": "/oa-listed/"})
		expectStatus(e.t, "revoke a prefix to list", revoke, http.StatusOK, "")
		return oaRequest{after: func(r response) {
			if !strings.Contains(string(r.body), `"kind":"prefix","target":"/oa-listed/","before":`) {
				e.t.Errorf("the list lacks the prefix revocation: %s", r.body)
			}
		}}
	}},
	"GET /signet/revocations 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodDelete} }},
	"GET /signet/revocations 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{} }},
}

// oaURLID is a well-formed signed URL id that no URL has.
const oaURLID = "AAAAAAAAAAAAAAAAAAAAAA"

var oaFullPatch = map[string]any{"name": "oa patched", "user": "carol", "scopes": []string{"/carol/"}, "permissions": "read", "expires_at": nil, "offline_signing": false}

func (e *oaEnv) id(k createdKey) map[string]string { return map[string]string{"id": k.ID} }

// checkSignedURL: a URL the APIs return carries the documented signature
// parameter and serves the file without a key.
func (e *oaEnv) checkSignedURL(what string, r response) {
	var s struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(r.body, &s)
	u, err := url.Parse(s.URL)
	if err != nil || u.Query().Get("sig") == "" {
		e.t.Errorf("%s: URL %q has no sig parameter", what, s.URL)
		return
	}
	expectStatus(e.t, what+": GET the signed URL", do(e.t, http.MethodGet, s.URL, "", nil), http.StatusOK, "")
}

// folderToken signs a folder link for folder (the origin must have the file
// check in it) with the sign key on the main site, and returns its token
// after checking the documented response: url, path_url, path, folder.
func (e *oaEnv) folderToken(folder, check string) string {
	e.t.Helper()
	resp := do(e.t, http.MethodPost, e.in.site+"/_signet/v1/files/"+folder+"/signed-url", e.sign.Key,
		map[string]any{"expires_in": 600, "folder": true, "check": check})
	expectStatus(e.t, "sign a folder link", resp, http.StatusOK, "")
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil {
		e.t.Fatalf("sign response %s: %v", resp.body, err)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	tok := u.Query().Get("sig")
	if !s.Folder || s.Path != "/"+folder+"/" || u.Path != s.Path ||
		s.PathURL != e.in.site+"/_signet/v1/t/"+tok+"/"+folder+"/" {
		e.t.Fatalf("folder link for /%s/: %s", folder, resp.body)
	}
	return tok
}

// checkHeader validates the value of a response header against its
// documented schema.
func (e *oaEnv) checkHeader(path, method, status, name, value string) {
	e.t.Helper()
	for _, op := range e.ops {
		if op.path != path || op.method != method {
			continue
		}
		responses, _ := op.op["responses"].(map[string]any)
		hdrs, _ := e.doc.deref(responses[status])["headers"].(map[string]any)
		h := e.doc.deref(hdrs[name])
		if h == nil {
			e.t.Fatalf("%s %s %s documents no header %s", method, path, status, name)
		}
		for _, msg := range e.doc.validate(h["schema"], value, "header "+name) {
			e.t.Error(msg)
		}
		return
	}
	e.t.Fatalf("%s %s is not documented", method, path)
}

// signed signs /reports/q1.txt with the sign key on the main site.
func (e *oaEnv) signed() signed {
	e.t.Helper()
	resp := do(e.t, http.MethodPost, e.in.site+"/_signet/v1/files/reports/q1.txt/signed-url", e.sign.Key, map[string]any{"expires_in": 60})
	expectStatus(e.t, "sign a URL to revoke", resp, http.StatusOK, "")
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil {
		e.t.Fatalf("sign response %s: %v", resp.body, err)
	}
	return s
}

// checkRevoked: a revocation response holds the record for s, and s now
// gets the documented 403 revoked of GET /{path}.
func (e *oaEnv) checkRevoked(r response, kind string, s signed) {
	e.t.Helper()
	var rr struct {
		Revocation struct{ Kind, Target string }
	}
	if err := json.Unmarshal(r.body, &rr); err != nil || rr.Revocation.Kind != kind || rr.Revocation.Target != s.ID {
		e.t.Errorf("revocation %s, want kind %s, target %s", r.body, kind, s.ID)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	req := oaRequest{params: map[string]string{"path": strings.TrimPrefix(u.Path, "/")}, query: u.RawQuery, after: func(r response) {
		if r.errorCode() != "revoked" {
			e.t.Errorf("GET the revoked URL: %s, want code revoked", r)
		}
	}}
	for _, op := range e.ops {
		if op.path == "/{path}" && op.method == http.MethodGet {
			responses, _ := op.op["responses"].(map[string]any)
			e.check(e.doc, op, http.StatusForbidden, responses["403"], req)
			return
		}
	}
	e.t.Error("GET /{path} is not documented")
}

// TestOpenAPI checks docs/openapi.yaml against a running Caddy: every
// documented path, method and status is produced, and the response must
// match the document (status, content type, schema, required headers, the
// error codes its examples show). Cases the document lacks, and documented
// statuses without a case, fail too, as do admin routes missing from the
// router or from the document.
func TestOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	checkAdminRoutes(t, doc, ops)

	e := startOpenAPIInstance(t)
	e.doc, e.ops = doc, ops
	covered := map[string]bool{}
	type job struct {
		key string
		op  oaOp
		rs  any
		c   oaCase
	}
	var jobs []job
	for _, op := range ops {
		if op.server != oaPublicServer && op.server != oaAdminServer {
			t.Errorf("%s %s: server %q is neither %s nor %s", op.method, op.path, op.server, oaPublicServer, oaAdminServer)
			continue
		}
		responses, _ := op.op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s %s: no responses documented", op.method, op.path)
		}
		for status, rs := range responses {
			key := fmt.Sprintf("%s %s %s", op.method, op.path, status)
			c, ok := oaCases[key]
			if !ok {
				t.Errorf("%s is documented, but tests/openapi_test.go has no case that produces it", key)
				continue
			}
			covered[key] = true
			jobs = append(jobs, job{key, op, rs, c})
		}
	}
	for key := range oaCases {
		if !covered[key] {
			t.Errorf("tests/openapi_test.go produces %s, but docs/openapi.yaml does not document it", key)
		}
	}
	sort.Slice(jobs, func(i, j int) bool {
		if jobs[i].c.phase != jobs[j].c.phase {
			return jobs[i].c.phase < jobs[j].c.phase
		}
		return jobs[i].key < jobs[j].key
	})
	phase := 0
	for _, j := range jobs {
		if j.c.phase != phase {
			e.t = t
			e.unloadSignet()
			phase = j.c.phase
		}
		status, _ := strconv.Atoi(strings.Fields(j.key)[2])
		t.Run(strings.NewReplacer("/", "_", " ", "_").Replace(j.key), func(t *testing.T) {
			e.t = t
			e.check(doc, j.op, status, j.rs, j.c.req(e))
		})
	}
}

// check sends the case's request and compares the response with the
// documented response rs.
func (e *oaEnv) check(doc *oaDoc, op oaOp, status int, rs any, req oaRequest) {
	t := e.t
	t.Helper()
	method := op.method
	if req.method != "" {
		method = req.method
	}
	if status == http.StatusMethodNotAllowed && slices.Contains(doc.documentedMethods(op.path), method) {
		t.Fatalf("the 405 case must use an undocumented method, not %s", method)
	}
	base := e.servers[op.server]
	if req.base != "" {
		base = req.base
	}
	path := op.path
	for k, v := range req.params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	if strings.ContainsAny(path, "{}") {
		t.Fatalf("path parameters of %s not filled in: %s", op.path, path)
	}
	if req.before != nil {
		req.before()
	}
	if req.query != "" {
		path += "?" + req.query
	}
	resp := do(t, method, base+path, req.token, req.body)
	if resp.status != status {
		t.Fatalf("%s %s: got %s, want %d", method, path, resp, status)
	}
	r := doc.deref(rs)
	if r == nil {
		t.Fatalf("response %d is not an object", status)
	}
	if d, _ := r["description"].(string); d == "" {
		t.Errorf("response %d has no description", status)
	}

	// Headers the document marks required, with their values.
	hdrs, _ := r["headers"].(map[string]any)
	for name, h := range hdrs {
		hd := doc.deref(h)
		vals := resp.header.Values(name)
		if len(vals) == 0 {
			if required, _ := hd["required"].(bool); required {
				t.Errorf("header %s is documented as required but missing", name)
			}
			continue
		}
		var v any = vals[0]
		if sch := doc.deref(hd["schema"]); sch != nil && sch["type"] == "integer" {
			n, err := strconv.Atoi(vals[0])
			if err != nil {
				t.Errorf("header %s: %q is not an integer", name, vals[0])
				continue
			}
			v = float64(n)
		}
		for _, msg := range doc.validate(hd["schema"], v, "header "+name) {
			t.Error(msg)
		}
	}
	if status == http.StatusMethodNotAllowed {
		e.checkAllow(doc, op.path, resp.header.Get("Allow"))
	}

	// The body.
	content, _ := r["content"].(map[string]any)
	ct, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type"))
	media, isJSON := content["application/json"].(map[string]any)
	switch {
	case isJSON:
		if ct != "application/json" {
			t.Fatalf("Content-Type %q, want application/json (body %s)", resp.header.Get("Content-Type"), resp.body)
		}
		var body any
		if err := json.Unmarshal(resp.body, &body); err != nil {
			t.Fatalf("body is not JSON: %v: %s", err, resp.body)
		}
		for _, msg := range doc.validate(media["schema"], body, "response body") {
			t.Errorf("%s\nbody: %s", msg, resp.body)
		}
		codes := doc.checkExamples(t, fmt.Sprintf("response %d", status), media)
		if status >= 400 {
			if got := resp.errorCode(); !slices.Contains(codes, got) {
				t.Errorf("error code %q is not among the documented examples %v", got, codes)
			}
		}
	case content["*/*"] != nil:
		if len(content) != 1 {
			t.Errorf("response %d: */* must be the only media type", status)
		}
	default:
		t.Errorf("response %d documents neither application/json nor */*", status)
	}

	// A request that succeeded matches the documented request body.
	if rb := doc.deref(op.op["requestBody"]); rb != nil && status < 300 {
		rc, _ := rb["content"].(map[string]any)
		rm, _ := rc["application/json"].(map[string]any)
		if rm == nil {
			t.Errorf("requestBody documents no application/json")
		} else {
			doc.checkExamples(t, "request", rm)
			var sent any
			switch b := req.body.(type) {
			case string:
				_ = json.Unmarshal([]byte(b), &sent)
			default:
				raw, _ := json.Marshal(b)
				_ = json.Unmarshal(raw, &sent)
			}
			for _, msg := range doc.validate(rm["schema"], sent, "request body") {
				t.Error(msg)
			}
		}
	}
	if req.after != nil {
		req.after(resp)
	}
}

// checkAllow: a 405's Allow header lists exactly the documented methods
// (HEAD goes with GET).
func (e *oaEnv) checkAllow(doc *oaDoc, path, allow string) {
	documented := doc.documentedMethods(path)
	var got []string
	for _, m := range strings.Split(allow, ",") {
		m = strings.TrimSpace(m)
		if m == http.MethodHead && slices.Contains(documented, http.MethodGet) {
			continue
		}
		got = append(got, m)
	}
	slices.Sort(got)
	slices.Sort(documented)
	if !slices.Equal(got, documented) {
		e.t.Errorf("%s: Allow %q, but the document has %v", path, allow, documented)
	}
}

// checkAdminRoutes compares the admin paths of the document with the routes
// the admin.api.signet module registers.
func checkAdminRoutes(t *testing.T, doc *oaDoc, ops []oaOp) {
	t.Helper()
	mi, err := caddy.GetModule("admin.api.signet")
	if err != nil {
		t.Fatal(err)
	}
	router, ok := mi.New().(caddy.AdminRouter)
	if !ok {
		t.Fatal("admin.api.signet is not a caddy.AdminRouter")
	}
	var patterns []string
	for _, r := range router.Routes() {
		patterns = append(patterns, r.Pattern)
	}
	// Like http.ServeMux: an exact pattern, or the longest pattern ending
	// in / that is a prefix.
	match := func(path string) string {
		concrete := regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(path, "x")
		best := ""
		for _, p := range patterns {
			if p == concrete || strings.HasSuffix(p, "/") && strings.HasPrefix(concrete, p) && len(p) > len(best) {
				if p == concrete {
					return p
				}
				best = p
			}
		}
		return best
	}
	used := map[string]bool{}
	for _, op := range ops {
		if op.server != oaAdminServer {
			continue
		}
		p := match(op.path)
		if p == "" {
			t.Errorf("%s %s is documented, but admin.api.signet has no route for it (routes: %v)", op.method, op.path, patterns)
			continue
		}
		used[p] = true
	}
	for _, p := range patterns {
		if !used[p] {
			t.Errorf("admin.api.signet serves %s, but docs/openapi.yaml does not document it", p)
		}
	}
}

// startOpenAPIInstance runs the built binary with three sites on free ports:
// the main one (a /broken/ path whose origin fails, for 502s), one whose
// signing endpoint allows one request per key and hour, and one whose API
// allows one request per client and hour (for 429s).
func startOpenAPIInstance(t *testing.T) *oaEnv {
	t.Helper()
	dir := t.TempDir()
	sitePort, limitedPort, clientLimitedPort := freePort(t), freePort(t), freePort(t)
	in := &instance{
		t:      t,
		bin:    caddyBinary(t),
		admin:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		site:   fmt.Sprintf("http://127.0.0.1:%d", sitePort),
		config: filepath.Join(dir, "Caddyfile"),
	}
	cfg := fmt.Sprintf(`{
	admin %[1]s
	http_port %[2]d
	persist_config off
	signet {
		store file %[4]s
	}
}
:%[2]d {
	bind 127.0.0.1
	root * %[5]s
	respond /broken/* 500
	signet
	file_server
}
:%[3]d {
	bind 127.0.0.1
	root * %[5]s
	signet {
		rate_limit key 1 1h
	}
	file_server
}
:%[6]d {
	bind 127.0.0.1
	root * %[5]s
	signet {
		rate_limit client 1 1h
	}
	file_server
}
`, in.admin, sitePort, limitedPort, filepath.Join(dir, "signet.db"), filesDir(t), clientLimitedPort)
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	in.start()
	admin := "http://" + in.admin
	e := &oaEnv{
		t:  t,
		in: in,
		servers: map[string]string{
			oaPublicServer: in.site,
			oaAdminServer:  admin,
		},
		limited:       fmt.Sprintf("http://127.0.0.1:%d", limitedPort),
		clientLimited: fmt.Sprintf("http://127.0.0.1:%d", clientLimitedPort),
		unknownID:     "key_aaaaaaaaaaaaaaaa",
	}
	e.createUsers(admin)
	e.sign = createKey(t, admin, map[string]any{"name": "oa signer", "permissions": "sign"})
	e.read = createKey(t, admin, map[string]any{"name": "oa reader"})
	e.alice = createKey(t, admin, map[string]any{"name": "oa alice", "user": "alice", "scopes": []string{"/alice/"}})
	e.patchMe = createKey(t, admin, map[string]any{"name": "oa patch me", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	e.deleteMe = createKey(t, admin, map[string]any{"name": "oa delete me"})
	e.createAPIKeys(admin)
	return e
}

// unloadSignet loads a config without Signet (same admin endpoint), so the
// admin API has no store to serve.
func (e *oaEnv) unloadSignet() {
	e.t.Helper()
	admin := e.servers[oaAdminServer]
	cfg := fmt.Sprintf("{\n\tadmin %s\n\tpersist_config off\n}\n", e.in.admin)
	req, err := http.NewRequest(http.MethodPost, admin+"/load", strings.NewReader(cfg))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := httpClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST /load: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("POST /load: %s", resp.Status)
	}
}
