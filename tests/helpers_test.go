// Package tests holds Signet's end-to-end tests: a real Caddy (in-process
// through caddytest, admin on localhost:2999, sites on fixed ports 9080+)
// and the built cmd/caddy binary (on free ports) for restarts and the CLI.
// Keep every caddytest-based test in this package: caddytest binds fixed
// ports.
package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddy-signet/signet"
)

const (
	caddytestAdmin = "http://localhost:2999"
	site           = "http://localhost:9080"
)

// filesDir is the absolute path of the test origin's files.
func filesDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "files")
}

// startCaddy loads a Caddyfile into the in-process Caddy. The text may use
// {STORE} (a fresh store file for this test) and {FILES}.
func startCaddy(t *testing.T, caddyfile string) *caddytest.Tester {
	t.Helper()
	store := filepath.Join(t.TempDir(), "signet.db")
	cfg := strings.NewReplacer("{STORE}", store, "{FILES}", filesDir(t)).Replace(caddyfile)
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return tester
}

// testGlobal is the global block of the in-process Caddy tests: fixed
// ports, and the embedded store in {STORE}.
const testGlobal = `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	grace_period 1s
	signet {
		store file {STORE}
	}
}
`

// baseConfig guards the test files with a default signet handler.
const baseConfig = testGlobal + `http://localhost:9080 {
	root * {FILES}
	signet {
		public /public/
	}
	file_server
}
`

// response is what do returns.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// errorCode returns the code of a JSON error body, or "".
func (r response) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r response) errorMessage() string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Message
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// do sends a request. body may be nil, a string (sent as is) or a value
// (sent as JSON). token, if set, goes in Authorization: Bearer.
func do(t testing.TB, method, url, token string, body any) response {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil && body == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		// A config reload closes the previous server's keep-alive
		// connections; one may be picked for this request just as it
		// closes (Caddy does this with or without Signet). Retry once on
		// a fresh connection.
		httpClient.CloseIdleConnections()
		resp, err = httpClient.Do(req)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// createdKey is the part of a create response the tests use.
type createdKey struct {
	ID          string   `json:"id"`
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	User        string   `json:"user"`
	Scopes      []string `json:"scopes"`
	Permissions string   `json:"permissions"`
	Hint        string   `json:"hint"`
}

// createKey creates a key through the admin API at admin.
func createKey(t testing.TB, admin string, req map[string]any) createdKey {
	t.Helper()
	resp := do(t, http.MethodPost, admin+"/signet/keys", "", req)
	if resp.status != http.StatusCreated {
		t.Fatalf("create key %v: %s", req, resp)
	}
	var k createdKey
	if err := json.Unmarshal(resp.body, &k); err != nil || k.Key == "" || k.ID == "" {
		t.Fatalf("create key response %s: %v", resp.body, err)
	}
	return k
}

// patchKey updates a key through the admin API and fails the test unless
// the API answers 200.
func patchKey(t testing.TB, admin, id string, req map[string]any) {
	t.Helper()
	if resp := do(t, http.MethodPatch, admin+"/signet/keys/"+id, "", req); resp.status != http.StatusOK {
		t.Fatalf("patch key %s %v: %s", id, req, resp)
	}
}

// expectStatus fails the test unless resp has the status (and, if code is
// not empty, the JSON error code).
func expectStatus(t testing.TB, what string, resp response, status int, code string) {
	t.Helper()
	if resp.status != status || (code != "" && resp.errorCode() != code) {
		t.Fatalf("%s: got %s, want %d %s", what, resp, status, code)
	}
}

// eventually polls cond every 20 ms until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port on loopback that was free a moment ago.
//
// It never returns the same port twice in one test run: Caddy listens with
// SO_REUSEPORT, so two instances given the same port would both bind it
// and share its connections (a `caddy stop` for one could stop the other).
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("no fresh free port")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// caddyBinary builds ./cmd/caddy once per test run and returns its path.
func caddyBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signet-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "caddy")
		cmd := osexec.Command("go", "build", "-o", binPath, "../cmd/caddy")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ../cmd/caddy: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func mustRequest(t testing.TB, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// run runs a command and returns its combined output.
func run(name string, args ...string) (string, error) {
	out, err := osexec.Command(name, args...).CombinedOutput()
	return string(out), err
}
