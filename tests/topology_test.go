package tests

import (
	"strings"
	"testing"

	"github.com/caddy-signet/signet/internal/redistest"
)

// topologyConfig guards the test files with a Redis store given by the
// block's options.
func topologyConfig(storeBlock string) string {
	return strings.Replace(baseConfig, "store file {STORE}", "store redis {\n\t\t\t"+storeBlock+"\n\t\t}", 1)
}

// TestStoreRedisSentinel: `store redis { addresses … master_name … }`
// reaches the master through a real Sentinel.
func TestStoreRedisSentinel(t *testing.T) {
	s := redistest.StartSentinel(t)
	startCaddy(t, topologyConfig("addresses "+s.Sentinel.Addr()+"\n\t\t\tmaster_name "+s.Name+"\n\t\t\tnamespace sentinel"))
	k := signer(t, nil)
	expectStatus(t, "key through Sentinel", do(t, "GET", site+"/reports/q1.txt", k.Key, nil), 200, "")
	s1 := signURL(t, k.Key, "/reports/q1.txt", 60)
	expectStatus(t, "signed URL through Sentinel", do(t, "GET", s1.URL, "", nil), 200, "")
	if n, _ := s.Master.Client().Exists(t.Context(), "{sentinel}:keys").Result(); n != 1 {
		t.Errorf("the key did not reach the master")
	}
}

// TestStoreRedisCluster: `store redis { addresses n1 n2 n3 }` works with a
// real three-node Cluster.
func TestStoreRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	startCaddy(t, topologyConfig("addresses "+strings.Join(c.Addrs(), " ")+"\n\t\t\tnamespace cluster"))
	k := signer(t, nil)
	expectStatus(t, "key through Cluster", do(t, "GET", site+"/reports/q1.txt", k.Key, nil), 200, "")
	s1 := signURL(t, k.Key, "/reports/q1.txt", 60)
	do(t, "POST", caddytestAdmin+"/signet/revocations", "", map[string]any{"url": s1.URL})
	expectStatus(t, "revoked through Cluster", do(t, "GET", s1.URL, "", nil), 403, "revoked")
}
