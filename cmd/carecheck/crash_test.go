package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// TestKilledMidDispatchLosesAndRepeatsNothing: thousands of check-ins fall
// due at once on two serve processes; one is killed with SIGKILL while the
// fake Twilio has recorded about 30 % of them, and started again. Every
// client still gets exactly one first question: the dead process's claimed
// work is taken over (XAUTOCLAIM after the idle time), the sent markers stop
// repeats, and a send the dead process had handed to Twilio without writing
// its marker is found in Twilio's message list rather than sent again.
func TestKilledMidDispatchLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel() // mostly waiting: for the due minute, then for the takeover idle time
	n := 10000
	if raceEnabled {
		n = 2000
	}
	if testing.Short() {
		n = 500
	}
	rs, fake, a, b, f, start := twoProcsWithFleet(t, n)

	// Kill A when the fake has recorded about 30 %.
	ctx, cancel := context.WithDeadline(t.Context(), start.Add(90*time.Second))
	seen := 0
	_, err := fake.WaitFor(ctx, func(twiliotest.Message) bool { seen++; return seen >= n*3/10 })
	cancel()
	if err != nil {
		t.Fatalf("only %d of %d check-ins sent 90s after they were due", len(fake.Messages()), n)
	}
	a.kill()
	killedAt := time.Now()
	sentAtKill := len(fake.Messages())
	a2 := a.restart()
	t.Logf("serve-A killed (SIGKILL) %v after the due time with %d of %d sent; restarted in %v",
		killedAt.Sub(start).Round(time.Millisecond), sentAtKill, n, time.Since(killedAt).Round(time.Millisecond))

	// The dead consumer's claimed items wait for the 30 s idle time before
	// another process takes them over.
	counts := waitDelivered(t, rs.Client(t), fake, f.phones, 120*time.Second)
	missing, dups := exactlyOnce(counts, f.phones)
	last := time.Time{}
	for _, m := range fake.Messages() {
		if m.At.After(last) {
			last = m.At
		}
	}
	reclaimed := b.countLogs("took over abandoned work") + a2.countLogs("took over abandoned work")
	t.Logf("%d check-ins, one process killed mid-dispatch: %d sent, %d lost, %d sent twice; %d items taken over; last sent %v after due",
		n, len(fake.Messages()), missing, dups, reclaimed, last.Sub(start).Round(time.Millisecond))
	if missing != 0 {
		t.Errorf("%d clients never got their check-in after the crash; want 0", missing)
	}
	// No duplicate either: a send the killed process had handed to Twilio
	// without writing the sent marker is found in Twilio's message list by
	// the process that takes it over, and marked sent instead of sent again.
	const foundMsg = "earlier send attempt died after the provider took the message: marked sent, not sent again"
	const resentMsg = "earlier send attempt died before the provider took the message: sending"
	found := b.countLogs(foundMsg) + a2.countLogs(foundMsg)
	resent := b.countLogs(resentMsg) + a2.countLogs(resentMsg)
	t.Logf("claims taken over from the killed process: %d found at Twilio and marked sent, %d not there and sent", found, resent)
	for _, m := range fake.Messages() {
		if counts[m.To] <= 1 {
			continue
		}
		t.Errorf("client %s got a copy at %v from the kill: sent %d times; want once",
			f.byPhone[m.To], m.At.Sub(killedAt).Round(time.Millisecond), counts[m.To])
	}
	if dups != 0 {
		t.Errorf("%d clients got their check-in more than once after one crash; want 0", dups)
	}
}

