package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// instance is a cmd/caddy process serving the test files on free ports.
type instance struct {
	t      *testing.T
	bin    string
	admin  string // host:port of the admin API
	site   string // http://127.0.0.1:port
	config string
	cmd    *exec.Cmd
	logs   *bytes.Buffer
}

// newInstance writes a Caddyfile that keeps its embedded store in dir.
func newInstance(t *testing.T, dir string) *instance {
	t.Helper()
	return newInstanceWith(t, dir, "store file "+filepath.Join(dir, "signet.db"))
}

// newInstanceWith writes a Caddyfile whose global signet block holds
// globalOpts (one option per line).
func newInstanceWith(t *testing.T, dir, globalOpts string) *instance {
	t.Helper()
	in := &instance{
		t:     t,
		bin:   caddyBinary(t),
		admin: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	sitePort := freePort(t)
	in.site = fmt.Sprintf("http://127.0.0.1:%d", sitePort)
	in.config = filepath.Join(dir, "Caddyfile")
	cfg := fmt.Sprintf(`{
	admin %s
	http_port %d
	persist_config off
	signet {
		%s
	}
}
:%d {
	bind 127.0.0.1
	root * %s
	signet
	file_server
}
`, in.admin, sitePort, strings.ReplaceAll(globalOpts, "\n", "\n\t\t"), sitePort, filesDir(t))
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

// start runs the process and waits until the site answers.
func (in *instance) start() {
	in.t.Helper()
	in.logs = new(bytes.Buffer)
	in.cmd = exec.Command(in.bin, "run", "--config", in.config, "--adapter", "caddyfile")
	in.cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+in.t.TempDir(), "XDG_CONFIG_HOME="+in.t.TempDir())
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.t.Cleanup(in.stop)
	eventually(in.t, 30*time.Second, "caddy answers on "+in.site, func() bool {
		resp, err := httpClient.Get(in.site + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

// stop ends the process the way an operator would (caddy stop) and waits.
func (in *instance) stop() {
	if in.cmd == nil || in.cmd.ProcessState != nil {
		return
	}
	if out, err := exec.Command(in.bin, "stop", "--address", in.admin).CombinedOutput(); err != nil {
		in.t.Logf("caddy stop: %v %s", err, out)
		_ = in.cmd.Process.Kill()
	}
	done := make(chan struct{})
	go func() { _ = in.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		in.t.Logf("caddy on %s did not exit within 30s of caddy stop; killed it", in.admin)
		_ = in.cmd.Process.Kill()
		<-done
	}
}

// cli runs `caddy signet …` against the instance.
func (in *instance) cli(args ...string) (stdout, stderr string, err error) {
	// --address first, so that args may end with "--" and a link id that
	// starts with "-".
	cmd := exec.Command(in.bin, append([]string{"signet", "--address", in.admin}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// mustCLI runs the CLI and fails the test on a non-zero exit.
func (in *instance) mustCLI(args ...string) string {
	in.t.Helper()
	out, errOut, err := in.cli(args...)
	if err != nil {
		in.t.Fatalf("caddy signet %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// TestRestartKeepsKeys: keys created, process restarted, keys still work.
func TestRestartKeepsKeys(t *testing.T) {
	dir := t.TempDir()
	in := newInstance(t, dir)
	in.start()
	var k createdKey
	if err := json.Unmarshal([]byte(in.mustCLI("keys", "create", "--name", "survivor", "--permissions", "sign", "--json")), &k); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, "before restart", do(t, "GET", in.site+"/reports/q1.txt", k.Key, nil), 200, "")
	// A signed URL under the generated secret, which the store keeps.
	resp := do(t, "POST", in.site+"/_signet/v1/files/reports/q1.txt/signed-url", k.Key, `{"expires_in": 3600}`)
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || resp.status != 200 {
		t.Fatalf("sign: %s", resp)
	}
	expectStatus(t, "signed URL before restart", do(t, "GET", s.URL, "", nil), 200, "")
	in.stop()

	in.start()
	expectStatus(t, "after restart", do(t, "GET", in.site+"/reports/q1.txt", k.Key, nil), 200, "")
	expectStatus(t, "signed URL after restart", do(t, "GET", s.URL, "", nil), 200, "")
	if out := in.mustCLI("keys", "list"); !strings.Contains(out, k.ID) || !strings.Contains(out, "survivor") {
		t.Fatalf("list after restart:\n%s", out)
	}
}

// TestCLI drives the key lifecycle with the built binary's CLI.
func TestCLI(t *testing.T) {
	in := newInstance(t, t.TempDir())
	in.start()
	url := in.site + "/alice/notes.txt"

	// A user key needs its user (issue 11).
	in.mustCLI("users", "create", "alice", "--scope", "/alice/", "--scope", "/shared/", "--permissions", "sign")

	// create --json prints the API's JSON, value in "key", id in "id".
	var k createdKey
	out := in.mustCLI("keys", "create", "--name", "alice laptop", "--user", "alice", "--scope", "/alice/",
		"--scope", "/shared/", "--permissions", "sign", "--expires", "30d", "--json")
	if err := json.Unmarshal([]byte(out), &k); err != nil || !strings.HasPrefix(k.Key, "sk_") || k.ID == "" {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if k.User != "alice" || k.Permissions != "sign" || strings.Join(k.Scopes, ",") != "/alice/,/shared/" {
		t.Fatalf("created %+v", k)
	}
	expectStatus(t, "cli key", do(t, "GET", url, k.Key, nil), 200, "")

	// Without --json: readable text with the value once.
	out = in.mustCLI("keys", "create", "--name", "reader", "--type", "public")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	pub := lines[len(lines)-1]
	if !strings.Contains(out, "shown once") || !strings.HasPrefix(pub, "pk_") {
		t.Fatalf("create text output:\n%s", out)
	}
	expectStatus(t, "public key", do(t, "GET", in.site+"/reports/q1.txt", pub, nil), 200, "")

	// list: a table with both keys, never a value.
	out = in.mustCLI("keys", "list")
	if !strings.Contains(out, "ID") || !strings.Contains(out, k.ID) || !strings.Contains(out, "alice laptop") ||
		!strings.Contains(out, "reader") || strings.Contains(out, k.Key) || strings.Contains(out, pub) {
		t.Fatalf("list:\n%s", out)
	}
	var list struct {
		Keys []createdKey `json:"keys"`
	}
	if err := json.Unmarshal([]byte(in.mustCLI("keys", "list", "--json")), &list); err != nil || len(list.Keys) != 2 {
		t.Fatalf("list --json: %v %+v", err, list)
	}

	// get, update (disable, enable, rename), delete.
	if out := in.mustCLI("keys", "get", k.ID); !strings.Contains(out, "alice laptop") {
		t.Fatalf("get:\n%s", out)
	}
	in.mustCLI("keys", "update", k.ID, "--permissions", "none")
	expectStatus(t, "disabled by cli", do(t, "GET", url, k.Key, nil), 403, "forbidden")
	in.mustCLI("keys", "update", k.ID, "--permissions", "read", "--name", "renamed", "--expires", "never")
	expectStatus(t, "enabled by cli", do(t, "GET", url, k.Key, nil), 200, "")
	var got createdKey
	if err := json.Unmarshal([]byte(in.mustCLI("keys", "get", k.ID, "--json")), &got); err != nil || got.Name != "renamed" || got.Permissions != "read" {
		t.Fatalf("get after update: %v %+v", err, got)
	}
	// sign: a URL (text) or url/expires_at/id (--json).
	signedURL := strings.TrimSpace(in.mustCLI("sign", "/alice/notes.txt", "--expires-in", "1h", "--base-url", in.site))
	if got := do(t, "GET", signedURL, "", nil); got.status != 200 || string(got.body) != "alice notes\n" {
		t.Fatalf("cli-signed URL %q: %s", signedURL, got)
	}
	var sj signed
	if err := json.Unmarshal([]byte(in.mustCLI("sign", "/reports/q1.txt", "--expires-in", "7d", "--base-url", in.site, "--json")), &sj); err != nil ||
		sj.ID == "" || time.Until(sj.ExpiresAt) < 7*24*time.Hour-time.Minute {
		t.Fatalf("sign --json: %v %+v", err, sj)
	}
	expectStatus(t, "cli-signed URL (json)", do(t, "GET", sj.URL, "", nil), 200, "")

	in.mustCLI("keys", "delete", k.ID)
	expectStatus(t, "deleted by cli", do(t, "GET", url, k.Key, nil), 401, "unauthorized")

	// Errors: one clear line on stderr, non-zero exit.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "get", k.ID}, "no such key (HTTP 404)"},
		{[]string{"keys", "create"}, "--name is required"},
		{[]string{"keys", "create", "--name", "x", "--scope", "relative/"}, "scopes:"},
		{[]string{"keys", "create", "--name", "x", "--expires", "someday"}, "--expires"},
		{[]string{"keys", "create", "--name", "x", "--permissions", "root"}, "permissions:"},
		{[]string{"keys", "update", k.ID}, "nothing to update"},
		{[]string{"sign", "/a.txt"}, "--expires-in is required"},
		{[]string{"keys", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"keys", "get"}, "get takes 1 argument(s), got 0"},
		{[]string{"keys", "delete", "a", "b"}, "delete takes 1 argument(s), got 2"},
		{[]string{"sign", "/a.txt", "--expires-in", "8d", "--base-url", in.site}, "expires_in"},
		{[]string{"sign", "/a.txt", "--expires-in", "1h"}, "base_url: required"},
	} {
		out, errOut, err := in.cli(c.args...)
		if err == nil {
			t.Errorf("%v: exit 0, want failure (stdout %q)", c.args, out)
			continue
		}
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: stderr %q, want one line containing %q", c.args, errOut, c.want)
		}
	}
	// Unreachable admin API.
	cmd := exec.Command(in.bin, "signet", "keys", "list", "--address", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	errOut, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(errOut), "cannot reach the admin API") {
		t.Errorf("unreachable: %v %s", err, errOut)
	}
}
