package webhooks

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// roundTrips counts round trips to Redis (one per command sent alone, one
// per pipeline or MULTI/EXEC).
type roundTrips struct {
	mu sync.Mutex
	n  int
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch cmd.Name() {
		case "hello", "client":
		default:
			r.mu.Lock()
			r.n++
			r.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		r.n++
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}
func (r *roundTrips) take() int { r.mu.Lock(); defer r.mu.Unlock(); n := r.n; r.n = 0; return n }

// told keeps what the store tells of, for the test to relay by hand.
type told struct {
	*Service
	box     store.Outbox
	entries []store.OutboxEntry
}

func (t *told) Outbox(_ context.Context, box store.Outbox, entries []store.OutboxEntry) {
	t.box, t.entries = box, entries
}

// Moving an event from its outbox to an endpoint's queue costs no more
// round trips than queueing it did before events were written with their
// records (a score: the client, the endpoints, the push, the plan = 5; an
// escalation: the endpoints, the push, the plan = 4): a score now takes at
// most 5 (the endpoints and the agency's settings 2, the push 1, the
// outbox drop 1, the plan 1; the client's agency remembered), an escalation
// at most 4 (no drop: it is in the push's MULTI). Here the later events
// find an event in flight, so nothing is planned: 4 and 3.
func TestRelayRoundTrips(t *testing.T) {
	ctx := t.Context()
	rt := &roundTrips{}
	rdb := redistest.New(t).Client(t)
	rdb.AddHook(rt)
	st := store.New(rdb, nil)
	tl := &told{Service: New(st, nil, nil)}
	st.SetObserver(tl)

	a, c := northAndCara(t, st)
	if err := st.CreateWebhookEndpoint(ctx, &store.WebhookEndpoint{AgencyID: a.ID, URL: "http://127.0.0.1:1/hook", Events: Events, Secret: NewSecret()}); err != nil {
		t.Fatal(err)
	}
	score := func() {
		t.Helper()
		tl.entries = nil
		ev := store.Event{"t", "score", "conv", "cv1", "q", "phq9", "instrument", "phq9", "total", "5", "valid", "true"}
		if _, err := st.Apply(ctx, c.ID, "", nil, []store.Event{ev}); err != nil {
			t.Fatal(err)
		}
		if len(tl.entries) != 1 || tl.box.Client != c.ID {
			t.Fatalf("the store told of %v in %v; want the score in the client's outbox", tl.entries, tl.box)
		}
	}
	score()
	rt.take()
	if err := tl.relay(ctx, tl.box, tl.entries); err != nil {
		t.Fatal(err)
	}
	first := rt.take()
	score()
	rt.take()
	if err := tl.relay(ctx, tl.box, tl.entries); err != nil {
		t.Fatal(err)
	}
	if n := rt.take(); n > 5 {
		t.Errorf("a score's event took %d round trips to queue; want at most 5 (the first, reading the client: %d)", n, first)
	} else {
		t.Logf("a score's event: %d round trips (the client's first: %d)", n, first)
	}

	tl.entries = nil
	if _, err := st.OpenOrJoinEscalation(ctx, store.Opening{Esc: &store.Escalation{AgencyID: a.ID, ClientID: c.ID, Level: "crisis", Reasons: []string{"self-harm"}}}); err != nil {
		t.Fatal(err)
	}
	if len(tl.entries) != 1 || tl.box.Agency != a.ID {
		t.Fatalf("the store told of %v in %v; want the opening in the agency's outbox", tl.entries, tl.box)
	}
	rt.take()
	if err := tl.relay(ctx, tl.box, tl.entries); err != nil {
		t.Fatal(err)
	}
	if n := rt.take(); n > 4 {
		t.Errorf("an escalation's event took %d round trips to queue; want at most 4", n)
	} else {
		t.Logf("an escalation's event: %d round trips", n)
	}
	qs, err := st.WebhookQueues(ctx, a.ID)
	if err != nil || len(qs) != 1 {
		t.Fatalf("queues = %v, %v; want the client's one", qs, err)
	}
	for _, box := range []store.Outbox{{Client: c.ID}, {Agency: a.ID}} {
		if left, _ := st.OutboxEntries(ctx, box, 10); len(left) != 0 {
			t.Errorf("outbox %v still holds %d entries after the relay", box, len(left))
		}
	}
	// Nor is the emptied client outbox left behind: an empty stream still
	// takes about 400 bytes, a fifth of a client's budget (bench --phases
	// memory). The agency's stays, one per agency: its ids must keep
	// increasing (TestEscalationEventsInOneMillisecond).
	if left, err := rdb.Keys(ctx, "*whout*").Result(); err != nil || len(left) != 1 || !strings.HasPrefix(left[0], "{a:") {
		t.Errorf("outbox keys after the relay: %v, %v; want the agency's only", left, err)
	}
}

// northAndCara makes an agency, North, and its SMS client, Cara One.
func northAndCara(t *testing.T, st *store.Store) (*store.Agency, *store.Client) {
	t.Helper()
	a := &store.Agency{Name: "North", Timezone: "America/Chicago"}
	if _, err := st.CreateAgency(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	c := &store.Client{AgencyID: a.ID, Name: "Cara One", Channel: "sms", Phone: "+13125550201", Timezone: "America/Chicago", Language: "en"}
	if err := st.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return a, c
}