// smsHook delivers a signed inbound SMS to p as Twilio would and returns the
// HTTP status (0 when the request itself failed).
func smsHook(fake *twiliotest.Server, p *proc, sid, from, body string) int {
	resp, err := fake.DeliverSMS(context.Background(), p.URL+twilio.SMSPath, publicURL+twilio.SMSPath, twiliotest.SMSForm(sid, from, ourNumber, body))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// refBody is a webhook's text carrying its provider id, so that a stored
// message can be told apart from another (the timeline keeps the text; the
// provider id is only kept for the re-delivery window).
func refBody(text, sid string) string { return text + " ref:" + sid }

// inboundRefs reads a client's timeline through the API and counts its
// inbound messages by the provider id their text carries (refBody).
func inboundRefs(t *testing.T, p *proc, key, client string) map[string]int {
	t.Helper()
	out := map[string]int{}
	cursor := ""
	for {
		page := mustCall(t, p.URL, "GET", "/v1/clients/"+client+"/responses?limit=200&cursor="+url.QueryEscape(cursor), key, nil, 200)
		items, _ := page["responses"].([]any)
		for _, it := range items {
			e, _ := it.(map[string]any)
			fields, _ := e["fields"].(map[string]any)
			if e["type"] == "in" {
				x, _ := fields["x"].(string)
				_, ref, _ := strings.Cut(x, " ref:")
				out[ref]++
			}
		}
		next, _ := page["next"].(string)
		if next == "" || len(items) == 0 {
			return out
		}
		cursor = next
	}
}

// webhook is one inbound SMS sent by a test and the answer it got.
type webhook struct {
	sid, from string
	status    int
	took      time.Duration
}

// checkStoredOnce checks that every webhook is in its client's timeline
// exactly once.
func checkStoredOnce(t *testing.T, p *proc, f *fleet, hooks []webhook) {
	t.Helper()
	byClient := map[string]map[string]int{}
	for _, id := range f.ids {
		byClient[id] = inboundRefs(t, p, f.key, id)
	}
	lost, twice := 0, 0
	for _, h := range hooks {
		switch n := byClient[f.byPhone[h.from]][h.sid]; {
		case n == 0:
			lost++
			if lost <= 5 {
				t.Errorf("webhook %s (answered %d) is not in the client's timeline", h.sid, h.status)
			}
		case n > 1:
			twice++
			t.Errorf("webhook %s is in the timeline %d times", h.sid, n)
		}
	}
	if lost > 0 || twice > 0 {
		t.Errorf("%d of %d accepted webhooks missing from the timelines, %d stored more than once; want 0 and 0", lost, len(hooks), twice)
	}
}

// inboundLoad sends webhooks from the fleet's clients on workers goroutines
// until stop is closed, with bodies from body(i).
func inboundLoad(fake *twiliotest.Server, p func() *proc, f *fleet, workers int, stop <-chan struct{}, body func(i int) string) []webhook {
	var mu sync.Mutex
	var hooks []webhook
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(seq.Add(1))
				from := f.phones[(i+w)%len(f.phones)]
				sid := fmt.Sprintf("SM%032d", i)
				began := time.Now()
				code := smsHook(fake, p(), sid, from, refBody(body(i), sid))
				mu.Lock()
				hooks = append(hooks, webhook{sid: sid, from: from, status: code, took: time.Since(began)})
				mu.Unlock()
			}
		}()
	}
	<-stop
	wg.Wait()
	return hooks
}

