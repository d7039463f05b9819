package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConsoleOnCallPage: any signed-in staff member sees who is on call in
// each of the agency's rotations now, since when, and the next hand-offs
// with overrides marked, in the agency's zone; another agency's rotations
// never show; an agency without rotations is told how to make one.
func TestConsoleOnCallPage(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	cora, cm := h.newStaff(key, "Cora Night", "cora@example.org", "case_manager")
	dev := h.staffMember(key, "Dev Day", "dev@example.org", "case_manager")

	if p := cm.get("/console/on-call"); p.Status != http.StatusOK || !strings.Contains(p.Body, "No on-call rotations yet") {
		t.Fatalf("on-call page without rotations = %d; want 200 saying how to make one", p.Status)
	}

	loc, _ := time.LoadLocation("America/Chicago")
	now := h.clock.Now().In(loc)
	day := func(d int) time.Time { y, m, dd := now.Date(); return time.Date(y, m, dd+d, 0, 0, 0, 0, loc) }
	code, out := h.api("POST", "/v1/rotations", key, map[string]any{"name": "Crisis line", "staff": []string{cora, dev},
		"handoff": "daily", "at": "00:00", "start": day(-4).Format("2006-01-02")})
	if code != 201 {
		t.Fatalf("create rotation = %d %v", code, out)
	}
	rot := out["id"].(string)
	if code, out := h.api("POST", "/v1/rotations/"+rot+"/overrides", key, map[string]any{"staff_id": cora,
		"start": day(1).Add(12 * time.Hour).Format(time.RFC3339), "end": day(1).Add(18 * time.Hour).Format(time.RFC3339)}); code != 201 {
		t.Fatalf("add override = %d %v", code, out)
	}
	_, keyB := h.agency("Southside")
	sam := h.staffMember(keyB, "Sam South", "sam@example.org", "case_manager")
	if code, out := h.api("POST", "/v1/rotations", keyB, map[string]any{"name": "South line", "staff": []string{sam},
		"handoff": "weekly", "at": "09:00", "start": day(-1).Format("2006-01-02")}); code != 201 {
		t.Fatalf("create B rotation = %d %v", code, out)
	}

	p := cm.get("/console/on-call")
	body := html.UnescapeString(p.Body)
	shown := func(t time.Time) string { return t.Format("Mon 2006-01-02 15:04") }
	for _, want := range []string{
		"Crisis line",
		"On call now: <strong>Cora Night</strong>, since <time datetime=\"" + day(0).Format(time.RFC3339) + "\">" + shown(day(0)),
		shown(day(1)) + "</time></td><td>Dev Day</td>",
		shown(day(1).Add(12*time.Hour)) + "</time></td><td>Cora Night (override)</td>",
		shown(day(1).Add(18*time.Hour)) + "</time></td><td>Dev Day</td>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("on-call page lacks %q:\n%s", want, body)
		}
	}
	if p.Status != http.StatusOK || strings.Contains(body, "South line") || strings.Contains(body, "Sam South") {
		t.Errorf("on-call page = %d; want 200 without another agency's rotation", p.Status)
	}
	if !strings.Contains(body, `href="/console/on-call"`) {
		t.Errorf("the menu lacks the on-call page")
	}
}

