package store

import (
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Scenarios of the compact storage: what a user reads back is what was
// written, however it is stored.
func memoryScenarios() []scenario {
	return []scenario{
		{"memory/timeline entries read back as written", testEntriesRoundTrip},
		{"memory/a clock behind the last entry keeps at and order", testEntryClockBehind},
		{"memory/an answer shows its message's text", testAnswerTextByReference},
		{"memory/entries stored flat before packing still read", testFlatEntries},
		{"memory/routine send bookkeeping is kept hours, alerts days", testSendRetention},
		{"memory/client and schedule records read back whole", testRecordsRoundTrip},
		{"memory/schedules saved at once are all kept", testConcurrentScheduleSaves},
	}
}

// testClock is a clock the test moves; clockStore is s on it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time            { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time)           { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func clockStore(s *Store, c *testClock) *Store { return New(s.rdb, c.Now) }

func timeline(t *testing.T, s *Store, clientID string) []Entry {
	t.Helper()
	page, err := s.Timeline(t.Context(), clientID, time.Time{}, time.Time{}, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func testEntriesRoundTrip(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	clock := &testClock{t: time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)}
	s = clockStore(s, clock)
	weird := "line one\x1fstill the same text"
	b, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM1", weird))
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(1500 * time.Millisecond))
	events := []Event{
		{"t", "answer", "conv", "occ1", "q", "daily-mood", "question", "mood", "value", "7"},
		{"t", "score", "conv", "occ1", "q", "daily-mood", "instrument", "mood", "risk", "none", "valid", "true", "total", "7", "reasons", "a; b"},
		{"t", "something-new", "why", "kept as extras", "empty", ""},
		{"t", "skipped", "occ", "occ2", "q", "", "reason", "opted out"}, // a present but empty field
		{"t", "missed", "conv", "occ1", "q", "x\x1fy"},                  // a separator in a field: stored flat
	}
	if ok, err := s.Apply(ctx, c.ID, b.Pending[0].ID, nil, events); err != nil || !ok {
		t.Fatalf("apply = %v, %v", ok, err)
	}
	got := timeline(t, s, c.ID)
	if len(got) != 1+len(events) {
		t.Fatalf("timeline has %d entries; want %d: %+v", len(got), 1+len(events), got)
	}
	if in := got[0]; in.Type != "in" || in.Fields["x"] != weird || in.Fields["ch"] != "sms" || in.Fields["k"] != "text" ||
		!in.At.Equal(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("inbound entry = %+v; want the text whole, sms, text, at 15:00:00", in)
	}
	for i, e := range events {
		want := map[string]string{}
		for j := 2; j+1 < len(e); j += 2 {
			want[e[j]] = e[j+1]
		}
		g := got[i+1]
		if g.Type != e[1] || !maps.Equal(g.Fields, want) || !g.At.Equal(clock.Now()) {
			t.Errorf("entry %d = %s %v at %v; want %s %v at %v", i, g.Type, g.Fields, g.At, e[1], want, clock.Now())
		}
	}
	if got[0].ID >= got[1].ID {
		t.Errorf("ids %s then %s: not in order", got[0].ID, got[1].ID)
	}
	// The packed layout is what is stored for the ordinary entries.
	raw, _ := s.rdb.XRange(ctx, keyTimeline(c.ID), got[1].ID, got[1].ID).Result()
	if len(raw) != 1 || len(raw[0].Values) != 1 || raw[0].Values[entryField] == nil {
		t.Errorf("stored answer = %v; want one packed field", raw)
	}
}

func testEntryClockBehind(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	t0 := time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)
	clock := &testClock{t: t0}
	s = clockStore(s, clock)
	b, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM1", "one"))
	if err != nil {
		t.Fatal(err)
	}
	// Another process's clock, 5 s behind, writes next.
	clock.Set(t0.Add(-5 * time.Second))
	if _, err := s.Apply(ctx, c.ID, b.Pending[0].ID, nil, []Event{{"t", "nudged", "conv", "occ1"}, {"t", "nudged", "conv", "occ2"}}); err != nil {
		t.Fatal(err)
	}
	got := timeline(t, s, c.ID)
	if len(got) != 3 {
		t.Fatalf("timeline = %+v; want 3 entries", got)
	}
	if !(got[0].ID < got[1].ID && got[1].ID < got[2].ID) {
		t.Errorf("ids %s, %s, %s: not increasing", got[0].ID, got[1].ID, got[2].ID)
	}
	if !got[0].At.Equal(t0) || !got[1].At.Equal(t0.Add(-5*time.Second)) || !got[2].At.Equal(t0.Add(-5*time.Second)) {
		t.Errorf("at = %v, %v, %v; want each entry's own clock", got[0].At, got[1].At, got[2].At)
	}
	if got[2].Fields["conv"] != "occ2" {
		t.Errorf("last entry = %+v; want occ2", got[2])
	}
}

