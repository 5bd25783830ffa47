package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateWhileRunning: operators validate before every reload. With
// an instance running on the embedded store (which holds the file's lock),
// `caddy validate` of the same config checks it without opening the store,
// and still refuses a bad one. The Redis store is not dialled either.
func TestValidateWhileRunning(t *testing.T) {
	dir := t.TempDir()
	in := newInstance(t, dir)
	in.start()
	validate := func(config string) (string, error) {
		cmd := exec.Command(in.bin, "validate", "--config", config, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	start := time.Now()
	if out, err := validate(in.config); err != nil {
		t.Fatalf("validate while running: %v\n%s", err, out)
	}
	t.Logf("caddy validate took %v with the store held by a running instance", time.Since(start))

	cfg, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ from, to, want string }{
		"bad option":  {"signet {", "signet {\n\t\tmax_lifetime 8d", "max_lifetime: must be between 1s and 7d"},
		"redis, down": {"store file " + filepath.Join(dir, "signet.db"), "store redis redis://127.0.0.1:1", ""},
	} {
		bad := filepath.Join(t.TempDir(), "Caddyfile")
		if err := os.WriteFile(bad, []byte(strings.Replace(string(cfg), c.from, c.to, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := validate(bad)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v\n%s", name, err, out)
		case c.want != "" && (err == nil || !strings.Contains(out, c.want)):
			t.Errorf("%s: err %v, output %s; want %q", name, err, out, c.want)
		}
	}
	// The running instance was not disturbed.
	if resp := do(t, "GET", in.site+"/public/hello.txt", "", nil); resp.status == 0 {
		t.Fatal("the running instance stopped answering")
	}
}
