package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConsoleSameEmailInTwoAgencies: two agencies register the same email
// (both 201, the same answer as for an email nobody has); each person signs
// into their own agency's console with their own password; a password that
// matches both asks which agency; a wrong one names nobody.
func TestConsoleSameEmailInTwoAgencies(t *testing.T) {
	h := newHarness(t)
	northID, north := h.agency("Northside CMH")
	southID, south := h.agency("Southside CMH")
	const email = "sam@example.org"
	samN := h.staffMember(north, "Sam North", email, "case_manager")
	code, out := h.api("POST", "/v1/case-managers", south, map[string]any{"name": "Sam South", "email": email, "role": "case_manager"})
	if code != 201 {
		t.Fatalf("the same email in another agency = %d %v; want 201", code, out)
	}
	samS := out["id"].(string)
	for k := range out {
		if strings.Contains(strings.ToLower(k), "agenc") && out[k] != southID {
			t.Errorf("South's answer carries %s = %v", k, out[k])
		}
	}
	// Within one agency an email is still one person's.
	if code, out := h.api("POST", "/v1/case-managers", north, map[string]any{"name": "Other", "email": email}); code != 409 {
		t.Errorf("the same email twice in one agency = %d %v; want 409", code, out)
	}

	setPassword := func(key, id, pw string) {
		t.Helper()
		p := h.browser().post(h.invite(key, id), url.Values{"password": {pw}, "confirm": {pw}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("set password = %d\n%s", p.Status, flash(p.Body))
		}
	}
	const pwN, pwS = "harbour violet kestrel 7", "maple quartz tundra 19"
	setPassword(north, samN, pwN)
	setPassword(south, samS, pwS)

	for _, tc := range []struct{ pw, name, other string }{{pwN, "Sam North", "Sam South"}, {pwS, "Sam South", "Sam North"}} {
		b := h.browser()
		b.signIn(email, tc.pw, "/console/")
		p := b.get("/console/")
		if p.Status != 200 || !strings.Contains(p.Body, tc.name) || strings.Contains(p.Body, tc.other) {
			t.Errorf("inbox after signing in with %s's password = %d; want %s's console only", tc.name, p.Status, tc.name)
		}
	}
	wrong := h.browser().post("/console/login", url.Values{"email": {email}, "password": {"not either password"}})
	if wrong.Status != http.StatusUnauthorized || strings.Contains(wrong.Body, "Northside") || strings.Contains(wrong.Body, "Southside") {
		t.Errorf("wrong password = %d, naming an agency: %q", wrong.Status, flash(wrong.Body))
	}
	// Each agency's audit tells of its own staff member's failure only.
	for _, ag := range []struct{ id, staff, other string }{{northID, samN, samS}, {southID, samS, samN}} {
		recs, err := h.store.Audit(t.Context(), ag.id, time.Time{}, time.Time{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, r := range recs.Items {
			if r.Action == "sign_in_failed" && r.RecordID == ag.staff {
				failed++
			}
			if r.RecordID == ag.other {
				t.Errorf("agency %s's audit names the other agency's staff member", ag.id)
			}
		}
		if failed != 1 {
			t.Errorf("agency %s's audit has %d failed sign-ins of its staff; want 1", ag.id, failed)
		}
	}

	// One password for both: the page asks which agency.
	shared := h.staffMember(north, "Kim North", "kim@example.org", "case_manager")
	sharedS := h.staffMember(south, "Kim South", "kim@example.org", "case_manager")
	setPassword(north, shared, pwN)
	setPassword(south, sharedS, pwN)
	b := h.browser()
	p := b.post("/console/login", url.Values{"email": {"kim@example.org"}, "password": {pwN}})
	if p.Status != 200 || !strings.Contains(p.Body, "Northside CMH") || !strings.Contains(p.Body, "Southside CMH") || !strings.Contains(p.Body, `value="`+southID+`"`) {
		t.Fatalf("a password matching two agencies = %d; want the choice of both\n%s", p.Status, flash(p.Body))
	}
	p = b.post("/console/login", url.Values{"email": {"kim@example.org"}, "password": {pwN}, "agency": {southID}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("choosing South = %d\n%s", p.Status, flash(p.Body))
	}
	if p := b.get("/console/"); !strings.Contains(p.Body, "Kim South") {
		t.Errorf("after choosing South the console is not South's")
	}
}
