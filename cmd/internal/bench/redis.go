package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/cmd/internal/inproc"
)

func benchRedisClient(rawURL string, dbDelta int) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, inproc.UsageError{Msg: fmt.Sprintf("bench: REDIS_URL must name one Redis node (%v)", err)}
	}
	opt.DB += dbDelta
	opt.PoolSize = 64
	opt.Protocol = 2 // as the service speaks (store.NewClient)
	return redis.NewClient(opt), nil
}

func dbURL(rawURL string, delta int) (string, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + strconv.Itoa(opt.DB+delta)
	return u.String(), nil
}

type benchRedis struct {
	url string
	dir string
	cmd *exec.Cmd
}

// startBenchRedis starts a throwaway redis-server on a free loopback port.
func startBenchRedis() (*benchRedis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, inproc.UsageError{Msg: "bench: set REDIS_URL or install redis-server"}
	}
	dir, err := os.MkdirTemp("", "carecheck-bench-redis-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r := &benchRedis{url: fmt.Sprintf("redis://127.0.0.1:%d/0", port), dir: dir, cmd: cmd}
	c, _ := benchRedisClient(r.url, 0)
	defer c.Close()
	if !waitUntil(context.Background(), 5*time.Second, func() bool { return c.Ping(context.Background()).Err() == nil }) {
		r.stop()
		return nil, fmt.Errorf("redis-server on port %d did not answer within 5s", port)
	}
	return r, nil
}

func (r *benchRedis) stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	_ = os.RemoveAll(r.dir)
}
