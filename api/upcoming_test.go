package api_test

import (
	"testing"
	"time"
)

// The preview of a schedule is what the service will send: an occurrence
// in the agency's quiet hours shows at their end, as it is planned, with
// the rule's own time beside it.
func TestUpcomingDefersQuietHoursAsPlanned(t *testing.T) {
	h := newServiceHarness(t, day(1)) // 1 July 2026, 10:00 in Chicago
	_, key := h.agency("North")
	cm := h.caseManager(key, "Ana Alvarez", "+13125550101")
	c := h.client(key, cm, "Cara One", "+13125550201")
	for _, tc := range []struct {
		rule, first, scheduled string
	}{
		{"FREQ=DAILY;BYHOUR=22;BYMINUTE=15", "2026-07-02T08:00:00-05:00", "2026-07-01T22:15:00-05:00"},
		{"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=30", "2026-07-02T09:30:00-05:00", ""}, // 09:30 today has passed
	} {
		code, sc := h.do("POST", "/v1/clients/"+c+"/schedules", key, map[string]any{
			"questionnaire": "daily-mood", "rrule": tc.rule, "start": "2026-07-01T00:00:00-05:00"})
		if code != 201 {
			t.Fatalf("create schedule = %d %v", code, sc)
		}
		sid := sc["id"].(string)
		code, up := h.do("GET", "/v1/clients/"+c+"/schedules/"+sid+"/upcoming?n=5", key, nil)
		if code != 200 {
			t.Fatalf("upcoming = %d %v", code, up)
		}
		list := up["upcoming"].([]any)
		first := list[0].(map[string]any)
		if first["local"] != tc.first || (first["scheduled_local"] != nil) != (tc.scheduled != "") ||
			(tc.scheduled != "" && first["scheduled_local"] != tc.scheduled) {
			t.Errorf("%s: first = %v; want local %s, scheduled %q", tc.rule, first, tc.first, tc.scheduled)
		}
		if tc.rule[5:10] == "WEEKL" && len(list) == 5 && list[2].(map[string]any)["local"] != "2026-07-06T09:30:00-05:00" {
			t.Errorf("weekdays: third = %v; want Monday 6 July (Thursday, Friday, no weekend)", list[2])
		}
		// What was planned for the first occurrence is the preview's time.
		due, ok, err := h.st.ScheduledAt(t.Context(), "occ:"+sid+":"+first["id"].(string))
		if err != nil || !ok {
			t.Fatalf("first occurrence not planned: %v %v", ok, err)
		}
		if want, _ := time.Parse(time.RFC3339, first["utc"].(string)); !due.Equal(want) {
			t.Errorf("%s: planned at %v; preview says %v", tc.rule, due, want)
		}
	}
}
