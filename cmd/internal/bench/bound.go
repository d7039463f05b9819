package bench

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// BoundResult is what one Redis can serve: the figure the others are read against.
type BoundResult struct {
	GoRT       float64 // round trips/s, Conns goroutines doing GET on one go-redis client
	Conns      int
	RedisCores float64 // Redis CPU during that loop
	Machine    float64 // share of all CPUs busy during that loop
	Serial     Dist    // one goroutine, one GET at a time
	SerialRT   float64
	Piped      float64 // GETs/s, Conns goroutines each sending pipelines of 16
	RedisBench float64 // redis-benchmark GET requests/s (0: not run)
	Note       string
}

func (e *benchEnv) boundPhase(ctx context.Context) BoundResult {
	res := BoundResult{Conns: 64}
	c, err := benchRedisClient(e.redisURL, 0)
	if err != nil {
		res.Note = err.Error()
		return res
	}
	defer c.Close()
	const key = "bench:bound"
	_ = c.Set(ctx, key, "x", 0).Err()
	loop := func(d time.Duration, f func() int64) float64 {
		var n atomic.Int64
		start := time.Now()
		deadline := start.Add(d)
		var wg sync.WaitGroup
		for range res.Conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) && ctx.Err() == nil {
					n.Add(f())
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	// One at a time: the floor under any sequence of round trips.
	var serial []time.Duration
	start := time.Now()
	for time.Since(start) < e.cfg.BoundDur/4 && ctx.Err() == nil {
		t := time.Now()
		_ = c.Get(ctx, key).Err()
		serial = append(serial, time.Since(t))
	}
	res.SerialRT = float64(len(serial)) / time.Since(start).Seconds()
	res.Serial = distOf(serial)

	i0, m0 := readInfo(ctx, e.admin), readMachineCPU()
	t0 := time.Now()
	res.GoRT = loop(e.cfg.BoundDur, func() int64 {
		if c.Get(ctx, key).Err() == nil {
			return 1
		}
		return 0
	})
	i1, m1 := readInfo(ctx, e.admin), readMachineCPU()
	res.RedisCores = (i1.cpu - i0.cpu) / time.Since(t0).Seconds()
	res.Machine = busyShare(m0, m1)
	res.Piped = loop(e.cfg.BoundDur/2, func() int64 {
		pipe := c.Pipeline()
		for range 16 {
			pipe.Get(ctx, key)
		}
		if _, err := pipe.Exec(ctx); err == nil {
			return 16
		}
		return 0
	})
	_ = c.Del(ctx, key).Err()
	if e.cfg.RedisBench > 0 {
		res.RedisBench, res.Note = redisBenchmark(ctx, e.redisURL, e.cfg.RedisBench)
	}
	return res
}

// redisBenchmark runs redis-benchmark's GET test with 64 connections.
func redisBenchmark(ctx context.Context, rawURL string, n int) (float64, string) {
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return 0, "redis-benchmark not installed"
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return 0, err.Error()
	}
	host, port, _ := net.SplitHostPort(opt.Addr)
	args := []string{"-h", host, "-p", port, "-c", "64", "-n", strconv.Itoa(n), "-t", "get", "--csv"}
	if opt.Password != "" {
		args = append(args, "-a", opt.Password, "--no-auth-warning")
	}
	cmd := exec.CommandContext(ctx, path, args...)
	outb, err := cmd.Output()
	if err != nil {
		return 0, "redis-benchmark: " + err.Error()
	}
	for line := range strings.SplitSeq(string(outb), "\n") {
		f := strings.Split(line, ",")
		if len(f) > 1 && strings.Trim(f[0], `"`) == "GET" {
			v, _ := strconv.ParseFloat(strings.Trim(f[1], `"`), 64)
			return v, ""
		}
	}
	return 0, "redis-benchmark: no GET line"
}
