// Package redistest runs a throwaway redis-server for tests.
//
// Start launches redis-server on a free 127.0.0.1 port with a temporary
// directory, waits until it answers PING and stops it when the test ends.
// When redis-server is not installed the test is skipped, unless the
// environment variable SIGNET_REQUIRE_REDIS=1 is set (CI sets it), in which
// case the test fails with an install hint.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the environment variable that turns a missing redis-server
// from a skip into a failure.
const RequireEnv = "SIGNET_REQUIRE_REDIS"

// startWait bounds how long Start waits for the server to answer; stopWait
// how long Stop waits for it to exit before killing it. Both are deadlines
// for polling, not delays.
const (
	startWait = 15 * time.Second
	stopWait  = 10 * time.Second
)

// Option changes how the server runs.
type Option func(*config)

type config struct {
	appendOnly bool
	extra      []string
	configFile string
	rdb        string
}

// Args passes extra command-line arguments to redis-server.
func Args(args ...string) Option {
	return func(c *config) { c.extra = append(c.extra, args...) }
}

// AppendOnly makes the server keep its data in an append-only file (fsync
// on every write) in its temporary directory, so data survives Stop and
// Start.
func AppendOnly() Option {
	return func(c *config) { c.appendOnly = true }
}

// RDB makes the server start with the data of the RDB snapshot at path
// (such as a dump.rdb committed as a test fixture): a copy of the file is
// put in the server's directory before it starts, so the original is never
// changed. Not for use with AppendOnly, where the server loads its
// append-only file instead.
func RDB(path string) Option {
	return func(c *config) { c.rdb = path }
}

// Server is one redis-server process (or, between Stop and Start, the
// memory of one: its port and directory).
type Server struct {
	t    testing.TB
	bin  string
	cfg  config
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	client *redis.Client
}

// Start launches a redis-server for the test and registers its cleanup.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("redis-server is not installed but %s=1: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)", RequireEnv)
		}
		t.Skipf("redis-server is not installed (apt-get install redis-server); set %s=1 to make this a failure", RequireEnv)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	for _, o := range opts {
		o(&s.cfg)
	}
	if s.cfg.rdb != "" {
		if err := copyFile(s.cfg.rdb, filepath.Join(s.dir, "dump.rdb")); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	t.Cleanup(s.cleanup)
	// The free port is found by binding and releasing it, so another
	// process may take it in between: try a few ports before giving up.
	var lastErr error
	for range 5 {
		if s.port, lastErr = freePort(); lastErr != nil {
			continue
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns a redis:// URL for database 0 of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir returns the server's working directory.
func (s *Server) Dir() string { return s.dir }

// Client returns a client for assertions (DBSIZE and the like), shared by
// the calls and closed when the test ends. It reconnects by itself after
// Stop and Start.
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{Addr: s.Addr()})
	}
	return s.client
}

// Start starts the server again after Stop, on the same port and with the
// same directory, so clients reconnect to it. It fails the test if the
// server does not come up.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restarting redis-server on %s: %v", s.Addr(), err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	logPath := filepath.Join(s.dir, "redis.log")
	var args []string
	if s.cfg.configFile != "" {
		args = append(args, s.cfg.configFile)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--logfile", logPath,
		"--daemonize", "no",
		"--save", "",
	)
	if s.cfg.appendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.cfg.extra...)
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	// Poll PING until the server answers, it exits, or the deadline.
	deadline := time.Now().Add(startWait)
	var err error
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited during start-up; log:\n%s", readLog(logPath))
		default:
		}
		if err = ping(s.Addr()); err == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("no answer to PING after %v (%v); log:\n%s", startWait, err, readLog(logPath))
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

// ping sends one PING over a fresh connection. It speaks RESP by hand
// rather than through go-redis, whose logger would report every refused
// connection while the server starts.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" { // e.g. -LOADING while reading the append-only file
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const tail = 4096
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return string(b)
}

// Stop shuts the server down (SIGTERM: with the default options nothing is
// saved; with AppendOnly the file is already up to date) and waits for the
// process to exit, killing it if it does not in time. Clients see
// connection errors until Start.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.stop(); err != nil {
		s.t.Errorf("redistest: %v", err)
	}
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopWait)
	defer timer.Stop()
	select {
	case <-exited:
		return nil
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server on port %d did not stop within %v and was killed", s.port, stopWait)
	}
}

// Running reports whether the server process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

func (s *Server) cleanup() {
	s.mu.Lock()
	c := s.client
	s.client = nil
	s.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	if err := s.stop(); err != nil {
		s.t.Logf("redistest: %v", err)
	}
}
