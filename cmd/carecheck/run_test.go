package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store/redistest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testOperatorToken is as long as serve requires (32 characters or more).
const testOperatorToken = "test-operator-token-0123456789abcdef"

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestUsageErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		label string
		args  []string
		env   map[string]string
		want  string
	}{
		{"no command", []string{"carecheck"}, nil, "usage"},
		{"unknown command", []string{"carecheck", "fly"}, nil, `unknown command "fly"`},
		{"bad public url", []string{"carecheck", "serve"}, map[string]string{"CARECHECK_PUBLIC_URL": "ftp://x"}, "CARECHECK_PUBLIC_URL"},
		{"bad redis url", []string{"carecheck", "serve"}, map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL"},
		{"half twilio", []string{"carecheck", "serve"}, map[string]string{"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_"},
		{"telegram without secret", []string{"carecheck", "serve"}, map[string]string{"TELEGRAM_BOT_TOKEN": "1:x"}, "TELEGRAM_WEBHOOK_SECRET"},
		{"bad rate", []string{"carecheck", "serve"}, map[string]string{"TWILIO_MESSAGES_PER_SECOND": "fast"}, "TWILIO_MESSAGES_PER_SECOND"},
		{"NaN rate", []string{"carecheck", "serve"}, map[string]string{"TWILIO_MESSAGES_PER_SECOND": "NaN"}, "TWILIO_MESSAGES_PER_SECOND"},
		{"rate too small to mean anything", []string{"carecheck", "serve"}, map[string]string{"TWILIO_MESSAGES_PER_SECOND": "0.001"}, "TWILIO_MESSAGES_PER_SECOND"},
		{"bad trusted proxies", []string{"carecheck", "serve"}, map[string]string{"CARECHECK_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"}, "CARECHECK_TRUSTED_PROXIES"},
		{"bad admin address", []string{"carecheck", "serve"}, map[string]string{"CARECHECK_ADMIN_ADDR": "nine-thousand"}, "CARECHECK_ADMIN_ADDR"},
		{"bad auto-pipeline switch", []string{"carecheck", "serve"}, map[string]string{"CARECHECK_REDIS_AUTOPIPELINE": "maybe"}, "CARECHECK_REDIS_AUTOPIPELINE"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(t.Context(), tc.args, envOf(tc.env), strings.NewReader(""), &out, &errb)
			if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run = %v; want a usage error naming %q", err, tc.want)
			}
			for k, v := range tc.env {
				if strings.Contains(k, "TOKEN") && err != nil && strings.Contains(err.Error(), v) {
					t.Errorf("the error repeats the secret of %s: %v", k, err)
				}
			}
		})
	}
}

// TestFractionalPacingIsKept: half a message a second is a rate, not zero.
func TestFractionalPacingIsKept(t *testing.T) {
	cfg, err := loadConfig(envOf(map[string]string{"TWILIO_MESSAGES_PER_SECOND": "0.5"}))
	if err != nil || cfg.TwilioRate != 0.5 {
		t.Errorf("loadConfig(TWILIO_MESSAGES_PER_SECOND=0.5) = %v, %v; want 0.5 a second", cfg.TwilioRate, err)
	}
}

// TestServeOnEmbeddedStore starts `serve` as a new user would, with no
// REDIS_URL, and checks it answers and says it is on the embedded store.
func TestServeOnEmbeddedStore(t *testing.T) {
	addr, logs, stop := startServe(t, map[string]string{"CARECHECK_OPERATOR_TOKEN": testOperatorToken})
	defer stop()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz = %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), "EMBEDDED") {
		t.Errorf("serve did not warn loudly about the embedded store; logs:\n%s", logs)
	}
}

func TestServeOnRealRedisDrainsOnCancel(t *testing.T) {
	rs := redistest.New(t)
	addr, _, stop := startServe(t, map[string]string{"REDIS_URL": rs.URL, "CARECHECK_OPERATOR_TOKEN": testOperatorToken})
	body := `{"name":"North","timezone":"America/Chicago"}`
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/agencies", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testOperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode != 201 || out["api_key"] == nil {
		t.Fatalf("create agency = %d %s", resp.StatusCode, raw)
	}
	if err := stop(); err != nil {
		t.Errorf("serve returned %v after cancel; want a clean drain", err)
	}
}

