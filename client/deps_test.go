package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCaddyDependencies: the package builds without Caddy and without
// the server's packages: `go list -deps` names only the standard library
// and the verifier.
func TestNoCaddyDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	var deps []string
	for _, p := range strings.Fields(string(out)) {
		deps = append(deps, p)
		for _, bad := range []string{"caddyserver", "keystore", "rules", "caddymodule"} {
			if strings.Contains(p, bad) {
				t.Errorf("the client depends on %s", p)
			}
		}
		if p != "github.com/caddy-signet/signet/client" && p != "github.com/caddy-signet/signet/verifier" {
			t.Errorf("the client depends on %s, outside the standard library and the verifier", p)
		}
	}
	if len(deps) != 2 {
		t.Errorf("non-standard packages: %v, want the client and the verifier", deps)
	}
}
