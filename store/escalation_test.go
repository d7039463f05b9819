package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func escalationScenarios() []scenario {
	return []scenario{
		{"escalation/one open per client", testOneOpenEscalation},
		{"escalation/one open per client under racing signals", testOneOpenEscalationRacing},
		{"escalation/a closed one is replaced by a new one", testEscalationReopens},
		{"escalation/concurrent updates lose nothing", testUpdateEscalationConcurrent},
		{"escalation/ack codes are the smallest free numbers", testAckCodes},
		{"escalation/ack code claims race", testAckCodesRacing},
		{"outbox/delivery status never moves backwards", testStatusForwardOnly},
		{"escalation/schema 1 open pointers move to the agency's slot", testOpenPointersMove},
		{"escalation/the unresolved index follows open, acknowledged, resolved", testUnresolvedIndex},
		{"escalation/schema 3 builds the unresolved index", testUnresolvedIndexBuilt},
		{"escalation/the index catches what an older binary wrote", testUnresolvedIndexOldBinary},
		{"escalation/a client's escalations by time", testClientEscalations},
		{"escalation/a call is in flight while it can still ring or is answered", testCallInFlight},
	}
}

func newEscalation(a *Agency, c *Client) *Escalation {
	return &Escalation{AgencyID: a.ID, ClientID: c.ID, Level: "crisis", Reasons: []string{"self-harm"},
		Audit: []AuditEntry{{Actor: "system", Action: "opened"}}}
}

func testOneOpenEscalation(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	first, isNew, err := openEscalation(ctx, s, newEscalation(a, c))
	if err != nil || !isNew {
		t.Fatalf("first open = %v, %v; want a new escalation", isNew, err)
	}
	second, isNew, err := openEscalation(ctx, s, newEscalation(a, c))
	if err != nil {
		t.Fatal(err)
	}
	if isNew || second.ID != first.ID {
		t.Errorf("second open = %s (new %v); want the open one %s", second.ID, isNew, first.ID)
	}
	page, err := s.Escalations(ctx, a.ID, EscOpen, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Errorf("open escalations listed = %d; want 1", len(page.Items))
	}
}

func testOneOpenEscalationRacing(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	const n = 12
	var mu sync.Mutex
	ids := map[string]int{}
	news := 0
	parallel(n, func(i int) {
		e, isNew, err := openEscalation(ctx, s, newEscalation(a, c))
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		ids[e.ID]++
		if isNew {
			news++
		}
	})
	if len(ids) != 1 || news != 1 {
		t.Errorf("%d signals at once opened %d escalations (%d reported new): %v; want 1", n, len(ids), news, ids)
	}
	page, _ := s.Escalations(ctx, a.ID, EscOpen, "", 50)
	if len(page.Items) != 1 {
		t.Errorf("open escalations listed = %d; want 1", len(page.Items))
	}
}

func testEscalationReopens(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	first, _, err := openEscalation(ctx, s, newEscalation(a, c))
	if err != nil {
		t.Fatal(err)
	}
	setStatus(t, s, a, first.ID, EscResolved)
	next, isNew, err := openEscalation(ctx, s, newEscalation(a, c))
	if err != nil || !isNew || next.ID == first.ID {
		t.Errorf("open after resolve = %s (new %v, %v); want a new escalation", next.ID, isNew, err)
	}
	got, err := s.Escalation(ctx, a.ID, first.ID)
	if err != nil || got.Status != EscResolved {
		t.Errorf("the resolved escalation = %v, %v; want it kept, resolved", got, err)
	}
}

