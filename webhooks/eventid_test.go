package webhooks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// Two changes of an escalation's status are two events under two
// webhook-ids, even when the second is written in the millisecond of the
// first after the first was moved on (the agency's outbox emptied): a
// receiver tells a repeat by its webhook-id, so a repeated id loses the
// second event (an acknowledged crisis's resolution, say).
func TestEscalationEventsInOneMillisecond(t *testing.T) {
	ctx := t.Context()
	st := store.New(redistest.New(t).Client(t), nil)
	tl := &told{Service: New(st, nil, nil)}
	st.SetObserver(tl)
	a, c := northAndCara(t, st)
	var mu sync.Mutex
	got := map[string]bool{} // webhook-ids received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")] = true
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	ep := &store.WebhookEndpoint{AgencyID: a.ID, URL: srv.URL, Events: Events, Secret: NewSecret()}
	if err := st.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}

	// moved moves what the store just told of to the endpoint's queue, as
	// Run does, and returns the outbox entry's id.
	moved := func() string {
		t.Helper()
		if len(tl.entries) != 1 || tl.box.Agency != a.ID {
			t.Fatalf("the store told of %v in %v; want one entry in the agency's outbox", tl.entries, tl.box)
		}
		id := tl.entries[0].ID
		if err := tl.relay(ctx, tl.box, tl.entries); err != nil {
			t.Fatal(err)
		}
		tl.entries = nil
		return id
	}
	milli := func(id string) string { ms, _, _ := strings.Cut(id, "-"); return ms }

	// Open, acknowledge and resolve until two changes land in one
	// millisecond of Redis's clock (a few round trips apart: most rounds).
	events, sameMilli := 0, 0
	for deadline := time.Now().Add(10 * time.Second); sameMilli < 3 && time.Now().Before(deadline); {
		res, err := st.OpenOrJoinEscalation(ctx, store.Opening{Esc: &store.Escalation{AgencyID: a.ID, ClientID: c.ID, Level: "crisis", Reasons: []string{"self-harm"}}})
		if err != nil || res.Esc == nil {
			t.Fatalf("open = %+v, %v", res, err)
		}
		e, prev := res.Esc, moved()
		for _, status := range []string{store.EscAcknowledged, store.EscResolved} {
			e, err = st.ChangeEscalation(ctx, e, func(e *store.Escalation) error {
				now := time.Now()
				e.Status = status
				if status == store.EscAcknowledged {
					e.AckedAt, e.AckedBy = &now, "staff:cm1"
				} else {
					e.ResolvedAt = &now
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			id := moved()
			if milli(id) == milli(prev) {
				sameMilli++
			}
			prev = id
		}
		events += 3
	}
	if sameMilli == 0 {
		t.Skip("no two changes landed in one millisecond: the machine is too slow to show it")
	}
	for {
		head, err := st.WebhookHead(ctx, a.ID, ep.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if head == nil {
			break
		}
		if err := tl.Deliver(ctx, a.ID, ep.ID, c.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != events {
		t.Errorf("the receiver got %d events by webhook-id; want %d (%d changes in the millisecond of the one before)", len(got), events, sameMilli)
	} else {
		t.Logf("%d events, %d changes in the millisecond of the one before", events, sameMilli)
	}
}
