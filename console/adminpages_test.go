package console_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var newKeyRE = regexp.MustCompile(`<code class="new-key">([^<]+)</code>`)

// TestConsoleAPIKeysPage: an admin makes a key (shown once, working against
// the API), sees it listed by prefix and last use without the key, revokes
// it (the next API request with it is 401), cannot revoke the last one; a
// refused name says why and makes nothing; every change is in the audit as
// the admin; case managers and supervisors get 403; another agency's key is 404.
func TestConsoleAPIKeysPage(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	adminID, admin := h.newStaff(key, "Ada Admin", "ada@example.org", "admin")

	p := admin.post("/console/keys", url.Values{"name": {"reports export"}})
	m := newKeyRE.FindStringSubmatch(p.Body)
	if p.Status != http.StatusCreated || m == nil {
		t.Fatalf("create key = %d %q; want 201 showing the key", p.Status, flash(p.Body))
	}
	newKey := m[1]
	if code, _ := h.api("GET", "/v1/audit", newKey, nil); code != 200 {
		t.Errorf("the new key against the API = %d; want 200", code)
	}
	list := admin.get("/console/keys")
	if list.Status != 200 || strings.Contains(list.Body, newKey) || !strings.Contains(list.Body, html.EscapeString(newKey[:10])) || !strings.Contains(list.Body, "reports export") {
		t.Errorf("keys page = %d; want the key listed by name and prefix, never the key", list.Status)
	}
	for _, tc := range []struct {
		name   string
		status int
		says   string
	}{
		{"bad\x1bname", 400, "Key name: the control character U+001B is not allowed"},
		{"reports export", 409, "A live key already has this name."},
	} {
		p := admin.post("/console/keys", url.Values{"name": {tc.name}})
		if p.Status != tc.status || !strings.Contains(html.UnescapeString(flash(p.Body)), tc.says) || newKeyRE.MatchString(p.Body) {
			t.Errorf("create key %q = %d %q; want %d saying %q, no key", tc.name, p.Status, flash(p.Body), tc.status, tc.says)
		}
	}
	_, keys := h.api("GET", "/v1/api-keys", key, nil)
	if n := len(keys["api_keys"].([]any)); n != 2 {
		t.Errorf("live keys = %d; want 2 (the refused names made nothing)", n)
	}
	var newID, firstID string
	for _, k := range keys["api_keys"].([]any) {
		k := k.(map[string]any)
		if k["name"] == "reports export" {
			newID = k["id"].(string)
		} else {
			firstID = k["id"].(string)
		}
	}
	if p := admin.post("/console/keys/"+newID+"/revoke", nil); p.Status != 200 {
		t.Errorf("revoke = %d %q", p.Status, flash(p.Body))
	}
	if code, _ := h.api("GET", "/v1/audit", newKey, nil); code != 401 {
		t.Errorf("the revoked key against the API = %d; want 401", code)
	}
	if p := admin.post("/console/keys/"+firstID+"/revoke", nil); p.Status != http.StatusConflict {
		t.Errorf("revoking the last key = %d; want 409", p.Status)
	}

	// The audit names the admin for both changes, newest first.
	_, out := h.api("GET", "/v1/audit", key, nil)
	var seen []string
	for _, e := range out["audit"].([]any) {
		e := e.(map[string]any)
		if e["kind"] == "api_key" && e["record_id"] == newID {
			actor := e["actor"].(map[string]any)
			if actor["kind"] != "staff" || actor["id"] != adminID {
				t.Errorf("audit %v by %v; want staff %s", e["action"], actor, adminID)
			}
			seen = append(seen, e["action"].(string))
		}
	}
	if strings.Join(seen, ",") != "revoked,created" {
		t.Errorf("audit of the key = %v; want revoked, created", seen)
	}
	page := admin.get("/console/audit")
	if page.Status != 200 || !strings.Contains(page.Body, "Ada Admin") || !strings.Contains(page.Body, newID) ||
		strings.Index(page.Body, "revoked") > strings.Index(page.Body, "created") {
		t.Errorf("audit page = %d; want the admin's changes, newest first", page.Status)
	}

	_, cm := h.newStaff(key, "Cam Case", "cam@example.org", "case_manager")
	_, sup := h.newStaff(key, "Sue Super", "sue@example.org", "supervisor")
	for who, b := range map[string]*browser{"case manager": cm, "supervisor": sup} {
		for _, path := range []string{"/console/keys", "/console/audit"} {
			if p := b.get(path); p.Status != http.StatusForbidden {
				t.Errorf("%s GET %s = %d; want 403", who, path, p.Status)
			}
		}
		if p := b.post("/console/keys", url.Values{"name": {"sneaky"}}); p.Status != http.StatusForbidden {
			t.Errorf("%s creating a key = %d; want 403", who, p.Status)
		}
		if p := b.post("/console/keys/"+firstID+"/revoke", nil); p.Status != http.StatusForbidden {
			t.Errorf("%s revoking = %d; want 403", who, p.Status)
		}
	}
	_, otherKey := h.agency("Southside")
	_, other := h.newStaff(otherKey, "Oz Other", "oz@example.org", "admin")
	if p := other.post("/console/keys/"+firstID+"/revoke", nil); p.Status != http.StatusNotFound {
		t.Errorf("another agency's admin revoking = %d; want 404", p.Status)
	}
	if p := other.get("/console/audit"); strings.Contains(p.Body, newID) || strings.Contains(p.Body, "Ada Admin") {
		t.Errorf("another agency's audit page shows Northside's records")
	}
}

// TestConsoleAuditPages: the audit log pages newest first, 50 a page.
func TestConsoleAuditPages(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	_, admin := h.newStaffLang(key, "Ada Admin", "ada@example.org", "admin", "es")
	for i := range 55 {
		if code, out := h.api("PATCH", "/v1/agency", key, map[string]any{"missed_in_a_row": 2 + i%2}); code != 200 {
			t.Fatalf("patch = %d %v", code, out)
		}
	}
	p := admin.get("/console/audit")
	next := regexp.MustCompile(`href="/console/audit\?cursor=([0-9-]+)"`).FindStringSubmatch(p.Body)
	if p.Status != 200 || next == nil || !strings.Contains(p.Body, "Registro de auditoría") {
		t.Fatalf("audit page 1 = %d, next %v; want a Spanish page with a link to older entries", p.Status, next)
	}
	if n := strings.Count(p.Body, "<tr>") - 1; n != 50 {
		t.Errorf("page 1 rows = %d; want 50", n)
	}
	p2 := admin.get("/console/audit?cursor=" + next[1])
	if p2.Status != 200 || strings.Count(p2.Body, "<tr>")-1 < 5 {
		t.Errorf("page 2 = %d with %d rows", p2.Status, strings.Count(p2.Body, "<tr>")-1)
	}
	if p := admin.get("/console/audit?cursor=bogus"); p.Status != http.StatusNotFound {
		t.Errorf("bad cursor = %d; want 404", p.Status)
	}
}