func testUpdateEscalationConcurrent(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	e, _, err := openEscalation(ctx, s, newEscalation(a, c))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	parallel(n, func(i int) {
		_, err := s.UpdateEscalation(ctx, a.ID, e.ID, func(x *Escalation) error {
			x.Audit = append(x.Audit, AuditEntry{Actor: "system", Action: "alert sent", Detail: fmt.Sprint(i)})
			return nil
		})
		if err != nil {
			t.Errorf("updater %d: %v", i, err)
		}
	})
	got, err := s.Escalation(ctx, a.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, en := range got.Audit[1:] {
		seen[en.Detail] = true
	}
	if len(got.Audit) != n+1 || len(seen) != n {
		t.Errorf("audit holds %d entries (%d distinct updates); want %d and %d: an update was lost", len(got.Audit), len(seen), n+1, n)
	}
	// A change that decides to change nothing writes nothing.
	if _, err := s.UpdateEscalation(ctx, a.ID, e.ID, func(*Escalation) error { return ErrUnchanged }); err != ErrUnchanged {
		t.Errorf("unchanged update = %v; want ErrUnchanged", err)
	}
	if _, err := s.UpdateEscalation(ctx, a.ID, "es_missing", func(*Escalation) error { return nil }); err != ErrNotFound {
		t.Errorf("update of a missing escalation = %v; want ErrNotFound", err)
	}
}

func testAckCodes(t *testing.T, s *Store) {
	ctx := t.Context()
	a, _ := seedClient(t, s)
	staff := "cm_1"
	var codes []string
	for i := range 3 {
		code, err := s.ClaimAckCode(ctx, a.ID, staff, fmt.Sprintf("es_%d", i))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[1 2 3]" {
		t.Errorf("codes = %v; want [1 2 3]", codes)
	}
	if code, _ := s.ClaimAckCode(ctx, a.ID, staff, "es_1"); code != "2" {
		t.Errorf("claiming again for es_1 = %s; want its code 2", code)
	}
	if code, _ := s.ClaimAckCode(ctx, a.ID, "cm_2", "es_1"); code != "1" {
		t.Errorf("another staff member's first code = %s; want 1", code)
	}
	if err := s.ReleaseAckCodes(ctx, a.ID, "es_1", []string{staff, "cm_2"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.ClaimAckCode(ctx, a.ID, staff, "es_9"); code != "2" {
		t.Errorf("code after releasing 2 = %s; want 2 (the smallest free number)", code)
	}
	if code, _ := s.ClaimAckCode(ctx, a.ID, staff, "es_10"); code != "4" {
		t.Errorf("next code = %s; want 4", code)
	}
	held, err := s.AckCodes(ctx, a.ID, staff)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"1": "es_0", "2": "es_9", "3": "es_2", "4": "es_10"}
	if fmt.Sprint(held) != fmt.Sprint(want) {
		t.Errorf("codes held = %v; want %v", held, want)
	}
}

func testAckCodesRacing(t *testing.T, s *Store) {
	ctx := t.Context()
	a, _ := seedClient(t, s)
	const n = 10
	var mu sync.Mutex
	byEsc := map[string][]string{}
	// Ten escalations alert one case manager at once, each twice (a step
	// timer and its reclaimed copy).
	parallel(2*n, func(i int) {
		esc := fmt.Sprintf("es_%d", i%n)
		code, err := s.ClaimAckCode(ctx, a.ID, "cm_1", esc)
		if err != nil {
			t.Errorf("claim %s: %v", esc, err)
			return
		}
		mu.Lock()
		byEsc[esc] = append(byEsc[esc], code)
		mu.Unlock()
	})
	var all []string
	for esc, codes := range byEsc {
		if codes[0] != codes[1] {
			t.Errorf("%s got two codes %v; want one", esc, codes)
		}
		all = append(all, codes[0])
	}
	held, _ := s.AckCodes(ctx, a.ID, "cm_1")
	if len(held) != n {
		t.Errorf("codes held = %d %v; want %d, one per escalation", len(held), held, n)
	}
	sort.Strings(all)
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c] {
			t.Errorf("code %s given to two escalations", c)
		}
		seen[c] = true
	}
}

func testStatusForwardOnly(t *testing.T, s *Store) {
	ctx := t.Context()
	if err := s.MarkSent(ctx, "q:cl_1:occ:1", "SM123", []byte(`{"k":"send"}`), nil, true); err != nil {
		t.Fatal(err)
	}
	if pid, _ := s.SentMarker(ctx, "q:cl_1:occ:1"); pid != "SM123" {
		t.Errorf("sent marker = %q; want SM123", pid)
	}
	steps := []struct {
		status string
		moved  bool
		now    string
	}{
		{"sent", true, "sent"},
		{"delivered", true, "delivered"},
		{"sent", false, "delivered"},      // a late "sent" after "delivered"
		{"delivered", false, "delivered"}, // a re-delivery
		{"queued", false, "delivered"},
		{"read", true, "read"},
	}
	for _, st := range steps {
		id, moved, err := s.UpdateStatus(ctx, "SM123", st.status)
		if err != nil || id != "q:cl_1:occ:1" || moved != st.moved {
			t.Errorf("UpdateStatus(%s) = %q, %v, %v; want the message id, moved=%v", st.status, id, moved, err, st.moved)
		}
		if got, _ := s.Status(ctx, "SM123"); got != st.now {
			t.Errorf("after %s: status = %s; want %s", st.status, got, st.now)
		}
	}
	if _, _, err := s.UpdateStatus(ctx, "SMunknown", "delivered"); err != ErrNotFound {
		t.Errorf("status for an unknown message = %v; want ErrNotFound", err)
	}
}

