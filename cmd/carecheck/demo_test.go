package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carecheck/carecheck/cmd/internal/demo"
	"github.com/carecheck/carecheck/console/browsertest"
)

// demoBrowser starts headless Chromium for one test and returns its tab.
func demoBrowser(t *testing.T) context.Context { return browsertest.Start(t, 1440, 1150) }

var demoAckRE = regexp.MustCompile(`ACK (\d+)`)

// The person at the demo page plays a client in crisis and the case
// manager: the crisis text gets the safety message back and alerts the case
// manager; nobody answers, so the backup is alerted too; the case manager
// replies ACK <n> and the page shows the escalation acknowledged. Every
// message goes through the service as a signed provider webhook.
func TestDemoPageCrisisAndAck(t *testing.T) {
	tab := demoBrowser(t)
	logs := &syncBuffer{}
	app, err := demo.Start(t.Context(), startInProc, demo.Options{
		Addr: "127.0.0.1:0", PageAddr: "127.0.0.1:0",
		// Seconds, not minutes: the backup is alerted 2 s after the case manager.
		Timings: demo.Timings{ReplyWindow: time.Minute, AssignedWait: 2 * time.Second, BackupWait: time.Minute, Repeat: 0, ReminderIn: 10 * time.Minute},
		LogTo:   logs, LogLevel: "debug",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Errorf("close demo: %v", err)
		}
	})

	p := &demoPage{t: t, tab: tab}
	p.do("open the page", chromedp.Navigate(app.PageURL))

	// The check-ins started at seed: Rosa's by SMS, Sam's on Telegram with buttons.
	p.waitFor("Rosa's check-in question", `threadText("client-sms").includes("mood")`)
	p.waitFor("Sam's Telegram buttons", `document.querySelectorAll('[data-phone="client-tg"] .kb button').length >= 11`)
	p.do("press 7 as Sam", chromedp.Click(`[data-phone="client-tg"] .kb button[data-data="ans:7"]`))
	p.waitFor("the answer to Sam's button", `(() => {
		const msgs = [...document.querySelectorAll('[data-phone="client-tg"] .msg')];
		const i = msgs.findIndex(m => m.classList.contains("pressed"));
		return i >= 0 && msgs.slice(i + 1).some(m => m.classList.contains("in"));
	})()`)

	// Rosa, in crisis.
	p.typeAs("client-sms", "I want to end my life")
	p.waitFor("the safety message to Rosa", `threadText("client-sms").includes("988")`)
	p.waitFor("the alert to Dana", `/ACK \d+/.test(threadText("cm"))`)
	p.waitFor("the escalation shown open", `!!document.querySelector('.esc[data-status="open"]')`)
	p.waitFor("the climb to Ellis, the backup", `/ACK \d+/.test(threadText("backup"))`)

	alert := p.text("cm")
	m := demoAckRE.FindStringSubmatch(alert)
	if m == nil {
		t.Fatalf("case manager panel has no ACK code: %q", alert)
	}
	if strings.Contains(alert, "end my life") {
		t.Errorf("the alert quotes the client: %q", alert)
	}

	// Dana takes it with one reply.
	p.typeAs("cm", "ACK "+m[1])
	p.waitFor("the escalation shown acknowledged", `!!document.querySelector('.esc[data-status="acknowledged"]')`)
	p.waitFor("Dana's confirmation", `threadText("cm").includes("acknowledged")`)
	if got := p.eval(`document.querySelector('.esc[data-status="acknowledged"]').innerText`); !strings.Contains(got, demo.CaseManagerName) {
		t.Errorf("escalation card = %q; want acknowledged by %s", got, demo.CaseManagerName)
	}

	// What was sent went through the fakes, as to real phones.
	var toRosa []string
	for _, msg := range app.SentSMS() {
		if msg.To == demo.SMSClientPhone {
			toRosa = append(toRosa, msg.Body)
		}
	}
	if !strings.Contains(strings.Join(toRosa, "\n"), "988") {
		t.Errorf("fake Twilio has no safety message to Rosa: %q", toRosa)
	}

	for _, secret := range []string{demo.SMSClientPhone, demo.CaseManagerPhone, demo.BackupPhone, "3125550142", demo.SMSClientName, demo.CaseManagerName, "Rosa", "end my life"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}

	p.waitFor("the page to settle", `document.querySelectorAll('.esc .audit tr').length >= 4`)
	shot, err := chromedp.Run(p.ctx(10*time.Second), chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), "carecheck-demo.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	if dir := os.Getenv("CARECHECK_DEMO_SCREENSHOT_DIR"); dir != "" { // keep one beyond the test
		keep := filepath.Join(dir, "carecheck-demo.png")
		if err := os.WriteFile(keep, shot, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("screenshot kept: %s", keep)
	}
}