func testAnswerTextByReference(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	b, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM1", "  went to the park  "))
	if err != nil {
		t.Fatal(err)
	}
	id := b.Pending[0].ID
	if _, err := s.Apply(ctx, c.ID, id, nil, []Event{{"t", "answer", "conv", "occ1", "q", "daily-mood", "question", "note", "msg", id}}); err != nil {
		t.Fatal(err)
	}
	got := timeline(t, s, c.ID)
	if len(got) != 2 || got[1].Fields["text"] != "went to the park" || got[1].Fields["msg"] != id {
		t.Fatalf("timeline = %+v; want the answer with its message's text, trimmed", got)
	}
	// A page that starts after the message still shows the text.
	page, err := s.Timeline(ctx, c.ID, time.Time{}, time.Time{}, id, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Fields["text"] != "went to the park" {
		t.Errorf("page after the message = %+v; want the answer with its text", page.Items)
	}
}

func testFlatEntries(t *testing.T, s *Store) {
	ctx := t.Context()
	_, c := seedClient(t, s)
	// Written as the scripts wrote them before entries were packed.
	id, err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: keyTimeline(c.ID), Values: []any{"t", "in", "at", "1780326001154", "ch", "sms", "k", "text", "pid", "SM5", "x", "7"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	got := timeline(t, s, c.ID)
	want := map[string]string{"ch": "sms", "k": "text", "pid": "SM5", "x": "7"}
	if len(got) != 1 || got[0].ID != id || got[0].Type != "in" || !maps.Equal(got[0].Fields, want) || got[0].At.UnixMilli() != 1780326001154 {
		t.Errorf("flat entry read as %+v; want in %v at 1780326001154", got, want)
	}
	msgs, err := s.messages(ctx, c.ID, []string{id})
	if err != nil || len(msgs) != 1 || msgs[0].Text != "7" || msgs[0].ProviderID != "SM5" {
		t.Errorf("flat message = %+v, %v; want its text and provider id", msgs, err)
	}
}

func testSendRetention(t *testing.T, s *Store) {
	ctx := t.Context()
	_, cluster := s.rdb.(*redis.ClusterClient)
	if err := s.MarkSent(ctx, "q:cl_r:occ:1", "SMroutine", []byte(`{}`), nil, true); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, "esc:es_1:step:0:cm_1", "SMalert", []byte(`{}`), nil, false); err != nil {
		t.Fatal(err)
	}
	ttl := func(key string) time.Duration { return s.rdb.PTTL(ctx, key).Val() }
	wantSent := routineSentTTL
	if cluster {
		wantSent = sentTTL // an item may sit pending through an outage there
	}
	for _, c := range []struct {
		key  string
		want time.Duration
	}{
		{keySent("q:cl_r:occ:1"), wantSent}, {keyPID("SMroutine"), routineJobTTL}, {keyJob("q:cl_r:occ:1"), routineJobTTL},
		{keySent("esc:es_1:step:0:cm_1"), sentTTL}, {keyPID("SMalert"), sentTTL}, {keyJob("esc:es_1:step:0:cm_1"), jobTTL},
	} {
		if got := ttl(c.key); got <= c.want-time.Minute || got > c.want {
			t.Errorf("TTL of %s = %v; want %v", c.key, got, c.want)
		}
	}
	// Within its time the marker still stops a second send.
	if n, _, err := s.ClaimSend(ctx, "q:cl_r:occ:1", time.Minute); err != nil || n != SendDone {
		t.Errorf("claim after sent = %d, %v; want SendDone", n, err)
	}
}

func testRecordsRoundTrip(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	got, err := s.Client(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.AgencyID != a.ID || got.Name != c.Name || !got.Created.Equal(c.Created) || !got.Updated.Equal(c.Updated) || got.Consent == nil {
		t.Errorf("client read back = %+v; want %+v", got, c)
	}
	raw := s.rdb.Get(ctx, keyClient(c.ID)).Val()
	for _, absent := range []string{`"id"`, `"opted_out"`, `"updated_at"`} {
		if strings.Contains(raw, absent) {
			t.Errorf("stored client %s holds %s", raw, absent)
		}
	}
	upd := *got
	upd.OptedOut = true
	if err := s.UpdateClient(ctx, got, &upd); err != nil {
		t.Fatal(err)
	}
	page, err := s.Clients(ctx, a.ID, "", 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != c.ID || !page.Items[0].OptedOut || !page.Items[0].Updated.Equal(upd.Updated) {
		t.Errorf("clients after update = %+v, %v; want the client opted out, updated", page.Items, err)
	}
	sc := &Schedule{ClientID: c.ID, AgencyID: a.ID, Questionnaire: "daily-mood", RRule: "FREQ=DAILY", Start: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), Timezone: "America/Chicago"}
	if err := s.SaveSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	one, err := s.ClientSchedule(ctx, c.ID, sc.ID)
	if err != nil || one.ID != sc.ID || one.ClientID != c.ID || one.AgencyID != a.ID || one.RRule != sc.RRule {
		t.Errorf("schedule read back = %+v, %v; want %+v", one, err, sc)
	}
	all, err := s.Schedules(ctx, c.ID)
	if err != nil || len(all) != 1 || all[0].ID != sc.ID || all[0].ClientID != c.ID {
		t.Errorf("schedules = %+v, %v; want the one with its id and client", all, err)
	}
	raw = s.rdb.Get(ctx, keySched(c.ID)).Val()
	for _, absent := range []string{`"client_id"`, `"agency_id"`, a.ID, `"c"`, `"created_at"`} {
		if strings.Contains(raw, absent) {
			t.Errorf("stored schedules %s hold %s", raw, absent)
		}
	}
	// A second schedule, then a pause of the first: each save keeps the other.
	sc2 := &Schedule{ClientID: c.ID, AgencyID: a.ID, Questionnaire: "phq9", RRule: "FREQ=WEEKLY", Timezone: "UTC",
		Start: time.Date(2026, 6, 1, 10, 30, 0, 0, time.UTC), Until: ptr(time.Date(2026, 9, 1, 0, 0, 0, 0, time.FixedZone("", 2*3600)))}
	if err := s.SaveSchedule(ctx, sc2); err != nil {
		t.Fatal(err)
	}
	one.Paused = true
	if err := s.SaveSchedule(ctx, one); err != nil {
		t.Fatal(err)
	}
	all, err = s.Schedules(ctx, c.ID)
	if err != nil || len(all) != 2 {
		t.Fatalf("schedules = %+v, %v; want two", all, err)
	}
	for _, want := range []*Schedule{one, sc2} {
		got, err := s.ClientSchedule(ctx, c.ID, want.ID)
		if err != nil || !sameJSON(t, got, want) {
			t.Errorf("schedule %s read back as %s, %v; want %s", want.ID, asJSON(t, got), err, asJSON(t, want))
		}
	}
	if _, err := s.ClientSchedule(ctx, c.ID, "sc_none"); err != ErrNotFound {
		t.Errorf("unknown schedule: err = %v; want ErrNotFound", err)
	}
}

// testConcurrentScheduleSaves: a client's schedules share one string, so
// saves read, change and write it; one saved meanwhile must not be lost.
func testConcurrentScheduleSaves(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.SaveSchedule(ctx, &Schedule{ClientID: c.ID, AgencyID: a.ID, Questionnaire: "daily-mood", RRule: "FREQ=DAILY",
				Start: time.Date(2026, 6, 1, 8+i, 0, 0, 0, time.UTC), Timezone: "UTC"})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("save %d: %v", i, err)
		}
	}
	if all, err := s.Schedules(ctx, c.ID); err != nil || len(all) != n {
		t.Errorf("schedules = %d, %v; want %d", len(all), err, n)
	}
}