// TestShortOperatorTokenCreatesNothing: serve starts with a guessable
// operator token, says so, and refuses to create agencies with it.
func TestShortOperatorTokenCreatesNothing(t *testing.T) {
	const short = "change-me-please-0123456789abcd" // 31 characters
	addr, logs, _ := startServe(t, map[string]string{"CARECHECK_OPERATOR_TOKEN": short})
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/agencies", strings.NewReader(`{"name":"North","timezone":"America/Chicago"}`))
	req.Header.Set("Authorization", "Bearer "+short)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 201 || resp.StatusCode/100 != 4 {
		t.Errorf("create agency with a 31-character operator token = %d; want it refused", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "shorter than 32 characters") {
		t.Errorf("serve did not say why agencies cannot be created; logs:\n%s", logs)
	}
	if strings.Contains(logs.String(), short) {
		t.Errorf("the logs repeat the operator token")
	}
}

func startServe(t *testing.T, e map[string]string) (addr string, logs *syncBuffer, stop func() error) {
	t.Helper()
	if e["CARECHECK_ADDR"] == "" {
		e["CARECHECK_ADDR"] = "127.0.0.1:0"
	}
	if e["CARECHECK_ADMIN_ADDR"] == "" {
		e["CARECHECK_ADMIN_ADDR"] = "127.0.0.1:0" // not the default port: tests run side by side
	}
	cfg, err := loadConfig(envOf(e))
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(logs, "info"), ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(startupWait):
		cancel()
		t.Fatalf("serve did not listen within %v", startupWait)
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return addr, logs, stop
}

// /metrics and pprof answer only on the admin listener; the public one
// answers 404 for them. "off" (or the variable set empty) serves neither.
func TestMetricsAndPprofOnlyOnTheAdminListener(t *testing.T) {
	addr, logs, stop := startServe(t, map[string]string{})
	defer stop()
	var admin string
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "admin listening" {
			admin = l.Addr
		}
	}
	if admin == "" || admin == addr {
		t.Fatalf("admin listener at %q (public %q); logs:\n%s", admin, addr, logs)
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap"} {
		if code, _ := get("http://" + addr + p); code != 404 {
			t.Errorf("public %s = %d; want 404", p, code)
		}
	}
	if code, body := get("http://" + admin + "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "carecheck_") {
		t.Errorf("admin /metrics = %d; want 200 with Go and CareCheck metrics", code)
	}
	if code, body := get("http://" + admin + "/debug/pprof/"); code != 200 || !strings.Contains(body, "heap") {
		t.Errorf("admin /debug/pprof/ = %d; want 200 with the profile index", code)
	}
	if code, _ := get("http://" + admin + "/v1/clients"); code != 404 {
		t.Errorf("admin /v1/clients = %d; want 404 (the API is not on the admin listener)", code)
	}

	_, offLogs, stopOff := startServe(t, map[string]string{"CARECHECK_ADMIN_ADDR": "off"})
	defer stopOff()
	if !strings.Contains(offLogs.String(), "admin listener off") || strings.Contains(offLogs.String(), "admin listening") {
		t.Errorf("with CARECHECK_ADMIN_ADDR=off serve should say the admin listener is off; logs:\n%s", offLogs)
	}

	env := processEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"CARECHECK_ADMIN_ADDR": "", "CARECHECK_ADDR": ""}[k]
		return v, ok
	})
	if env("CARECHECK_ADMIN_ADDR") != "off" || env("CARECHECK_ADDR") != "" || env("REDIS_URL") != "" {
		t.Errorf("processEnv: set-empty admin = %q, set-empty addr = %q, unset = %q; want off, empty, empty",
			env("CARECHECK_ADMIN_ADDR"), env("CARECHECK_ADDR"), env("REDIS_URL"))
	}
}
