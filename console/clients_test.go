package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var datetimeRE = regexp.MustCompile(`<time datetime="([^"]+)"`)

// previewTimes are the <time> datetimes of the schedule form's preview.
func previewTimes(body string) []string {
	i := strings.Index(body, `id="preview"`)
	if i < 0 {
		return nil
	}
	list := body[i:]
	list = list[:strings.Index(list, "</ol>")]
	var out []string
	for _, m := range datetimeRE.FindAllStringSubmatch(list, -1) {
		out = append(out, m[1])
	}
	return out
}

// Clients: a case manager sees their caseload, a supervisor the agency;
// another caseload's client, or another agency's, is 404 on every page.
// The schedule form previews what GET …/upcoming then answers for the
// saved schedule, quiet hours included, and saves through the service,
// audited as the staff member. Reports are for supervisors.
func TestClientPagesAndScheduleForm(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	anaID, ana := h.newStaff(key, "Ana Reyes", "ana@example.org", "case_manager")
	benID, _ := h.newStaff(key, "Ben Osei", "ben@example.org", "case_manager")
	_, sup := h.newStaff(key, "Sue Park", "sue@example.org", "supervisor")
	_, keyB := h.agency("Elsewhere")
	_, otherAdmin := h.newStaff(keyB, "Oli Grant", "oli@example.org", "admin")
	rosa := h.client(key, anaID, "Rosa Delgado", "+13125550142")
	sam := h.client(key, benID, "Sam Okafor", "+13125550157")

	if p := ana.get("/console/clients"); p.Status != 200 || !strings.Contains(p.Body, "Rosa Delgado") || strings.Contains(p.Body, "Sam Okafor") {
		t.Errorf("a case manager's clients = %d; want Rosa and not Sam\n%s", p.Status, p.Body)
	}
	if p := sup.get("/console/clients"); !strings.Contains(p.Body, "Rosa Delgado") || !strings.Contains(p.Body, "Sam Okafor") {
		t.Errorf("a supervisor's clients lack someone:\n%s", p.Body)
	}
	for q, want := range map[string]string{"ros": "Rosa Delgado", sam[:8]: "Sam Okafor", sam: "Sam Okafor"} {
		p := sup.get("/console/clients?q=" + url.QueryEscape(q))
		other := map[string]string{"Rosa Delgado": "Sam Okafor", "Sam Okafor": "Rosa Delgado"}[want]
		if !strings.Contains(p.Body, want) || (q != sam[:8] && strings.Contains(p.Body, other)) {
			t.Errorf("search %q: want %s alone", q, want)
		}
	}
	if p := ana.get("/console/clients?q=Sam"); strings.Contains(p.Body, "Sam Okafor") {
		t.Error("a case manager's search finds another caseload's client")
	}
	for who, b := range map[string]*browser{"another caseload's case manager": ana, "another agency's admin": otherAdmin} {
		if p := b.get("/console/clients/" + sam); p.Status != http.StatusNotFound || strings.Contains(p.Body, "Sam Okafor") {
			t.Errorf("%s on Sam's page = %d; want 404 without his name", who, p.Status)
		}
		if p := b.post("/console/clients/"+sam+"/schedules", url.Values{"questionnaire": {"daily-mood"}, "every": {"daily"}, "at": {"09:00"}}); p.Status != http.StatusNotFound {
			t.Errorf("%s adding Sam a schedule = %d; want 404", who, p.Status)
		}
	}

	page := ana.get("/console/clients/" + rosa)
	for _, want := range []string{"Rosa Delgado", "3125550142", "written", `role="img"`, `<title id="chart-mood-title">`, `<title id="chart-phq9-title">`, `<title id="chart-gad7-title">`, "No answers yet."} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("Rosa's page lacks %q", want)
		}
	}

	// Preview at 22:15 every weekday: quiet hours move each to 08:00.
	form := url.Values{"questionnaire": {"daily-mood"}, "every": {"weekdays"}, "day": {"1"}, "at": {"22:15"}}
	prev := ana.get("/console/clients/" + rosa + "?preview=1&" + form.Encode())
	shown := previewTimes(prev.Body)
	if len(shown) != 5 || !strings.Contains(prev.Body, "moved out of quiet hours from 22:15") {
		t.Fatalf("preview = %v; want five times moved out of quiet hours\n%s", shown, prev.Body)
	}
	for _, s := range shown {
		if !strings.Contains(s, "T08:00:00") {
			t.Errorf("previewed %s; want 08:00, the end of quiet hours", s)
		}
	}
	saved := ana.post("/console/clients/"+rosa+"/schedules", form)
	if saved.Status != http.StatusSeeOther || !strings.HasPrefix(saved.Location, "/console/clients/"+rosa+"?saved=1") {
		t.Fatalf("save schedule = %d → %q", saved.Status, saved.Location)
	}
	_, list := h.api("GET", "/v1/clients/"+rosa+"/schedules", key, nil)
	scheds := list["schedules"].([]any)
	if len(scheds) != 1 {
		t.Fatalf("schedules = %v; want the one saved", scheds)
	}
	sc := scheds[0].(map[string]any)
	if sc["rrule"] != "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=22;BYMINUTE=15" || sc["questionnaire"] != "daily-mood" {
		t.Errorf("saved schedule = %v", sc)
	}
	_, up := h.api("GET", "/v1/clients/"+rosa+"/schedules/"+sc["id"].(string)+"/upcoming?n=5", key, nil)
	var api []string
	for _, u := range up["upcoming"].([]any) {
		api = append(api, u.(map[string]any)["local"].(string))
	}
	if strings.Join(api, " ") != strings.Join(shown, " ") {
		t.Errorf("GET …/upcoming = %v; the form previewed %v", api, shown)
	}
	if p := ana.get(saved.Location); !strings.Contains(p.Body, "Schedule saved.") || !strings.Contains(p.Body, api[0]) {
		t.Errorf("the client's page after saving lacks the flash or the next send %s", api[0])
	}
	_, audit := h.api("GET", "/v1/audit", key, nil)
	if got := audit["audit"]; !strings.Contains(fieldString(got), "staff "+anaID+" schedule created") {
		t.Errorf("audit = %v; want the schedule created by Ana", got)
	}

	// A time that is not one changes nothing and says so.
	if p := ana.post("/console/clients/"+rosa+"/schedules", url.Values{"questionnaire": {"daily-mood"}, "every": {"daily"}, "at": {"25:00"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "at: a time of day") {
		t.Errorf("a bad time = %d; want 400 naming it", p.Status)
	}
	if p := ana.post("/console/clients/"+rosa+"/schedules", url.Values{"questionnaire": {"nope"}, "every": {"daily"}, "at": {"09:00"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "questionnaire: unknown") {
		t.Errorf("an unknown questionnaire = %d; want 400 naming it", p.Status)
	}
	if _, list := h.api("GET", "/v1/clients/"+rosa+"/schedules", key, nil); len(list["schedules"].([]any)) != 1 {
		t.Error("a refused form saved a schedule")
	}

	if p := ana.get("/console/reports"); p.Status != http.StatusForbidden || !strings.Contains(flash(p.Body), "Reports are for supervisors and admins.") {
		t.Errorf("a case manager on reports = %d %q; want 403 saying reports are for supervisors and admins", p.Status, flash(p.Body))
	}
	if p := sup.get("/console/reports"); p.Status != 200 || !strings.Contains(p.Body, "Check-ins") || !strings.Contains(p.Body, "Scores that worsened") {
		t.Errorf("a supervisor on reports = %d", p.Status)
	}
	if p := sup.get("/console/reports?from=2026-07-31&to=2026-07-01"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "to: before from") {
		t.Errorf("reports with to before from = %d; want 400 saying so", p.Status)
	}
}

// fieldString flattens the audit list into "kind id kind action" lines.
func fieldString(v any) string {
	var b strings.Builder
	list, _ := v.([]any)
	for _, it := range list {
		m := it.(map[string]any)
		actor, _ := m["actor"].(map[string]any)
		fmt.Fprintln(&b, actor["kind"], actor["id"], m["kind"], m["action"])
	}
	return b.String()
}
