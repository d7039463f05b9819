package store

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The crisis path's promises, on one Redis (one script each) and on a
// Cluster (one script per hash slot): scenarios() runs them on both.
func crisisScenarios() []scenario {
	return []scenario{
		{"crisis/open with alert keeps every promise in one step", testOpenAlerted},
		{"crisis/one open per client under racing signals", testOpenAlertedRacing},
		{"crisis/an ack code taken meanwhile writes nothing", testOpenAlertedCodeTaken},
		{"crisis/a closed escalation's pointer is replaced", testOpenAlertedReplacesClosed},
		{"crisis/safety reply at most once per spacing, read with the case manager", testStartCrisis},
	}
}

// alerted builds a new escalation alerting staff with code, as the
// escalation service does: the alert (urgent) and the next step's timer.
func alerted(a *Agency, c *Client, id, staff, code string, now time.Time) *NewAlerted {
	e := newEscalation(a, c)
	e.ID, e.Opened, e.Status = id, now, EscOpen
	e.AckCode, e.Alerted = code, []string{staff}
	e.Audit = append(e.Audit, AuditEntry{Actor: "system", Action: "alert sent", Detail: "ACK " + code})
	return &NewAlerted{Esc: e, Staff: staff, Work: []Work{
		{ID: "send:alert:" + e.ID, Urgent: true, Payload: []byte(`{"k":"send","code":"` + code + `"}`)},
		{ID: "esc:" + e.ID + ":0:1", At: now.Add(10 * time.Minute), Payload: []byte(`{"k":"esc-step"}`)},
	}}
}

// openAlerted opens as the service does: a code taken meanwhile is rebuilt with.
func openAlerted(t *testing.T, s *Store, a *Agency, c *Client, staff, consumer string) (Opened, *NewAlerted) {
	t.Helper()
	code := "1"
	id := NewID("es", s.Now())
	for range 20 {
		n := alerted(a, c, id, staff, code, s.Now())
		n.Consumer = consumer
		res, err := s.OpenAlerted(t.Context(), n)
		if err != nil {
			t.Errorf("open: %v", err)
			return Opened{}, nil
		}
		if res.Code == "" {
			return res, n
		}
		code = res.Code
	}
	t.Errorf("open: the code kept changing")
	return Opened{}, nil
}

