package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/console/browsertest"
	"github.com/carecheck/carecheck/conversations"
)

// artefacts is where screenshots go: $CARECHECK_ARTEFACTS, else a
// directory of the test's own.
func artefacts(t *testing.T) string {
	if dir := os.Getenv("CARECHECK_ARTEFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// moodCheckin runs one daily-mood check-in of a client as the runner and
// the inbox would: the question goes out, the client answers by SMS.
func (h *harness) moodCheckin(agency, client, phone string, n int, mood string) {
	h.t.Helper()
	ctx := h.t.Context()
	w := conversations.Work{Kind: conversations.WorkCheckin, Client: client, Agency: agency, Questionnaire: "daily-mood",
		Occurrence: fmt.Sprintf("now:browser-%d", n), Due: h.clock.Now()}
	if err := h.rooms.Checkins.HandleCheckin(ctx, w); err != nil {
		h.t.Fatal(err)
	}
	for i, text := range []string{mood, "skip"} {
		h.clock.Advance(time.Minute)
		in := bot.Inbound{Channel: bot.SMS, Kind: bot.KindText, From: phone, ProviderID: fmt.Sprintf("SMbrowser%d%d", n, i), Text: text}
		if err := h.rooms.Inbox.Receive(ctx, in); err != nil {
			h.t.Fatal(err)
		}
	}
}

// axeViolation is one rule axe-core found broken.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// The console's pages in a real browser: a client's page shows the mood
// chart after three check-ins; the schedule form's preview is what GET
// …/upcoming answers once saved; axe-core (testdata/axe, injected into
// each page) finds no serious or critical violation on any page;
// screenshots at 1280 and 390 px wide. Then the story: an admin
// adds a case manager and invites them from the staff page; the case
// manager opens the link, sets a password and signs in.
func TestConsolePagesInABrowser(t *testing.T) {
	axe, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	agency, key := h.agency("Northside")
	anaID := h.staffMember(key, "Ana Reyes", "ana@example.org", "case_manager")
	sueID, _ := h.newStaff(key, "Sue Park", "sue@example.org", "supervisor")
	h.newStaff(key, "Ada Admin", "ada@example.org", "admin")
	inviteAna := h.invite(key, anaID)
	code, out := h.api("POST", "/v1/rotations", key, map[string]any{"name": "Crisis line", "staff": []string{anaID, sueID},
		"handoff": "weekly", "at": "09:00", "start": "2026-11-02"})
	if code != 201 {
		t.Fatalf("create rotation = %d %v", code, out)
	}
	rotID := out["id"].(string)
	if code, out := h.api("POST", "/v1/rotations/"+rotID+"/overrides", key, map[string]any{"staff_id": anaID,
		"start": h.clock.Now().Add(48 * time.Hour).Format(time.RFC3339), "end": h.clock.Now().Add(60 * time.Hour).Format(time.RFC3339)}); code != 201 {
		t.Fatalf("add override = %d %v", code, out)
	}
	rosa := h.client(key, anaID, "Rosa Delgado", "+13125550142")
	h.client(key, anaID, "Sam Okafor", "+13125550157")
	for i, mood := range []string{"6", "4", "7"} {
		if i > 0 {
			h.clock.Advance(24 * time.Hour)
		}
		h.moodCheckin(agency, rosa, "+13125550142", i, mood)
	}

	// Started after the harness, so that it stops first when the test ends:
	// the harness's server waits for the browser's open connections.
	tab := browsertest.Start(t, 1280, 900)
	ctx, cancel := context.WithTimeout(tab, 120*time.Second)
	defer cancel()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluate %.60s: %v", expr, err)
		}
		return v
	}
	esc := h.crisis(agency, h.client(key, anaID, "Lee Tran", "+13125550163"))
	dir := artefacts(t)
	checkAxe := func(page string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(axe)+";true")); err != nil {
			t.Fatalf("inject axe on %s: %v", page, err)
		}
		raw := eval(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`)
		var vs []axeViolation
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			t.Fatalf("axe on %s: %v", page, err)
		}
		if !strings.HasPrefix(raw, "[") {
			t.Fatalf("axe on %s answered %q; want its list of violations", page, raw)
		}
		t.Logf("axe on %s: %d violations of any impact", page, len(vs))
		for _, v := range vs {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("axe on %s: %s (%s): %s at %v", page, v.ID, v.Impact, v.Help, v.Nodes)
			}
		}
	}
	shoot := func(name string) {
		t.Helper()
		for _, width := range []int64{1280, 390} {
			do("viewport", chromedp.EmulateViewport(width, 900))
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			file := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The pages before sign-in: the sign-in page and an invitation's.
	for _, page := range []struct{ name, path string }{{"login", h.url + "/console/login"}, {"invite", inviteAna}} {
		do(page.name, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(page.path), chromedp.WaitVisible("main h1"))
		checkAxe(page.name)
		shoot(page.name)
	}
	do("sign in", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(h.url+"/console/login"),
		chromedp.SendKeys("#email", "ada@example.org"), chromedp.SendKeys("#password", goodPassword),
		chromedp.Submit("#password"), chromedp.WaitVisible("nav"))

	// The mood chart: three points, and its table the three moods.
	do("client page", chromedp.Navigate(h.url+"/console/clients/"+rosa), chromedp.WaitVisible(`svg[aria-labelledby="chart-mood-title chart-mood-desc"]`))
	points := eval(`String(document.querySelectorAll('svg[aria-labelledby^="chart-mood"] circle').length)`)
	table := eval(`[...document.querySelectorAll('figure.chart')[0].querySelectorAll('tbody td:nth-child(2)')].map(td => td.textContent).join(" ")`)
	if points != "3" || table != "6 4 7" {
		t.Errorf("mood chart: %s points, table %q; want 3 points, 6 4 7", points, table)
	}

	// The schedule form: weekly on Tuesday at 22:15, previewed, then saved.
	do("preview", chromedp.SetValue("#sf-every", "weekly"), chromedp.SetValue("#sf-day", "2"),
		chromedp.SetValue("#sf-at", "22:15"), chromedp.Click(`button[name="preview"]`), chromedp.WaitVisible("#preview"))
	preview := strings.Fields(eval(`[...document.querySelectorAll('#preview time')].map(t => t.getAttribute('datetime')).join(" ")`))
	checkAxe("the client's page with a preview")
	do("save", chromedp.Click(`button[formaction$="/schedules"]`), chromedp.WaitVisible(".flash"))
	_, list := h.api("GET", "/v1/clients/"+rosa+"/schedules", key, nil)
	scheds, _ := list["schedules"].([]any)
	if len(scheds) != 1 {
		t.Fatalf("schedules after saving = %v; want one", list)
	}
	_, up := h.api("GET", "/v1/clients/"+rosa+"/schedules/"+scheds[0].(map[string]any)["id"].(string)+"/upcoming?n=5", key, nil)
	var api []string
	for _, u := range up["upcoming"].([]any) {
		api = append(api, u.(map[string]any)["local"].(string))
	}
	if len(preview) != 5 || strings.Join(preview, " ") != strings.Join(api, " ") {
		t.Errorf("the form previewed %v; GET …/upcoming answers %v", preview, api)
	}

	checkAxe("the client's page")
	shoot("client")
	for _, page := range []struct{ name, path string }{
		{"clients", "/console/clients"}, {"reports", "/console/reports"}, {"inbox", "/console/"}, {"on-call", "/console/on-call"},
		{"rotation-new", "/console/on-call/new"}, {"rotation-edit", "/console/on-call/" + rotID + "/edit"},
		{"escalation", "/console/escalations/" + esc}, {"staff", "/console/staff"}, {"keys", "/console/keys"}, {"audit", "/console/audit"},
		{"settings", "/console/settings"}, {"policy", "/console/settings/policy"}, {"safety", "/console/settings/safety"}, {"phrases", "/console/settings/phrases"},
	} {
		do(page.name, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(h.url+page.path), chromedp.WaitVisible("main h1"))
		checkAxe(page.name)
		shoot(page.name)
	}
	// The story: the admin adds a case manager on the staff pages
	// and invites them from the staff list; the case manager opens the link,
	// sets a password and signs in as themselves.
	do("add staff form", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(h.url+"/console/staff/new"), chromedp.WaitVisible("#sm-name"))
	checkAxe("add a staff member")
	shoot("staff-new")
	do("add staff", chromedp.SendKeys("#sm-name", "Ben Ortiz"), chromedp.SendKeys("#sm-email", "ben@example.org"),
		chromedp.SendKeys("#sm-phone", "+13125550190"), chromedp.Submit("#sm-name"), chromedp.WaitVisible("p.flash"))
	if added := eval(`document.querySelector("p.flash").textContent`); !strings.Contains(added, "Ben Ortiz") {
		t.Fatalf("after adding, the staff list says %q; want Ben Ortiz added", added)
	}
	eval(`[...document.querySelectorAll("tr[data-staff]")].find(tr => tr.textContent.includes("Ben Ortiz")).querySelector("button").click(); ""`)
	do("invite", chromedp.WaitVisible("code.invite-url"))
	inviteBen := eval(`document.querySelector("code.invite-url").textContent`)
	if !strings.HasPrefix(inviteBen, h.url+"/console/invite/") {
		t.Fatalf("invitation link shown = %q", inviteBen)
	}
	eval(`[...document.querySelectorAll("tr[data-staff] a")].find(a => a.textContent == "Sue Park").click(); ""`)
	do("staff member page", chromedp.WaitVisible("#sm-backup"))
	checkAxe("a staff member")
	shoot("staff-edit")
	do("Telegram link", chromedp.Click(`form[action$="/telegram-link"] button`), chromedp.WaitVisible("code.telegram-url"))
	if link := eval(`document.querySelector("code.telegram-url").textContent`); !strings.HasPrefix(link, "https://t.me/") {
		t.Errorf("Telegram link shown = %q; want a t.me link", link)
	}
	checkAxe("a staff member's Telegram link")
	do("deactivate", chromedp.Click(`input[name="confirm"]`), chromedp.Click(`button.danger`), chromedp.WaitVisible("#still-named"))
	checkAxe("a staff member just deactivated")
	do("sign out", chromedp.Click(".signout button"), chromedp.WaitVisible("#email"))
	do("set password", chromedp.Navigate(inviteBen), chromedp.SendKeys("#password", "copper meadow falcon 8"),
		chromedp.SendKeys("#confirm", "copper meadow falcon 8"), chromedp.Submit("#confirm"), chromedp.WaitVisible("#code"))
	do("sign out again", chromedp.Click(".signout button"), chromedp.WaitVisible("#email"))
	do("sign in as Ben", chromedp.SendKeys("#email", "ben@example.org"), chromedp.SendKeys("#password", "copper meadow falcon 8"),
		chromedp.Submit("#password"), chromedp.WaitVisible("nav"))
	if who := eval(`document.querySelector(".who strong").textContent + " " + location.pathname`); who != "Ben Ortiz /console/" {
		t.Errorf("after signing in with the new password: %q; want Ben Ortiz on the inbox", who)
	}
	if links := eval(`[...document.querySelectorAll("nav a")].map(a => a.getAttribute("href")).join(" ")`); strings.Contains(links, "/console/staff") {
		t.Errorf("a case manager's menu offers the staff page: %s", links)
	}
	checkAxe("a case manager's inbox")

	// The check itself: an image without a text alternative is critical to axe.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("main").append(document.createElement("img")); true`)); err != nil {
		t.Fatal(err)
	}
	if raw := eval(`axe.run(document, {runOnly: ["image-alt"]}).then(r => r.violations.map(v => v.impact).join())`); raw != "critical" {
		t.Errorf("axe on a page with an image without alt = %q; want critical (is axe checking anything?)", raw)
	}
	t.Logf("screenshots in %s", dir)
}
