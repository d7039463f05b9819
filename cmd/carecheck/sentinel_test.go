package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/store/redistest"
)

// helpReply tells the answer to HELP from any other message.
var helpReply = contains("Msg & data rates may apply")

// sentHook is one webhook of the failover test: what was sent, when, and
// the answer.
type sentHook struct {
	webhook
	body         string
	began, ended time.Time
}

// hookLog is the webhooks a load sent so far, read while it runs.
type hookLog struct {
	mu    sync.Mutex
	hooks []sentHook
}

func (l *hookLog) add(h sentHook) {
	l.mu.Lock()
	l.hooks = append(l.hooks, h)
	l.mu.Unlock()
}

// count counts the webhooks so far for which pred holds.
func (l *hookLog) count(pred func(sentHook) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, h := range l.hooks {
		if pred(h) {
			n++
		}
	}
	return n
}

func (l *hookLog) all() []sentHook {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sentHook(nil), l.hooks...)
}

// deliver sends one signed webhook and notes its answer.
func deliver(fake *twiliotest.Server, p *proc, sid, from, body string) sentHook {
	began := time.Now()
	code := smsHook(fake, p, sid, from, body)
	ended := time.Now()
	return sentHook{webhook: webhook{sid: sid, from: from, status: code, took: ended.Sub(began)}, body: body, began: began, ended: ended}
}

