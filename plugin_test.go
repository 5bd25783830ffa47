package signet_test

import (
	"testing"

	"github.com/caddyserver/caddy/v2"

	_ "github.com/caddy-signet/signet"

	// Pinned now, used by the Redis store and the metrics: the design fixes
	// these dependencies, and a blank import here keeps them in go.mod
	// without linking them into users' binaries before they are needed.
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "golang.org/x/time/rate"
)

// TestModulesRegistered checks that importing the plugin registers every
// module users name in their configs.
func TestModulesRegistered(t *testing.T) {
	for _, id := range []string{"signet", "http.handlers.signet", "admin.api.signet"} {
		if _, err := caddy.GetModule(id); err != nil {
			t.Errorf("module %s: %v", id, err)
		}
	}
}
