package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console, as staff use it, in headless Chromium: an admin created
// and invited through the API sets a password and invites a case manager
// from the Staff page; the case manager opens that link, sets a password,
// signs in with email and password; a signed crisis SMS arrives through
// fake Twilio and appears in the inbox without a reload; the case manager
// presses Acknowledge; the API shows the escalation acknowledged by them.
func TestConsoleInviteSignInLiveCrisisAck(t *testing.T) {
	tab := demoBrowser(t)
	s := startStack(t)
	z := s.seed()
	const danaEmail, adminEmail = "dana.whitfield@northside.example", "alex.admin@northside.example"
	const danaPassword, adminPassword = "harbour violet kettle 19", "granite comet willow 73"
	s.used.add(danaPassword, adminPassword)
	s.mustFn(s.api("PATCH", "/v1/case-managers/"+z.cm, z.key, map[string]any{"email": danaEmail}))(200)
	admin := s.mustFn(s.api("POST", "/v1/case-managers", z.key, map[string]any{"name": "Alex Admin", "email": adminEmail, "role": "admin"}))(201)
	link := s.mustFn(s.api("POST", "/v1/case-managers/"+admin["id"].(string)+"/invite", z.key, nil))(201)["url"].(string)

	p := &consolePage{demoPage{t: t, tab: tab}}
	setPassword := func(who, link, pw string) {
		t.Helper()
		p.do(who+" opens the invitation", chromedp.Navigate(link))
		p.do(who+" sets a password", chromedp.SendKeys("#password", pw), chromedp.SendKeys("#confirm", pw),
			chromedp.Click(`//button[normalize-space()="Set password"]`))
		p.waitFor(who+"'s TOTP offer", `location.pathname === "/console/account/totp" && !!document.querySelector("img.qr")`)
		p.do(who+" skips TOTP for now", chromedp.Click(`//a[normalize-space()="Skip for now"]`))
		p.waitFor(who+"'s inbox", `document.querySelector("h1").innerText === "Inbox"`)
	}
	setPassword("the admin", link, adminPassword)
	p.do("the admin opens Staff", chromedp.Click(`//nav//a[normalize-space()="Staff"]`))
	p.waitFor("the staff list", `!!document.querySelector('tr[data-staff="`+z.cm+`"]')`)
	p.do("the admin invites Dana", chromedp.Click(`tr[data-staff="`+z.cm+`"] button`))
	p.waitFor("the invitation link", `!!document.querySelector(".invite-url")`)
	danaLink := p.eval(`document.querySelector(".invite-url").innerText`)
	if !strings.HasPrefix(danaLink, s.url+"/console/invite/") {
		t.Fatalf("invitation link = %q", danaLink)
	}
	p.do("the admin signs out", chromedp.Click(`//button[normalize-space()="Sign out"]`))
	p.waitFor("the sign-in page", `location.pathname === "/console/login"`)

	setPassword("Dana", danaLink, danaPassword)
	p.do("Dana signs out", chromedp.Click(`//button[normalize-space()="Sign out"]`))
	p.waitFor("the sign-in page", `location.pathname === "/console/login"`)
	p.do("Dana signs in", chromedp.SendKeys(`input[type="email"]`, danaEmail), chromedp.SendKeys(`input[type="password"]`, danaPassword),
		chromedp.Click(`//button[normalize-space()="Sign in"]`))
	p.waitFor("Dana's empty inbox", `document.querySelector("h1").innerText === "Inbox" && document.querySelectorAll(".esc").length === 0
		&& document.querySelector(".who").innerText.includes("Dana Whitfield")`)
	p.eval(`window.sameDocument = "yes"`)
	p.waitFor("the live stream", `document.getElementById("inbox-lists").dataset.live === "on"`)

	if code, _ := s.sms(clientPhone, "I want to end my life"); code != 200 {
		t.Fatalf("crisis SMS webhook = %d", code)
	}
	sent := time.Now()
	p.waitFor("the crisis in the inbox, without a reload", `window.sameDocument === "yes" && !!document.querySelector('.esc.crisis[data-status="open"]')`)
	t.Logf("the crisis appeared in the open inbox %v after its webhook was answered", time.Since(sent).Round(10*time.Millisecond))
	// The alert is handed to the provider just after the escalation opens;
	// the card shows whom it reached once that is recorded, still live.
	p.waitFor("the alert to Dana on the card", `document.querySelector(".esc.crisis").innerText.includes("Dana Whitfield")`)
	card := p.eval(`document.querySelector(".esc.crisis").innerText`)
	for _, want := range []string{clientName, "crisis language", "Dana Whitfield"} {
		if !strings.Contains(card, want) {
			t.Errorf("crisis card lacks %q:\n%s", want, card)
		}
	}

	p.do("Dana presses Acknowledge", chromedp.Click(`//button[normalize-space()="Acknowledge"]`))
	p.waitFor("the escalation shown acknowledged", `!!document.querySelector('.esc.crisis[data-status="acknowledged"]')`)
	escs := s.mustFn(s.api("GET", "/v1/escalations?status=acknowledged", z.key, nil))(200)["escalations"].([]any)
	if len(escs) != 1 {
		t.Fatalf("acknowledged escalations = %d; want 1", len(escs))
	}
	e := escs[0].(map[string]any)
	if e["acknowledged_by"] != "staff:"+z.cm {
		t.Errorf("acknowledged_by = %v; want staff:%s (Dana, signed in)", e["acknowledged_by"], z.cm)
	}
	audit := e["audit"].([]any)
	var acked map[string]any
	for _, a := range audit {
		if a := a.(map[string]any); a["action"] == "acknowledged" {
			acked = a
		}
	}
	if acked == nil || acked["actor"] != "staff:"+z.cm || acked["detail"] != "via console" {
		t.Errorf("the acknowledgement's audit = %v; want staff:%s via console", acked, z.cm)
	}

	// The page at a phone's width: nothing wider than the screen.
	p.do("a 390 px screen", chromedp.EmulateViewport(390, 844))
	if fits := p.eval(`String(document.documentElement.scrollWidth <= window.innerWidth && window.innerWidth === 390)`); fits != "true" {
		t.Errorf("at 390 px the page is %s px wide; want no horizontal scroll", p.eval(`String(document.documentElement.scrollWidth)`))
	}
	for _, width := range []int64{1280, 390} {
		p.do("resize", chromedp.EmulateViewport(width, 900))
		shot, err := chromedp.Run(p.ctx(10*time.Second), chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		name := filepath.Join(t.TempDir(), "console-inbox-"+strconv.FormatInt(width, 10)+".png")
		if dir := os.Getenv("CARECHECK_CONSOLE_SCREENSHOT_DIR"); dir != "" {
			name = filepath.Join(dir, "console-inbox-"+strconv.FormatInt(width, 10)+".png")
		}
		if err := os.WriteFile(name, shot, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("screenshot: %s", name)
	}
}

// consolePage drives the console in one tab; its pages navigate (form
// posts, redirects), so its waits outlive a navigation.
type consolePage struct{ demoPage }

// waitFor evaluates a JS condition every 100 ms for up to 8 s; an
// evaluation that fails because the page is navigating is tried again.
func (p *consolePage) waitFor(what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(p.ctx(2*time.Second), chromedp.Evaluate[bool]("(() => { try { return !!("+cond+"); } catch (e) { return false; } })()"))
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond) // polling a browser, not timing the service
	}
	p.t.Fatalf("waiting for %s (last error %v)\npage:\n%s", what, last, p.eval("document.body.innerText"))
}