func streamEntries(t *testing.T, s *Store, stream string) int {
	t.Helper()
	n, err := s.rdb.XLen(t.Context(), stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func testOpenAlerted(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	w := s.NewWorker("here", nil)
	if err := w.ensureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	res, n := openAlerted(t, s, a, c, "cm_1", w.Name())
	if !res.Opened {
		t.Fatalf("open = %+v; want opened", res)
	}
	got, err := s.Escalation(ctx, a.ID, n.Esc.ID)
	if err != nil || got.AckCode != "1" || len(got.Audit) != 2 || got.Audit[1].Action != "alert sent" || got.Status != EscOpen {
		t.Errorf("stored escalation = %+v, %v; want open, ACK 1, opened + alert sent", got, err)
	}
	if page, _ := s.Escalations(ctx, a.ID, EscOpen, "", 50); len(page.Items) != 1 {
		t.Errorf("open escalations listed = %d; want 1", len(page.Items))
	}
	if codes, _ := s.AckCodes(ctx, a.ID, "cm_1"); fmt.Sprint(codes) != fmt.Sprint(map[string]string{"1": n.Esc.ID}) {
		t.Errorf("codes = %v; want 1 bound to the escalation", codes)
	}
	if at, ok, _ := s.ScheduledAt(ctx, "esc:"+n.Esc.ID+":0:1"); !ok || !at.Equal(n.Work[1].At.Truncate(time.Millisecond)) {
		t.Errorf("next step planned = %v, %v; want at %v", at, ok, n.Work[1].At)
	}
	// The alert is in the urgent stream and already this consumer's: no
	// other worker's read gets it, and acknowledging it clears it.
	if len(res.Claimed) != 1 || res.Claimed[0].ID != "send:alert:"+n.Esc.ID || string(res.Claimed[0].Payload) != string(n.Work[0].Payload) {
		t.Fatalf("claimed = %+v; want the alert", res.Claimed)
	}
	other := s.NewWorker("there", nil)
	other.SetBlock(10 * time.Millisecond)
	if items, err := other.Read(ctx); err != nil || len(items) != 0 {
		t.Errorf("another worker read %v, %v; want nothing: the alert is claimed", items, err)
	}
	// This process dies before its workers take it: another process's
	// reclaimer finds it (the stream is the durable record).
	other.SetIdle(0)
	if items, err := other.Reclaim(ctx); err != nil || len(items) != 1 || items[0].ID != res.Claimed[0].ID {
		t.Errorf("reclaimed %+v, %v; want the claimed alert", items, err)
	}
	if err := w.Ack(ctx, res.Claimed...); err != nil {
		t.Fatal(err)
	}
	if n := streamEntries(t, s, keyUrgent); n != 0 {
		t.Errorf("urgent stream after the ack holds %d; want 0", n)
	}
	// A second signal joins: nothing written.
	again, _ := openAlerted(t, s, a, c, "cm_1", w.Name())
	if again.Joined != n.Esc.ID || again.Opened {
		t.Errorf("second open = %+v; want joined %s", again, n.Esc.ID)
	}
	if n := streamEntries(t, s, keyUrgent); n != 0 {
		t.Errorf("a joined signal queued %d alerts; want none", n)
	}
	// Without a consumer (no workers here) the alert waits for a reader.
	_, c2 := seedClient(t, s)
	res, _ = openAlerted(t, s, a, c2, "cm_1", "")
	if !res.Opened || len(res.Claimed) != 0 {
		t.Errorf("open without consumer = %+v; want opened, nothing claimed", res)
	}
	if items, _ := other.Read(ctx); len(items) != 1 {
		t.Errorf("a worker read %d items; want the unclaimed alert", len(items))
	}
}

func testOpenAlertedRacing(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	const n = 12
	var mu sync.Mutex
	opened, joined := map[string]int{}, map[string]int{}
	parallel(n, func(i int) {
		res, plan := openAlerted(t, s, a, c, "cm_1", "")
		mu.Lock()
		defer mu.Unlock()
		switch {
		case res.Opened:
			opened[plan.Esc.ID]++
		case res.Joined != "":
			joined[res.Joined]++
		}
	})
	if len(opened) != 1 {
		t.Fatalf("%d signals at once opened %v; want one escalation", n, opened)
	}
	for id := range opened {
		if joined[id] != n-1 || len(joined) != 1 {
			t.Errorf("joined = %v; want the other %d joining %s", joined, n-1, id)
		}
		if codes, _ := s.AckCodes(ctx, a.ID, "cm_1"); len(codes) != 1 || codes["1"] != id {
			t.Errorf("codes = %v; want 1, the winner's (losers release theirs)", codes)
		}
	}
	if page, _ := s.Escalations(ctx, a.ID, "", "", 50); len(page.Items) != 1 {
		t.Errorf("escalations listed = %d; want 1 (losers leave nothing)", len(page.Items))
	}
	if n := streamEntries(t, s, keyUrgent); n != 1 {
		t.Errorf("alerts queued = %d; want 1", n)
	}
	if n, _ := s.rdb.ZCard(ctx, keyDue).Result(); n != 1 {
		t.Errorf("next steps planned = %d; want 1", n)
	}
}

func testOpenAlertedCodeTaken(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	if _, err := s.ClaimAckCode(ctx, a.ID, "cm_1", "es_other"); err != nil {
		t.Fatal(err)
	}
	plan := alerted(a, c, NewID("es", s.Now()), "cm_1", "1", s.Now())
	res, err := s.OpenAlerted(ctx, plan)
	if err != nil || res.Code != "2" || res.Opened || res.Joined != "" {
		t.Fatalf("open with a taken code = %+v, %v; want code 2, nothing else", res, err)
	}
	if _, err := s.Escalation(ctx, a.ID, plan.Esc.ID); err != ErrNotFound {
		t.Errorf("record = %v; want none written", err)
	}
	if n := streamEntries(t, s, keyUrgent); n != 0 {
		t.Errorf("alerts queued = %d; want none", n)
	}
	if again, _ := openAlerted(t, s, a, c, "cm_1", ""); !again.Opened {
		t.Errorf("open after = %+v; want opened (no pointer was left)", again)
	}
	if codes, _ := s.AckCodes(ctx, a.ID, "cm_1"); len(codes) != 2 || codes["1"] != "es_other" {
		t.Errorf("codes = %v; want 1 kept by es_other, 2 for the new escalation", codes)
	}
}

func testOpenAlertedReplacesClosed(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	first, plan := openAlerted(t, s, a, c, "cm_1", "")
	if !first.Opened {
		t.Fatalf("first = %+v", first)
	}
	// Closed without clearing the pointer (a crash between the two).
	if err := s.rdb.Set(ctx, keyEscalation(a.ID, plan.Esc.ID), mustJSON(t, func() *Escalation { e := *plan.Esc; e.Status = EscResolved; return &e }()), 0).Err(); err != nil {
		t.Fatal(err)
	}
	next, plan2 := openAlerted(t, s, a, c, "cm_1", "")
	if !next.Opened || plan2.Esc.ID == plan.Esc.ID {
		t.Errorf("open after close = %+v; want a new escalation", next)
	}
	if again, _ := openAlerted(t, s, a, c, "cm_1", ""); again.Joined != plan2.Esc.ID {
		t.Errorf("third signal = %+v; want it to join %s", again, plan2.Esc.ID)
	}
}

func testStartCrisis(t *testing.T, s *Store) {
	ctx := t.Context()
	now := time.Now()
	s.now = func() time.Time { return now }
	a, c := seedClient(t, s)
	cm := &CaseManager{AgencyID: a.ID, Name: "Staff", Phone: phone()}
	if err := s.CreateCaseManager(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimAckCode(ctx, a.ID, cm.ID, "es_1"); err != nil {
		t.Fatal(err)
	}
	w := s.NewWorker("here", nil)
	if err := w.ensureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	start := CrisisStart{Agency: a.ID, Staff: cm.ID, Consumer: w.Name(),
		Safety: &Guarded{Key: "safety:" + c.ID, Every: 30 * time.Minute, Work: []Work{{ID: "send:safety:" + c.ID, Urgent: true, Payload: []byte("safety")}}}}
	got, err := s.StartCrisis(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if got.CM == nil || got.CM.ID != cm.ID || got.Codes["1"] != "es_1" {
		t.Errorf("read case manager %+v, codes %v; want %s holding 1", got.CM, got.Codes, cm.ID)
	}
	if !got.Queued || len(got.Claimed) != 1 || string(got.Claimed[0].Payload) != "safety" {
		t.Errorf("first safety reply: queued %v, claimed %+v; want queued and claimed", got.Queued, got.Claimed)
	}
	now = now.Add(29 * time.Minute)
	if got, err := s.StartCrisis(ctx, start); err != nil || got.Queued || len(got.Claimed) != 0 {
		t.Errorf("29 minutes later: %+v, %v; want no second safety reply", got, err)
	}
	if n := streamEntries(t, s, keyUrgent); n != 1 {
		t.Errorf("safety replies queued = %d; want 1", n)
	}
	now = now.Add(2 * time.Minute)
	if got, err := s.StartCrisis(ctx, start); err != nil || !got.Queued {
		t.Errorf("31 minutes later: %+v, %v; want the safety reply again", got, err)
	}
	// Nobody to read: a missing case manager is nil, not an error.
	if got, err := s.StartCrisis(ctx, CrisisStart{Agency: a.ID, Staff: "cm_missing"}); err != nil || got.CM != nil {
		t.Errorf("missing case manager = %+v, %v; want nil", got, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