// openEscalation opens e or names the client's open escalation, and whether it is new.
func openEscalation(ctx context.Context, s *Store, e *Escalation) (*Escalation, bool, error) {
	res, err := s.OpenOrJoinEscalation(ctx, Opening{Esc: e})
	if err != nil {
		return nil, false, err
	}
	if res.Joined != "" {
		cur, err := s.Escalation(ctx, e.AgencyID, res.Joined)
		return cur, false, err
	}
	return res.Esc, true, nil
}

func testOpenPointersMove(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	open, _, err := openEscalation(ctx, s, newEscalation(a, c))
	if err != nil {
		t.Fatal(err)
	}
	// As schema 1 left it: the pointer in the client's slot.
	old := clientTag(c.ID) + ":esc-open"
	if err := s.rdb.Del(ctx, keyOpenEscalation(a.ID, c.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.Set(ctx, old, open.ID, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.Set(ctx, keySchema, 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.checkSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.rdb.Get(ctx, keySchema).Int(); v != SchemaVersion {
		t.Errorf("schema = %d; want %d", v, SchemaVersion)
	}
	if n, _ := s.rdb.Exists(ctx, old).Result(); n != 0 {
		t.Errorf("the schema 1 pointer is left")
	}
	if e, isNew, err := openEscalation(ctx, s, newEscalation(a, c)); err != nil || isNew || e.ID != open.ID {
		t.Errorf("a signal after the move = %v (new %v, %v); want it to join %s", e, isNew, err, open.ID)
	}
}

// mustOpen opens an escalation for client c of agency a.
func mustOpen(t *testing.T, s *Store, a *Agency, c *Client) *Escalation {
	t.Helper()
	e, _, err := openEscalation(t.Context(), s, newEscalation(a, c))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// setStatus changes an escalation's status as the escalation service does.
func setStatus(t *testing.T, s *Store, a *Agency, id, status string) {
	t.Helper()
	if _, err := s.UpdateEscalation(t.Context(), a.ID, id, func(e *Escalation) error { e.Status = status; return nil }); err != nil {
		t.Fatal(err)
	}
}

// unresolvedIDs is what UnresolvedEscalations lists, sorted.
func unresolvedIDs(t *testing.T, s *Store, agency string) []string {
	t.Helper()
	list, err := s.UnresolvedEscalations(t.Context(), agency)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range list {
		ids = append(ids, e.ID+" "+e.Status)
	}
	sort.Strings(ids)
	return ids
}

func testUnresolvedIndex(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c1 := seedClient(t, s)
	c2 := seedClientOf(t, s, a)
	e1 := mustOpen(t, s, a, c1)
	e2 := mustOpen(t, s, a, c2)
	setStatus(t, s, a, e1.ID, EscAcknowledged)
	want := []string{e1.ID + " acknowledged", e2.ID + " open"}
	sort.Strings(want)
	if got := unresolvedIDs(t, s, a.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unresolved = %v; want %v", got, want)
	}
	for _, id := range []string{e1.ID, e2.ID} {
		setStatus(t, s, a, id, EscResolved)
	}
	if got := unresolvedIDs(t, s, a.ID); len(got) != 0 {
		t.Errorf("unresolved after both resolved = %v; want none", got)
	}
	if n, _ := s.rdb.Exists(ctx, keyUnresolved(a.ID)).Result(); n != 0 {
		t.Errorf("an empty index is left in Redis")
	}
	// Another agency's index is its own.
	b, c3 := seedClient(t, s)
	mustOpen(t, s, b, c3)
	if got := unresolvedIDs(t, s, a.ID); len(got) != 0 {
		t.Errorf("agency A lists another agency's escalation: %v", got)
	}
}

func testUnresolvedIndexBuilt(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c1 := seedClient(t, s)
	c2 := seedClientOf(t, s, a)
	open := mustOpen(t, s, a, c1)
	done := mustOpen(t, s, a, c2)
	setStatus(t, s, a, done.ID, EscResolved)
	// As schema 3 left it: no index.
	if err := s.rdb.Del(ctx, keyUnresolved(a.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.Set(ctx, keySchema, 3, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.checkSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if got := unresolvedIDs(t, s, a.ID); fmt.Sprint(got) != fmt.Sprint([]string{open.ID + " open"}) {
		t.Errorf("unresolved after the upgrade = %v; want only %s open", got, open.ID)
	}
}

func testCallInFlight(t *testing.T, s *Store) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)}
	s.now = clk.now
	a, _ := seedClient(t, s)
	reserve := func(alert, wantBusy, when string) {
		t.Helper()
		if got, err := s.ReserveCall(ctx, a.ID, "cm_1", alert); err != nil || got != wantBusy {
			t.Errorf("%s: ReserveCall(%s) = %q, %v; want %q", when, alert, got, err, wantBusy)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	reserve("alert:A", "", "nobody called")
	reserve("alert:B", "alert:A", "A's call not placed yet")
	reserve("alert:A", "", "A again")
	must(s.CallPlaced(ctx, a.ID, "cm_1", "CA1"))
	reserve("alert:B", "CA1", "A's call ringing")
	clk.add(CallRingingFor + time.Second)
	reserve("alert:B", "", "A's call never answered, past ringing (its status lost)")

	must(s.CallPlaced(ctx, a.ID, "cm_1", "CA2"))
	must(s.CallAnswered(ctx, a.ID, "cm_1", "CA2"))
	must(s.CallAnswered(ctx, a.ID, "cm_1", "CA1")) // an older call's answer changes nothing
	clk.add(CallRingingFor + time.Second)
	reserve("alert:C", "CA2", "B's call answered, past ringing")
	must(s.CallEnded(ctx, a.ID, "cm_1", "CA1")) // an older call's end leaves the newer one
	reserve("alert:C", "CA2", "after an older call ended")
	must(s.CallEnded(ctx, a.ID, "cm_1", "CA2"))
	reserve("alert:C", "", "B's call ended")
	clk.add(CallRingingFor + time.Second)
	reserve("alert:D", "", "C's grant never placed, lapsed")
}

// During a rolling upgrade a binary older than the index opens and
// resolves escalations without touching it: IndexEscalations (a chore)
// adds the open one, and the resolved one leaves the index when read.
func testUnresolvedIndexOldBinary(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c1 := seedClient(t, s)
	c2 := seedClientOf(t, s, a)
	if err := s.IndexEscalations(ctx); err != nil {
		t.Fatal(err)
	}
	resolved := mustOpen(t, s, a, c2)
	// The old binary's open: the record and the agency's list, no index.
	old := newEscalation(a, c1)
	old.ID, old.Status, old.Opened = NewID("es", time.Now()), EscOpen, time.Now().UTC()
	body, _ := json.Marshal(old)
	if err := s.rdb.Set(ctx, keyEscalation(a.ID, old.ID), body, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.ZAdd(ctx, keyEscalations(a.ID), redis.Z{Member: old.ID}).Err(); err != nil {
		t.Fatal(err)
	}
	// The old binary's resolve: the record alone.
	r := *resolved
	r.Status = EscResolved
	body, _ = json.Marshal(&r)
	if err := s.rdb.Set(ctx, keyEscalation(a.ID, r.ID), body, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := unresolvedIDs(t, s, a.ID); len(got) != 0 {
		t.Errorf("before the chore: %v; want none (the open one is not indexed yet, the resolved one is not listed)", got)
	}
	if n, _ := s.rdb.ZCard(ctx, keyUnresolved(a.ID)).Result(); n != 0 {
		t.Errorf("the resolved escalation is still in the index after a read")
	}
	if err := s.IndexEscalations(ctx); err != nil {
		t.Fatal(err)
	}
	if got := unresolvedIDs(t, s, a.ID); fmt.Sprint(got) != fmt.Sprint([]string{old.ID + " open"}) {
		t.Errorf("after the chore: %v; want %s open", got, old.ID)
	}
	if list, err := s.ClientEscalations(ctx, a.ID, c1.ID, time.Now().Add(-time.Hour)); err != nil || len(list) != 1 || list[0].ID != old.ID {
		t.Errorf("the client's escalations after the chore = %v, %v; want %s", list, err, old.ID)
	}
}

func testClientEscalations(t *testing.T, s *Store) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)}
	s.now = clk.now
	a, c1 := seedClient(t, s)
	c2 := seedClientOf(t, s, a)
	var mine []string
	for i := range 3 {
		e, _, err := openEscalation(ctx, s, newEscalation(a, c1))
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, e.ID)
		if _, _, err := openEscalation(ctx, s, newEscalation(a, c2)); err != nil && i == 0 {
			t.Fatal(err)
		}
		setStatus(t, s, a, e.ID, EscResolved)
		clk.add(24 * time.Hour)
	}
	ids := func(since time.Time) []string {
		t.Helper()
		list, err := s.ClientEscalations(ctx, a.ID, c1.ID, since)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	start := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	if got, want := ids(start), []string{mine[2], mine[1], mine[0]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("since the first = %v; want %v (newest first, the other client's left out)", got, want)
	}
	if got, want := ids(start.Add(24*time.Hour)), []string{mine[2], mine[1]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("since the second day = %v; want %v", got, want)
	}
	if got := ids(start.Add(24*time.Hour + time.Millisecond)); fmt.Sprint(got) != fmt.Sprint([]string{mine[2]}) {
		t.Errorf("since just after the second = %v; want only %s", got, mine[2])
	}
}
