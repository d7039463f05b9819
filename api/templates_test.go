package api_test

import (
	"strings"
	"testing"
)

// A schedule template is an agency's named check-in plan: a client's
// schedule made from it gets its questionnaire and rule, keeps them when
// the template changes, and a bad template changes nothing.
func TestScheduleTemplates(t *testing.T) {
	h := newServiceHarness(t, day(1))
	_, key := h.agency("North")
	_, otherKey := h.agency("South")
	cm := h.caseManager(key, "Ana Alvarez", "+13125550101")
	c := h.client(key, cm, "Cara One", "+13125550201")

	for _, bad := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"weekly-phq9", map[string]any{"questionnaire": "phq9", "rrule": "FREQ=MINUTELY"}, "rrule:"},
		{"weekly-phq9", map[string]any{"questionnaire": "nope", "rrule": "FREQ=WEEKLY"}, "questionnaire: unknown"},
		{"Weekly PHQ9", map[string]any{"questionnaire": "phq9", "rrule": "FREQ=WEEKLY"}, "name:"},
	} {
		code, out := h.do("PUT", "/v1/schedule-templates/"+strings.ReplaceAll(bad.name, " ", "%20"), key, bad.body)
		if code != 400 || !strings.Contains(out["error"].(string), bad.want) {
			t.Errorf("PUT %s %v = %d %v; want 400 %q", bad.name, bad.body, code, out, bad.want)
		}
	}
	if _, out := h.do("GET", "/v1/schedule-templates", key, nil); len(out["schedule_templates"].([]any)) != 0 {
		t.Fatalf("refused templates were saved: %v", out)
	}

	code, out := h.do("PUT", "/v1/schedule-templates/weekly-phq9", key, map[string]any{"questionnaire": "phq9", "rrule": "freq=weekly;byday=mo"})
	if code != 201 || out["rrule"] != "FREQ=WEEKLY;BYDAY=MO" {
		t.Fatalf("PUT template = %d %v; want 201 with the rule in canonical form", code, out)
	}
	if code, _ := h.do("PUT", "/v1/schedule-templates/weekly-phq9", key, map[string]any{"questionnaire": "phq9", "rrule": "FREQ=WEEKLY;BYDAY=MO"}); code != 200 {
		t.Fatalf("PUT again = %d; want 200", code)
	}

	code, sc := h.do("POST", "/v1/clients/"+c+"/schedules", key, map[string]any{"template": "weekly-phq9", "start": "2026-07-06T10:00:00-05:00"})
	if code != 201 || sc["questionnaire"] != "phq9" || sc["rrule"] != "FREQ=WEEKLY;BYDAY=MO" || sc["template"] != "weekly-phq9" {
		t.Fatalf("schedule from template = %d %v", code, sc)
	}
	if code, out := h.do("POST", "/v1/clients/"+c+"/schedules", key, map[string]any{"template": "weekly-phq9", "rrule": "FREQ=DAILY", "start": "2026-07-06T10:00:00-05:00"}); code != 400 {
		t.Errorf("template and rrule = %d %v; want 400", code, out)
	}
	if code, out := h.do("POST", "/v1/clients/"+c+"/schedules", key, map[string]any{"template": "nightly", "start": "2026-07-06T10:00:00-05:00"}); code != 400 || !strings.Contains(out["error"].(string), "template:") {
		t.Errorf("unknown template = %d %v; want 400 naming template", code, out)
	}
	// Another agency neither sees nor uses it.
	if _, out := h.do("GET", "/v1/schedule-templates", otherKey, nil); len(out["schedule_templates"].([]any)) != 0 {
		t.Errorf("another agency sees the template: %v", out)
	}

	// Changing the template leaves the schedule made from it as it was.
	h.do("PUT", "/v1/schedule-templates/weekly-phq9", key, map[string]any{"questionnaire": "phq9", "rrule": "FREQ=WEEKLY;BYDAY=TH"})
	_, list := h.do("GET", "/v1/clients/"+c+"/schedules", key, nil)
	if got := list["schedules"].([]any)[0].(map[string]any); got["rrule"] != "FREQ=WEEKLY;BYDAY=MO" || got["template"] != "weekly-phq9" {
		t.Errorf("schedule after the template changed = %v; want its own copy", got)
	}
	if code, _ := h.do("DELETE", "/v1/schedule-templates/weekly-phq9", key, nil); code != 204 {
		t.Errorf("DELETE = %d; want 204", code)
	}
	_, audit := h.do("GET", "/v1/audit", key, nil)
	n := 0
	for _, e := range audit["audit"].([]any) {
		if e.(map[string]any)["kind"] == "schedule_template" {
			n++
		}
	}
	if n != 3 { // created, changed, deleted; the identical PUT is not a change
		t.Errorf("audit holds %d schedule_template entries; want 3", n)
	}
}
