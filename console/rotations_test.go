package console_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nowOnPage reads who the on-call page says is on call now in the rotation
// headed name, and since when.
var nowOnPageRE = regexp.MustCompile(`On call now: <strong>([^<]*)</strong>(?: \(override\))?, since <time datetime="([^"]+)">`)

func nowOnPage(t *testing.T, body, name string) (who string, since time.Time) {
	t.Helper()
	i := strings.Index(body, ">"+name+"</h2>")
	if i < 0 {
		t.Fatalf("the on-call page lacks the rotation %q", name)
	}
	m := nowOnPageRE.FindStringSubmatch(body[i:])
	if m == nil {
		t.Fatalf("the on-call page does not say who is on call in %q:\n%s", name, body[i:])
	}
	since, err := time.Parse(time.RFC3339, m[2])
	if err != nil {
		t.Fatal(err)
	}
	return html.UnescapeString(m[1]), since
}

// TestConsoleRotationForms: a supervisor adds an on-call rotation from the
// on-call page (members in turn, the first on call now; a daily or weekly
// hand-off at a local time) by the API's rules, and the page and
// GET /v1/rotations/{id}/on-call agree on who is on call; changing it
// changes that; bad input (no members, 25:00, someone of another agency)
// is refused in the form's words, in the reader's language, changing
// nothing; deleting asks to confirm and is refused, as by the API, while
// the escalation policy names the rotation; a case manager sees no forms
// and gets 403; another agency's supervisor gets 404 and changes nothing.
func TestConsoleRotationForms(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	cora, cm := h.newStaff(key, "Cora Night", "cora@example.org", "case_manager")
	dev := h.staffMember(key, "Dev Day", "dev@example.org", "case_manager")
	supID, sup := h.newStaff(key, "Sue Park", "sue@example.org", "supervisor")
	_, supES := h.newStaffLang(key, "Eva Sol", "eva@example.org", "supervisor", "es")
	_, keyB := h.agency("Southside")
	sam := h.staffMember(keyB, "Sam South", "sam@example.org", "case_manager")
	_, supB := h.newStaff(keyB, "Sol Other", "sol@example.org", "supervisor")

	rotations := func() []any {
		t.Helper()
		_, out := h.api("GET", "/v1/rotations", key, nil)
		list, _ := out["rotations"].([]any)
		return list
	}
	stored := func(id string) string {
		t.Helper()
		code, out := h.api("GET", "/v1/rotations/"+id, key, nil)
		if code != 200 {
			return fmt.Sprint(code)
		}
		raw, _ := json.Marshal(out)
		return string(raw)
	}
	onCall := func(id string) (string, time.Time) {
		t.Helper()
		code, out := h.api("GET", "/v1/rotations/"+id+"/on-call", key, nil)
		if code != 200 {
			t.Fatalf("GET on-call = %d %v", code, out)
		}
		who := out["on_call"].(map[string]any)
		from, _ := time.Parse(time.RFC3339, who["from"].(string))
		return who["staff_id"].(string), from
	}
	loc, _ := time.LoadLocation("America/Chicago")
	now := h.clock.Now().In(loc)
	// A hand-off two hours ago today (or yesterday, near midnight).
	at := now.Add(-2 * time.Hour).Format("15:04")
	today := strconv.Itoa(int(now.Weekday()))
	form := func(name, handoff, day, at string, staff ...string) url.Values {
		return url.Values{"name": {name}, "handoff": {handoff}, "day": {day}, "at": {at}, "staff": staff}
	}

	// A case manager: no forms, 403.
	if p := cm.get("/console/on-call"); strings.Contains(p.Body, `href="/console/on-call/new"`) {
		t.Errorf("a case manager is offered the rotation form")
	}
	if p := cm.get("/console/on-call/new"); p.Status != http.StatusForbidden {
		t.Errorf("a case manager's add form = %d; want 403", p.Status)
	}
	if p := cm.post("/console/on-call", form("Crisis line", "daily", today, at, cora)); p.Status != http.StatusForbidden || len(rotations()) != 0 {
		t.Errorf("a case manager's new rotation = %d; want 403 and nothing added", p.Status)
	}

	// The add form offers the agency's active staff only.
	p := sup.get("/console/on-call/new")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `value="`+dev+`"`) || !strings.Contains(p.Body, `value="`+cora+`"`) || strings.Contains(p.Body, sam) {
		t.Errorf("add form = %d; want 200 offering Cora and Dev, not another agency's staff", p.Status)
	}
	if !strings.Contains(sup.get("/console/on-call").Body, `href="/console/on-call/new"`) {
		t.Errorf("a supervisor's on-call page lacks the link to add a rotation")
	}

	// Bad input: why, in the form's words; nothing added.
	for _, tc := range []struct {
		name string
		b    *browser
		form url.Values
		says string
	}{
		{"no members", sup, form("Crisis line", "weekly", today, at, "", ""), "Members: choose from 1 to 100 people"},
		{"25:00", sup, form("Crisis line", "weekly", today, "25:00", dev), "Hand-off time: a time of day from 00:00 to 23:59"},
		{"another agency's member", sup, form("Crisis line", "daily", today, at, dev, sam), "Member 2: not an active staff member of this agency"},
		{"twice", sup, form("Crisis line", "daily", today, at, dev, dev), "Member 2: already chosen above"},
		{"no name", sup, form(" ", "daily", today, at, dev), "Name:"},
		{"no weekday", sup, form("Crisis line", "weekly", "8", at, dev), "Hand-off day: choose a day of the week"},
		{"in Spanish", supES, form("Crisis line", "weekly", today, "25:00", dev), "Hora del cambio de turno: una hora del día"},
	} {
		p := tc.b.post("/console/on-call", tc.form)
		if p.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(flash(p.Body)), tc.says) || len(rotations()) != 0 {
			t.Errorf("%s: = %d %q; want 400 saying %q and nothing added", tc.name, p.Status, flash(p.Body), tc.says)
		}
		if tc.name == "25:00" && !strings.Contains(p.Body, `value="25:00"`) {
			t.Errorf("the refused form does not show the time as typed")
		}
	}

	// Added: Dev first, so Dev is on call now; the page and the API agree.
	p = sup.post("/console/on-call", form("Crisis line", "daily", today, at, dev, "", cora))
	if p.Status != http.StatusSeeOther {
		t.Fatalf("add rotation = %d %q; want 303", p.Status, flash(p.Body))
	}
	list := rotations()
	if len(list) != 1 {
		t.Fatalf("rotations through the API = %v; want one", list)
	}
	rot := list[0].(map[string]any)
	id := rot["id"].(string)
	if rot["name"] != "Crisis line" || fmt.Sprint(rot["staff"]) != fmt.Sprint([]any{dev, cora}) || rot["handoff"] != "daily" || rot["at"] != at {
		t.Errorf("rotation = %v; want Crisis line, Dev then Cora, daily at %s", rot, at)
	}
	if a := h.auditActor(key, id, "created"); a == nil || a["id"] != supID {
		t.Errorf("the rotation's audit actor = %v; want the supervisor %s", a, supID)
	}
	agree := func(what, wantID, wantName string) {
		t.Helper()
		apiWho, apiFrom := onCall(id)
		page := sup.get("/console/on-call")
		who, since := nowOnPage(t, html.UnescapeString(page.Body), "Crisis line")
		if apiWho != wantID || who != wantName || !since.Equal(apiFrom) || apiFrom.After(h.clock.Now()) {
			t.Errorf("%s: the API says %s on call since %v, the page %s since %v; want %s, since a hand-off before now", what, apiWho, apiFrom, who, since, wantName)
		}
	}
	agree("added", dev, "Dev Day")
	if p := sup.get(p.Location); !strings.Contains(flash(p.Body), "Rotation added") {
		t.Errorf("after adding, the page says %q", flash(p.Body))
	}

	// The edit form shows it as it is; saved unchanged, nobody else is on call.
	edit := "/console/on-call/" + id + "/edit"
	p = sup.get(edit)
	body := html.UnescapeString(p.Body)
	if p.Status != http.StatusOK || !strings.Contains(body, `value="Crisis line"`) || !strings.Contains(body, `value="`+at+`"`) ||
		!regexp.MustCompile(`id="rot-staff-1"[^>]*>\s*<option value="">[^<]*</option>\s*(<option[^>]*>[^<]*</option>)*<option value="`+dev+`" selected>`).MatchString(body) ||
		!regexp.MustCompile(`<option value="daily" selected>`).MatchString(body) {
		t.Errorf("edit form = %d; want it prefilled (Dev first, daily at %s):\n%s", p.Status, at, body)
	}

	// Changed: weekly, today's weekday, Cora first: Cora is on call now.
	save := "/console/on-call/" + id
	if p := sup.post(save, form("Crisis line", "weekly", today, at, cora, dev)); p.Status != http.StatusSeeOther {
		t.Fatalf("save = %d %q; want 303", p.Status, flash(p.Body))
	}
	agree("changed", cora, "Cora Night")
	if _, out := h.api("GET", "/v1/rotations/"+id, key, nil); out["handoff"] != "weekly" {
		t.Errorf("after the change the API says %v; want weekly", out)
	}
	before := stored(id)

	// Refused changes change nothing.
	for _, tc := range []struct {
		name string
		form url.Values
		says string
	}{
		{"no members", form("Crisis line", "daily", today, at), "Members: choose from 1 to 100 people"},
		{"25:00", form("Crisis line", "daily", today, "25:00", dev), "Hand-off time:"},
		{"another agency's member", form("Crisis line", "daily", today, at, sam), "Member 1: not an active staff member of this agency"},
	} {
		p := sup.post(save, tc.form)
		if p.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(flash(p.Body)), tc.says) || stored(id) != before {
			t.Errorf("change with %s = %d %q; want 400 saying %q and nothing changed", tc.name, p.Status, flash(p.Body), tc.says)
		}
	}
	if p := cm.post(save, form("Mine", "daily", today, at, cora)); p.Status != http.StatusForbidden || stored(id) != before {
		t.Errorf("a case manager's change = %d; want 403 and nothing changed", p.Status)
	}
	if p := cm.post(save+"/delete", url.Values{"confirm": {"on"}}); p.Status != http.StatusForbidden || stored(id) != before {
		t.Errorf("a case manager's delete = %d; want 403 and the rotation kept", p.Status)
	}

	// Another agency: 404, nothing changed.
	if p := supB.get(edit); p.Status != http.StatusNotFound {
		t.Errorf("another agency's edit form = %d; want 404", p.Status)
	}
	if p := supB.post(save, form("Theirs", "daily", today, at, sam)); p.Status != http.StatusNotFound || stored(id) != before {
		t.Errorf("another agency's change = %d; want 404 and nothing changed", p.Status)
	}
	if p := supB.post(save+"/delete", url.Values{"confirm": {"on"}}); p.Status != http.StatusNotFound || stored(id) != before {
		t.Errorf("another agency's delete = %d; want 404 and the rotation kept", p.Status)
	}

	// Delete: confirmed only, and not while the policy names it (as the API).
	if p := sup.post(save+"/delete", nil); p.Status != http.StatusBadRequest || !strings.Contains(flash(p.Body), "Tick the box") || stored(id) != before {
		t.Errorf("unconfirmed delete = %d %q; want 400 and the rotation kept", p.Status, flash(p.Body))
	}
	if code, out := h.api("PUT", "/v1/agency/escalation-policy", key, map[string]any{"steps": []map[string]any{
		{"notify": "assigned", "wait": "5m"}, {"notify": "on-call:" + id, "wait": "10m"}}}); code != 200 {
		t.Fatalf("policy naming the rotation = %d %v", code, out)
	}
	if code, _ := h.api("DELETE", "/v1/rotations/"+id, key, nil); code != http.StatusConflict {
		t.Errorf("the API's delete while the policy names it = %d; want 409", code)
	}
	if p := sup.post(save+"/delete", url.Values{"confirm": {"on"}}); p.Status != http.StatusConflict ||
		!strings.Contains(flash(p.Body), "(step 2): an admin must change the policy first") || stored(id) != before {
		t.Errorf("delete while the policy names it = %d %q; want 409 naming step 2 and the rotation kept", p.Status, flash(p.Body))
	}
	h.api("PUT", "/v1/agency/escalation-policy", key, map[string]any{"steps": []map[string]any{{"notify": "assigned", "wait": "5m"}}})
	if p := sup.post(save+"/delete", url.Values{"confirm": {"on"}}); p.Status != http.StatusSeeOther || stored(id) != "404" {
		t.Errorf("delete = %d, rotation now %s; want 303 and 404", p.Status, stored(id))
	}
	if a := h.auditActor(key, id, "deleted"); a == nil || a["id"] != supID {
		t.Errorf("the deletion's audit actor = %v; want the supervisor %s", a, supID)
	}
	if p := sup.get("/console/on-call?deleted=1"); strings.Contains(p.Body, "Crisis line") || !strings.Contains(flash(p.Body), "Rotation deleted") {
		t.Errorf("after deleting, the page = %q; want it gone", flash(p.Body))
	}
}
