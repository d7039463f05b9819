package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// staffForm is the add/edit form as a person fills it in.
func staffForm(name, email, role, phone, backup string) url.Values {
	return url.Values{"name": {name}, "email": {email}, "role": {role}, "language": {"en"}, "phone": {phone}, "backup_id": {backup},
		"start": {"08:30"}, "end": {"16:30"}, "timezone": {"America/Chicago"}, "days": {"1", "2", "3", "4"}}
}

// auditActor is the actor of the newest audit record of a record and action.
func (h *harness) auditActor(key, recordID, action string) map[string]any {
	h.t.Helper()
	_, out := h.api("GET", "/v1/audit", key, nil)
	for _, e := range out["audit"].([]any) {
		e := e.(map[string]any)
		if e["record_id"] == recordID && e["action"] == action {
			return e["actor"].(map[string]any)
		}
	}
	return nil
}

// TestConsoleStaffPages: an admin adds a staff member (the API shows every
// field as typed; the audit names the admin), edits them, and deactivates
// them, seeing where they are still named (a backup, a rotation, a policy step); bad
// input says why and changes nothing; a case manager gets 403; another
// agency's admin gets 404 and changes nothing.
func TestConsoleStaffPages(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	adminID, admin := h.newStaff(key, "Ada Admin", "ada@example.org", "admin")
	_, cm := h.newStaff(key, "Carl Case", "carl@example.org", "case_manager")
	_, key2 := h.agency("Southside")
	_, otherAdmin := h.newStaff(key2, "Oli Other", "oli@example.org", "admin")

	if p := admin.get("/console/staff/new"); p.Status != 200 || !strings.Contains(p.Body, `value="America/Chicago"`) {
		t.Fatalf("add form = %d; want 200 with the agency's zone", p.Status)
	}
	p := admin.post("/console/staff", staffForm("Ana Reyes", "Ana@Example.org", "case_manager", "+1 312 555 0142", ""))
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/staff?added=") {
		t.Fatalf("add = %d → %q %q; want 303 to the staff list", p.Status, p.Location, flash(p.Body))
	}
	ana := strings.TrimPrefix(p.Location, "/console/staff?added=")
	if list := admin.get(p.Location); !strings.Contains(flash(list.Body), "Ana Reyes") || !strings.Contains(list.Body, `action="/console/staff/`+ana+`/invite"`) {
		t.Errorf("staff list after adding: flash %q; want Ana named and her invite button", flash(list.Body))
	}
	_, got := h.api("GET", "/v1/case-managers/"+ana, key, nil)
	wh, _ := got["working_hours"].(map[string]any)
	if got["name"] != "Ana Reyes" || got["email"] != "ana@example.org" || got["phone"] != "+13125550142" || got["role"] != "case_manager" ||
		wh["start"] != "08:30" || wh["end"] != "16:30" || len(wh["days"].([]any)) != 4 {
		t.Errorf("the API shows %v; want the form's fields (email lower case, phone E.164)", got)
	}
	if a := h.auditActor(key, ana, "created"); a == nil || a["kind"] != "staff" || a["id"] != adminID {
		t.Errorf("audit of the creation names %v; want the admin %s", a, adminID)
	}

	countStaff := func() int {
		_, out := h.api("GET", "/v1/case-managers", key, nil)
		return len(out["case_managers"].([]any))
	}
	before := countStaff()
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"letters in the phone", staffForm("Bo", "bo@example.org", "case_manager", "555 CALL", ""), 400, "Phone: letters are not allowed"},
		{"a local phone", staffForm("Bo", "bo@example.org", "case_manager", "3125550199", ""), 400, "Phone: write it in international form"},
		{"a bad email", staffForm("Bo", "bo at example", "case_manager", "", ""), 400, "Email: not an email address"},
		{"a made-up role", staffForm("Bo", "bo@example.org", "boss", "", ""), 400, "Role: choose"},
		{"an email taken", staffForm("Bo", "carl@example.org", "case_manager", "", ""), 409, "already signs in with it"},
		{"an unknown backup", staffForm("Bo", "bo@example.org", "case_manager", "", "cm_nobody"), 400, "Backup: choose an active"},
		{"a control character", staffForm("Bo\x1b", "bo@example.org", "case_manager", "", ""), 400, "Name: the control character U+001B"},
	} {
		p := admin.post("/console/staff", tc.form)
		if p.Status != tc.status || !strings.Contains(html.UnescapeString(flash(p.Body)), tc.says) || !strings.Contains(p.Body, `value="`+html.EscapeString(tc.form.Get("email"))+`"`) {
			t.Errorf("add with %s = %d %q; want %d saying %q, the form kept", tc.name, p.Status, flash(p.Body), tc.status, tc.says)
		}
	}
	if n := countStaff(); n != before {
		t.Errorf("staff after refused adds = %d; want %d", n, before)
	}

	// Edit: a new name, a backup, and back to a bad clock (nothing changes).
	_, out := h.api("POST", "/v1/case-managers", key, map[string]any{"name": "Bea Backup", "email": "bea@example.org"})
	bea := out["id"].(string)
	edit := staffForm("Ana Reyes-Lopez", "ana@example.org", "supervisor", "", bea)
	if p := admin.post("/console/staff/"+ana, edit); p.Status != http.StatusSeeOther || p.Location != "/console/staff/"+ana+"?saved=1" {
		t.Fatalf("save = %d → %q %q", p.Status, p.Location, flash(p.Body))
	}
	if p := admin.get("/console/staff/" + ana + "?saved=1"); flash(p.Body) != "Saved." || !strings.Contains(p.Body, `value="Ana Reyes-Lopez"`) {
		t.Errorf("edit page after saving: flash %q", flash(p.Body))
	}
	_, got = h.api("GET", "/v1/case-managers/"+ana, key, nil)
	if got["name"] != "Ana Reyes-Lopez" || got["role"] != "supervisor" || got["backup_id"] != bea || got["phone"] != nil {
		t.Errorf("after the edit the API shows %v", got)
	}
	if a := h.auditActor(key, ana, "changed"); a == nil || a["id"] != adminID {
		t.Errorf("audit of the change names %v; want the admin", a)
	}
	bad := staffForm("Ana Changed", "ana@example.org", "case_manager", "", "")
	bad.Set("start", "9am")
	if p := admin.post("/console/staff/"+ana, bad); p.Status != 400 || !strings.Contains(flash(p.Body), "Start: write a time as HH:MM") {
		t.Errorf("save with a bad start = %d %q; want 400 naming the start", p.Status, flash(p.Body))
	}
	self := staffForm("Ana Changed", "ana@example.org", "case_manager", "", ana)
	if p := admin.post("/console/staff/"+ana, self); p.Status != 400 || !strings.Contains(flash(p.Body), "their own backup") {
		t.Errorf("save as own backup = %d %q; want 400", p.Status, flash(p.Body))
	}
	if _, now := h.api("GET", "/v1/case-managers/"+ana, key, nil); now["name"] != "Ana Reyes-Lopez" || now["backup_id"] != bea {
		t.Errorf("after refused edits the API shows %v; want nothing changed", now)
	}

	// A Telegram link for Ana, as the API's telegram-link makes them.
	if p := admin.post("/console/staff/"+ana+"/telegram-link", nil); p.Status != http.StatusCreated ||
		!strings.Contains(p.Body, `<code class="telegram-url">https://t.me/CareCheckBot?start=`) {
		t.Errorf("telegram link = %d; want 201 showing a t.me link", p.Status)
	}

	// Another agency's admin: 404, nothing changed; a case manager: 403.
	for _, try := range []func() page{
		func() page { return otherAdmin.get("/console/staff/" + ana) },
		func() page {
			return otherAdmin.post("/console/staff/"+ana, staffForm("Taken", "x@example.org", "admin", "", ""))
		},
		func() page {
			return otherAdmin.post("/console/staff/"+bea+"/deactivate", url.Values{"confirm": {"on"}})
		},
		func() page { return otherAdmin.post("/console/staff/"+ana+"/invite", nil) },
		func() page { return otherAdmin.post("/console/staff/"+ana+"/telegram-link", nil) },
	} {
		if p := try(); p.Status != 404 || strings.Contains(p.Body, "Ana Reyes") {
			t.Errorf("another agency's admin = %d; want 404 naming nobody", p.Status)
		}
	}
	for _, try := range []func() page{
		func() page { return cm.get("/console/staff/new") },
		func() page { return cm.get("/console/staff/" + ana) },
		func() page { return cm.post("/console/staff", staffForm("Sneak", "s@example.org", "admin", "", "")) },
		func() page {
			return cm.post("/console/staff/"+ana, staffForm("Sneak", "ana@example.org", "admin", "", ""))
		},
		func() page { return cm.post("/console/staff/"+bea+"/deactivate", url.Values{"confirm": {"on"}}) },
		func() page { return cm.post("/console/staff/"+ana+"/telegram-link", nil) },
	} {
		if p := try(); p.Status != 403 {
			t.Errorf("a case manager on a staff page = %d; want 403", p.Status)
		}
	}
	if _, now := h.api("GET", "/v1/case-managers/"+bea, key, nil); now["active"] != true {
		t.Errorf("Bea after others' tries = %v; want still active", now)
	}
	if n := countStaff(); n != before+1 {
		t.Errorf("staff = %d; want %d (nobody else added)", n, before+1)
	}

	// Deactivate Bea, Ana's backup and step 2 of the policy: the page says so.
	if code, out := h.api("PUT", "/v1/agency/escalation-policy", key, map[string]any{"steps": []map[string]any{
		{"notify": "assigned", "wait": "10m"}, {"notify": bea, "wait": "10m"}}}); code != 200 {
		t.Fatalf("policy = %d %v", code, out)
	}
	if code, out := h.api("POST", "/v1/rotations", key, map[string]any{"name": "Weekends", "staff": []string{bea}, "handoff": "weekly", "at": "09:00", "start": "2026-10-30"}); code != 201 {
		t.Fatalf("rotation = %d %v", code, out)
	}
	if p := admin.post("/console/staff/"+bea+"/deactivate", nil); p.Status != 400 || !strings.Contains(flash(p.Body), "Tick the box") {
		t.Errorf("deactivate without confirming = %d %q; want 400 asking to confirm", p.Status, flash(p.Body))
	}
	if _, now := h.api("GET", "/v1/case-managers/"+bea, key, nil); now["active"] != true {
		t.Errorf("Bea after an unconfirmed deactivation = %v; want active", now)
	}
	p = admin.post("/console/staff/"+bea+"/deactivate", url.Values{"confirm": {"on"}})
	if p.Status != 200 || !strings.Contains(flash(p.Body), "Deactivated") || !strings.Contains(p.Body, "Backup of Ana Reyes-Lopez") ||
		!strings.Contains(p.Body, "Escalation policy, step 2") || !strings.Contains(p.Body, "On-call rotation Weekends") {
		t.Errorf("deactivate = %d %q; want the backup, the rotation and the policy step still naming her", p.Status, flash(p.Body))
	}
	if _, now := h.api("GET", "/v1/case-managers/"+bea, key, nil); now["active"] != false {
		t.Errorf("Bea after deactivation = %v; want inactive", now)
	}
	if a := h.auditActor(key, bea, "deactivated"); a == nil || a["id"] != adminID {
		t.Errorf("audit of the deactivation names %v; want the admin", a)
	}
	if p := admin.post("/console/staff/"+bea, staffForm("Bea Again", "bea@example.org", "case_manager", "", "")); p.Status != 409 {
		t.Errorf("editing a deactivated member = %d; want 409", p.Status)
	}
}

