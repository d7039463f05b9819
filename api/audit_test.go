package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Every configuration change lands in GET /v1/audit, newest first, with
// the API key that made it (id and name), the record and what changed:
// settings as old → new, but never a phone number, a name or a message
// text. Another agency sees none of it.
func TestAuditListsConfigurationChanges(t *testing.T) {
	h := newStaffHarness(t)
	_, key := h.agency("North")
	_, keyB := h.agency("South")
	const (
		cmPhone     = "+13125550101"
		cmPhone2    = "+13125550107"
		clientPhone = "+13125550103"
		safety      = "If you are in danger call 911. Call or text 988 any time. Tu gestor recibió un aviso."
		phrase      = "walk into the lake"
	)
	code, out := h.do("POST", "/v1/api-keys", key, map[string]any{"name": "console sync"})
	if code != 201 {
		t.Fatalf("create key = %d %v", code, out)
	}
	sync, syncID := out["key"].(string), out["id"].(string)

	steps := []struct {
		method, path, key string
		body              any
	}{
		{"PATCH", "/v1/agency", key, map[string]any{"quiet_start": "22:00", "mood_threshold": 3}},
		{"PUT", "/v1/agency/safety-message", key, map[string]any{"en": safety}},
		{"PUT", "/v1/agency/phrases", key, map[string]any{"phrases": []map[string]any{{"text": phrase, "level": "crisis"}}}},
		{"POST", "/v1/case-managers", sync, map[string]any{"name": "Ana Alvarez", "phone": cmPhone}},
	}
	for _, s := range steps {
		if code, out := h.do(s.method, s.path, s.key, s.body); code >= 300 {
			t.Fatalf("%s %s = %d %v", s.method, s.path, code, out)
		}
	}
	_, list := h.do("GET", "/v1/case-managers", key, nil)
	cm := list["case_managers"].([]any)[0].(map[string]any)["id"].(string)
	cl := h.client(key, cm, "Cara Client", clientPhone)
	more := []struct {
		method, path, key string
		body              any
	}{
		{"PATCH", "/v1/case-managers/" + cm, sync, map[string]any{"phone": cmPhone2, "name": "Ana A. Alvarez"}},
		{"PUT", "/v1/agency/escalation-policy", key, map[string]any{"steps": []map[string]any{{"notify": "assigned", "wait": "5m"}}, "repeat": 2}},
		{"PATCH", "/v1/clients/" + cl, key, map[string]any{"language": "es"}},
		{"DELETE", "/v1/clients/" + cl, key, nil},
		{"DELETE", "/v1/case-managers/" + cm, sync, nil},
		{"DELETE", "/v1/api-keys/" + syncID, key, nil},
	}
	// An edit that changes nothing is not an entry.
	if code, out := h.do("PATCH", "/v1/agency", key, map[string]any{"quiet_start": "22:00"}); code != 200 {
		t.Fatalf("PATCH = %d %v", code, out)
	}
	for _, s := range more {
		if code, out := h.do(s.method, s.path, s.key, s.body); code >= 300 {
			t.Fatalf("%s %s = %d %v", s.method, s.path, code, out)
		}
	}

	raw := h.rawGET("/v1/audit", key)
	for _, secret := range []string{cmPhone, cmPhone2, clientPhone, "3125550", safety, "text 988", phrase, "Ana", "Alvarez", "Cara", sync} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit shows %q: %s", secret, raw)
		}
	}
	var got struct {
		Audit []struct {
			ID       string `json:"id"`
			At       string `json:"at"`
			Actor    struct{ Kind, ID, Name string }
			Kind     string `json:"kind"`
			RecordID string `json:"record_id"`
			Action   string `json:"action"`
			Changes  []struct {
				Field, Note string
				Old, New    *string
			} `json:"changes"`
		} `json:"audit"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got.Audit {
		var ch []string
		for _, c := range e.Changes {
			switch {
			case c.Note != "":
				ch = append(ch, c.Field+": "+c.Note)
			default:
				ch = append(ch, fmt.Sprintf("%s: %s → %s", c.Field, deref(c.Old), deref(c.New)))
			}
		}
		if e.At == "" || e.ID == "" {
			t.Errorf("entry %+v without id or time", e)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s by %s", e.Kind, e.Action, strings.Join(ch, "; "), e.Actor.Name))
	}
	want := []string{ // newest first
		"api_key revoked  by initial",
		"case_manager deactivated active: true → false; deactivated_at: ",
		"client discharged status: active → discharged by initial",
		"client changed language: en → es by initial",
		"policy changed repeat:  → 2; steps:  → ",
		"case_manager changed name: name changed; phone: phone changed by console sync",
		"client created ",
		"case_manager created ",
		"phrases changed phrases: 0 → 1 by initial",
		"safety_message changed en: en changed by initial",
		"agency changed mood_threshold: 2 → 3; quiet_start: 21:00 → 22:00 by initial",
		"api_key created name:  → console sync; prefix:  → cc_",
		"api_key created name:  → initial; prefix:  → cc_", // by the operator
		"agency created ",
	}
	if len(lines) != len(want) {
		t.Fatalf("audit has %d entries; want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("audit[%d] = %q; want it to start %q", i, lines[i], w)
		}
	}
	if a := got.Audit[1].Actor; a.Kind != "api_key" || a.ID != syncID || a.Name != "console sync" {
		t.Errorf("deactivation's actor = %+v; want the key %s named console sync", a, syncID)
	}
	for _, e := range got.Audit {
		if e.Kind == "case_manager" && e.Action == "created" {
			for _, c := range e.Changes {
				if c.Field == "phone" && (c.Old != nil || c.New != nil || c.Note != "phone changed") {
					t.Errorf("created case manager's phone in the audit as %+v; want only \"phone changed\"", c)
				}
			}
		}
	}

	// Pages newest first with the list's cursor; a garbage cursor is 400.
	code, p1 := h.do("GET", "/v1/audit?limit=5", key, nil)
	if code != 200 || len(p1["audit"].([]any)) != 5 || p1["next"] == "" {
		t.Fatalf("first page = %d %v; want 5 entries and a cursor", code, p1)
	}
	_, p2 := h.do("GET", "/v1/audit?limit=5&cursor="+p1["next"].(string), key, nil)
	if first := p2["audit"].([]any)[0].(map[string]any)["id"]; first != got.Audit[5].ID {
		t.Errorf("second page starts at %v; want %s", first, got.Audit[5].ID)
	}
	if code, _ := h.do("GET", "/v1/audit?cursor=garbage", key, nil); code != 400 {
		t.Errorf("garbage cursor = %d; want 400", code)
	}
	if code, _ := h.do("GET", "/v1/audit?since=yesterday", key, nil); code != 400 {
		t.Errorf("since=yesterday = %d; want 400", code)
	}
	if _, out := h.do("GET", "/v1/audit?until=2000-01-01T00:00:00Z", key, nil); len(out["audit"].([]any)) != 0 {
		t.Errorf("until 2000 = %v; want nothing", out)
	}
	if _, out := h.do("GET", "/v1/audit?since=2000-01-01T00:00:00Z", key, nil); len(out["audit"].([]any)) != len(want) {
		t.Errorf("since 2000 = %d entries; want all %d", len(out["audit"].([]any)), len(want))
	}

	// Another agency sees only its own creation, and cannot page into ours.
	for _, path := range []string{"/v1/audit", "/v1/audit?cursor=" + got.Audit[0].ID} {
		rawB := h.rawGET(path, keyB)
		for _, id := range []string{cm, cl, syncID, got.Audit[len(got.Audit)-1].RecordID} {
			if strings.Contains(rawB, id) {
				t.Errorf("another agency's %s shows %s: %s", path, id, rawB)
			}
		}
	}
	if _, out := h.do("GET", "/v1/audit", keyB, nil); len(out["audit"].([]any)) != 2 {
		t.Errorf("another agency's audit = %v; want its own agency and key creation only", out)
	}
	// The logs carry none of it either.
	for _, secret := range []string{cmPhone, cmPhone2, clientPhone, safety, phrase, "Alvarez", sync} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("the logs show %q", secret)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Schedules, appointments and questionnaires are configuration too: the
// audit names each change; whom an appointment is with, where, and a
// questionnaire's texts never appear.
func TestAuditListsSchedulesAppointmentsQuestionnaires(t *testing.T) {
	h := newStaffHarness(t)
	_, key := h.agency("North")
	cm := h.caseManager(key, "Ana", "+13125550101")
	cl := h.client(key, cm, "Cara", "+13125550103")
	code, sc := h.do("POST", "/v1/clients/"+cl+"/schedules", key, map[string]any{
		"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "start": "2026-01-01T10:00:00-06:00"})
	if code != 201 {
		t.Fatalf("schedule = %d %v", code, sc)
	}
	if code, out := h.do("PATCH", "/v1/clients/"+cl+"/schedules/"+sc["id"].(string), key, map[string]any{"paused": true}); code != 200 {
		t.Fatalf("pause = %d %v", code, out)
	}
	code, ap := h.do("POST", "/v1/clients/"+cl+"/appointments", key, map[string]any{
		"at": "2099-01-01T10:00:00Z", "with": "Dr. Ruiz", "location": "Clinic on 5th", "reminders": []string{"24h"}})
	if code != 201 {
		t.Fatalf("appointment = %d %v", code, ap)
	}
	if code, out := h.do("PATCH", "/v1/clients/"+cl+"/appointments/"+ap["id"].(string), key, map[string]any{
		"at": "2099-01-02T10:00:00Z", "location": "Clinic on 6th"}); code != 200 {
		t.Fatalf("move = %d %v", code, out)
	}
	if code, out := h.do("POST", "/v1/questionnaires", key, map[string]any{
		"id": "own", "title": map[string]any{"en": "Sleep check"},
		"questions": []map[string]any{{"id": "q1", "type": "scale", "min": 0, "max": 10, "text": map[string]any{"en": "Hours slept?"}}},
	}); code != 201 {
		t.Fatalf("questionnaire = %d %v", code, out)
	}
	raw := h.rawGET("/v1/audit?limit=5", key)
	for _, secret := range []string{"Ruiz", "Clinic", "Sleep check", "Hours slept"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit shows %q: %s", secret, raw)
		}
	}
	var got struct {
		Audit []struct {
			Kind, Action string
			RecordID     string `json:"record_id"`
			Changes      []struct {
				Field, Note string
				Old, New    *string
			}
		} `json:"audit"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got.Audit {
		var ch []string
		for _, c := range e.Changes {
			if c.Note != "" {
				ch = append(ch, c.Field+": "+c.Note)
			} else {
				ch = append(ch, fmt.Sprintf("%s: %s → %s", c.Field, deref(c.Old), deref(c.New)))
			}
		}
		lines = append(lines, e.Kind+" "+e.Action+" "+e.RecordID+" "+strings.Join(ch, "; "))
	}
	want := []string{
		"questionnaire created own ",
		"appointment changed " + ap["id"].(string) + " at: 2099-01-01T10:00:00Z → 2099-01-02T10:00:00Z; location: location changed",
		"appointment created " + ap["id"].(string) + " ",
		"schedule changed " + sc["id"].(string) + " paused: false → true",
		"schedule created " + sc["id"].(string) + " ",
	}
	if len(lines) != len(want) {
		t.Fatalf("audit = %q; want %d entries", lines, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("audit[%d] = %q; want it to start %q", i, lines[i], w)
		}
	}
}
