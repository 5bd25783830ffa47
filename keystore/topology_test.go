package keystore

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-signet/signet/internal/redistest"
)

// The store works through every topology caddymodule builds a
// UniversalClient for: the whole contract suite runs through a Sentinel
// and through a three-node Cluster (where every key must share one hash
// slot for the scripts and transactions to work).

func TestRedisSentinelConformance(t *testing.T) {
	s := redistest.StartSentinel(t)
	var n atomic.Int64
	testStoreConformance(t, func(t *testing.T) Store {
		client := redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs: []string{s.Sentinel.Addr()}, MasterName: s.Name,
		})
		st := NewRedisStore(client, fmt.Sprintf("sentinel%d", n.Add(1)))
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestRedisClusterConformance(t *testing.T) {
	c := redistest.StartCluster(t)
	var n atomic.Int64
	testStoreConformance(t, func(t *testing.T) Store {
		client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: c.Addrs()})
		if _, ok := client.(*redis.ClusterClient); !ok {
			t.Fatalf("three addresses without a master name should make a cluster client, got %T", client)
		}
		st := NewRedisStore(client, fmt.Sprintf("cluster%d", n.Add(1)))
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}
