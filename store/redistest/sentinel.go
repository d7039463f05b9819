package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the Sentinels of NewSentinel know their
// group by.
const SentinelMaster = "carecheck"

// Sentinel is a Redis primary with one replica, watched by three Sentinels
// (quorum 2, down after 1 s) on loopback, for one test. A failover takes a
// few seconds: the primary is seen down after a second, the Sentinels agree
// and elect a leader, which promotes the replica.
type Sentinel struct {
	// URL names the Sentinels and the group in the form store.Open reads:
	// "redis://127.0.0.1:S1?master_name=carecheck&addr=127.0.0.1:S2&addr=127.0.0.1:S3".
	URL string
	// Sentinels are the Sentinels' addresses.
	Sentinels []string
	dir       string

	mu    sync.Mutex
	nodes map[string]*exec.Cmd // data nodes (primary and replica) by address
	procs []*exec.Cmd          // every process started, stopped at cleanup
}

// sentinelBinary finds the Sentinel program: Debian's redis-sentinel
// (package redis-sentinel; .ci/run installs it), else redis-server in
// Sentinel mode, which is the same program.
func sentinelBinary(t testing.TB) (path string, args []string) {
	t.Helper()
	if p, err := exec.LookPath("redis-sentinel"); err == nil {
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CARECHECK_TEST_REDIS") == "required" {
			t.Fatalf("CARECHECK_TEST_REDIS=required but neither redis-sentinel nor redis-server is on PATH for the Sentinel test")
		}
		t.Skip("Redis Sentinel test skipped: neither redis-sentinel nor redis-server is on PATH (apt-get install redis-sentinel)")
	}
	t.Logf("redistest: redis-sentinel is not on PATH: running redis-server --sentinel (apt-get install redis-sentinel for Debian's)")
	return p, []string{"--sentinel"}
}

// NewSentinel starts a primary, a replica of it and three Sentinels
// monitoring them, each on a free loopback port in a temporary directory,
// and returns once the replica is in sync and every Sentinel knows the
// replica and the two other Sentinels. Everything is killed at the end of
// the test. Without redis-server the test is skipped, unless
// CARECHECK_TEST_REDIS=required, which makes it fail.
func NewSentinel(t testing.TB) *Sentinel {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CARECHECK_TEST_REDIS") == "required" {
			t.Fatalf("CARECHECK_TEST_REDIS=required but redis-server is needed for the Sentinel test: %v", err)
		}
		t.Skipf("Redis Sentinel test skipped: redis-server is needed on PATH: %v", err)
	}
	sentinel, sentinelArgs := sentinelBinary(t)
	s := &Sentinel{dir: t.TempDir(), nodes: map[string]*exec.Cmd{}}
	t.Cleanup(s.stop)

	ports := make([]int, 5)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			t.Fatalf("redis sentinel: %v", err)
		}
	}
	primary, replica := ports[0], ports[1]
	s.startNode(t, server, primary)
	s.startNode(t, server, replica, "--replicaof", "127.0.0.1", strconv.Itoa(primary))

	for _, p := range ports[2:] {
		conf := filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.conf", p))
		text := strings.Join([]string{
			"port " + strconv.Itoa(p),
			"bind 127.0.0.1",
			"daemonize no",
			"dir " + s.dir,
			fmt.Sprintf("logfile %s", filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.log", p))),
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", SentinelMaster, primary),
			fmt.Sprintf("sentinel down-after-milliseconds %s 1000", SentinelMaster),
			fmt.Sprintf("sentinel failover-timeout %s 5000", SentinelMaster),
			fmt.Sprintf("sentinel parallel-syncs %s 1", SentinelMaster),
			"",
		}, "\n")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sentinel, append([]string{conf}, sentinelArgs...)...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("redis sentinel: start sentinel on %d: %v", p, err)
		}
		s.procs = append(s.procs, cmd)
		s.Sentinels = append(s.Sentinels, fmt.Sprintf("127.0.0.1:%d", p))
	}
	s.URL = fmt.Sprintf("redis://%s?master_name=%s&addr=%s", s.Sentinels[0], SentinelMaster, strings.Join(s.Sentinels[1:], "&addr="))

	// The Sentinels find the replica through the primary's INFO (every
	// 10 s at first, at once on start) and each other through hello
	// messages every 2 s.
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a})
		for {
			m, err := sc.Master(ctx, SentinelMaster).Result()
			if err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == "2" && m["flags"] == "master" {
				break
			}
			if time.Now().After(deadline) {
				_ = sc.Close()
				t.Fatalf("redis sentinel: %s did not see the replica and the other Sentinels within 30s: %v %v\n%s", a, m, err, s.Logs())
			}
			time.Sleep(50 * time.Millisecond) // the Sentinels gossip: nothing to block on
		}
		_ = sc.Close()
	}
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", replica)})
	defer rc.Close()
	for {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis sentinel: the replica did not sync within 30s: %v\n%s", err, info)
		}
		time.Sleep(20 * time.Millisecond) // the replica's first sync: nothing to block on
	}
	return s
}

