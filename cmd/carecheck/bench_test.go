package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carecheck/carecheck/cmd/internal/bench"
	"github.com/carecheck/carecheck/cmd/internal/inproc"
	"github.com/carecheck/carecheck/store/redistest"
)

// benchRedisFor gives a bench its own empty Redis, or skips: the bench needs a
// real redis-server (INFO, MEMORY USAGE) and refuses a Redis holding data.
func benchRedisFor(tb testing.TB) string {
	tb.Helper()
	rs := redistest.New(tb)
	if rs.Kind == "embedded" {
		tb.Skip("the bench needs a real redis-server (INFO commandstats, MEMORY USAGE)")
	}
	return rs.URL
}

// TestBenchTiny runs `carecheck bench` at a tiny size so its code keeps
// working. It checks what the bench counts — every message once, every alert
// delivered — and never how fast anything was.
func TestBenchTiny(t *testing.T) {
	url := benchRedisFor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := bench.Tiny()
	var out bytes.Buffer
	logs := &benchLogs{}
	defer func() {
		if t.Failed() {
			t.Logf("service warnings and errors:\n%s", logs.problems())
		}
	}()
	res, err := bench.Run(ctx, startInProc, cfg, url, "redistest", &out, io.Discard, logs)
	var u inproc.UsageError
	if errors.As(err, &u) && strings.Contains(u.Msg, "needs an empty one") {
		t.Skip(u.Msg)
	}
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}

	if d := res.Dispatch; d.N != cfg.Dispatch || d.Delivered != d.N || d.Duplicates != 0 || d.Misses != 0 {
		t.Errorf("dispatch: %d occurrences, %d first questions, %d duplicates, %d missed; want each sent exactly once", d.N, d.Delivered, d.Duplicates, d.Misses)
	}
	rates := map[int]bool{}
	for _, s := range res.Steps {
		rates[s.Rate] = true
	}
	if len(rates) != len(cfg.Rates) {
		t.Errorf("inbound steps run at %d rates; want %d", len(rates), len(cfg.Rates))
	}
	for _, s := range res.Steps {
		if s.Errors != 0 || s.Replies != s.Msgs || !s.AllReplis || s.Other != 0 {
			t.Errorf("inbound %d/s: %d errors, %d replies to %d messages, %d other replies; want none, one each, none", s.Rate, s.Errors, s.Replies, s.Msgs, s.Other)
		}
	}
	c := res.Crisis
	if c.Sent == 0 || c.Alerts != c.Sent || c.Safety != c.Sent || c.Errors != 0 {
		t.Errorf("crisis: %d sent, %d alerts, %d safety replies, %d errors; want every alert and safety reply", c.Sent, c.Alerts, c.Safety, c.Errors)
	}
	if b := c.Background; b.Errors != 0 || b.Replies != b.Msgs || b.Other != 0 {
		t.Errorf("crisis background: %d errors, %d replies to %d messages, %d other replies", b.Errors, b.Replies, b.Msgs, b.Other)
	}
	m := res.Memory
	// Each day: the first question, the second, the thanks; once: the safety reply.
	if want := m.Clients * (3*m.Days + 1); m.Messages != want {
		t.Errorf("memory phase: %d SMS to its clients; want %d (each message once)", m.Messages, want)
	}
	if m.PerClient <= 0 || len(m.Classes) == 0 {
		t.Errorf("memory phase measured nothing: %+v", m)
	}
	if res.Bound.GoRT <= 0 {
		t.Errorf("bound: no round trips measured")
	}
	for _, want := range []string{"## 1. Inbound", "## 2. Crisis", "## 3. Dispatch", "## 4. Memory", "## 5. The bound", "## Targets", "Machine:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// benchLogs keeps the service's logs for a failing test.
type benchLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *benchLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *benchLogs) problems() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	if len(out) > 50 {
		out = append(out[:50], fmt.Sprintf("… and %d more", len(out)-50))
	}
	return strings.Join(out, "\n")
}

func TestBenchRefusesUnknownPhase(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"carecheck", "bench", "--phases", "inbound,nope"}, func(string) string { return "" }, nil, io.Discard, &stderr)
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(u.msg, "nope") {
		t.Fatalf("bench --phases nope = %v; want a usage error naming it", err)
	}
}

// BenchmarkInboundWebhook: signed Twilio webhooks through the whole stack on
// real Redis — verified, stored, screened, the answer "7" advancing an open
// check-in, the next question queued (and sent by the workers after the
// timer stops). allocs/op counts the whole process: client, service, fakes.
func BenchmarkInboundWebhook(b *testing.B) {
	url := benchRedisFor(b)
	ctx := context.Background()
	e, err := bench.Start(ctx, startInProc, bench.Tiny(), url, io.Discard)
	if err != nil {
		b.Skip(err)
	}
	defer e.Close()
	reqs, err := e.Answers(ctx, b.N)
	if err != nil {
		b.Fatal(err)
	}
	e.Settle(ctx)
	web0, all0 := e.RoundTrips()
	var next, failed atomic.Int64
	b.SetParallelism(32) // 64 webhooks in flight on 2 CPUs, as Twilio would
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code, err := e.Post(ctx, reqs[next.Add(1)-1]); err != nil || code != 200 {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	web1, _ := e.RoundTrips()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d webhooks failed", n)
	}
	if got := e.Replies(ctx, b.N, 30*time.Second); got < b.N {
		b.Fatalf("replies sent: %d of %d", got, b.N)
	}
	e.Settle(ctx)
	_, all2 := e.RoundTrips()
	n := float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(web1-web0)/n, "webhook-rt/msg")
	b.ReportMetric(float64(all2-all0)/n, "total-rt/msg")
}
