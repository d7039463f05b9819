package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/store/redistest"
)

// The multi-process tests run real `carecheck serve` processes. The test
// binary stands in for the carecheck binary: started with asBinary set, it
// runs main() instead of the tests, so no separate build is needed and,
// under -race, the serve processes are race-checked too.
const asBinary = "CARECHECK_TEST_RUN_AS_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(asBinary) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// raceEnabled reports whether this binary was built with -race (the big
// multi-process tests use fewer clients then: the race detector slows every
// process several times).
var raceEnabled = func() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}()

// startupWait bounds how long a serve process may take to listen. Start-up
// trains the detector's model, CPU-bound: 3 to 7 s alone, about twice that
// under -race, and more when several processes start together on a busy
// machine.
var startupWait = map[bool]time.Duration{false: 30 * time.Second, true: 90 * time.Second}[raceEnabled]

const publicURL = "https://carecheck.example.org"

// proc is one `carecheck serve` process.
type proc struct {
	t    *testing.T
	name string
	env  map[string]string
	cmd  *exec.Cmd
	URL  string // http://127.0.0.1:port
	// AdminURL serves /metrics (http://127.0.0.1:port).
	AdminURL string
	mu       sync.Mutex // guards AdminURL, set by the log reader
	logs     *syncBuffer
	exited   chan struct{}
}

// procEnv is the environment of serve processes sharing rs and fake.
func procEnv(redisURL string, fake *twiliotest.Server) map[string]string {
	return map[string]string{
		"REDIS_URL": redisURL, "CARECHECK_ADDR": "127.0.0.1:0", "CARECHECK_ADMIN_ADDR": "127.0.0.1:0", "CARECHECK_PUBLIC_URL": publicURL,
		"CARECHECK_OPERATOR_TOKEN": operatorTok, "CARECHECK_LOG_LEVEL": "info",
		"TWILIO_ACCOUNT_SID": accountSID, "TWILIO_AUTH_TOKEN": authToken, "TWILIO_FROM_NUMBER": ourNumber,
		"TWILIO_API_URL": fake.URL, "TWILIO_MESSAGES_PER_SECOND": "0",
	}
}

// startProc starts a serve process and waits until it listens.
func startProc(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, env: env, logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(exe, "serve")
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "REDIS_URL" || strings.HasPrefix(k, "CARECHECK_") || strings.HasPrefix(k, "TWILIO_") || strings.HasPrefix(k, "TELEGRAM_") {
			continue
		}
		p.cmd.Env = append(p.cmd.Env, kv)
	}
	p.cmd.Env = append(p.cmd.Env, asBinary+"=1")
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.logs.Write(append(append(make([]byte, 0, len(line)+1), line...), '\n'))
			if bytes.Contains(line, []byte(`"msg":"admin listening"`)) {
				var l struct{ Addr string }
				_ = json.Unmarshal(line, &l)
				p.setAdmin("http://" + l.Addr)
			}
			if bytes.Contains(line, []byte(`"msg":"listening"`)) {
				var l struct{ Addr string }
				_ = json.Unmarshal(line, &l)
				select {
				case listening <- l.Addr:
				default:
				}
			}
		}
		_ = p.cmd.Wait()
	}()
	select {
	case addr := <-listening:
		p.URL = "http://" + addr
	case <-p.exited:
		t.Fatalf("%s exited before listening:\n%s", name, p.logs)
	case <-time.After(startupWait):
		_ = p.cmd.Process.Kill()
		t.Fatalf("%s did not listen within %v:\n%s", name, startupWait, p.logs)
	}
	t.Cleanup(p.stop)
	return p
}

// kill ends the process as a crash does: SIGKILL, no drain.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop asks the process to drain (SIGTERM) and checks it left no data race.
func (p *proc) stop() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			p.t.Errorf("%s did not stop within 20s of SIGTERM", p.name)
			p.kill()
		}
	}
	if logs := p.logs.String(); strings.Contains(logs, "WARNING: DATA RACE") {
		i := strings.Index(logs, "WARNING: DATA RACE")
		p.t.Errorf("%s: the race detector found a data race:\n%s", p.name, logs[max(0, i-200):min(len(logs), i+6000)])
	}
}