// TestConsoleStaffPagesInSpanish: a Spanish-speaking admin's refusals are in Spanish.
func TestConsoleStaffPagesInSpanish(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	_, admin := h.newStaffLang(key, "Ada Admin", "ada@example.org", "admin", "es")
	p := admin.post("/console/staff", staffForm("Bo", "bo@example.org", "case_manager", "555 CALL", ""))
	if p.Status != 400 || !strings.Contains(html.UnescapeString(flash(p.Body)), "Teléfono: no se permiten letras") {
		t.Errorf("a refused add in Spanish = %d %q", p.Status, flash(p.Body))
	}
}

// TestConsoleStaffContactRules: an admin sets how alerts reach a staff
// member (SMS at once, a call after 2 minutes) on their page, as
// PATCH /v1/case-managers/{id} would; the page shows the rules back;
// rules the API refuses (a call for someone without a phone, minutes that
// are not a number, a first rule not at once) say why and change nothing;
// clearing every method goes back to the default.
func TestConsoleStaffContactRules(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	_, admin := h.newStaff(key, "Ada Admin", "ada@example.org", "admin")
	cora := h.staffMember(key, "Cora Night", "cora@example.org", "case_manager")
	if code, out := h.api("PATCH", "/v1/case-managers/"+cora, key, map[string]any{"phone": "+13125550144"}); code != 200 {
		t.Fatalf("set phone = %d %v", code, out)
	}
	rules := func() string {
		t.Helper()
		_, out := h.api("GET", "/v1/case-managers/"+cora, key, nil)
		var got []string
		list, _ := out["contact_rules"].([]any) // none: absent
		for _, r := range list {
			r := r.(map[string]any)
			got = append(got, r["after"].(string)+" "+r["method"].(string))
		}
		return strings.Join(got, ", ")
	}
	form := func(phone string, rows ...string) url.Values {
		f := staffForm("Cora Night", "cora@example.org", "case_manager", phone, "")
		for i, row := range rows {
			after, method, _ := strings.Cut(row, " ")
			f.Set("rule_after_"+string(rune('0'+i)), after)
			f.Set("rule_method_"+string(rune('0'+i)), method)
		}
		return f
	}

	if p := admin.post("/console/staff/"+cora, form("+13125550144", "0 sms", "2 voice")); p.Status != http.StatusSeeOther {
		t.Fatalf("save rules = %d %q; want 303", p.Status, flash(p.Body))
	}
	if got := rules(); got != "0s sms, 2m0s voice" {
		t.Errorf("contact rules through the API = %q; want SMS at once, a call after 2 minutes", got)
	}
	p := admin.get("/console/staff/" + cora)
	for _, want := range []string{`name="rule_after_1" type="number" min="0" max="60" step="any" inputmode="decimal" value="2"`, `<option value="voice" selected>Voice call</option>`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the staff page lacks %q", want)
		}
	}

	for _, tc := range []struct {
		name  string
		form  url.Values
		says  string
		stays string
	}{
		{"a call without a phone", form("", "0 voice"), "voice needs a phone number", "0s sms, 2m0s voice"},
		{"minutes that are not a number", form("+13125550144", "0 sms", "soon voice"), "must be a number from 0 to 60", "0s sms, 2m0s voice"},
		{"minutes that are NaN", form("+13125550144", "0 sms", "NaN voice"), "must be a number from 0 to 60", "0s sms, 2m0s voice"},
		{"a first rule not at once", form("+13125550144", "5 sms"), "the first rule is at once", "0s sms, 2m0s voice"},
	} {
		p := admin.post("/console/staff/"+cora, tc.form)
		if p.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(flash(p.Body)), tc.says) {
			t.Errorf("%s: = %d %q; want 400 saying %q", tc.name, p.Status, flash(p.Body), tc.says)
		}
		if got := rules(); got != tc.stays {
			t.Errorf("%s: rules now %q; want %q (nothing changed)", tc.name, got, tc.stays)
		}
	}

	if p := admin.post("/console/staff/"+cora, form("+13125550144")); p.Status != http.StatusSeeOther {
		t.Fatalf("clear rules = %d %q; want 303", p.Status, flash(p.Body))
	}
	if got := rules(); got != "" {
		t.Errorf("contact rules after clearing = %q; want none (the default)", got)
	}
}
