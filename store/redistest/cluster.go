package redistest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three masters on loopback, for one test.
// miniredis never reports CROSSSLOT, so hash-tag mistakes only show here.
type Cluster struct {
	// URL lists the three nodes, "redis://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
	// (REDIS_URL's Cluster form).
	URL   string
	Addrs []string
	cmds  []*exec.Cmd
}

// NewCluster starts three cluster-enabled redis-servers, joins them with
// `redis-cli --cluster create` and waits until every node reports
// cluster_state:ok. Without redis-server or redis-cli the test is skipped,
// unless CARECHECK_TEST_REDIS=required, which makes it fail.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	server, errS := exec.LookPath("redis-server")
	cli, errC := exec.LookPath("redis-cli")
	if errS != nil || errC != nil {
		if os.Getenv("CARECHECK_TEST_REDIS") == "required" {
			t.Fatalf("CARECHECK_TEST_REDIS=required but redis-server and redis-cli are needed for the Cluster test (server: %v, cli: %v)", errS, errC)
		}
		t.Skipf("Redis Cluster test skipped: redis-server and redis-cli are needed on PATH (server: %v, cli: %v)", errS, errC)
	}
	dir := t.TempDir()
	c := &Cluster{}
	t.Cleanup(c.stop)
	ports, err := clusterPorts(3)
	if err != nil {
		t.Fatalf("redis cluster: %v", err)
	}
	for _, p := range ports {
		ps := strconv.Itoa(p)
		cmd := exec.Command(server, "--port", ps, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes-"+ps+".conf"), "--cluster-node-timeout", "2000",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
			"--logfile", filepath.Join(dir, "redis-"+ps+".log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("redis cluster: start node %d: %v", p, err)
		}
		c.cmds = append(c.cmds, cmd)
		c.Addrs = append(c.Addrs, "127.0.0.1:"+ps)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range ports {
		for !ping(p) {
			if time.Now().After(deadline) {
				t.Fatalf("redis cluster: node %d did not answer PING within 5s", p)
			}
			time.Sleep(5 * time.Millisecond) // another process starting to listen: nothing to block on
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	var out bytes.Buffer
	create := exec.Command(cli, args...)
	create.Stdout, create.Stderr = &out, &out
	if err := create.Run(); err != nil {
		t.Fatalf("redis cluster: redis-cli --cluster create: %v\n%s", err, out.String())
	}
	ctx := context.Background()
	for _, a := range c.Addrs {
		n := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := n.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline.Add(15 * time.Second)) {
				_ = n.Close()
				t.Fatalf("redis cluster: node %s not cluster_state:ok within 20s: %v\n%s", a, err, info)
			}
			time.Sleep(20 * time.Millisecond) // the nodes gossip their slots: nothing to block on
		}
		_ = n.Close()
	}
	c.URL = "redis://" + strings.Join(c.Addrs, ",")
	return c
}

// Client returns a Cluster client to c, closed at the end of the test.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Flush empties every master (between scenarios sharing one cluster).
func (c *Cluster) Flush(ctx context.Context, t testing.TB) {
	t.Helper()
	for _, a := range c.Addrs {
		n := redis.NewClient(&redis.Options{Addr: a})
		err := n.FlushAll(ctx).Err()
		_ = n.Close()
		if err != nil {
			t.Fatalf("redis cluster: flush %s: %v", a, err)
		}
	}
}

func (c *Cluster) stop() {
	for _, cmd := range c.cmds {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	}
	c.cmds = nil
}

// clusterPorts finds n ports P that are free together with their cluster bus
// port P+10000.
func clusterPorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n && tries < 200; tries++ {
		p := 10000 + rand.IntN(10000) // below the ephemeral range, bus port too
		if free(p) && free(p+10000) && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	if len(ports) < n {
		return nil, fmt.Errorf("no %d free port pairs (P and P+10000) found", n)
	}
	return ports, nil
}

func free(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
