package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/staff"
)

// An admin invites a staff member through the API; the invitation page
// refuses a weak password with a clear message and changes nothing, takes a
// good one once, and refuses its second use; the person then signs in with
// the email and password, and the audit shows each step with no secret.
func TestInviteSetPasswordAndSignIn(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	id := h.staffMember(key, "Dana Whitfield", "Dana.Whitfield@Example.org", "case_manager")
	link := h.invite(key, id)
	b := h.browser()

	p := b.get(link)
	if p.Status != 200 || !strings.Contains(p.Body, `type="password"`) {
		t.Fatalf("invite page = %d\n%s", p.Status, p.Body)
	}
	for _, tc := range []struct{ pw, confirm, says string }{
		{"short", "short", "at least 12 characters"},
		{"Password1234", "Password1234", "too common"},
		{"whitfield rocks!!", "whitfield rocks!!", ""}, // fine: the local part is dana.whitfield
		{"dana.whitfield 2026", "dana.whitfield 2026", "name in your email"},
		{"abcabcabcabc", "abcabcabcabc", "repeated or sequential"},
		{goodPassword, goodPassword + "x", "not the same"},
	} {
		if tc.says == "" {
			continue
		}
		p := b.post(link, url.Values{"password": {tc.pw}, "confirm": {tc.confirm}})
		if p.Status != http.StatusBadRequest || !strings.Contains(flash(p.Body), tc.says) {
			t.Errorf("password %q = %d %q; want 400 saying %q", tc.pw, p.Status, flash(p.Body), tc.says)
		}
	}
	if p := b.get(link); p.Status != 200 {
		t.Fatalf("after refusals the invite = %d; want it still usable", p.Status)
	}
	p = b.post(link, url.Values{"password": {goodPassword}, "confirm": {goodPassword}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/account/totp?new=1" {
		t.Fatalf("good password = %d → %q; want 303 to the TOTP offer", p.Status, p.Location)
	}
	// The link is used up.
	for _, again := range []page{b.get(link), h.browser().post(link, url.Values{"password": {"another fine pass 7"}, "confirm": {"another fine pass 7"}})} {
		if again.Status != http.StatusGone || !strings.Contains(flash(again.Body), "already used") {
			t.Errorf("used invite = %d %q; want 410 saying it was used", again.Status, flash(again.Body))
		}
	}
	if p := b.get("/console/account/totp?new=1"); p.Status != 200 || !strings.Contains(p.Body, "Skip for now") {
		t.Errorf("TOTP offer = %d; want the enrolment page with a skip link", p.Status)
	}

	// A fresh browser signs in with the email (any case) and password.
	b2 := h.browser()
	if p := b2.get("/console/"); p.Status != http.StatusSeeOther || p.Location != "/console/login" {
		t.Errorf("inbox without a session = %d → %q; want the sign-in page", p.Status, p.Location)
	}
	login := b2.get("/console/login")
	for _, want := range []string{`type="email"`, `type="password"`, `<label for="email">`, `class="skip" href="#main"`} {
		if !strings.Contains(login.Body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	b2.signIn("DANA.whitfield@example.org", goodPassword, "/console/")
	if p := b2.get("/console/"); p.Status != 200 || !strings.Contains(p.Body, "Dana Whitfield") {
		t.Errorf("inbox = %d; want 200 naming the signed-in person", p.Status)
	}
	// Signing out deletes the session: the old cookie no longer works.
	cookies := b2.http.Jar.Cookies(mustURL(h.url))
	b2.post("/console/logout", nil)
	b3 := h.browser()
	b3.http.Jar.SetCookies(mustURL(h.url), cookies)
	if p := b3.get("/console/"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/login") {
		t.Errorf("signed-out cookie = %d → %q; want the sign-in page", p.Status, p.Location)
	}

	code, out := h.api("GET", "/v1/audit", key, nil)
	if code != 200 {
		t.Fatalf("audit = %d", code)
	}
	actions := map[string]bool{}
	for _, e := range out["audit"].([]any) {
		actions[e.(map[string]any)["action"].(string)] = true
	}
	for _, want := range []string{"invited", "password_set", "signed_in"} {
		if !actions[want] {
			t.Errorf("audit has no %q entry: %v", want, actions)
		}
	}
	for _, secret := range []string{goodPassword, "Password1234", strings.TrimPrefix(link, h.url+"/console/invite/"), "Dana Whitfield", "dana.whitfield@example.org"} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if raw, _ := h.store.Redis().Keys(t.Context(), "*").Result(); strings.Contains(strings.Join(raw, " "), strings.TrimPrefix(link, h.url+"/console/invite/")) {
		t.Error("a Redis key holds the invitation token itself")
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// Wrong passwords from one address: ten are answered 401, the eleventh 429
// with Retry-After, and then even the right password is not checked.
func TestWrongPasswordsAreThrottled(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	h.newStaff(key, "Dana Whitfield", "dana@example.org", "case_manager")
	b := h.browser()
	for i := 1; i <= 10; i++ {
		p := b.post("/console/login", url.Values{"email": {"dana@example.org"}, "password": {"wrong password " + string(rune('a'+i))}})
		if p.Status != http.StatusUnauthorized || !strings.Contains(flash(p.Body), "wrong") {
			t.Fatalf("wrong password %d = %d %q; want 401", i, p.Status, flash(p.Body))
		}
	}
	p := b.post("/console/login", url.Values{"email": {"dana@example.org"}, "password": {"wrong again 11"}})
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Fatalf("11th wrong password = %d (Retry-After %q); want 429 with Retry-After", p.Status, p.Header.Get("Retry-After"))
	}
	if p := b.post("/console/login", url.Values{"email": {"dana@example.org"}, "password": {goodPassword}}); p.Status != http.StatusTooManyRequests {
		t.Errorf("right password while locked = %d; want 429", p.Status)
	}
	if strings.Contains(h.logs.String(), "wrong again 11") {
		t.Error("logs contain a tried password")
	}
	h.clock.Advance(61 * time.Second)
	b.signIn("dana@example.org", goodPassword, "/console/")
}

// A case manager sees their caseload's escalations, not another's (404),
// and no admin page (403); a supervisor sees the agency's; another agency's
// admin sees none of it (404).
func TestRoleScoping(t *testing.T) {
	h := newHarness(t)
	agency, key := h.agency("Northside")
	anaID, ana := h.newStaff(key, "Ana Reyes", "ana@example.org", "case_manager")
	benID, ben := h.newStaff(key, "Ben Osei", "ben@example.org", "case_manager")
	_, sup := h.newStaff(key, "Sue Park", "sue@example.org", "supervisor")
	_, keyB := h.agency("Elsewhere")
	_, otherAdmin := h.newStaff(keyB, "Oli Grant", "oli@example.org", "admin")
	h.client(key, anaID, "Rosa Delgado", "+13125550142")
	bens := h.client(key, benID, "Sam Okafor", "+13125550157")
	esc := h.crisis(agency, bens)

	if p := ana.get("/console/staff"); p.Status != http.StatusForbidden {
		t.Errorf("case manager on the staff page = %d; want 403", p.Status)
	}
	if p := sup.get("/console/staff"); p.Status != http.StatusForbidden {
		t.Errorf("supervisor on the staff page = %d; want 403", p.Status)
	}
	if p := ana.get("/console/escalations/" + esc); p.Status != http.StatusNotFound || strings.Contains(p.Body, "Sam Okafor") {
		t.Errorf("another caseload's escalation = %d; want 404 without the name", p.Status)
	}
	if p := ana.post("/console/escalations/"+esc+"/ack", nil); p.Status != http.StatusNotFound {
		t.Errorf("ack of another caseload's escalation = %d; want 404", p.Status)
	}
	if p := ana.get("/console/"); strings.Contains(p.Body, "Sam Okafor") {
		t.Error("a case manager's inbox shows another caseload's client")
	}
	if p := ben.get("/console/"); !strings.Contains(p.Body, "Sam Okafor") || !strings.Contains(p.Body, "suicidal ideation") {
		t.Errorf("the case manager's inbox lacks their client's crisis:\n%s", p.Body)
	}
	if p := sup.get("/console/escalations/" + esc); p.Status != 200 || !strings.Contains(p.Body, "Sam Okafor") {
		t.Errorf("supervisor on the escalation = %d; want 200", p.Status)
	}
	for _, path := range []string{"/console/escalations/" + esc, "/console/"} {
		if p := otherAdmin.get(path); strings.Contains(p.Body, "Sam Okafor") || (path != "/console/" && p.Status != http.StatusNotFound) {
			t.Errorf("another agency's admin on %s = %d; want nothing of it", path, p.Status)
		}
	}
	if p := otherAdmin.post("/console/escalations/"+esc+"/ack", nil); p.Status != http.StatusNotFound {
		t.Errorf("another agency's admin acking = %d; want 404", p.Status)
	}
	if p := otherAdmin.post("/console/staff/"+anaID+"/invite", nil); p.Status != http.StatusNotFound {
		t.Errorf("another agency's admin inviting = %d; want 404", p.Status)
	}
	_ = ben
}

// Acknowledge and Resolve act as the signed-in person: the API's
// escalation names them.
func TestAckAndResolveAsTheSignedInPerson(t *testing.T) {
	h := newHarness(t)
	agency, key := h.agency("Northside")
	benID, ben := h.newStaff(key, "Ben Osei", "ben@example.org", "case_manager")
	esc := h.crisis(agency, h.client(key, benID, "Sam Okafor", "+13125550157"))

	if p := ben.post("/console/escalations/"+esc+"/ack", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("ack = %d %q", p.Status, flash(p.Body))
	}
	_, out := h.api("GET", "/v1/escalations/"+esc, key, nil)
	if out["status"] != "acknowledged" || out["acknowledged_by"] != "staff:"+benID {
		t.Errorf("escalation after the console's ack = %v by %v; want acknowledged by staff:%s", out["status"], out["acknowledged_by"], benID)
	}
	if p := ben.post("/console/escalations/"+esc+"/resolve", url.Values{"note": {"  "}}); p.Status != http.StatusBadRequest {
		t.Errorf("resolve without a note = %d; want 400", p.Status)
	}
	if p := ben.post("/console/escalations/"+esc+"/resolve", url.Values{"note": {"Called; safe with family."}}); p.Status != http.StatusSeeOther {
		t.Fatalf("resolve = %d %q", p.Status, flash(p.Body))
	}
	_, out = h.api("GET", "/v1/escalations/"+esc, key, nil)
	if out["status"] != "resolved" {
		t.Errorf("status = %v; want resolved", out["status"])
	}
	audit, _ := out["audit"].([]any)
	last, _ := audit[len(audit)-1].(map[string]any)
	if last["actor"] != "staff:"+benID || last["action"] != "resolved" {
		t.Errorf("last audit entry = %v; want resolved by staff:%s", last, benID)
	}
}

// A form posted from another site is refused, whatever cookie it carries.
func TestCrossSiteFormIsRefused(t *testing.T) {
	h := newHarness(t)
	agency, key := h.agency("Northside")
	benID, ben := h.newStaff(key, "Ben Osei", "ben@example.org", "case_manager")
	esc := h.crisis(agency, h.client(key, benID, "Sam Okafor", "+13125550157"))
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "", "Origin", "http://evil.example"},
	} {
		p := ben.post("/console/escalations/"+esc+"/ack", nil, hdr...)
		if p.Status != http.StatusForbidden || !strings.Contains(flash(p.Body), "another site") {
			t.Errorf("cross-site ack %v = %d %q; want 403", hdr, p.Status, flash(p.Body))
		}
	}
	if _, out := h.api("GET", "/v1/escalations/"+esc, key, nil); out["status"] != "open" {
		t.Errorf("after refused posts the escalation is %v; want open", out["status"])
	}
	if p := h.browser().post("/console/login", url.Values{"email": {"ben@example.org"}, "password": {goodPassword}}, "Sec-Fetch-Site", "cross-site"); p.Status != http.StatusForbidden {
		t.Errorf("cross-site sign-in = %d; want 403", p.Status)
	}
}

// A session ends after the agency's idle time without a request (15
// minutes unless set), on the injected clock, and after 12 hours whatever.
func TestIdleSessionExpires(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	_, b := h.newStaff(key, "Ben Osei", "ben@example.org", "case_manager")
	h.clock.Advance(14 * time.Minute)
	if p := b.get("/console/"); p.Status != 200 {
		t.Fatalf("after 14 idle minutes = %d; want 200", p.Status)
	}
	h.clock.Advance(15*time.Minute + time.Second)
	p := b.get("/console/")
	if p.Status != http.StatusSeeOther || p.Location != "/console/login?expired=1" {
		t.Fatalf("after 15 idle minutes = %d → %q; want the sign-in page saying so", p.Status, p.Location)
	}
	if p := b.get(p.Location); !strings.Contains(flash(p.Body), "signed out") {
		t.Errorf("sign-in page after expiry says %q", flash(p.Body))
	}

	// The agency sets 5 minutes.
	if code, _ := h.api("PATCH", "/v1/agency", key, map[string]any{"session_idle": "5m"}); code != 200 {
		t.Fatalf("PATCH session_idle = %d", code)
	}
	b.signIn("ben@example.org", goodPassword, "/console/")
	h.clock.Advance(5*time.Minute + time.Second)
	if p := b.get("/console/"); p.Status != http.StatusSeeOther {
		t.Errorf("after the agency's 5 idle minutes = %d; want a redirect to sign in", p.Status)
	}

	// Active all day: still out after 12 hours.
	b.signIn("ben@example.org", goodPassword, "/console/")
	for range 12 * 15 {
		h.clock.Advance(4 * time.Minute)
		if p := b.get("/console/"); p.Status != 200 {
			t.Fatalf("an active session ended at %v", p.Status)
		}
	}
	h.clock.Advance(time.Minute)
	if p := b.get("/console/"); p.Status != http.StatusSeeOther {
		t.Errorf("after 12 h 1 min = %d; want signed out", p.Status)
	}
}

var secretRE = regexp.MustCompile(`name="secret" value="([A-Z2-7]+)"`)

// TOTP: enrolled with a code from the key shown; the next sign-in asks for
// a code, refuses a wrong one and a replayed one; an agency that requires
// TOTP sends a person without it to enrol before anything else.
func TestTOTP(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	_, b := h.newStaff(key, "Ben Osei", "ben@example.org", "case_manager")
	p := b.get("/console/account/totp")
	m := secretRE.FindStringSubmatch(p.Body)
	if m == nil || !strings.Contains(p.Body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page has no key or QR code:\n%s", p.Body)
	}
	code, _ := staff.TOTPCode(m[1], h.clock.Now())
	if p := b.post("/console/account/totp", url.Values{"secret": {m[1]}, "code": {"000000"}}); p.Status != http.StatusBadRequest {
		t.Errorf("enrol with a wrong code = %d; want 400", p.Status)
	}
	if p := b.post("/console/account/totp", url.Values{"secret": {m[1]}, "code": {code}}); p.Status != http.StatusSeeOther {
		t.Fatalf("enrol = %d %q", p.Status, flash(p.Body))
	}
	b.post("/console/logout", nil)

	h.clock.Advance(time.Minute)
	b.signIn("ben@example.org", goodPassword, "/console/login/totp")
	if p := b.get("/console/"); p.Status != http.StatusSeeOther || p.Location != "/console/login/totp" {
		t.Errorf("inbox before the code = %d → %q; want the code page", p.Status, p.Location)
	}
	if p := b.post("/console/login/totp", url.Values{"code": {"123456"}}); p.Status != http.StatusUnauthorized {
		t.Errorf("wrong code = %d; want 401", p.Status)
	}
	code, _ = staff.TOTPCode(m[1], h.clock.Now())
	if p := b.post("/console/login/totp", url.Values{"code": {code}}); p.Status != http.StatusSeeOther || p.Location != "/console/" {
		t.Fatalf("right code = %d → %q", p.Status, p.Location)
	}
	if p := b.get("/console/"); p.Status != 200 {
		t.Errorf("inbox after the code = %d", p.Status)
	}
	other := h.browser()
	other.signIn("ben@example.org", goodPassword, "/console/login/totp")
	if p := other.post("/console/login/totp", url.Values{"code": {code}}); p.Status != http.StatusUnauthorized {
		t.Errorf("replayed code = %d; want 401", p.Status)
	}

	// The agency requires TOTP: a person without it enrols first.
	if code, _ := h.api("PATCH", "/v1/agency", key, map[string]any{"require_totp": true}); code != 200 {
		t.Fatal("PATCH require_totp")
	}
	_, c := h.newStaff(key, "Cleo Diaz", "cleo@example.org", "case_manager")
	if p := c.get("/console/"); p.Status != http.StatusSeeOther || p.Location != "/console/account/totp" {
		t.Errorf("inbox without the required TOTP = %d → %q; want the enrolment page", p.Status, p.Location)
	}
	if p := c.get("/console/account/totp"); strings.Contains(p.Body, "Skip for now") || !strings.Contains(p.Body, "requires") {
		t.Error("required enrolment offers to skip it")
	}
}
