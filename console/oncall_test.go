package console_test

import (
	"html"
	"net/http"
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