// TestRedisRestartKeepsAcceptedWebhooks: Redis (appendonly yes) is killed and
// started again while clients text in. While it is down the webhooks answer
// 503 (Twilio retries those); every webhook answered 200 is in the client's
// timeline after the restart, and the retried ones are stored once.
func TestRedisRestartKeepsAcceptedWebhooks(t *testing.T) {
	t.Parallel()
	rs := realRedis(t, "--appendonly", "yes")
	fake := twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(fake.Close)
	p := startProc(t, "serve", procEnv(rs.URL, fake))
	f := seedFleet(t, []*proc{p}, 20, midday())

	stop := make(chan struct{})
	result := make(chan []webhook)
	go func() {
		result <- inboundLoad(fake, func() *proc { return p }, f, 6, stop, func(int) string { return "feeling okay today" })
	}()
	time.Sleep(time.Second) // load before the crash
	rs.Stop()
	downAt := time.Now()
	// Redis stays down until a webhook sent while it is down answers 503:
	// go-redis retries each command a few times (backing off up to 512 ms),
	// so a webhook can wait a few seconds, and one that spans the restart
	// is stored and answered 200 (1.5 s down once saw no 503 at all).
	var probes []webhook
	eventually(t, 20*time.Second, "a webhook answered 503 while Redis is down", func() bool {
		sid := fmt.Sprintf("SMprobe%027d", len(probes))
		from := f.phones[len(probes)%len(f.phones)]
		began := time.Now()
		code := smsHook(fake, p, sid, from, refBody("feeling okay today", sid))
		probes = append(probes, webhook{sid: sid, from: from, status: code, took: time.Since(began)})
		return code == 503
	})
	time.Sleep(500 * time.Millisecond) // load while Redis is down
	rs.Restart(t)
	upAt := time.Now()
	eventually(t, 20*time.Second, "serve ready again after the Redis restart", func() bool {
		code, _, _ := call(p.URL, "GET", "/readyz", "", nil)
		return code == 200
	})
	time.Sleep(time.Second) // load after the restart
	close(stop)
	hooks := append(<-result, probes...)

	var ok []webhook
	var retry []webhook
	other := map[int]int{}
	var slowest, slowest503 time.Duration
	for _, h := range hooks {
		slowest = max(slowest, h.took)
		switch h.status {
		case 200:
			ok = append(ok, h)
		case 503:
			retry = append(retry, h)
			slowest503 = max(slowest503, h.took)
		default:
			other[h.status]++
		}
	}
	t.Logf("%d webhooks: %d answered 200, %d answered 503 (Redis down %v); slowest answer %v, slowest 503 %v",
		len(hooks), len(ok), len(retry), upAt.Sub(downAt).Round(time.Millisecond), slowest.Round(time.Millisecond), slowest503.Round(time.Millisecond))
	if len(other) > 0 {
		t.Errorf("webhook answers other than 200 and 503: %v (status: count)", other)
	}
	if len(retry) == 0 {
		t.Error("no webhook answered 503 while Redis was down")
	}
	// Twilio retries what got 503: each is stored now, once.
	for i, h := range retry {
		if code := smsHook(fake, p, h.sid, h.from, refBody("feeling okay today", h.sid)); code != 200 {
			t.Errorf("retry of %s after the restart = %d; want 200", h.sid, code)
		}
		retry[i].status = 200
	}
	checkStoredOnce(t, p, f, append(ok, retry...))
}