// restart starts the same process again (after kill).
func (p *proc) restart() *proc {
	p.t.Helper()
	return startProc(p.t, p.name+"'", p.env)
}

// countLogs counts log lines whose msg is msg.
func (p *proc) countLogs(msg string) int {
	return strings.Count(p.logs.String(), `"msg":"`+msg+`"`)
}

// httpc is shared by the multi-process tests: many requests at once.
var httpc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends a JSON request and decodes the answer.
func call(base, method, path, key string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

func mustCall(t *testing.T, base, method, path, key string, body any, want int) map[string]any {
	t.Helper()
	code, out, err := call(base, method, path, key, body)
	if err != nil || code != want {
		t.Fatalf("%s %s = %d %v %v; want %d", method, path, code, out, err, want)
	}
	return out
}

// fleet is an agency with a case manager and many SMS clients with consent.
type fleet struct {
	key, agency, cm string
	backup          string // the case manager's backup
	ids, phones     []string
	byPhone         map[string]string // phone → client id
}

// midday returns a fixed-offset zone where it is now about noon, so that no
// check-in falls in the default quiet hours (21:00–08:00) whenever the test runs.
func midday() string {
	h := 12 - time.Now().UTC().Hour() // local = UTC + h
	if h > 12 {
		h -= 24
	}
	switch {
	case h == 0:
		return "Etc/GMT"
	case h > 0:
		return fmt.Sprintf("Etc/GMT-%d", h) // POSIX sign: Etc/GMT-5 is UTC+5
	default:
		return fmt.Sprintf("Etc/GMT+%d", -h)
	}
}

// The fleet's case manager and backup have numbers outside the clients' range.
const (
	fleetCMPhone     = "+17735550100"
	fleetBackupPhone = "+17735550101"
)

// nthPhone returns the i-th client's number (10,000 valid ones).
func nthPhone(i int) string { return fmt.Sprintf("+1312555%04d", i) }

// seedFleet creates an agency, a case manager and n clients through the
// API, spreading the requests over procs.
func seedFleet(t *testing.T, procs []*proc, n int, zone string) *fleet {
	t.Helper()
	f := &fleet{ids: make([]string, n), phones: make([]string, n), byPhone: map[string]string{}}
	out := mustCall(t, procs[0].URL, "POST", "/v1/agencies", operatorTok, map[string]any{"name": "Northside CMH", "timezone": zone}, 201)
	f.key, f.agency = out["api_key"].(string), out["id"].(string)
	f.backup = mustCall(t, procs[0].URL, "POST", "/v1/case-managers", f.key, map[string]any{"name": backupName, "phone": fleetBackupPhone}, 201)["id"].(string)
	f.cm = mustCall(t, procs[0].URL, "POST", "/v1/case-managers", f.key, map[string]any{"name": cmName, "phone": fleetCMPhone, "backup_id": f.backup}, 201)["id"].(string)
	err := fanOut(n, 16, func(i int) error {
		ph := nthPhone(i)
		code, out, err := call(procs[i%len(procs)].URL, "POST", "/v1/clients", f.key, map[string]any{
			"name": fmt.Sprintf("Client %d", i), "phone": ph, "channel": "sms", "timezone": zone,
			"case_manager_id": f.cm, "language": "en",
			"consent": map[string]any{"at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "method": "written"},
		})
		if err != nil || code != 201 {
			return fmt.Errorf("create client %d = %d %v %v", i, code, out, err)
		}
		f.ids[i], f.phones[i] = out["id"].(string), ph
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, ph := range f.phones {
		f.byPhone[ph] = f.ids[i]
	}
	return f
}

// scheduleAll gives every client of f a daily check-in whose first
// occurrence is the next whole minute that leaves time to create them all
// (RRULE starts are whole minutes), and returns that moment once every
// schedule exists. The time per request is measured first on a few
// schedules that start tomorrow.
func scheduleAll(t *testing.T, procs []*proc, f *fleet, zone string) time.Time {
	t.Helper()
	create := func(i int, start time.Time) error {
		code, out, err := call(procs[i%len(procs)].URL, "POST", "/v1/clients/"+f.ids[i]+"/schedules", f.key, map[string]any{
			"questionnaire": "daily-mood", "rrule": "FREQ=DAILY", "start": start.Format(time.RFC3339), "timezone": zone,
		})
		if err != nil || code != 201 {
			return fmt.Errorf("create schedule %d = %d %v %v", i, code, out, err)
		}
		return nil
	}
	probe := min(100, len(f.ids))
	tomorrow := time.Now().Truncate(time.Minute).Add(24 * time.Hour)
	began := time.Now()
	if err := fanOut(probe, 16, func(i int) error { return create(i, tomorrow) }); err != nil {
		t.Fatal(err)
	}
	perRequest := time.Since(began) / time.Duration(probe)
	// Generous: the multi-process tests run in parallel and slow each other.
	estimate := time.Duration(float64(perRequest)*float64(len(f.ids))*2) + 3*time.Second
	start := time.Now().Add(estimate).Truncate(time.Minute).Add(time.Minute)
	if err := fanOut(len(f.ids), 16, func(i int) error { return create(i, start) }); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(start); left < 500*time.Millisecond {
		t.Fatalf("creating %d schedules ran past their start (%v left; estimated %v): the estimate was too short", len(f.ids), left, estimate)
	}
	return start
}

// fanOut runs f(0..n-1) on workers goroutines and returns the first error.
func fanOut(n, workers int, f func(i int) error) error {
	next := make(chan int)
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// tally counts the messages the fake accepted, by recipient.
func tally(fake *twiliotest.Server) map[string]int {
	out := map[string]int{}
	for _, m := range fake.Messages() {
		out[m.To]++
	}
	return out
}

// workDone reports whether the shared queue is drained: nothing in the work
// streams (acknowledged entries are deleted) and nothing due.
func workDone(ctx context.Context, rdb redis.UniversalClient) bool {
	for _, st := range []string{"{q}:stream", "{q}:urgent"} {
		if n, err := rdb.XLen(ctx, st).Result(); err != nil || n > 0 {
			return false
		}
	}
	n, err := rdb.ZCount(ctx, "{q}:due", "-inf", fmt.Sprint(time.Now().UnixMilli())).Result()
	return err == nil && n == 0
}

// waitDelivered waits until every phone got at least one message, the queue
// is drained, and nothing more was sent for a second; it returns the tally.
func waitDelivered(t *testing.T, rdb redis.UniversalClient, fake *twiliotest.Server, phones []string, within time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(within)
	lastN, stableSince := -1, time.Now()
	for {
		n := len(fake.Messages())
		if n != lastN {
			lastN, stableSince = n, time.Now()
		}
		counts := tally(fake)
		missing := 0
		for _, ph := range phones {
			if counts[ph] == 0 {
				missing++
			}
		}
		if missing == 0 && time.Since(stableSince) > time.Second && workDone(t.Context(), rdb) {
			return counts
		}
		if time.Now().After(deadline) {
			t.Logf("not settled within %v: %d of %d clients still without a message, %d sent", within, missing, len(phones), n)
			return counts
		}
		time.Sleep(50 * time.Millisecond) // polling other processes' progress
	}
}

// exactlyOnce checks that each phone got exactly one message; it returns
// how many got none and how many got more than one.
func exactlyOnce(counts map[string]int, phones []string) (missing, dups int) {
	for _, ph := range phones {
		switch n := counts[ph]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	return missing, dups
}

// realRedis starts a real redis-server for t, or skips: these tests are
// about several processes on one real Redis.
func realRedis(t *testing.T, extra ...string) *redistest.Server {
	t.Helper()
	rs := redistest.New(t, extra...)
	if rs.Kind != "redis-server" {
		if os.Getenv("CARECHECK_TEST_REDIS") == "required" {
			t.Fatalf("needs a throwaway redis-server (got %s)", rs.Kind)
		}
		t.Skipf("needs a throwaway redis-server on PATH (got %s)", rs.Kind)
	}
	return rs
}

// twoProcsWithFleet starts two serve processes on one real Redis and one
// fake Twilio, seeds n clients and gives each a schedule whose first
// check-in falls due at the same moment, which it returns.
func twoProcsWithFleet(t *testing.T, n int) (*redistest.Server, *twiliotest.Server, *proc, *proc, *fleet, time.Time) {
	t.Helper()
	rs := realRedis(t)
	fake := twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(fake.Close)
	env := procEnv(rs.URL, fake)
	a, b := startProc(t, "serve-A", env), startProc(t, "serve-B", env)
	zone := midday()

	t0 := time.Now()
	f := seedFleet(t, []*proc{a, b}, n, zone)
	start := scheduleAll(t, []*proc{a, b}, f, zone)
	t.Logf("%d clients and schedules created in %v; check-ins due at %s", n, time.Since(t0).Round(time.Millisecond), start.Format(time.TimeOnly))
	return rs, fake, a, b, f, start
}

// TestTwoProcessesSendEachCheckinOnce: two serve processes on one Redis and
// one Twilio; every client's check-in falls due at the same moment; every
// client gets exactly one first question.
func TestTwoProcessesSendEachCheckinOnce(t *testing.T) {
	t.Parallel() // mostly waiting for the minute the check-ins are due
	n := 2000
	if raceEnabled {
		n = 500
	}
	if testing.Short() {
		n = 200
	}
	rs, fake, a, b, f, start := twoProcsWithFleet(t, n)
	if got := len(fake.Messages()); got != 0 {
		t.Fatalf("%d messages went out before the check-ins were due", got)
	}

	counts := waitDelivered(t, rs.Client(t), fake, f.phones, time.Until(start)+60*time.Second)
	last := time.Time{}
	bodies := map[string]int{}
	for _, m := range fake.Messages() {
		if m.At.After(last) {
			last = m.At
		}
		if m.At.Before(start) {
			t.Errorf("a check-in went out at %s, before it was due (%s)", m.At.Format(time.StampMilli), start.Format(time.StampMilli))
		}
		bodies[m.Body]++
	}
	for body, k := range bodies {
		if !strings.Contains(body, firstQuestion) {
			t.Errorf("%d messages said %q; want only the first question (%q)", k, body, firstQuestion)
		}
	}
	missing, dups := exactlyOnce(counts, f.phones)
	t.Logf("%d check-ins due at once, 2 processes: %d sent, %d missing, %d duplicates; last sent %v after due",
		n, len(fake.Messages()), missing, dups, last.Sub(start).Round(time.Millisecond))
	if missing != 0 || dups != 0 {
		t.Errorf("first questions: %d clients got none, %d extra sends; want every client exactly one", missing, dups)
	}
	for _, p := range []*proc{a, b} {
		t.Logf("%s did %d check-ins", p.name, checkinsDone(t, p))
	}
}

// firstQuestion is what a daily-mood check-in asks first, by SMS.
const firstQuestion = "How is your mood today?"

// checkinsDone reads a process's count of check-in work done (/metrics).
func checkinsDone(t *testing.T, p *proc) int {
	t.Helper()
	resp, err := httpc.Get(p.adminURL() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, `carecheck_work_items_total{kind="checkin",outcome="ok"}`) {
			var v float64
			_, _ = fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%g", &v)
			return int(v)
		}
	}
	return 0
}

func (p *proc) setAdmin(url string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.AdminURL = url
}

func (p *proc) adminURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.AdminURL
}
