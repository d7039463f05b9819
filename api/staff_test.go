package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

type okSender struct{}

func (okSender) Send(context.Context, bot.Outbound) (string, error) { return "SM1", nil }

// staffHarness is the API with the escalation service wired, on real
// Redis, with the store at hand to raise a crisis as the inbox does.
type staffHarness struct {
	*harness
	st  *store.Store
	esc *escalation.Service
}

func newStaffHarness(t *testing.T) *staffHarness {
	t.Helper()
	rs := redistest.New(t)
	rdb := rs.Client(t)
	st := store.New(rdb, nil)
	ob := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: okSender{}}, bot.Pacing{}, nil, nil)
	esc := escalation.NewService(st, ob, nil, nil)
	rooms := conversations.New(conversations.Deps{Store: st, Escalations: esc, Outbox: ob})
	logs := &lockedBuffer{}
	h := newServer(t, api.Deps{
		Store: st, Log: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry(), OperatorToken: operator,
		Services: api.Services{Escalations: esc, Checkins: rooms.Checkins, Appointments: rooms.Appointments},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &staffHarness{harness: &harness{t: t, url: srv.URL, logs: logs, rdb: rdb}, st: st, esc: esc}
}

// crisis raises a crisis for a client as the inbox does for a crisis SMS.
func (h *staffHarness) crisis(agency, client string) string {
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

// A case manager's phone, backup, hours and name change as at creation
// (same validation), and a backup must be another active case manager of
// the agency; another agency's case manager is 404.
func TestPatchCaseManager(t *testing.T) {
	h := newStaffHarness(t)
	_, key := h.agency("North")
	_, keyB := h.agency("South")
	ana := h.caseManager(key, "Ana", "+13125550101")
	bo := h.caseManager(key, "Bo", "+13125550102")
	other := h.caseManager(keyB, "Oz", "+13125550109")

	code, out := h.do("PATCH", "/v1/case-managers/"+ana, key, map[string]any{
		"name": "Ana María", "phone": "+1 312 555 0103", "backup_id": bo,
		"working_hours": map[string]any{"start": "08:00", "end": "16:00", "days": []int{1, 2, 3}},
	})
	if code != 200 || out["name"] != "Ana María" || out["phone"] != "+13125550103" || out["backup_id"] != bo {
		t.Fatalf("PATCH = %d %v; want 200 with the new name, phone and backup", code, out)
	}
	if wh := out["working_hours"].(map[string]any); wh["start"] != "08:00" || wh["timezone"] != "America/Chicago" {
		t.Errorf("working_hours = %v; want 08:00 in the agency's zone", wh)
	}
	// The old number is free for someone else; the new one is taken.
	h.caseManager(key, "Cy", "+13125550101")
	if code, out := h.do("POST", "/v1/case-managers", key, map[string]any{"name": "Di", "phone": "+13125550103"}); code != 409 {
		t.Errorf("another person on the new number = %d %v; want 409", code, out)
	}
	bad := []struct {
		label string
		body  map[string]any
		field string
	}{
		{"bad phone", map[string]any{"phone": "+1555"}, "phone"},
		{"blank name", map[string]any{"name": "  "}, "name"},
		{"own backup", map[string]any{"backup_id": ana}, "backup_id"},
		{"another agency's backup", map[string]any{"backup_id": other}, "backup_id"},
		{"no such backup", map[string]any{"backup_id": "cm_nope"}, "backup_id"},
		{"bad hours", map[string]any{"working_hours": map[string]any{"start": "9am", "end": "17:00"}}, "working_hours.start"},
		{"bad day", map[string]any{"working_hours": map[string]any{"start": "09:00", "end": "17:00", "days": []int{8}}}, "working_hours.days"},
		{"unknown field", map[string]any{"colour": "red"}, "colour"},
		{"bad role", map[string]any{"role": "boss"}, "role"},
		{"bad email", map[string]any{"email": "dana at example"}, "email"},
		{"email with a name", map[string]any{"email": "Dana <dana@example.org>"}, "email"},
		{"bad language", map[string]any{"language": "fr"}, "language"},
	}
	for _, tc := range bad {
		code, out := h.do("PATCH", "/v1/case-managers/"+ana, key, tc.body)
		if msg, _ := out["error"].(string); code != 400 || !strings.Contains(msg, tc.field) {
			t.Errorf("%s: %d %v; want 400 naming %s", tc.label, code, out, tc.field)
		}
	}
	if code, _ := h.do("PATCH", "/v1/case-managers/"+ana, keyB, map[string]any{"name": "x"}); code != 404 {
		t.Errorf("another agency's PATCH = %d; want 404", code)
	}
	if code, _ := h.do("DELETE", "/v1/case-managers/"+ana, keyB, nil); code != 404 {
		t.Errorf("another agency's DELETE = %d; want 404", code)
	}
	_, got := h.do("GET", "/v1/case-managers/"+ana, key, nil)
	if got["name"] != "Ana María" || got["phone"] != "+13125550103" {
		t.Errorf("after the refused patches: %v; want the accepted one kept", got)
	}
	// A deactivated backup cannot be chosen.
	h.do("DELETE", "/v1/case-managers/"+bo, key, nil)
	if code, out := h.do("PATCH", "/v1/case-managers/"+ana, key, map[string]any{"backup_id": bo}); code != 400 {
		t.Errorf("deactivated backup = %d %v; want 400", code, out)
	}
}

// A deactivated case manager keeps their record, gets no alert (the crisis
// goes to the next step and the escalation's audit says so), cannot be
// named in a new policy or as a backup, and their clients are listed as
// needing a new case manager until reassigned.
func TestDeactivatedCaseManager(t *testing.T) {
	h := newStaffHarness(t)
	ag, key := h.agency("North")
	_, keyB := h.agency("South")
	bo := h.caseManager(key, "Bo", "+13125550102")
	code, out := h.do("POST", "/v1/case-managers", key, map[string]any{"name": "Ana", "phone": "+13125550101", "backup_id": bo})
	if code != 201 {
		t.Fatalf("create = %d %v", code, out)
	}
	ana := out["id"].(string)
	cl := h.client(key, ana, "Cara", "+13125550103")
	other := h.client(key, bo, "Dee", "+13125550104")
	if code, out := h.do("PUT", "/v1/agency/escalation-policy", key, map[string]any{
		"steps": []map[string]any{{"notify": ana, "wait": "5m"}, {"notify": "backup", "wait": "5m"}}, "repeat": 1}); code != 200 {
		t.Fatalf("policy = %d %v", code, out)
	}

	code, out = h.do("POST", "/v1/case-managers", key, map[string]any{"name": "Cy", "phone": "+13125550106", "backup_id": ana})
	if code != 201 {
		t.Fatalf("create = %d %v", code, out)
	}
	cy := out["id"].(string)

	// Rotations: Ana on the shifts of one, covering tomorrow night on
	// another, on neither shifts nor overrides of a third.
	rotation := func(name string, staff ...string) string {
		t.Helper()
		code, out := h.do("POST", "/v1/rotations", key, map[string]any{"name": name, "staff": staff, "handoff": "daily", "at": "09:00", "start": "2026-10-30"})
		if code != 201 {
			t.Fatalf("create rotation = %d %v", code, out)
		}
		return out["id"].(string)
	}
	nights, weekends := rotation("Nights", bo, ana), rotation("Weekends", bo)
	rotation("Days", bo)
	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Hour)
	if code, out := h.do("POST", "/v1/rotations/"+weekends+"/overrides", key, map[string]any{"staff_id": ana, "start": start, "end": start.Add(12 * time.Hour)}); code != 201 {
		t.Fatalf("override = %d %v", code, out)
	}

	code, out = h.do("DELETE", "/v1/case-managers/"+ana, key, nil)
	if code != 200 || out["active"] != false || out["deactivated_at"] == nil || out["name"] != "Ana" {
		t.Fatalf("DELETE = %d %v; want 200, inactive, record kept", code, out)
	}
	if fmt.Sprint(out["backup_of"]) != "["+cy+"]" || fmt.Sprint(out["policy_steps"]) != "[1]" {
		t.Errorf("DELETE says backup_of %v, policy_steps %v; want [%s] and [1] (what still names her)", out["backup_of"], out["policy_steps"], cy)
	}
	// Listed by id; two rotations made in one millisecond have ids in either order.
	want := []string{nights, weekends}
	slices.Sort(want)
	if got, want := fmt.Sprint(out["rotations"]), fmt.Sprint(want); got != want {
		t.Errorf("DELETE says rotations %v; want %v (her shifts, her override)", got, want)
	}
	if code, again := h.do("DELETE", "/v1/case-managers/"+ana, key, nil); code != 200 || again["deactivated_at"] != out["deactivated_at"] {
		t.Errorf("second DELETE = %d %v; want 200 and the same record", code, again)
	}
	if code, _ := h.do("GET", "/v1/case-managers/"+ana, key, nil); code != 200 {
		t.Errorf("GET deactivated = %d; want 200 (record kept)", code)
	}
	if code, out := h.do("PATCH", "/v1/case-managers/"+ana, key, map[string]any{"name": "x"}); code != 409 {
		t.Errorf("PATCH deactivated = %d %v; want 409", code, out)
	}

	// The crisis: the policy's first step names Ana; Bo (the backup step) is alerted.
	esc := h.crisis(ag, cl)
	code, e := h.do("GET", "/v1/escalations/"+esc, key, nil)
	if code != 200 {
		t.Fatalf("GET escalation = %d %v", code, e)
	}
	audit := fmt.Sprint(e["audit"])
	if !strings.Contains(audit, ana+" is deactivated: step skipped") {
		t.Errorf("audit = %s; want %q", audit, ana+" is deactivated: step skipped")
	}
	if !strings.Contains(audit, "to "+bo+" by sms") {
		t.Errorf("audit = %s; want the alert sent to the backup %s", audit, bo)
	}
	if strings.Contains(audit, "to "+ana) {
		t.Errorf("audit = %s; an alert went to the deactivated %s", audit, ana)
	}
	if code, _ := h.do("GET", "/v1/escalations/"+esc, keyB, nil); code != 404 {
		t.Errorf("another agency GET escalation = %d; want 404", code)
	}

	// New policies and client assignments cannot name her.
	if code, out := h.do("PUT", "/v1/agency/escalation-policy", key, map[string]any{
		"steps": []map[string]any{{"notify": ana, "wait": "5m"}}}); code != 400 {
		t.Errorf("policy naming a deactivated person = %d %v; want 400", code, out)
	}
	if code, out := h.do("POST", "/v1/clients", key, map[string]any{"name": "E", "phone": "+13125550105", "channel": "sms",
		"timezone": "America/Chicago", "case_manager_id": ana}); code != 400 {
		t.Errorf("client assigned to a deactivated person = %d %v; want 400", code, out)
	}

	// Her client needs a new case manager; Bo's does not.
	code, out = h.do("GET", "/v1/clients?needs_case_manager=true", key, nil)
	if list := out["clients"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != cl {
		t.Errorf("needs_case_manager list = %d %v; want only %s", code, out, cl)
	}
	if _, c := h.do("GET", "/v1/clients/"+cl, key, nil); c["needs_case_manager"] != true {
		t.Errorf("client %s needs_case_manager = %v; want true", cl, c["needs_case_manager"])
	}
	if _, c := h.do("GET", "/v1/clients/"+other, key, nil); c["needs_case_manager"] != false {
		t.Errorf("client %s needs_case_manager = %v; want false", other, c["needs_case_manager"])
	}
	if _, out := h.do("GET", "/v1/clients?needs_case_manager=true", keyB, nil); len(out["clients"].([]any)) != 0 {
		t.Errorf("another agency's needs_case_manager list = %v; want empty", out)
	}
	if code, _ := h.do("GET", "/v1/clients?needs_case_manager=maybe", key, nil); code != 400 {
		t.Errorf("needs_case_manager=maybe = %d; want 400", code)
	}
	// Reassigned: no longer listed.
	if code, c := h.do("PATCH", "/v1/clients/"+cl, key, map[string]any{"case_manager_id": bo}); code != 200 || c["needs_case_manager"] != false {
		t.Errorf("reassign = %d %v; want 200, needs_case_manager false", code, c)
	}
	if _, out := h.do("GET", "/v1/clients?needs_case_manager=true", key, nil); len(out["clients"].([]any)) != 0 {
		t.Errorf("after reassigning: %v; want none", out)
	}
}

// The needs_case_manager list pages like every other list.
func TestNeedsCaseManagerPages(t *testing.T) {
	h := newStaffHarness(t)
	_, key := h.agency("North")
	ana := h.caseManager(key, "Ana", "+13125550101")
	bo := h.caseManager(key, "Bo", "+13125550102")
	var want []string
	for i := range 5 {
		want = append(want, h.client(key, ana, "C", fmt.Sprintf("+131255502%02d", i)))
		h.client(key, bo, "D", fmt.Sprintf("+131255503%02d", i))
	}
	h.do("DELETE", "/v1/case-managers/"+ana, key, nil)
	// The list is by id, and ids made in one millisecond sort either way.
	slices.Sort(want)
	var got []string
	cursor := ""
	for range 5 {
		_, out := h.do("GET", "/v1/clients?needs_case_manager=true&limit=2&cursor="+cursor, key, nil)
		for _, c := range out["clients"].([]any) {
			got = append(got, c.(map[string]any)["id"].(string))
		}
		cursor, _ = out["next"].(string)
		if cursor == "" {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged list = %v; want %v", got, want)
	}
}
