package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// The crisis path's promises, on one Redis and on a Cluster (one script per
// hash slot on both): scenarios() runs them on both.
func crisisScenarios() []scenario {
	return []scenario{
		{"crisis/open binds the first alert's code and reads its case manager", testOpenBindsCode},
		{"crisis/one open per client under racing signals", testOpenRacing},
		{"crisis/an ack code taken meanwhile: the next free one", testOpenCodeTaken},
		{"crisis/a closed escalation frees its client", testOpenAfterClose},
		{"crisis/alert queued with its timer, claimed for this process", testQueueClaimedAlert},
		{"crisis/safety reply at most once per spacing, with the opening", testSafetyOncePerSpacing},
	}
}

// alertWork is the first alert as the escalation service queues it: the
// alert (urgent) and the next step's timer.
func alertWork(e *Escalation, code string, now time.Time) []Work {
	return []Work{
		{ID: "send:alert:" + e.ID, Urgent: true, Payload: []byte(`{"k":"send","code":"` + code + `"}`)},
		{ID: "esc:" + e.ID + ":0:1", At: now.Add(10 * time.Minute), Once: true, Payload: []byte(`{"k":"esc-step"}`)},
	}
}

func streamEntries(t *testing.T, s *Store, stream string) int {
	t.Helper()
	n, err := s.rdb.XLen(t.Context(), stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func staffMember(t *testing.T, s *Store, a *Agency) *CaseManager {
	t.Helper()
	cm := &CaseManager{AgencyID: a.ID, Name: "Staff", Phone: phone(), Active: true}
	if err := s.CreateCaseManager(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	return cm
}

func testOpenBindsCode(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	cm := staffMember(t, s, a)
	res, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c), Staff: cm.ID})
	if err != nil || res.Esc == nil || res.Code != "1" || res.CM == nil || res.CM.ID != cm.ID {
		t.Fatalf("open = %+v, %v; want opened, code 1, the case manager read", res, err)
	}
	got, err := s.Escalation(ctx, a.ID, res.Esc.ID)
	if err != nil || got.Status != EscOpen || got.ClientID != c.ID {
		t.Errorf("stored escalation = %+v, %v; want it open for the client", got, err)
	}
	if page, _ := s.Escalations(ctx, a.ID, EscOpen, "", 50); len(page.Items) != 1 {
		t.Errorf("open escalations listed = %d; want 1", len(page.Items))
	}
	if codes, _ := s.AckCodes(ctx, a.ID, cm.ID); fmt.Sprint(codes) != fmt.Sprint(map[string]string{"1": res.Esc.ID}) {
		t.Errorf("codes = %v; want 1 bound to the escalation", codes)
	}
	// A second signal joins: nothing written, no code bound.
	again, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c), Staff: cm.ID})
	if err != nil || again.Joined != res.Esc.ID || again.Esc != nil || again.Code != "" {
		t.Errorf("second open = %+v, %v; want joined %s", again, err, res.Esc.ID)
	}
	if codes, _ := s.AckCodes(ctx, a.ID, cm.ID); len(codes) != 1 {
		t.Errorf("codes after a join = %v; want the one", codes)
	}
	// Nobody to read: a missing case manager is nil, not an error.
	_, c2 := seedClient(t, s)
	if res, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c2), Staff: "cm_missing"}); err != nil || res.CM != nil || res.Esc == nil {
		t.Errorf("open with a missing case manager = %+v, %v; want opened, no record", res, err)
	}
}

func testOpenRacing(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	const n = 12
	var mu sync.Mutex
	opened, joined := map[string]int{}, map[string]int{}
	parallel(n, func(i int) {
		res, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c), Staff: "cm_1"})
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if res.Esc != nil {
			opened[res.Esc.ID]++
		} else {
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
			t.Errorf("codes = %v; want 1, the winner's (a joiner binds none)", codes)
		}
	}
	if page, _ := s.Escalations(ctx, a.ID, "", "", 50); len(page.Items) != 1 {
		t.Errorf("escalations listed = %d; want 1 (joiners write nothing)", len(page.Items))
	}
}

func testOpenCodeTaken(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	if _, err := s.ClaimAckCode(ctx, a.ID, "cm_1", "es_other"); err != nil {
		t.Fatal(err)
	}
	res, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c), Staff: "cm_1"})
	if err != nil || res.Esc == nil || res.Code != "2" {
		t.Fatalf("open with code 1 taken = %+v, %v; want opened with code 2", res, err)
	}
	if codes, _ := s.AckCodes(ctx, a.ID, "cm_1"); len(codes) != 2 || codes["1"] != "es_other" || codes["2"] != res.Esc.ID {
		t.Errorf("codes = %v; want 1 kept by es_other, 2 for the new escalation", codes)
	}
	// Claimed again for the escalation (a step's alert repeated): the same code.
	if code, _ := s.ClaimAckCode(ctx, a.ID, "cm_1", res.Esc.ID); code != "2" {
		t.Errorf("claim again = %s; want 2", code)
	}
}

