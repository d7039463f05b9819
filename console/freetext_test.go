package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConsoleFreeTextRule: the Resolve note goes through the API's one
// free-text rule: a control or bidi character is a clear error naming the
// field, in the reader's language, and nothing is saved (the escalation
// stays open, its audit unchanged); a clean note is stored in NFC.
func TestConsoleFreeTextRule(t *testing.T) {
	h := newHarness(t)
	agency, key := h.agency("Northside")
	benID, ben := h.newStaff(key, "Ben Osei", "ben@example.org", "case_manager")
	esc := h.crisis(agency, h.client(key, benID, "Sam Okafor", "+13125550157"))
	_, before := h.api("GET", "/v1/escalations/"+esc, key, nil)
	auditLen := len(before["audit"].([]any))

	for _, tc := range []struct{ note, want string }{
		{"Called\x1b[2J; safe", "Note: the control character U+001B is not allowed"},
		{"Safe \u202eylimaf htiw", "Note: the invisible formatting character U+202E is not allowed"},
		{strings.Repeat("a", 2001), "Note: at most 2000 characters (this has 2001)"},
		{"   ", "Write a note to resolve."},
	} {
		p := ben.post("/console/escalations/"+esc+"/resolve", url.Values{"note": {tc.note}})
		if got := html.UnescapeString(flash(p.Body)); p.Status != http.StatusBadRequest || !strings.Contains(got, tc.want) {
			t.Errorf("resolve with %q = %d %q; want 400 saying %q", tc.note[:min(len(tc.note), 20)], p.Status, got, tc.want)
		}
	}
	_, after := h.api("GET", "/v1/escalations/"+esc, key, nil)
	if after["status"] != "open" || len(after["audit"].([]any)) != auditLen {
		t.Errorf("after refused notes: status %v, %d audit entries; want open, %d", after["status"], len(after["audit"].([]any)), auditLen)
	}

	// In Spanish for a Spanish-speaking staff member.
	_, ana := h.newStaffLang(key, "Ana Ruiz", "ana@example.org", "supervisor", "es")
	p := ana.post("/console/escalations/"+esc+"/resolve", url.Values{"note": {"Llamé\x07"}})
	if got := html.UnescapeString(flash(p.Body)); p.Status != http.StatusBadRequest || !strings.Contains(got, "Nota: el carácter de control U+0007 no está permitido") {
		t.Errorf("Spanish refusal = %d %q", p.Status, got)
	}

	if p := ben.post("/console/escalations/"+esc+"/resolve", url.Values{"note": {"  Llame\u0301: esta\u0301 a salvo.  "}}); p.Status != http.StatusSeeOther {
		t.Fatalf("resolve = %d %q", p.Status, flash(p.Body))
	}
	_, out := h.api("GET", "/v1/escalations/"+esc, key, nil)
	audit := out["audit"].([]any)
	last := audit[len(audit)-1].(map[string]any)
	if out["status"] != "resolved" || last["detail"] != "Llamé: está a salvo." {
		t.Errorf("resolved escalation = %v note %q; want resolved with the note in NFC, trimmed", out["status"], last["detail"])
	}
}

// TestEscalationHistoryInTheAgencysZone: the escalation page's history
// shows times in the agency's zone (America/Chicago), not UTC.
func TestEscalationHistoryInTheAgencysZone(t *testing.T) {
	h := newHarness(t)
	agency, key := h.agency("Northside")
	_, sup := h.newStaff(key, "Sue Park", "sue@example.org", "supervisor")
	cm := h.staffMember(key, "Ana Reyes", "ana@example.org", "case_manager")
	esc := h.crisis(agency, h.client(key, cm, "Rosa Delgado", "+13125550142"))
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	p := sup.get("/console/escalations/" + esc)
	local := now.In(chicago)
	if p.Status != 200 || !strings.Contains(p.Body, ">"+local.Format("2006-01-02 15:04")+"</time>") || !strings.Contains(p.Body, local.Format("-07:00")+`">`) {
		t.Errorf("escalation page = %d; want its history at %s Chicago time", p.Status, local.Format("2006-01-02 15:04 -07:00"))
	}
}
