package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a master watched by one Sentinel (quorum 1).
type Sentinel struct {
	Master   *Server
	Sentinel *Server
	Name     string // the master's name: "mymaster"
}

// StartSentinel starts a master and a Sentinel monitoring it. Clients
// reach the master through Sentinel.Sentinel.Addr() and Name.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := Start(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	_, mport, _ := strings.Cut(master.Addr(), ":")
	// Sentinel rewrites its config file, so it must be writable.
	body := fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %s 1\nsentinel down-after-milliseconds mymaster 2000\n", mport)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := Start(t, Args("--sentinel"), configFile(conf))
	s := &Sentinel{Master: master, Sentinel: sentinel, Name: "mymaster"}
	// Wait until the Sentinel knows the master.
	c := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr()})
	defer c.Close()
	poll(t, "the sentinel to know the master", func() bool {
		addr, err := c.GetMasterAddrByName(context.Background(), s.Name).Result()
		return err == nil && len(addr) == 2 && addr[1] == mport
	})
	return s
}

// configFile makes redis-server read a config file (given first, as
// redis-server requires).
func configFile(path string) Option {
	return func(c *config) { c.configFile = path }
}

// Cluster is a Redis Cluster of three masters, no replicas.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// StartCluster starts three cluster-enabled nodes and joins them with
// redis-cli (from Debian's redis-tools, installed with redis-server).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("redis-cli is not installed but %s=1 (apt-get install redis-tools)", RequireEnv)
		}
		t.Skip("redis-cli is not installed")
	}
	c := &Cluster{}
	for range 3 {
		c.Nodes = append(c.Nodes, Start(t, Args("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		poll(t, "cluster_state:ok on "+n.Addr(), func() bool {
			info, err := n.Client().ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
	}
	return c
}

// poll waits for cond with a deadline (no fixed delay).
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(startWait * 2)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waiting for %s: deadline passed", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}