// TestCrisisAlertsSurviveFailingTwilio: Twilio fails half its sends while
// clients write in crisis. Every escalation still reaches a case manager
// (retries, then the next step of the policy at once) and every client gets
// the safety reply.
func TestCrisisAlertsSurviveFailingTwilio(t *testing.T) {
	t.Parallel()
	rs := realRedis(t)
	fake := twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(fake.Close)
	p := startProc(t, "serve", procEnv(rs.URL, fake))
	f := seedFleet(t, []*proc{p}, 12, midday())
	mustCall(t, p.URL, "PUT", "/v1/agency/escalation-policy", f.key, map[string]any{
		"steps": []map[string]any{{"notify": "assigned", "wait": "10m"}, {"notify": "backup", "wait": "10m"}}, "repeat": 3,
	}, 200)

	fake.SetFailureRate(0.5)
	sent := time.Now()
	for i, ph := range f.phones {
		if code := smsHook(fake, p, fmt.Sprintf("SMcrisis%024d", i), ph, "I want to kill myself tonight"); code != 200 {
			t.Fatalf("crisis webhook %d = %d; want 200", i, code)
		}
	}
	staff := map[string]bool{fleetCMPhone: true, fleetBackupPhone: true}
	alerted := func() map[string]bool {
		out := map[string]bool{}
		for _, m := range fake.Messages() {
			if !staff[m.To] || !ackCode.MatchString(m.Body) {
				continue
			}
			for _, id := range f.ids {
				if strings.Contains(m.Body, id) {
					out[id] = true
				}
			}
		}
		return out
	}
	safe := func() map[string]bool {
		out := map[string]bool{}
		for _, m := range fake.Messages() {
			if f.byPhone[m.To] != "" && strings.Contains(m.Body, "988") {
				out[f.byPhone[m.To]] = true
			}
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(alerted()) < len(f.ids) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling the fake
	}
	tookAlerts := time.Since(sent).Round(time.Millisecond)
	for len(safe()) < len(f.ids) && time.Since(sent) < 30*time.Second {
		time.Sleep(20 * time.Millisecond) // polling the fake
	}
	a, s := alerted(), safe()
	toBackup := 0
	for _, m := range fake.Messages() {
		if m.To == fleetBackupPhone {
			toBackup++
		}
	}
	t.Logf("%d clients in crisis, half of Twilio's sends failing: %d of %d escalations reached a case manager within %v (%d alerts went to the backup after the assigned one's failed); %d of %d safety replies delivered; %d sends accepted by the fake",
		len(f.ids), len(a), len(f.ids), tookAlerts, toBackup, len(s), len(f.ids), len(fake.Messages()))
	for _, id := range f.ids {
		if !a[id] {
			t.Errorf("no case manager was alerted about client %s", id)
		}
	}
	if lost := len(f.ids) - len(s); lost > 0 {
		t.Errorf("%d of %d clients in crisis never got the safety reply", lost, len(f.ids))
	}
}

// TestRedisOutOfMemoryAnswers503: Redis reaches maxmemory (noeviction) while
// clients text in. Webhooks then answer 503 and the log says why; nothing
// half-written: once memory is freed, every accepted message is in the
// timeline once and processed, and the retried ones are stored once.
func TestRedisOutOfMemoryAnswers503(t *testing.T) {
	t.Parallel()
	rs := realRedis(t)
	fake := twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(fake.Close)
	p := startProc(t, "serve", procEnv(rs.URL, fake))
	f := seedFleet(t, []*proc{p}, 5, midday())
	rdb := rs.Client(t)
	ctx := t.Context()
	used, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	var usedBytes int64
	for _, line := range strings.Split(used, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			usedBytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(usedBytes+1<<20, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("okay so far, thanks. ", 50)
	var hooks []webhook
	refused := 0
	for i := 0; refused < 20; i++ {
		if i > 20000 {
			t.Fatal("Redis never ran out of memory")
		}
		h := webhook{sid: fmt.Sprintf("SMoom%027d", i), from: f.phones[i%len(f.phones)]}
		h.status = smsHook(fake, p, h.sid, h.from, refBody(long, h.sid))
		hooks = append(hooks, h)
		if h.status == 503 {
			refused++
		}
	}
	var ok, retry []webhook
	other := map[int]int{}
	for _, h := range hooks {
		switch h.status {
		case 200:
			ok = append(ok, h)
		case 503:
			retry = append(retry, h)
		default:
			other[h.status]++
		}
	}
	t.Logf("maxmemory %d KiB: %d webhooks answered 200 before it filled, then %d answered 503", (usedBytes+1<<20)>>10, len(ok), len(retry))
	if len(other) > 0 {
		t.Errorf("webhook answers other than 200 and 503 under OOM: %v", other)
	}
	if !strings.Contains(p.logs.String(), "OOM") {
		t.Error("the log does not say that Redis is out of memory (no OOM error logged)")
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	for i, h := range retry {
		if code := smsHook(fake, p, h.sid, h.from, refBody(long, h.sid)); code != 200 {
			t.Errorf("retry of %s after memory was freed = %d; want 200", h.sid, code)
		}
		retry[i].status = 200
	}
	checkStoredOnce(t, p, f, append(ok, retry...))
	// Every stored message gets processed: no client is left with a queue.
	eventually(t, 30*time.Second, "every stored message processed", func() bool {
		for _, id := range f.ids {
			if n, err := rdb.LLen(ctx, "{c:"+id+"}:pending").Result(); err != nil || n > 0 {
				return false
			}
		}
		return true
	})
}

// eventually polls cond until it holds or fails the test after within.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond) // polling another process
	}
}