// demoPage drives the demo page in one tab.
type demoPage struct {
	t   *testing.T
	tab context.Context
}

// helpers the page's expressions use.
const demoPageHelpers = `const threadText = (id) => (document.querySelector('[data-phone="' + id + '"] .thread') || {}).innerText || "";`

func (p *demoPage) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(p.tab, d)
	p.t.Cleanup(cancel)
	return ctx
}

func (p *demoPage) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx(10*time.Second), actions...); err != nil {
		p.t.Fatalf("%s: %v\npage:\n%s", what, err, p.eval("document.body.innerText"))
	}
}

// waitFor polls a JS condition for up to 8 s.
func (p *demoPage) waitFor(what, cond string) {
	p.t.Helper()
	expr := "(() => { " + demoPageHelpers + " return " + cond + "; })()"
	_, err := chromedp.Run(p.ctx(9*time.Second), chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(8*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		p.t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, p.eval("document.body.innerText"))
	}
}

// typeAs types into a phone's box and presses Send, as a person would.
func (p *demoPage) typeAs(phone, text string) {
	p.t.Helper()
	sel := fmt.Sprintf(`[data-phone=%q]`, phone)
	p.do("type as "+phone,
		chromedp.SendKeys(sel+` input[name="text"]`, text),
		chromedp.Click(sel+` .compose button[type="submit"]`),
	)
}

func (p *demoPage) text(phone string) string {
	return p.eval("(() => { " + demoPageHelpers + " return threadText(" + fmt.Sprintf("%q", phone) + "); })()")
}

func (p *demoPage) eval(expr string) string {
	s, err := chromedp.Run(p.ctx(5*time.Second), chromedp.Evaluate[string](expr))
	if err != nil {
		return fmt.Sprintf("(evaluate: %v)", err)
	}
	return s
}

// The demo's on-call part, without a browser: a crisis nobody takes climbs
// past the case manager and the backup to the person on call in the
// rotation, whom the service calls; the demo prints the call placed and
// how it ended (her phone answers and presses 1), and the escalation is
// hers.
func TestDemoPrintsTheOnCallCall(t *testing.T) {
	logs, calls := &syncBuffer{}, &syncBuffer{}
	app, err := demo.Start(t.Context(), startInProc, demo.Options{
		Addr: "127.0.0.1:0", PageAddr: "127.0.0.1:0",
		// The demo runs on the real clock: a second a step.
		Timings: demo.Timings{ReplyWindow: time.Minute, AssignedWait: time.Second, BackupWait: time.Second, Repeat: 0, ReminderIn: 10 * time.Minute},
		LogTo:   logs, LogLevel: "debug", CallsTo: calls,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Errorf("close demo: %v", err)
		}
	})
	body := strings.NewReader(`{"phone":"client-sms","text":"I want to end my life"}`)
	resp, err := http.Post(app.PageURL+"api/send", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("typing as the client = %d; want 200", resp.StatusCode)
	}
	deadline := time.Now().Add(30 * time.Second)
	want := regexp.MustCompile(`(?s)call placed to ` + demo.OnCallName + ` \(on call, ` + demo.RotationName + `\): (CA[0-9a-f]{32})\n.*call (CA[0-9a-f]{32}) ended: completed; the alert was read, 1 pressed`)
	for !want.MatchString(calls.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the demo printed %q; want the on-call call placed and its outcome", calls.String())
		}
		time.Sleep(50 * time.Millisecond) // the demo's clock is the real one
	}
	m := want.FindStringSubmatch(calls.String())
	if m[1] != m[2] {
		t.Errorf("placed %s, ended %s; want the same call", m[1], m[2])
	}
	var list struct {
		Escalations []map[string]any `json:"escalations"`
	}
	req, _ := http.NewRequest("GET", app.ServiceURL+"/v1/escalations", nil)
	req.Header.Set("Authorization", "Bearer "+app.APIKey)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Escalations) != 1 {
		t.Fatalf("escalations = %v, %v; want one", list.Escalations, err)
	}
	if e := list.Escalations[0]; e["status"] != "acknowledged" {
		t.Errorf("escalation %v by %v; want acknowledged by the person on call", e["status"], e["acknowledged_by"])
	}
	for _, secret := range []string{demo.SMSClientPhone, demo.OnCallPhone, "3125550193", demo.SMSClientName, "end my life"} {
		if strings.Contains(logs.String(), secret) || strings.Contains(calls.String(), secret) {
			t.Errorf("the demo's logs or call lines hold %q", secret)
		}
	}
}
