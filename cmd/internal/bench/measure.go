package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }
func (l *latencies) take() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.d
	l.d = nil
	return d
}

// pct is the nearest-rank percentile of sorted d.
func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d))*q+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// Dist is a latency distribution (nearest-rank percentiles).
type Dist struct{ P50, P90, P99, Max time.Duration }

func distOf(d []time.Duration) Dist {
	slices.Sort(d)
	if len(d) == 0 {
		return Dist{}
	}
	return Dist{pct(d, .5), pct(d, .9), pct(d, .99), d[len(d)-1]}
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// ------------------------------------------------------------ snapshots

type redisInfo struct {
	calls      int64
	cpu        float64 // seconds
	usedMemory int64
}

func readInfo(ctx context.Context, c *redis.Client) redisInfo {
	var r redisInfo
	s, err := c.Info(ctx, "commandstats", "cpu", "memory").Result()
	if err != nil {
		return r
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(k, "cmdstat_"):
			for f := range strings.SplitSeq(v, ",") {
				if n, ok := strings.CutPrefix(f, "calls="); ok {
					c, _ := strconv.ParseInt(n, 10, 64)
					r.calls += c
				}
			}
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			r.cpu += f
		case k == "used_memory":
			r.usedMemory, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return r
}

type benchSnap struct {
	at    time.Time
	rt    rtSnap
	redis redisInfo
	goCPU time.Duration
	pool  redis.PoolStats
	busy  machineCPU
}

// machineCPU is /proc/stat's first line: all CPUs' jiffies, busy and total.
type machineCPU struct{ busy, total int64 }

func readMachineCPU() machineCPU {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	var m machineCPU
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		m.total += n
		if i != 3 && i != 4 { // idle, iowait
			m.busy += n
		}
	}
	return m
}

// busyShare is the share of all CPUs busy between a and b.
func busyShare(a, b machineCPU) float64 {
	if b.total <= a.total {
		return 0
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total)
}

func procCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (e *benchEnv) snap(ctx context.Context) benchSnap {
	s := benchSnap{at: time.Now(), rt: e.rt.snap(), redis: readInfo(ctx, e.admin), goCPU: procCPU(), busy: readMachineCPU()}
	if p := e.svc.Store().Redis().PoolStats(); p != nil {
		s.pool = *p
	}
	return s
}

// Usage is what happened between two snapshots, per unit of work.
type Usage struct {
	RTWebhook, RTOther float64 // round trips per unit (go-redis hook)
	Cmds               float64 // Redis commands per unit, scripts' inner commands included (INFO commandstats)
	RedisCPU, GoCPU    float64 // ms of CPU per unit
	RedisCores, GoCore float64 // CPU cores busy on average
	RTPerSec           float64
	Machine            float64 // share of all CPUs busy (/proc/stat)
	Others             float64 // cores busy outside this process and Redis (other work on the machine)
	PoolWaits          uint32
	PoolTimeouts       uint32
	Top                []RTSource
}

func usageOf(a, b benchSnap, units float64) Usage {
	wall := b.at.Sub(a.at).Seconds()
	u := Usage{
		RTWebhook:    float64(b.rt.webhook-a.rt.webhook) / units,
		RTOther:      float64(b.rt.other-a.rt.other) / units,
		Cmds:         float64(b.redis.calls-a.redis.calls) / units,
		RedisCPU:     (b.redis.cpu - a.redis.cpu) * 1000 / units,
		GoCPU:        float64(b.goCPU-a.goCPU) / 1e6 / units,
		RedisCores:   (b.redis.cpu - a.redis.cpu) / wall,
		GoCore:       (b.goCPU - a.goCPU).Seconds() / wall,
		RTPerSec:     float64(b.rt.webhook-a.rt.webhook+b.rt.other-a.rt.other) / wall,
		Machine:      busyShare(a.busy, b.busy),
		Others:       max(0, busyShare(a.busy, b.busy)*float64(runtime.NumCPU())-(b.redis.cpu-a.redis.cpu)/wall-(b.goCPU-a.goCPU).Seconds()/wall),
		PoolWaits:    b.pool.WaitCount - a.pool.WaitCount,
		PoolTimeouts: b.pool.Timeouts - a.pool.Timeouts,
		Top:          topSources(a.rt, b.rt, units, 12),
	}
	return u
}

// RT is the round trips per unit of work, webhook and workers together.
func (u Usage) RT() float64 { return u.RTWebhook + u.RTOther }