// TestSentinelFailoverKeepsAcceptedWebhooks: serve runs on a Redis Sentinel
// group (a primary, one replica, three Sentinels) while clients text in
// without pause, half of them HELP (each answered), half notes. The primary
// is killed (SIGKILL). Until the Sentinels promote the replica, webhooks
// answer 503, which Twilio retries; never 200 for a message Redis did not
// take. After the failover every webhook that got 200 is in its client's
// timeline once, every HELP gets its answer, and delivering every webhook
// again sends nothing more. An answer sent twice by the failover itself is
// counted and logged, not failed (see the known gap below).
func TestSentinelFailoverKeepsAcceptedWebhooks(t *testing.T) {
	t.Parallel()
	began := time.Now()
	sn := redistest.NewSentinel(t)
	t.Logf("primary, replica and three Sentinels ready in %v", time.Since(began).Round(time.Millisecond))
	fake := twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(fake.Close)
	p := startProc(t, "serve", procEnv(sn.URL, fake))
	f := seedFleet(t, []*proc{p}, 10, midday())

	// The load: six senders, each webhook a note carrying its id or HELP.
	body := func(i int, sid string) string {
		if i%2 == 0 {
			return refBody("feeling okay today", sid)
		}
		return "HELP"
	}
	log := &hookLog{}
	stop := make(chan struct{})
	var seq atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
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
				sid := fmt.Sprintf("SM%032d", i)
				log.add(deliver(fake, p, sid, f.phones[i%len(f.phones)], body(i, sid)))
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)
	ok := func(h sentHook) bool { return h.status == 200 }
	eventually(t, 20*time.Second, "50 webhooks answered 200 before the failover", func() bool { return log.count(ok) >= 50 })

	old := sn.KillPrimary(t)
	killedAt := time.Now()
	fo := sn.WaitFailover(t, old, 30*time.Second)
	t.Logf("primary %s killed; no primary for at least %v; %s answered as primary and every Sentinel named it %v after the kill",
		old, fo.NoPrimaryAt.Sub(killedAt).Round(time.Millisecond), fo.Primary, fo.PromotedAt.Sub(killedAt).Round(time.Millisecond))
	eventually(t, 20*time.Second, "50 webhooks sent after the failover answered 200", func() bool {
		return log.count(func(h sentHook) bool { return h.status == 200 && h.began.After(fo.PromotedAt) }) >= 50
	})
	stopLoad()
	hooks := log.all()

	// What Twilio saw: 200 or 503, and only 503 while there was no primary.
	var retry []sentHook
	other := map[int]int{}
	okN, outage, across := 0, 0, 0
	for _, h := range hooks {
		if h.began.Before(fo.NoPrimaryAt) && h.ended.After(killedAt) {
			// In flight while there was no primary. One begun before the
			// kill may have been stored before it and answer 200 a moment
			// after; one begun after it is checked below.
			across++
		}
		switch h.status {
		case 200:
			okN++
		case 503:
			retry = append(retry, h)
		default:
			other[h.status]++
		}
		if h.began.After(killedAt) && h.ended.Before(fo.NoPrimaryAt) {
			outage++
			if h.status != 503 {
				t.Errorf("webhook %s sent %v after the kill and answered %v later, while there was no primary, got %d; want 503",
					h.sid, h.began.Sub(killedAt).Round(time.Millisecond), h.took.Round(time.Millisecond), h.status)
			}
		}
	}
	t.Logf("%d webhooks: %d answered 200, %d answered 503 (Twilio retries those); %d sent and answered wholly while there was no primary",
		len(hooks), okN, len(retry), outage)
	if len(other) > 0 {
		t.Errorf("webhook answers other than 200 and 503: %v (status: count)", other)
	}
	// The outage must have been tried: some webhook in flight while there
	// was no primary. One begun in the outage either answered 503 or waited
	// for the new primary and answered 200 (a failover shorter than a
	// webhook's wait: seen at 1.4 s without a primary); both are right, and
	// neither loses it.
	t.Logf("%d webhooks in flight while there was no primary; %d answered 503", across, len(retry))
	if across == 0 {
		t.Error("no webhook was in flight while there was no primary: the outage was not tried")
	}

	// Twilio retries each 503 until it gets 200.
	for _, h := range retry {
		eventually(t, 10*time.Second, "a retried webhook answered 200", func() bool {
			return deliver(fake, p, h.sid, h.from, h.body).status == 200
		})
	}

	// Every HELP gets its answer, once: count them per phone.
	helps := map[string]int{}
	for _, h := range hooks {
		if h.body == "HELP" {
			helps[h.from]++
		}
	}
	answered := func() (missing int) {
		counts := map[string]int{}
		for _, m := range fake.Messages() {
			if helpReply(m.Body) {
				counts[m.To]++
			}
		}
		for ph, n := range helps {
			missing += max(0, n-counts[ph])
		}
		return missing
	}
	helpN := 0
	for _, n := range helps {
		helpN += n
	}
	// A message stored by a webhook whose turn failed with Redis waits for
	// its client's lock (15 s) to lapse and the sweeper (every 5 s, for
	// messages 10 s old) to take it; a reply whose send the failover cut
	// waits for the reclaimer (30 s idle) and its send's deadline (30 s).
	// On a busy machine that adds up to about a minute and a half; the
	// re-deliveries below are counted only once all of it is done.
	rdb := sn.Client(t)
	replyDeadline := time.Now().Add(90 * time.Second)
	for (answered() > 0 || !workDone(t.Context(), rdb)) && time.Now().Before(replyDeadline) {
		time.Sleep(50 * time.Millisecond) // polling the fake for the service's replies
	}
	t.Logf("%d HELP webhooks: answers caught up %v after the load stopped (%d still missing)",
		helpN, time.Since(hooks[len(hooks)-1].ended).Round(time.Millisecond), answered())

	// Twilio delivers every webhook once more: each is already stored.
	before := len(fake.Messages())
	for _, h := range hooks {
		if got := deliver(fake, p, h.sid, h.from, h.body); got.status != 200 {
			t.Errorf("re-delivery of %s after the failover = %d; want 200", h.sid, got.status)
		}
	}
	// A reply sent while Redis refused its sent marker is marked again once
	// Redis answers; given up, it would wait for the reclaimer and be found
	// in Twilio's message list. Wait for the queue to drain so that any such
	// send is counted too.
	drainDeadline := time.Now().Add(45 * time.Second)
	for !workDone(t.Context(), rdb) && time.Now().Before(drainDeadline) {
		time.Sleep(50 * time.Millisecond) // polling the service's queue
	}
	if !workDone(t.Context(), rdb) {
		var left []string
		for _, st := range []string{"{q}:stream", "{q}:urgent"} {
			n, err := rdb.XLen(t.Context(), st).Result()
			pend, perr := rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{Stream: st, Group: "workers", Start: "-", End: "+", Count: 10}).Result()
			left = append(left, fmt.Sprintf("%s: %d entries (%v), pending %+v (%v)", st, n, err, pend, perr))
		}
		due, err := rdb.ZRangeByScoreWithScores(t.Context(), "{q}:due", &redis.ZRangeBy{Min: "-inf", Max: fmt.Sprint(time.Now().UnixMilli())}).Result()
		left = append(left, fmt.Sprintf("due now: %v (%v)", due, err))
		t.Errorf("the work queue did not drain within 45s of the re-deliveries: %s\nserve's errors:\n%s", strings.Join(left, "; "), grepLines(p.logs.String(), `"level":"ERROR"`, 20))
	}
	const foundMsg = "earlier send attempt died after the provider took the message: marked sent, not sent again"
	const resentMsg = "earlier send attempt died before the provider took the message: sending"
	t.Logf("queue drained %v after the kill; sent markers written again after Redis refused them: %d; claims taken over: %d found at Twilio and marked sent, %d not there and sent",
		time.Since(killedAt).Round(time.Millisecond), p.countLogs("sent, but the sent marker was not written: trying again"), p.countLogs(foundMsg), p.countLogs(resentMsg))
	if extra := fake.Messages()[before:]; len(extra) > 0 {
		t.Errorf("re-delivering %d stored webhooks sent %d messages; want none", len(hooks), len(extra))
	}
	replies := map[string]int{}
	for _, m := range fake.Messages() {
		if helpReply(m.Body) {
			replies[m.To]++
		} else {
			t.Errorf("unexpected message to %s: %q", m.To, m.Body)
		}
	}

	// In the timelines: every note once, as many HELPs as were sent, and
	// one answer to each.
	var notes []webhook
	for _, h := range hooks {
		if h.body != "HELP" {
			notes = append(notes, h.webhook)
		}
	}
	checkStoredOnce(t, p, f, notes)
	twice := 0
	for _, ph := range f.phones {
		stored := inboundRefs(t, p, f.key, f.byPhone[ph])[""]
		if stored != helps[ph] || replies[ph] < helps[ph] {
			t.Errorf("client %s sent HELP %d times: %d stored, %d answers; want %d and %d",
				f.byPhone[ph], helps[ph], stored, replies[ph], helps[ph], helps[ph])
		}
		twice += max(0, replies[ph]-helps[ph])
	}
	// Known gap, not asserted: Redis replicates asynchronously, so a turn
	// the primary acknowledged just before it died can be missing on the
	// promoted replica while its reply already went out; the message is
	// then processed again and answered again (seen in about one run in
	// seven: two answers sent twice). CareCheck does not WAIT for the
	// replica.
	t.Logf("HELP answers sent twice across the failover: %d of %d", twice, helpN)
}

// grepLines returns up to n lines of logs holding sub.
func grepLines(logs, sub string, n int) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, sub) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