func ptr[T any](v T) *T { return &v }

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameJSON reports whether a and b show alike through the API (which
// encodes these records as JSON).
func sameJSON(t *testing.T, a, b any) bool { t.Helper(); return asJSON(t, a) == asJSON(t, b) }

// The bench's client and schedule (bench --phases memory) as stored: the
// client was 338 bytes (a 384-byte allocation), the schedule 220 in a
// hashtable-encoded hash (488 bytes of MEMORY USAGE in all).
func TestRecordSizes(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 14, 0, 0, 123_000_000, time.UTC)
	c := &Client{ID: NewID("cl", now), AgencyID: NewID("ag", now), Name: "Bench Client", Phone: "+13125550123", Channel: "sms",
		Timezone: "America/Chicago", Language: "en", CaseManagerID: NewID("cm", now), Status: StatusActive,
		Consent: &Consent{At: now.Add(-24*time.Hour + 456_789), Method: "written"}, Created: now, Updated: now} // the bench's consent time has nanoseconds
	if b, err := encodeClient(c); err != nil || len(b) > 220 {
		t.Errorf("stored client is %d bytes: %s, %v; want ≤ 220", len(b), b, err)
	}
	// Every status reads back, the default left out included.
	for _, st := range []string{StatusActive, StatusPaused, StatusDischarged, ""} {
		c.Status = st
		b, err := encodeClient(c)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeClient(b, c.ID); err != nil || got.Status != st {
			t.Errorf("status %q read back as %q, %v (stored %s)", st, got.Status, err, b)
		}
	}
	sc := &Schedule{ID: NewID("sc", now), Questionnaire: "daily-mood", RRule: "FREQ=DAILY", Start: time.Date(2026, 6, 1, 10, 0, 0, 0, chicago),
		Timezone: "America/Chicago", Created: now}
	if b, err := json.Marshal(map[string]scheduleRecord{sc.ID: newScheduleRecord(sc)}); err != nil || len(b) > 120 {
		t.Errorf("stored schedules are %d bytes: %s, %v; want ≤ 120", len(b), b, err)
	}
}

