package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// The agency API over real HTTP (loopback) on a real Redis (redistest):
// ops/s, allocs/op (the whole process: client and server) and Redis round
// trips per op counted by a go-redis hook (a pipeline counts once).
//
//	go test -run '^$' -bench . -benchtime 3s ./api

const benchOperator = "bench-operator"

// benchRTHook counts round trips.
type benchRTHook struct{ n atomic.Int64 }

func (h *benchRTHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *benchRTHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *benchRTHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

type benchAPI struct {
	b       *testing.B
	url     string
	key, cm string
	rt      *benchRTHook
	hc      *http.Client
	phone   atomic.Int64 // numbers start at a random base: a shared REDIS_URL may hold earlier runs'
}

func newBenchAPI(b *testing.B) *benchAPI {
	b.Helper()
	rs := redistest.New(b)
	opt, err := redis.ParseURL(rs.URL)
	if err != nil {
		b.Fatal(err)
	}
	opt.PoolSize = 64 // as store.NewClient
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	a := &benchAPI{b: b, rt: &benchRTHook{}}
	rdb.AddHook(a.rt)
	srv := httptest.NewServer(newServer(b, api.Deps{Store: store.New(rdb, nil), Registry: prometheus.NewRegistry(), OperatorToken: benchOperator}))
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	a.url, a.hc = srv.URL, &http.Client{Transport: tr}
	a.phone.Store(int64(2_000_000 + rand.IntN(7_000_000)))

	out := a.must("POST", "/v1/agencies", benchOperator, `{"name":"Bench CMH","timezone":"America/Chicago"}`, 201)
	a.key = out["api_key"].(string)
	out = a.must("POST", "/v1/case-managers", a.key, fmt.Sprintf(`{"name":"Bench Staff","phone":"+1773%07d"}`, a.phone.Add(1)), 201)
	a.cm = out["id"].(string)
	return a
}

func (a *benchAPI) do(method, path, key, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

func (a *benchAPI) must(method, path, key, body string, want int) map[string]any {
	a.b.Helper()
	code, raw, err := a.do(method, path, key, body)
	if err != nil || code != want {
		a.b.Fatalf("%s %s = %d %s %v; want %d", method, path, code, raw, err, want)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		a.b.Fatal(err)
	}
	return out
}

func (a *benchAPI) clientBody() string {
	return fmt.Sprintf(`{"name":"Bench Client","phone":"+1312%07d","channel":"sms","timezone":"America/Chicago","case_manager_id":%q,`+
		`"language":"en","consent":{"at":"2026-01-02T15:04:05Z","method":"written"}}`, a.phone.Add(1), a.cm)
}

// run runs op b.N times from 16 goroutines and reports ops/s and round trips per op.
func (a *benchAPI) run(op func() error) {
	b := a.b
	before := a.rt.n.Load()
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(a.rt.n.Load()-before)/float64(b.N), "redis-rt/op")
}

// BenchmarkCreateClient: POST /v1/clients, each with a new phone number.
func BenchmarkCreateClient(b *testing.B) {
	a := newBenchAPI(b)
	a.run(func() error {
		code, raw, err := a.do("POST", "/v1/clients", a.key, a.clientBody())
		if err == nil && code != 201 {
			err = fmt.Errorf("POST /v1/clients = %d %s", code, raw)
		}
		return err
	})
}

// BenchmarkGetClient: GET /v1/clients/{id} over 256 clients.
func BenchmarkGetClient(b *testing.B) {
	a := newBenchAPI(b)
	ids := make([]string, 256)
	for i := range ids {
		ids[i] = a.must("POST", "/v1/clients", a.key, a.clientBody(), 201)["id"].(string)
	}
	var next atomic.Int64
	a.run(func() error {
		id := ids[int(next.Add(1))%len(ids)]
		code, raw, err := a.do("GET", "/v1/clients/"+id, a.key, "")
		if err == nil && code != 200 {
			err = fmt.Errorf("GET /v1/clients/%s = %d %s", id, code, raw)
		}
		return err
	})
}