func (s *Sentinel) startNode(t testing.TB, server string, port int, extra ...string) {
	t.Helper()
	ps := strconv.Itoa(port)
	args := append([]string{"--port", ps, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--dbfilename", "dump-" + ps + ".rdb", "--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis-"+ps+".log")}, extra...)
	cmd := exec.Command(server, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis sentinel: start redis-server on %d: %v", port, err)
	}
	s.mu.Lock()
	s.procs = append(s.procs, cmd)
	s.nodes["127.0.0.1:"+ps] = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !ping(port) {
		if time.Now().After(deadline) {
			t.Fatalf("redis sentinel: redis-server on %d did not answer PING within 5s", port)
		}
		time.Sleep(5 * time.Millisecond) // another process starting to listen: nothing to block on
	}
}

// Primary is the primary's address as the first Sentinel that answers
// names it.
func (s *Sentinel) Primary(ctx context.Context) (string, error) {
	var errs []string
	for _, a := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a})
		addr, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
		_ = sc.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1], nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", a, err))
	}
	return "", fmt.Errorf("no Sentinel names a primary: %s", strings.Join(errs, "; "))
}

// KillPrimary kills the primary with SIGKILL (what a crash looks like) and
// returns its address. It stays down.
func (s *Sentinel) KillPrimary(t testing.TB) string {
	t.Helper()
	addr, err := s.Primary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	cmd := s.nodes[addr]
	delete(s.nodes, addr)
	s.mu.Unlock()
	if cmd == nil {
		t.Fatalf("redis sentinel: the primary %s is not a node this test started", addr)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait() // "signal: killed"
	return addr
}

// Failover is what WaitFailover saw.
type Failover struct {
	// Primary is the new primary's address.
	Primary string
	// NoPrimaryAt is the last moment the test saw every surviving node
	// answer as a replica: there was certainly no primary from the kill
	// until then.
	NoPrimaryAt time.Time
	// PromotedAt is when the test first saw the new primary answer as one
	// and every Sentinel name it.
	PromotedAt time.Time
}

// WaitFailover waits, up to within, until a surviving node answers as the
// primary and every Sentinel names it instead of old.
func (s *Sentinel) WaitFailover(t testing.TB, old string, within time.Duration) Failover {
	t.Helper()
	ctx := context.Background()
	var f Failover
	deadline := time.Now().Add(within)
	for {
		s.mu.Lock()
		var addrs []string
		for a := range s.nodes {
			addrs = append(addrs, a)
		}
		s.mu.Unlock()
		asked := time.Now()
		master := ""
		for _, a := range addrs {
			c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
			role, err := c.Do(ctx, "ROLE").Slice()
			_ = c.Close()
			if err == nil && len(role) > 0 && role[0] == "master" {
				master = a
			}
		}
		if master == "" {
			f.NoPrimaryAt = asked
		} else if s.allName(ctx, master) {
			f.Primary, f.PromotedAt = master, time.Now()
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis sentinel: no failover from %s within %v (a node answering as primary: %q)\n%s", old, within, master, s.Logs())
		}
		time.Sleep(10 * time.Millisecond) // the Sentinels' failover: nothing to block on
	}
}

// allName reports whether every Sentinel names addr as the primary.
func (s *Sentinel) allName(ctx context.Context, addr string) bool {
	for _, a := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a})
		got, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
		_ = sc.Close()
		if err != nil || len(got) != 2 || got[0]+":"+got[1] != addr {
			return false
		}
	}
	return true
}

// Client returns a go-redis Sentinel client of the group, closed at the
// end of the test.
func (s *Sentinel) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseFailoverURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewFailoverClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Logs returns the Sentinels' logs (for a failure message).
func (s *Sentinel) Logs() string {
	var b strings.Builder
	for _, a := range s.Sentinels {
		_, port, _ := strings.Cut(a, ":")
		raw, _ := os.ReadFile(filepath.Join(s.dir, "sentinel-"+port+".log"))
		fmt.Fprintf(&b, "--- sentinel %s\n%s", a, raw)
	}
	return b.String()
}

func (s *Sentinel) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cmd := range s.procs {
		if cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	s.procs = nil
}
