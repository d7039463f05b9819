package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/webhooks"
)

// crashed is a webhook service that dies right after each record: the
// store writes the events to the outboxes and nobody moves them on.
type crashed struct{ *webhooks.Service }

func (crashed) Outbox(context.Context, store.Outbox, []store.OutboxEntry) {}

// webhookRig is an agency with two clients and one endpoint at a receiver.
type webhookRig struct {
	h          *serviceHarness
	rc         *receiver
	key        string
	agency     string
	endpoint   string
	c1, c2     string
	phone1     string
	receiverAt string
}

func newWebhookRig(t *testing.T, h *serviceHarness, events ...string) *webhookRig {
	t.Helper()
	rc := &receiver{secrets: map[string]string{}, failNext: map[string]int{}, got: map[string][]string{}, seen: map[string]bool{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	agency, key := h.agency("North")
	ana := h.caseManager(key, "Ana Alvarez", "+13125550101")
	r := &webhookRig{h: h, rc: rc, key: key, agency: agency, phone1: "+13125550201", receiverAt: srv.URL}
	r.c1 = h.client(key, ana, "Cara One", r.phone1)
	r.c2 = h.client(key, ana, "Cy Two", "+13125550202")
	if len(events) == 0 {
		events = webhooks.Events
	}
	code, out := h.do("POST", "/v1/webhook-endpoints", key, map[string]any{"url": srv.URL + "/hook", "events": events})
	if code != 201 {
		t.Fatalf("POST endpoint = %d %v", code, out)
	}
	rc.mu.Lock()
	rc.secrets["/hook"] = out["secret"].(string)
	rc.mu.Unlock()
	r.endpoint = out["id"].(string)
	return r
}

func (r *webhookRig) received() []string {
	r.rc.mu.Lock()
	defer r.rc.mu.Unlock()
	return append([]string(nil), r.rc.got["/hook"]...)
}

// perClient is what the receiver got, the first client's events (in the
// order they came), then the second's.
func (r *webhookRig) perClient() []string {
	var out []string
	for _, c := range []string{r.c1, r.c2} {
		for _, g := range r.received() {
			if strings.HasPrefix(g, c+" ") {
				out = append(out, g)
			}
		}
	}
	return out
}

func (r *webhookRig) jobID(client string) string {
	return "wh:" + r.agency + ":" + r.endpoint + ":" + client
}

// outcomes is the endpoint's delivery log, oldest first: "<outcome> <type>".
func (r *webhookRig) outcomes() []string {
	r.h.t.Helper()
	code, dl := r.h.do("GET", "/v1/webhook-endpoints/"+r.endpoint+"/deliveries?limit=200", r.key, nil)
	if code != 200 {
		r.h.t.Fatalf("deliveries = %d %v", code, dl)
	}
	var out []string
	for _, d := range dl["deliveries"].([]any) {
		d := d.(map[string]any)
		out = append([]string{fmt.Sprint(d["outcome"], " ", d["type"])}, out...)
	}
	return out
}

// A process that dies right after writing records loses none of their
// events: the scores, the crisis and its acknowledgement wait in the
// outboxes, and the next process's sweep delivers them, each client's in
// the order they were recorded.
func TestWebhookEventsSurviveACrashAfterTheRecord(t *testing.T) {
	h := newServiceHarness(t, day(1), func(s *webhooks.Service) store.Observer { return crashed{s} })
	r := newWebhookRig(t, h)

	h.checkin(r.c1, "daily-mood")
	h.texts(r.phone1, "7", "ok")
	h.clock.Advance(time.Hour)
	e1 := h.crisis(r.agency, r.c1)
	h.clock.Advance(4 * time.Minute)
	if code, out := h.do("POST", "/v1/escalations/"+e1+"/ack", r.key, map[string]any{}); code != 200 {
		t.Fatalf("ack = %d %v", code, out)
	}
	conv := h.checkin(r.c2, "phq9")
	h.unanswered(r.c2, r.agency, conv)
	h.deliverDue(5)
	if got := r.received(); len(got) != 0 {
		t.Fatalf("received %v with no webhook service running", got)
	}

	// The next process starts: its sweep finds the outboxes.
	h.hooks = webhooks.New(h.st, nil, nil)
	if err := h.hooks.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.deliverDue(10)
	want := []string{r.c1 + " checkin.completed mood=7", r.c1 + " escalation.opened", r.c1 + " escalation.acknowledged", r.c2 + " checkin.missed"}
	if got := strings.Join(r.perClient(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("received after the sweep, per client in order:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	// Swept once is moved once: a second sweep sends nothing more.
	if err := h.hooks.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.deliverDue(3)
	if got := r.received(); len(got) != len(want) {
		t.Errorf("a second sweep sent more: %v", got)
	}
}

// A queue whose delivery was never planned (the process died between
// queueing the event and planning its delivery) does not stall: the sweep
// plans it, and a delivery already planned (a retry) is left as it is.
func TestWebhookQueueWithoutADeliveryIsSwept(t *testing.T) {
	h := newServiceHarness(t, day(1))
	r := newWebhookRig(t, h)
	h.texts(r.phone1, "STOP")
	h.hooks.Wait()
	if err := h.st.Unschedule(t.Context(), r.jobID(r.c1)); err != nil {
		t.Fatal(err)
	}
	h.texts(r.phone1, "START") // queued behind the first: no delivery planned for it either
	h.deliverDue(3)
	if got := r.received(); len(got) != 0 {
		t.Fatalf("received %v; want nothing before the sweep", got)
	}
	if err := h.hooks.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.deliverDue(3)
	want := r.c1 + " client.opted_out," + r.c1 + " client.opted_in"
	if got := strings.Join(r.received(), ","); got != want {
		t.Errorf("received %q; want %q", got, want)
	}
}

// An endpoint that fails for 24 hours: the event is retried with backoff
// (the clock jumps to each retry, nothing sleeps), then given up and logged
// gave_up, and the client's next events still flow once the endpoint
// answers again. Another client's events were never held behind it.
func TestWebhookGivesUpAfter24HoursAndTheNextEventsFlow(t *testing.T) {
	h := newServiceHarness(t, day(1))
	r := newWebhookRig(t, h, webhooks.ClientOptedOut, webhooks.ClientOptedIn, webhooks.CheckinCompleted)
	r.rc.mu.Lock()
	r.rc.failNext["/hook"] = 1 << 30
	r.rc.mu.Unlock()
	start := h.clock.Now()
	h.texts(r.phone1, "STOP")  // the event that is never delivered
	h.texts(r.phone1, "START") // waits behind it
	h.hooks.Wait()
	ctx := t.Context()
	attempts := 0
	for attempts < 40 {
		due, ok, err := h.st.ScheduledAt(ctx, r.jobID(r.c1))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if due.After(h.clock.Now()) {
			h.clock.Set(due)
		}
		h.deliverDue(1)
		attempts++
		if log := r.outcomes(); len(log) > 0 && strings.HasPrefix(log[len(log)-1], "gave_up") {
			break
		}
	}
	log := r.outcomes()
	if len(log) < 2 || log[len(log)-1] != "gave_up client.opted_out" {
		t.Fatalf("log after %d attempts = %v; want failures then gave_up", attempts, log)
	}
	for _, l := range log[:len(log)-1] {
		if l != "failed client.opted_out" {
			t.Errorf("log = %v; want only failed attempts before gave_up", log)
			break
		}
	}
	if took := h.clock.Now().Sub(start); took < webhooks.GiveUpAfter || took > webhooks.GiveUpAfter+10*time.Minute {
		t.Errorf("gave up %v after the event; want just after %v", took, webhooks.GiveUpAfter)
	}
	t.Logf("%d attempts over %v, then gave_up", len(log), h.clock.Now().Sub(start).Round(time.Minute))

	// The endpoint answers again: the event behind it, and a later one, flow.
	r.rc.mu.Lock()
	r.rc.failNext["/hook"] = 0
	r.rc.mu.Unlock()
	h.checkin(r.c1, "daily-mood")
	h.texts(r.phone1, "6", "ok")
	h.deliverDue(5)
	want := r.c1 + " client.opted_in," + r.c1 + " checkin.completed mood=6"
	if got := strings.Join(r.received(), ","); got != want {
		t.Errorf("received after giving up %q; want %q", got, want)
	}
}
