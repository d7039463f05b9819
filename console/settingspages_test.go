package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// agencySettings is GET /v1/agency.
func (h *harness) agencySettings(key string) map[string]any {
	h.t.Helper()
	code, out := h.api("GET", "/v1/agency", key, nil)
	if code != 200 {
		h.t.Fatalf("GET /v1/agency = %d %v", code, out)
	}
	return out
}

// policySteps is the agency's policy as "notify/wait" words.
func policySteps(ag map[string]any) string {
	pol, _ := ag["escalation_policy"].(map[string]any)
	var out []string
	steps, _ := pol["steps"].([]any)
	for _, s := range steps {
		s := s.(map[string]any)
		out = append(out, s["notify"].(string)+"/"+s["wait"].(string))
	}
	return strings.Join(out, " ")
}

// TestConsoleSettingsPages: an admin changes quiet hours, the idle
// timeout and required two-step sign-in; builds an escalation policy step
// by step (add, an on-call rotation, reorder, remove) and saves it; sets a
// safety message and phrases. The API shows each change and the audit
// names the admin; bad input says why and changes nothing; a case manager
// gets 403; another agency's admin changes only their own agency.
func TestConsoleSettingsPages(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	adminID, admin := h.newStaff(key, "Ada Admin", "ada@example.org", "admin")
	cmID, cm := h.newStaff(key, "Carl Case", "carl@example.org", "case_manager")
	_, key2 := h.agency("Southside")
	_, otherAdmin := h.newStaff(key2, "Oli Other", "oli@example.org", "admin")
	general := url.Values{"quiet_start": {"22:00"}, "quiet_end": {"07:30"}, "idle_minutes": {"30"}, "require_totp": {"on"}}

	// General settings.
	if p := admin.get("/console/settings"); p.Status != 200 || !strings.Contains(p.Body, `value="21:00"`) || !strings.Contains(p.Body, `value="15"`) {
		t.Fatalf("settings page = %d; want the agency's quiet hours and 15 minutes", p.Status)
	}
	for _, tc := range []struct {
		field, value, says string
	}{
		{"quiet_start", "25:00", "From: write a time as HH:MM"},
		{"idle_minutes", "0", "Sign-out time: a whole number of minutes from 1 to 720"},
		{"idle_minutes", "ten", "Sign-out time"},
		{"idle_minutes", "721", "Sign-out time"},
	} {
		f := url.Values{}
		for k, v := range general {
			f[k] = v
		}
		f.Set(tc.field, tc.value)
		if p := admin.post("/console/settings", f); p.Status != 400 || !strings.Contains(flash(p.Body), tc.says) ||
			!strings.Contains(p.Body, `value="`+tc.value+`"`) {
			t.Errorf("settings with %s=%q = %d %q; want 400 saying %q, the form as typed", tc.field, tc.value, p.Status, flash(p.Body), tc.says)
		}
	}
	if ag := h.agencySettings(key); ag["quiet_start"] != "21:00" || ag["require_totp"] != false {
		t.Errorf("after refused settings the agency is %v %v; want unchanged", ag["quiet_start"], ag["require_totp"])
	}
	if p := admin.post("/console/settings", general); p.Status != http.StatusSeeOther || p.Location != "/console/settings?saved=1" {
		t.Fatalf("save settings = %d %q", p.Status, flash(p.Body))
	}
	if ag := h.agencySettings(key); ag["quiet_start"] != "22:00" || ag["quiet_end"] != "07:30" || ag["session_idle"] != "30m0s" || ag["require_totp"] != true {
		t.Errorf("after saving the API shows %v %v %v %v", ag["quiet_start"], ag["quiet_end"], ag["session_idle"], ag["require_totp"])
	}
	if a := h.auditActor(key, h.agencySettings(key)["id"].(string), "changed"); a == nil || a["id"] != adminID {
		t.Errorf("audit of the settings names %v; want the admin", a)
	}

	// The escalation policy: the built-in two steps, then add, choose, reorder, remove, save.
	code, rot := h.api("POST", "/v1/rotations", key, map[string]any{"name": "Nights", "staff": []string{cmID}, "handoff": "daily", "at": "09:00", "start": "2026-10-30"})
	if code != 201 {
		t.Fatalf("rotation = %d %v", code, rot)
	}
	onCall := "on-call:" + rot["id"].(string)
	p := admin.get("/console/settings/policy")
	if p.Status != 200 || strings.Count(p.Body, `<li class="step"`) != 2 || !strings.Contains(p.Body, "Whoever is on call: Nights") {
		t.Fatalf("policy page = %d; want the built-in 2 steps and the rotation offered", p.Status)
	}
	form := url.Values{"notify": {"assigned", "backup"}, "wait": {"10m0s", "10m0s"}, "repeat": {"3"}, "op": {"add"}}
	p = admin.post("/console/settings/policy", form)
	if p.Status != 200 || strings.Count(p.Body, `<li class="step"`) != 3 || !strings.Contains(flash(p.Body), "Not saved yet") {
		t.Errorf("add a step = %d, %d steps, %q; want 3 steps, not saved yet", p.Status, strings.Count(p.Body, `<li class="step"`), flash(p.Body))
	}
	if steps := policySteps(h.agencySettings(key)); steps != "" {
		t.Errorf("adding a step saved %q; want nothing saved", steps)
	}
	form = url.Values{"notify": {"assigned", "backup", onCall}, "wait": {"10m0s", "10m0s", "30m0s"}, "repeat": {"2"}, "op": {"up:2"}}
	p = admin.post("/console/settings/policy", form)
	if i, j := strings.Index(p.Body, `value="`+onCall+`" selected`), strings.Index(p.Body, `value="backup" selected`); i < 0 || j < 0 || i > j {
		t.Errorf("moving step 3 up: the on-call step is not above the backup's")
	}
	form.Set("op", "remove:0")
	form["notify"] = []string{"assigned", onCall, "backup"}
	form["wait"] = []string{"5m0s", "30m0s", "10m0s"}
	if p := admin.post("/console/settings/policy", form); strings.Count(p.Body, `<li class="step"`) != 2 {
		t.Errorf("remove step 1: %d steps; want 2", strings.Count(p.Body, `<li class="step"`))
	}
	form.Set("op", "save")
	if p := admin.post("/console/settings/policy", form); p.Status != http.StatusSeeOther {
		t.Fatalf("save policy = %d %q", p.Status, flash(p.Body))
	}
	const want = "assigned/5m0s on-call:"
	if steps := policySteps(h.agencySettings(key)); !strings.HasPrefix(steps, want) || !strings.HasSuffix(steps, "/30m0s backup/10m0s") {
		t.Errorf("saved policy = %q; want assigned 5m, on-call 30m, backup 10m", steps)
	}
	if a := h.auditActor(key, h.agencySettings(key)["id"].(string), "changed"); a == nil || a["id"] != adminID {
		t.Errorf("audit of the policy names %v; want the admin", a)
	}
	saved := policySteps(h.agencySettings(key))
	_, gone := h.api("POST", "/v1/case-managers", key, map[string]any{"name": "Gus Gone"})
	h.api("DELETE", "/v1/case-managers/"+gone["id"].(string), key, nil)
	for _, tc := range []struct {
		notify, wait []string
		says         string
	}{
		{[]string{"assigned", gone["id"].(string)}, []string{"10m0s", "10m0s"}, "Step 2: that staff member is not active"},
		{[]string{"assigned"}, []string{"forever"}, "Step 1: wait between 1 second and 24 hours"},
		{[]string{"on-call:rot_nobody"}, []string{"10m0s"}, "Step 1: that on-call rotation no longer exists"},
		{nil, nil, "at least one step"},
	} {
		p := admin.post("/console/settings/policy", url.Values{"notify": tc.notify, "wait": tc.wait, "repeat": {"1"}, "op": {"save"}})
		if p.Status != 400 || !strings.Contains(flash(p.Body), tc.says) {
			t.Errorf("save policy %v = %d %q; want 400 saying %q", tc.notify, p.Status, flash(p.Body), tc.says)
		}
	}
	if steps := policySteps(h.agencySettings(key)); steps != saved {
		t.Errorf("after refused policies: %q; want %q", steps, saved)
	}

	// The safety message and phrases.
	const safety = "If you are in danger now, call or text 988, or call 911. You matter."
	if p := admin.post("/console/settings/safety", url.Values{"en": {"Call 555-0000 if you need us, you matter to us."}, "es": {""}}); p.Status != 400 ||
		!strings.Contains(html.UnescapeString(flash(p.Body)), "is not a valid phone number or known crisis line") {
		t.Errorf("a safety message with a dead number = %d %q; want 400", p.Status, flash(p.Body))
	}
	if p := admin.post("/console/settings/safety", url.Values{"en": {safety}, "es": {""}}); p.Status != http.StatusSeeOther {
		t.Fatalf("save safety message = %d %q", p.Status, flash(p.Body))
	}
	if sm, _ := h.agencySettings(key)["safety_message"].(map[string]any); sm["en"] != safety || sm["es"] != nil {
		t.Errorf("safety message in the API = %v; want the English one only", sm)
	}
	if p := admin.post("/console/settings/phrases", url.Values{"text": {"walk into the lake", ""}, "level": {"urgent", "crisis"}, "lang": {"", ""}}); p.Status != 400 ||
		!strings.Contains(flash(p.Body), "Phrase 1: choose crisis or concern") {
		t.Errorf("a phrase with a made-up level = %d %q; want 400", p.Status, flash(p.Body))
	}
	if p := admin.post("/console/settings/phrases", url.Values{"text": {"walk into the lake", "", "so tired of everything"}, "level": {"crisis", "crisis", "concern"}, "lang": {"en", "", ""}}); p.Status != http.StatusSeeOther {
		t.Fatalf("save phrases = %d %q", p.Status, flash(p.Body))
	}
	if ph, _ := h.agencySettings(key)["phrases"].([]any); len(ph) != 2 || ph[1].(map[string]any)["level"] != "concern" {
		t.Errorf("phrases in the API = %v; want the two typed", ph)
	}
	if p := admin.get("/console/settings/phrases"); !strings.Contains(p.Body, `value="walk into the lake"`) {
		t.Errorf("the phrases page does not show the saved phrase")
	}

	// A case manager: 403 everywhere; another agency's admin: their own agency only.
	for _, path := range []string{"/console/settings", "/console/settings/policy", "/console/settings/safety", "/console/settings/phrases"} {
		if p := cm.get(path); p.Status != 403 {
			t.Errorf("a case manager GET %s = %d; want 403", path, p.Status)
		}
		if p := cm.post(path, url.Values{"quiet_start": {"01:00"}, "op": {"save"}, "en": {safety}}); p.Status != 403 {
			t.Errorf("a case manager POST %s = %d; want 403", path, p.Status)
		}
	}
	if p := otherAdmin.get("/console/settings/policy"); strings.Contains(p.Body, "Nights") || strings.Contains(p.Body, "Carl Case") {
		t.Errorf("another agency's policy page offers this agency's rotation or staff")
	}
	if p := otherAdmin.post("/console/settings/policy", url.Values{"notify": {cmID}, "wait": {"10m0s"}, "repeat": {"1"}, "op": {"save"}}); p.Status != 400 {
		t.Errorf("another agency's admin naming this agency's case manager = %d; want 400", p.Status)
	}
	otherAdmin.post("/console/settings", general)
	if steps := policySteps(h.agencySettings(key)); steps != saved {
		t.Errorf("this agency's policy after the other admin's tries: %q", steps)
	}
	if ag := h.agencySettings(key2); ag["quiet_start"] != "22:00" {
		t.Errorf("the other admin's save changed %v; want their own agency's quiet hours", ag["quiet_start"])
	}
}

// TestConsoleSettingsInSpanish: a Spanish-speaking admin's refusals are in Spanish.
func TestConsoleSettingsInSpanish(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	_, admin := h.newStaffLang(key, "Ada Admin", "ada@example.org", "admin", "es")
	if p := admin.post("/console/settings/policy", url.Values{"notify": {"assigned"}, "wait": {"forever"}, "repeat": {"1"}, "op": {"save"}}); p.Status != 400 ||
		!strings.Contains(flash(p.Body), "Paso 1: la espera va de 1 segundo a 24 horas") {
		t.Errorf("a refused policy in Spanish = %d %q", p.Status, flash(p.Body))
	}
	if p := admin.post("/console/settings/safety", url.Values{"en": {""}, "es": {"Llame."}}); p.Status != 400 ||
		!strings.Contains(flash(p.Body), "Mensaje de seguridad en español: demasiado corto") {
		t.Errorf("a refused safety message in Spanish = %d %q", p.Status, flash(p.Body))
	}
}