// TestConsoleOnCallOverrides: a supervisor puts someone else on call for a
// night from the on-call page ("Dev covers Thursday night"), as
// POST /v1/rotations/{id}/overrides would: the API shows it, the page lists
// it, the audit names the supervisor, and Remove takes it away. Bad times
// say why and add nothing; a case manager sees no form and gets 403;
// another agency's rotation is 404.
func TestConsoleOnCallOverrides(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	cora, cm := h.newStaff(key, "Cora Night", "cora@example.org", "case_manager")
	dev := h.staffMember(key, "Dev Day", "dev@example.org", "case_manager")
	supID, sup := h.newStaff(key, "Sue Park", "sue@example.org", "supervisor")
	code, out := h.api("POST", "/v1/rotations", key, map[string]any{"name": "Crisis line", "staff": []string{cora},
		"handoff": "weekly", "at": "09:00", "start": "2026-11-02"})
	if code != 201 {
		t.Fatalf("create rotation = %d %v", code, out)
	}
	rot := out["id"].(string)
	overrides := func() []any {
		t.Helper()
		_, out := h.api("GET", "/v1/rotations/"+rot, key, nil)
		list, _ := out["overrides"].([]any)
		return list
	}
	loc, _ := time.LoadLocation("America/Chicago")
	y, m, d := h.clock.Now().In(loc).Date()
	night := time.Date(y, m, d+2, 20, 0, 0, 0, loc)
	form := func(from, to time.Time) url.Values {
		return url.Values{"staff_id": {dev}, "from": {from.Format("2006-01-02T15:04")}, "to": {to.Format("2006-01-02T15:04")}}
	}
	add := "/console/on-call/" + rot + "/overrides"

	if p := cm.get("/console/on-call"); strings.Contains(p.Body, `action="`+add+`"`) {
		t.Errorf("a case manager is offered the override form")
	}
	if p := cm.post(add, form(night, night.Add(12*time.Hour))); p.Status != http.StatusForbidden || len(overrides()) != 0 {
		t.Errorf("a case manager's override = %d; want 403 and nothing added", p.Status)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		says string
	}{
		{"ends before it starts", form(night, night.Add(-time.Hour)), "end: must be after start"},
		{"not a time", url.Values{"staff_id": {dev}, "from": {"thursday night"}, "to": {"friday"}}, "must be a date and a time"},
		{"longer than 31 days", form(night, night.AddDate(0, 0, 40)), "at most 31 days"},
	} {
		p := sup.post(add, tc.form)
		if p.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(flash(p.Body)), tc.says) || len(overrides()) != 0 {
			t.Errorf("%s: = %d %q; want 400 saying %q and nothing added", tc.name, p.Status, flash(p.Body), tc.says)
		}
	}

	if p := sup.post(add, form(night, night.Add(12*time.Hour))); p.Status != http.StatusSeeOther {
		t.Fatalf("add override = %d %q; want 303", p.Status, flash(p.Body))
	}
	list := overrides()
	if len(list) != 1 {
		t.Fatalf("overrides through the API = %v; want Dev's one", list)
	}
	o := list[0].(map[string]any)
	if o["staff_id"] != dev || o["start"] != night.UTC().Format(time.RFC3339) || o["end"] != night.Add(12*time.Hour).UTC().Format(time.RFC3339) {
		t.Errorf("override = %v; want Dev from %v for 12 hours", o, night)
	}
	if a := h.auditActor(key, rot, "changed"); a == nil || a["id"] != supID {
		t.Errorf("the override's audit actor = %v; want the supervisor %s", a, supID)
	}
	page := html.UnescapeString(sup.get("/console/on-call").Body)
	if !strings.Contains(page, "Dev Day: "+night.Format("Mon 2006-01-02 15:04")+" – "+night.Add(12*time.Hour).Format("Mon 2006-01-02 15:04")) {
		t.Errorf("the page does not list Dev's override:\n%s", page)
	}

	remove := "/console/on-call/" + rot + "/overrides/" + o["id"].(string) + "/remove"
	if p := cm.post(remove, nil); p.Status != http.StatusForbidden || len(overrides()) != 1 {
		t.Errorf("a case manager's remove = %d; want 403 and the override kept", p.Status)
	}
	if p := sup.post(remove, nil); p.Status != http.StatusSeeOther || len(overrides()) != 0 {
		t.Errorf("remove = %d, overrides now %v; want 303 and none", p.Status, overrides())
	}

	_, keyB := h.agency("Southside")
	_, supB := h.newStaff(keyB, "Sol Other", "sol@example.org", "supervisor")
	if p := supB.post(add, form(night, night.Add(time.Hour))); p.Status != http.StatusNotFound || len(overrides()) != 0 {
		t.Errorf("another agency's supervisor = %d; want 404 and nothing added", p.Status)
	}
}
