// Package redistest gives each test its own Redis, like net/http/httptest
// gives it a server: REDIS_URL when set; otherwise a throwaway redis-server
// from PATH on a free loopback port; otherwise the embedded server (and the
// test log says so). With CARECHECK_TEST_REDIS=required a test fails instead
// of falling back to the embedded server.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is one Redis for one test.
type Server struct {
	URL  string
	Kind string // "env", "redis-server" or "embedded"
	Port int
	Dir  string
	cmd  *exec.Cmd
	args []string
}

// New returns a Redis URL for t and cleans up after it. Extra arguments are
// passed to redis-server (e.g. "--appendonly", "yes").
func New(t testing.TB, extra ...string) *Server {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" && len(extra) == 0 {
		return &Server{URL: u, Kind: "env"}
	}
	if path, err := exec.LookPath("redis-server"); err == nil {
		s := &Server{Kind: "redis-server", Dir: t.TempDir(), args: extra}
		if err := s.start(path); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(s.Stop)
		return s
	}
	if os.Getenv("CARECHECK_TEST_REDIS") == "required" {
		t.Fatalf("CARECHECK_TEST_REDIS=required but neither REDIS_URL nor redis-server on PATH is available")
	}
	t.Logf("redistest: no REDIS_URL and no redis-server on PATH: using the embedded server (install redis-server for real-Redis tests)")
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatalf("start embedded redis: %v", err)
	}
	t.Cleanup(mr.Close)
	return &Server{URL: "redis://" + mr.Addr(), Kind: "embedded"}
}

// Client returns a go-redis client to s, closed at the end of the test.
func (s *Server) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(s.URL)
	if err != nil {
		t.Fatalf("parse %s: %v", s.URL, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Real reports whether s is a real redis-server (crash and restart tests need one).
func (s *Server) Real() bool { return s.cmd != nil || s.Kind == "env" }

func (s *Server) start(path string) error {
	var err error
	if s.Port == 0 {
		s.Port, err = freePort()
		if err != nil {
			return err
		}
	}
	args := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.Dir, "--daemonize", "no", "--logfile", filepath.Join(s.Dir, "redis.log")}
	args = append(args, s.args...)
	s.cmd = exec.Command(path, args...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.URL = fmt.Sprintf("redis://127.0.0.1:%d", s.Port)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.Port) {
			return nil
		}
		time.Sleep(5 * time.Millisecond) // waiting for another process to listen: nothing to block on
	}
	_ = s.cmd.Process.Kill()
	return fmt.Errorf("redis-server on port %d did not answer PING within 5s", s.Port)
}

// Stop kills the server (SIGKILL: what a crash looks like) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_, _ = s.cmd.Process.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port and directory (with
// appendonly, the data comes back).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.start(path); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
}

func ping(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Flush empties a Redis the test owns; refuses on a shared REDIS_URL.
func (s *Server) Flush(ctx context.Context, t testing.TB) {
	t.Helper()
	if s.Kind == "env" {
		t.Fatal("redistest: refusing to FLUSHALL a shared REDIS_URL")
	}
	c := s.Client(t)
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}