func TestStampKeepsTheTimeAsGiven(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 6, 1, 15, 0, 0, 123_000_000, time.UTC), `1780326000123`},
		{time.Date(2026, 6, 1, 10, 0, 0, 0, chicago), `[1780326000000,-18000]`},
		{time.Date(2026, 6, 1, 15, 0, 0, 123_456_789, time.UTC), `[1780326000123,0,456789]`},
		{time.Date(2026, 6, 1, 16, 0, 0, 1, time.FixedZone("", 3600)), `[1780326000000,3600,1]`},
		{time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC), `[-1,0,999999]`},
		{time.Time{}, `-62135596800000`},
	} {
		b, err := json.Marshal(stamp{c.t})
		if err != nil || string(b) != c.want {
			t.Errorf("stamp of %v = %s, %v; want %s", c.t, b, err, c.want)
		}
		var back stamp
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		// What the API shows: RFC 3339 with the offset given.
		if g, w := asJSON(t, back.t), asJSON(t, c.t); g != w {
			t.Errorf("stamp %s read back as %s; want %s", b, g, w)
		}
	}
}

// The embedded server (serve and demo without REDIS_URL) runs the same
// scripts on another Lua: the compact timeline must read back there too.
func TestCompactStorageOnEmbedded(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	for _, sc := range memoryScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			mr.FlushAll()
			sc.run(t, New(rdb, nil))
		})
	}
}
