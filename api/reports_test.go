package api_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/detect"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
	"github.com/carecheck/carecheck/webhooks"
)

// testClock is a service clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// serviceHarness is the API and the product engines on real Redis with an
// injected clock: check-ins are started and timed out as the runner would,
// answers arrive through the inbox as SMS do, crises go through the
// escalation service.
type serviceHarness struct {
	*harness
	clock *testClock
	st    *store.Store
	esc   *escalation.Service
	rooms *conversations.Rooms
	hooks *webhooks.Service
	sids  atomic.Int64
	occs  atomic.Int64
}

// newServiceHarness starts the harness; observe, when given, is the
// store's observer instead of the running webhook service (then not run:
// as if the process died after each record).
func newServiceHarness(t *testing.T, start time.Time, observe ...func(*webhooks.Service) store.Observer) *serviceHarness {
	t.Helper()
	rs := redistest.New(t)
	rdb := rs.Client(t)
	clock := &testClock{t: start}
	st := store.New(rdb, clock.Now)
	hooks := webhooks.New(st, nil, nil)
	if len(observe) > 0 {
		st.SetObserver(observe[0](hooks))
	} else {
		st.SetObserver(hooks)
		go hooks.Run(t.Context())
	}
	det, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	ob := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: okSender{}}, bot.Pacing{}, nil, nil)
	esc := escalation.NewService(st, ob, nil, nil)
	rooms := conversations.New(conversations.Deps{Store: st, Screen: escalation.NewScreener(det), Escalations: esc, Outbox: ob})
	logs := &lockedBuffer{}
	h := newServer(t, api.Deps{
		Store: st, Log: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry(), OperatorToken: operator, Now: clock.Now,
		Services: api.Services{Escalations: esc, Checkins: rooms.Checkins, Appointments: rooms.Appointments},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &serviceHarness{harness: &harness{t: t, url: srv.URL, logs: logs, rdb: rdb}, clock: clock, st: st, esc: esc, rooms: rooms, hooks: hooks}
}

// checkin starts a check-in of a client now, as the runner does for a due
// occurrence, and returns its conversation id.
func (h *serviceHarness) checkin(client, questionnaire string) string {
	h.t.Helper()
	c, err := h.st.Client(h.t.Context(), client)
	if err != nil {
		h.t.Fatal(err)
	}
	occ := fmt.Sprintf("now:test-%d", h.occs.Add(1))
	w := conversations.Work{Kind: conversations.WorkCheckin, Client: c.ID, Agency: c.AgencyID, Questionnaire: questionnaire, Occurrence: occ, Due: h.clock.Now()}
	if err := h.rooms.Checkins.HandleCheckin(h.t.Context(), w); err != nil {
		h.t.Fatalf("start check-in: %v", err)
	}
	return occ
}

// texts sends SMS from a phone, one a minute.
func (h *serviceHarness) texts(phone string, texts ...string) {
	h.t.Helper()
	for _, text := range texts {
		h.clock.Advance(time.Minute)
		in := bot.Inbound{Channel: bot.SMS, Kind: bot.KindText, From: phone, ProviderID: fmt.Sprintf("SM%032d", h.sids.Add(1)), Text: text}
		if err := h.rooms.Inbox.Receive(h.t.Context(), in); err != nil {
			h.t.Fatalf("receive %q: %v", text, err)
		}
	}
}

// unanswered lets a check-in's question time out twice: the nudge, then missed.
func (h *serviceHarness) unanswered(client, agency, conv string) {
	h.t.Helper()
	for range 2 {
		h.clock.Advance(4 * time.Hour)
		w := conversations.Work{Kind: conversations.WorkTimeout, Client: client, Agency: agency, Conv: conv, Seq: 1}
		if err := h.rooms.Checkins.HandleTimeout(h.t.Context(), w); err != nil {
			h.t.Fatalf("timeout: %v", err)
		}
	}
}

// crisis raises a crisis for a client now, as the inbox does for a crisis SMS.
func (h *serviceHarness) crisis(agency, client string) string {
	h.t.Helper()
	ctx := h.t.Context()
	a, err := h.st.Agency(ctx, agency)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := h.st.Client(ctx, client)
	if err != nil {
		h.t.Fatal(err)
	}
	e, err := h.esc.Raise(ctx, a, c, escalation.Signal{Level: escalation.Crisis, Reasons: []string{"crisis language"}}, "client:"+c.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return e.ID
}

// day is 10:00 in Chicago on a day of July 2026 (day 0: 30 June).
func day(n int) time.Time { return time.Date(2026, 7, 1, 15, 0, 0, 0, time.UTC).AddDate(0, 0, n-1) }

// The reports of one agency after a scripted month: check-ins answered and
// missed through the real engines, two crises acknowledged through the API
// (one after climbing to the backup), a PHQ-9 that worsened; another
// agency's month never shows.
func TestReportsAfterAScriptedMonth(t *testing.T) {
	h := newServiceHarness(t, day(0).Add(-24*time.Hour))
	agency, key := h.agency("North")
	agencyB, keyB := h.agency("South")
	ana := h.caseManager(key, "Ana Alvarez", "+13125550101")
	code, bea := h.do("POST", "/v1/case-managers", key, map[string]any{"name": "Bea Brown", "phone": "+13125550102", "backup_id": ana})
	if code != 201 {
		t.Fatalf("create Bea = %d %v", code, bea)
	}
	beaID := bea["id"].(string)
	c1 := h.client(key, ana, "Cara One", "+13125550201")
	c2 := h.client(key, ana, "Cy Two", "+13125550202")
	c3 := h.client(key, beaID, "Cleo Three", "+13125550203")
	oz := h.caseManager(keyB, "Oz Other", "+13125550301")
	cb := h.client(keyB, oz, "Cass B", "+13125550204")

	// 30 June: a check-in before the period.
	h.clock.Set(day(0))
	h.checkin(c1, "daily-mood")
	h.texts("+13125550201", "6", "ok")
	// 1 July: Cara answers; 2 July: she does not.
	h.clock.Set(day(1))
	h.checkin(c1, "daily-mood")
	h.texts("+13125550201", "7", "skip")
	h.clock.Set(day(2))
	conv := h.checkin(c1, "daily-mood")
	h.unanswered(c1, agency, conv)
	// 3 and 20 July: Cy's PHQ-9 goes from 6 (mild) to 11 (moderate).
	h.clock.Set(day(3))
	h.checkin(c2, "phq9")
	h.texts("+13125550202", "1", "1", "1", "1", "1", "1", "0", "0", "0")
	h.clock.Set(day(20))
	h.checkin(c2, "phq9")
	h.texts("+13125550202", "2", "2", "2", "2", "1", "1", "1", "0", "0")
	// 4 July: Leo answers.
	h.clock.Set(day(4))
	h.checkin(c3, "daily-mood")
	h.texts("+13125550203", "8", "good day")
	// The other agency's client answers and is in crisis in July too.
	h.clock.Set(day(5))
	h.checkin(cb, "daily-mood")
	h.texts("+13125550204", "5", "meh")
	h.crisis(agencyB, cb)

	// 6 July: a crisis for Cara, acknowledged by Ana after 4 minutes.
	h.clock.Set(day(6))
	e1 := h.crisis(agency, c1)
	h.clock.Advance(4 * time.Minute)
	if code, out := h.do("POST", "/v1/escalations/"+e1+"/ack", key, map[string]any{"by": ana}); code != 200 {
		t.Fatalf("ack e1 = %d %v", code, out)
	}
	// 7 July: a crisis for Leo climbs to Ana (Bea's backup) after 10
	// minutes; Ana acknowledges 15 minutes later.
	h.clock.Set(day(7))
	e2 := h.crisis(agency, c3)
	h.clock.Advance(10 * time.Minute)
	if err := h.esc.HandleStep(t.Context(), escalation.StepWork{Kind: escalation.StepKind, Agency: agency, ID: e2, Round: 0, Step: 1}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(15 * time.Minute)
	if code, out := h.do("POST", "/v1/escalations/"+e2+"/ack", key, map[string]any{"by": ana}); code != 200 {
		t.Fatalf("ack e2 = %d %v", code, out)
	}
	// 8 July: one nobody has acknowledged yet.
	h.clock.Set(day(8))
	h.crisis(agency, c2)
	h.clock.Set(day(40))

	q := "?from=2026-07-01&to=2026-07-31"
	code, ci := h.do("GET", "/v1/reports/checkins"+q, key, nil)
	if code != 200 {
		t.Fatalf("checkins report = %d %v", code, ci)
	}
	if g, w := fmt.Sprint(ci["period"]), "map[from:2026-07-01 timezone:America/Chicago to:2026-07-31]"; g != w {
		t.Errorf("period = %s; want %s", g, w)
	}
	tot := ci["totals"].(map[string]any)
	if g, w := fmt.Sprint(tot["sent"], " ", tot["answered"], " ", tot["missed"], " ", tot["response_rate"]), "5 4 1 0.8"; g != w {
		t.Errorf("totals sent answered missed rate = %s; want %s (%v)", g, w, tot)
	}
	rows := map[string]string{}
	for _, c := range ci["clients"].([]any) {
		c := c.(map[string]any)
		rows[c["client_id"].(string)] = fmt.Sprint(c["sent"], " ", c["answered"], " ", c["missed"], " ", c["response_rate"])
	}
	for id, want := range map[string]string{c1: "2 1 1 0.5", c2: "2 2 0 1", c3: "1 1 0 1"} {
		if rows[id] != want {
			t.Errorf("client %s: sent answered missed rate = %q; want %q", id, rows[id], want)
		}
	}
	if _, ok := rows[cb]; ok || len(rows) != 3 {
		t.Errorf("clients = %v; want the agency's three, never another agency's", rows)
	}
	var cms []string
	for _, c := range ci["case_managers"].([]any) {
		c := c.(map[string]any)
		cms = append(cms, fmt.Sprint(c["name"], ": ", c["clients"], " clients ", c["sent"], " sent ", c["answered"], " answered ", c["response_rate"]))
	}
	if g, w := strings.Join(cms, "; "), "Ana Alvarez: 2 clients 4 sent 3 answered 0.75; Bea Brown: 1 clients 1 sent 1 answered 1"; g != w {
		t.Errorf("per case manager = %s; want %s", g, w)
	}

	code, er := h.do("GET", "/v1/reports/escalations"+q, key, nil)
	if code != 200 {
		t.Fatalf("escalations report = %d %v", code, er)
	}
	et := er["totals"].(map[string]any)
	if g, w := fmt.Sprint(et["opened"], " ", et["acknowledged"], " ", et["unacknowledged"], " ", et["median_ack_seconds"], " ", et["p90_ack_seconds"]), "3 2 1 870 1500"; g != w {
		t.Errorf("escalation totals opened acked unacked median p90 = %s; want %s (%v)", g, w, et)
	}
	var steps []string
	for _, s := range er["steps"].([]any) {
		s := s.(map[string]any)
		steps = append(steps, fmt.Sprint("step ", s["step"], ": ", s["opened"], " opened, median ", s["median_ack_seconds"]))
	}
	if g, w := strings.Join(steps, "; "), "step 1: 2 opened, median 240; step 2: 1 opened, median 1500"; g != w {
		t.Errorf("per step = %s; want %s", g, w)
	}
	cms = nil
	for _, c := range er["case_managers"].([]any) {
		c := c.(map[string]any)
		cms = append(cms, fmt.Sprint(c["name"], ": ", c["opened"], " opened ", c["acknowledged"], " acked, median ", c["median_ack_seconds"]))
	}
	if g, w := strings.Join(cms, "; "), "Ana Alvarez: 2 opened 1 acked, median 240; Bea Brown: 1 opened 1 acked, median 1500"; g != w {
		t.Errorf("per case manager = %s; want %s", g, w)
	}

	code, wr := h.do("GET", "/v1/reports/worsening"+q, key, nil)
	if code != 200 {
		t.Fatalf("worsening report = %d %v", code, wr)
	}
	list := wr["clients"].([]any)
	if len(list) != 1 {
		t.Fatalf("worsened = %v; want Cy's PHQ-9 alone", list)
	}
	w := list[0].(map[string]any)
	first, last := w["first"].(map[string]any), w["last"].(map[string]any)
	if g, want := fmt.Sprint(w["client_id"] == c2, " ", w["instrument"], " ", first["total"], " ", first["band"], " → ", last["total"], " ", last["band"], " ", w["change"], " ", w["band_up"]),
		"true phq9 6 mild → 11 moderate 5 true"; g != want {
		t.Errorf("worsened = %s; want %s", g, want)
	}

	// The other agency sees its own month only.
	_, ciB := h.do("GET", "/v1/reports/checkins"+q, keyB, nil)
	if g := fmt.Sprint(ciB["totals"].(map[string]any)["sent"], " ", len(ciB["clients"].([]any))); g != "1 1" {
		t.Errorf("agency B: sent, clients = %s; want 1 1", g)
	}
	_, erB := h.do("GET", "/v1/reports/escalations"+q, keyB, nil)
	if g := fmt.Sprint(erB["totals"].(map[string]any)["opened"]); g != "1" {
		t.Errorf("agency B: escalations opened = %s; want 1", g)
	}
	// June alone: the check-in of 30 June, answered.
	_, june := h.do("GET", "/v1/reports/checkins?from=2026-06-01&to=2026-06-30", key, nil)
	if g := fmt.Sprint(june["totals"].(map[string]any)["sent"], " ", june["totals"].(map[string]any)["answered"]); g != "1 1" {
		t.Errorf("June: sent answered = %s; want 1 1", g)
	}
}

func TestReportsRefuseBadPeriods(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("North")
	for _, path := range []string{"/v1/reports/checkins", "/v1/reports/escalations", "/v1/reports/worsening"} {
		for _, tc := range []struct{ query, want string }{
			{"", "from: required"},
			{"?from=2026-07-01", "to: required"},
			{"?from=2026-07-01&to=31/07/2026", `to: "31/07/2026" is not a date`},
			{"?from=2026-07-31&to=2026-07-01", "to: before from"},
			{"?from=2024-01-01&to=2026-01-01", "to: the period is over 366 days"},
			{"?from=2026-07-01&to=2026-07-31&agency=other", "agency: unknown parameter"},
		} {
			code, out := h.do("GET", path+tc.query, key, nil)
			if msg, _ := out["error"].(string); code != 400 || !strings.HasPrefix(msg, tc.want) {
				t.Errorf("GET %s%s = %d %v; want 400 %q", path, tc.query, code, out, tc.want)
			}
		}
		if code, _ := h.do("GET", path+"?from=2026-07-01&to=2026-07-31", "", nil); code != 401 {
			t.Errorf("GET %s without a key = %d; want 401", path, code)
		}
		code, out := h.do("GET", path+"?from=2026-07-01&to=2026-07-31", key, nil)
		if code != 200 {
			t.Errorf("GET %s of an empty agency = %d %v; want 200", path, code, out)
		}
	}
}