func testOpenAfterClose(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	first, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c)})
	if err != nil || first.Esc == nil {
		t.Fatalf("first = %+v, %v", first, err)
	}
	if _, err := s.ChangeEscalation(ctx, first.Esc, func(e *Escalation) error { e.Status = EscResolved; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.rdb.Exists(ctx, keyOpenEscalation(a.ID, c.ID)).Result(); n != 0 {
		t.Errorf("the client's open pointer outlived its escalation")
	}
	next, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c)})
	if err != nil || next.Esc == nil || next.Esc.ID == first.Esc.ID {
		t.Fatalf("open after close = %+v, %v; want a new escalation", next, err)
	}
	if again, _ := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c)}); again.Joined != next.Esc.ID {
		t.Errorf("third signal = %+v; want it to join %s", again, next.Esc.ID)
	}
}

func testQueueClaimedAlert(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	w := s.NewWorker("here", nil)
	if err := w.ensureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	e := newEscalation(a, c)
	e.ID = NewID("es", s.Now())
	work := alertWork(e, "1", s.Now())
	res, err := s.QueueClaimed(ctx, Queued{Work: work, Consumer: w.Name()})
	if err != nil || !res.Queued {
		t.Fatalf("queue = %+v, %v", res, err)
	}
	if at, ok, _ := s.ScheduledAt(ctx, work[1].ID); !ok || !at.Equal(work[1].At.Truncate(time.Millisecond)) {
		t.Errorf("next step planned = %v, %v; want at %v", at, ok, work[1].At)
	}
	// The alert is in the urgent stream and already this consumer's: no
	// other worker's read gets it, and acknowledging it clears it.
	if len(res.Claimed) != 1 || res.Claimed[0].ID != work[0].ID || string(res.Claimed[0].Payload) != string(work[0].Payload) {
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
	// Queued again (a resumed alert): the timer keeps its first plan.
	later := alertWork(e, "1", s.Now().Add(time.Hour))
	if _, err := s.QueueClaimed(ctx, Queued{Work: later[1:]}); err != nil {
		t.Fatal(err)
	}
	if at, _, _ := s.ScheduledAt(ctx, work[1].ID); !at.Equal(work[1].At.Truncate(time.Millisecond)) {
		t.Errorf("timer planned again moved to %v; want its first plan %v", at, work[1].At)
	}
	// Without a consumer (no workers here) the alert waits for a reader.
	res, err = s.QueueClaimed(ctx, Queued{Work: work[:1]})
	if err != nil || len(res.Claimed) != 0 {
		t.Errorf("queue without consumer = %+v, %v; want nothing claimed", res, err)
	}
	if items, _ := other.Read(ctx); len(items) != 1 {
		t.Errorf("a worker read %d items; want the unclaimed alert", len(items))
	}
}

func testSafetyOncePerSpacing(t *testing.T, s *Store) {
	ctx := t.Context()
	now := time.Now()
	s.now = func() time.Time { return now }
	a, c := seedClient(t, s)
	w := s.NewWorker("here", nil)
	if err := w.ensureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	safety := Queued{Work: []Work{{ID: "send:safety:" + c.ID, Urgent: true, Payload: []byte("safety")}}, Consumer: w.Name(),
		Once: SafetyGuard(c.ID, 30*time.Minute)}
	got, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c), Safety: &safety})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Safety.Queued || len(got.Safety.Claimed) != 1 || string(got.Safety.Claimed[0].Payload) != "safety" {
		t.Errorf("first safety reply: %+v; want queued and claimed", got.Safety)
	}
	now = now.Add(29 * time.Minute)
	if got, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: newEscalation(a, c), Safety: &safety}); err != nil || got.Safety.Queued || len(got.Safety.Claimed) != 0 {
		t.Errorf("29 minutes later: %+v, %v; want no second safety reply", got, err)
	}
	if n := streamEntries(t, s, keyUrgent); n != 1 {
		t.Errorf("safety replies queued = %d; want 1", n)
	}
	now = now.Add(2 * time.Minute)
	if got, err := s.QueueClaimed(ctx, safety); err != nil || !got.Queued {
		t.Errorf("31 minutes later: %+v, %v; want the safety reply again", got, err)
	}
}
