package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// The on-call people of the rotation stories.
const (
	nightPhone = "+13125550144"
	nightName  = "Noor Haddad"
	dayPhone   = "+13125550155"
	dayName    = "Priya Lindqvist"
	coverPhone = "+13125550166"
	coverName  = "Sam Okafor"
)

// onCallSeed adds three staff members and a daily rotation of two of them
// (hand-off at 08:00 Chicago; the stack's clock starts on a Tuesday at 09:00
// there, in the night person's shift), and a policy whose second step is
// the rotation. It returns the rotation id and the three staff ids.
func (s *stack) onCallSeed(z seeded) (rot, night, day, cover string) {
	s.t.Helper()
	staff := func(name, phone string) string {
		return s.mustFn(s.api("POST", "/v1/case-managers", z.key, map[string]any{"name": name, "phone": phone}))(201)["id"].(string)
	}
	night, day, cover = staff(nightName, nightPhone), staff(dayName, dayPhone), staff(coverName, coverPhone)
	// Shift k starts on 2026-11-20 + k days: the 24th is shift 4, night's.
	rot = s.mustFn(s.api("POST", "/v1/rotations", z.key, map[string]any{
		"name": "Crisis line", "staff": []string{night, day}, "handoff": "daily", "at": "08:00", "start": "2026-11-20"}))(201)["id"].(string)
	s.policy(z.key, 0, "assigned/5m", "on-call:"+rot+"/10m")
	return rot, night, day, cover
}

// A policy's second step names a rotation: when it runs, whoever is on call
// then is alerted (and may take it by SMS); an override redirects it.
func TestStoryOnCallStepAlertsWhoeverIsOnCall(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	rot, night, _, cover := s.onCallSeed(z)
	if got := s.mustFn(s.api("GET", "/v1/rotations/"+rot+"/on-call", z.key, nil))(200)["on_call"].(map[string]any)["staff_id"]; got != night {
		t.Fatalf("on call now = %v; want %s", got, night)
	}
	id := s.crisis(z.key, clientPhone, "i want to kill myself", cmPhone)
	m := s.mark()
	s.clock.Jump(5*time.Minute + time.Second)
	alert := s.nextSMS(m, nightPhone, isAlert)
	s.sms(nightPhone, "ACK "+ackCode.FindStringSubmatch(alert.Body)[1])
	s.expectSMS(nightPhone, contains("acknowledged"))
	if e := s.escalation(z.key, id); e["status"] != "acknowledged" || e["acknowledged_by"] != "staff:"+night {
		t.Errorf("escalation %v by %v; want acknowledged by the person on call", e["status"], e["acknowledged_by"])
	}

	// Sam covers the next hour: a second crisis (another client) reaches Sam, not the rota.
	now := s.clock.Now()
	s.mustFn(s.api("POST", "/v1/rotations/"+rot+"/overrides", z.key, map[string]any{
		"staff_id": cover, "start": now.Add(-time.Minute), "end": now.Add(time.Hour)}))(201)
	s.clientAt(z, "Omar Other", "+13125550160", "en", true)
	m = s.mark()
	s.sms("+13125550160", "i want to kill myself")
	s.nextSMS(m, cmPhone, isAlert)
	s.clock.Jump(5*time.Minute + time.Second)
	s.nextSMS(m, coverPhone, func(b string) bool { return isAlert(b) && strings.Contains(b, "URGENT") })
	s.settle()
	if got := s.bodiesSince(m, nightPhone); len(got) != 0 {
		t.Errorf("the rota's person was alerted during the override: %q", got)
	}
	s.checkLogsArePrivate()
}

// contactRules sets a staff member's contact rules ("0s/sms", "2m/voice").
func (s *stack) contactRules(key, staff string, rules ...string) {
	s.t.Helper()
	var list []map[string]any
	for _, r := range rules {
		after, method, _ := strings.Cut(r, "/")
		list = append(list, map[string]any{"after": after, "method": method})
	}
	s.mustFn(s.api("PATCH", "/v1/case-managers/"+staff, key, map[string]any{"contact_rules": list}))(200)
}

// expectCall waits for a new call to a phone, placed after the first n calls.
func (s *stack) expectCall(n int, to string) twiliotest.Call {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), storyWait)
	defer cancel()
	c, err := s.twilio.WaitForCall(ctx, func(c twiliotest.Call) bool {
		return c.To == to && slices.IndexFunc(s.twilio.Calls(), func(x twiliotest.Call) bool { return x.SID == c.SID }) >= n
	})
	if err != nil {
		s.t.Fatalf("no call to %s within %v; calls: %+v", to, storyWait, s.twilio.Calls())
	}
	return c
}

// metric reads a counter of the service's registry with these labels.
func (s *stack) metric(name string, labels map[string]string) float64 {
	s.t.Helper()
	mfs, err := s.svc.registry.Gather()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// The trial: the policy's second step is a rotation; nobody takes
// the crisis by SMS; the step advances and the person on call is texted,
// then called two minutes on (their contact rules). A forged or unsigned
// key press changes nothing; the call, signed as Twilio signs it, reads the
// alert and takes the 1: the escalation is theirs. The rule after it is
// cancelled by the acknowledgement.
func TestStoryOnCallVoiceCallTakesPressOne(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	_, night, _, _ := s.onCallSeed(z)
	s.contactRules(z.key, night, "0s/sms", "2m/voice", "5m/voice")
	id := s.crisis(z.key, clientPhone, "i want to kill myself", cmPhone)
	m := s.mark()
	s.clock.Jump(5*time.Minute + time.Second)
	s.nextSMS(m, nightPhone, isAlert)
	s.settle()
	if n := len(s.twilio.Calls()); n != 0 {
		t.Fatalf("%d calls before the voice rule's two minutes", n)
	}
	s.clock.Jump(2 * time.Minute)
	call := s.expectCall(0, nightPhone)
	if !strings.HasPrefix(call.URL, s.url+twilio.VoicePath+"?") || !strings.HasPrefix(call.StatusCallback, s.url+twilio.VoiceStatusPath+"?") {
		t.Errorf("call URLs = %s, %s; want ours", call.URL, call.StatusCallback)
	}

	// A key press nobody signed, or signed with another key: 403, nothing changes.
	digits := strings.Replace(call.URL, twilio.VoicePath+"?", twilio.VoiceDigitsPath+"?", 1)
	form := url.Values{"AccountSid": {accountSID}, "CallSid": {call.SID}, "CallStatus": {"in-progress"}, "Digits": {"1"}}
	for name, sig := range map[string]string{"unsigned": "", "forged": twiliotest.Sign("another-token-0123456789abcdef", digits, form)} {
		req, _ := http.NewRequest("POST", digits, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set(twilio.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s key press = %d; want 403", name, resp.StatusCode)
		}
		if e := s.escalation(z.key, id); e["status"] != "open" {
			t.Fatalf("after a %s key press the escalation is %v; want open", name, e["status"])
		}
	}

	// Answered, the alert read, 1 pressed: each request signed as Twilio signs.
	if err := s.twilio.Play(context.Background(), call.SID, twiliotest.PressOne); err != nil {
		t.Fatal(err)
	}
	call = s.expectCall(0, nightPhone)
	if len(call.TwiML) != 2 || !strings.Contains(call.TwiML[0], `<Gather numDigits="1"`) || !strings.Contains(call.TwiML[0], "Press 1 to take this alert") ||
		!strings.Contains(call.TwiML[0], strings.Join(strings.Split(id[len(id)-6:], ""), " ")) || !strings.Contains(call.TwiML[1], "The alert is yours") {
		t.Errorf("TwiML = %q; want the alert with a one-digit gather, then the thanks", call.TwiML)
	}
	for _, doc := range call.TwiML {
		if strings.Contains(doc, "R.O.") || strings.Contains(doc, "Rosalind") || strings.Contains(doc, z.client) {
			t.Errorf("the call names the client: %q", doc)
		}
	}
	e := s.escalation(z.key, id)
	if e["status"] != "acknowledged" || e["acknowledged_by"] != "staff:"+night {
		t.Fatalf("escalation %v by %v; want acknowledged by the person on call", e["status"], e["acknowledged_by"])
	}
	var details []string
	for _, a := range e["audit"].([]any) {
		en := a.(map[string]any)
		details = append(details, fmt.Sprint(en["action"], ": ", en["detail"]))
	}
	joined := strings.Join(details, "\n")
	for _, want := range []string{"to " + night + " by sms (ACK", "to " + night + " by voice (ACK", "acknowledged: via voice", "call ended: " + night + ": completed (call " + call.SID + ")"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %q:\n%s", want, joined)
		}
	}

	// The 5-minute voice rule is cancelled by the acknowledgement.
	s.clock.Jump(10 * time.Minute)
	s.settle()
	if n := len(s.twilio.Calls()); n != 1 {
		t.Errorf("%d calls; want 1 (the rule after the acknowledgement cancelled)", n)
	}
	if got := s.metric("carecheck_alerts_total", map[string]string{"method": "voice", "outcome": "acknowledged"}); got != 1 {
		t.Errorf("voice acknowledged = %v; want 1", got)
	}
	if got := s.metric("carecheck_escalation_time_to_ack_seconds", map[string]string{"via": "voice"}); got != 1 {
		t.Errorf("time-to-ack observations via voice = %v; want 1", got)
	}
	s.checkLogsArePrivate()
}

// An override sends the rotation's step to the person covering; their
// call rings out, so the alert goes to them by SMS at once.
func TestStoryOnCallOverrideNoAnswerFallsBackToSMS(t *testing.T) {
	// Every way a call can end without a person pressing 1 moves the alert
	// on the same way: recorded, then an SMS with an ACK code.
	for _, c := range []struct {
		script  twiliotest.CallScript
		outcome string
	}{{twiliotest.NoAnswer, "no-answer"}, {twiliotest.Busy, "busy"}, {twiliotest.Failed, "failed"}, {twiliotest.Voicemail, "voicemail"}} {
		t.Run(c.outcome, func(t *testing.T) { callNotTakenFallsBackToSMS(t, c.script, c.outcome) })
	}
}

func callNotTakenFallsBackToSMS(t *testing.T, script twiliotest.CallScript, outcome string) {
	s := startStack(t)
	z := s.seed()
	rot, _, _, cover := s.onCallSeed(z)
	s.contactRules(z.key, cover, "0s/voice")
	now := s.clock.Now()
	s.mustFn(s.api("POST", "/v1/rotations/"+rot+"/overrides", z.key, map[string]any{
		"staff_id": cover, "start": now, "end": now.Add(2 * time.Hour)}))(201)
	s.twilio.ScriptCall(coverPhone, script)
	id := s.crisis(z.key, clientPhone, "i want to kill myself", cmPhone)
	m := s.mark()
	s.clock.Jump(5*time.Minute + time.Second)
	call := s.expectCall(0, coverPhone)
	fallback := s.nextSMS(m, coverPhone, isAlert)
	if !strings.Contains(fallback.Body, "URGENT") {
		t.Errorf("fallback SMS = %q; want the alert", fallback.Body)
	}
	s.settle()
	if got := s.bodiesSince(m, nightPhone); len(got) != 0 {
		t.Errorf("the rota's person was alerted during the override: %q", got)
	}
	e := s.escalation(z.key, id)
	found := false
	for _, a := range e["audit"].([]any) {
		en := a.(map[string]any)
		if en["action"] == "call ended" && strings.Contains(fmt.Sprint(en["detail"]), cover+": "+outcome+"; SMS fallback (ACK") &&
			strings.Contains(fmt.Sprint(en["detail"]), call.SID) {
			found = true
		}
	}
	if !found || e["status"] != "open" {
		t.Errorf("escalation %v, audit %v; want open with the unanswered call and its SMS fallback", e["status"], e["audit"])
	}
	// The fallback's code takes it by SMS.
	s.sms(coverPhone, "ACK "+ackCode.FindStringSubmatch(fallback.Body)[1])
	s.expectSMS(coverPhone, contains("acknowledged"))
	if e := s.escalation(z.key, id); e["acknowledged_by"] != "staff:"+cover {
		t.Errorf("acknowledged by %v; want %s", e["acknowledged_by"], cover)
	}
	if got := s.metric("carecheck_alerts_total", map[string]string{"method": "voice", "outcome": outcome}); got != 1 {
		t.Errorf("voice %s = %v; want 1", outcome, got)
	}
	if errs := s.twilio.CallbackErrors(); len(errs) != 0 {
		t.Errorf("the fake's callbacks failed: %v", errs)
	}
	s.checkLogsArePrivate()
}

// Each round of a policy restarts the contact rules, so the on-call
// person's voice rule would call them every round. While the first round's
// call still rings, the second round (a minute later) does not call them
// again: its alert goes by SMS, and the audit says why. Once that call has
// ended (no answer), the third round calls them again.
func TestStoryOnCallRoundsDoNotStackCalls(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	rot, night, _, _ := s.onCallSeed(z)
	s.policy(z.key, 2, "on-call:"+rot+"/1m")
	s.contactRules(z.key, night, "0s/voice")
	m := s.mark()
	id := s.crisis(z.key, clientPhone, "i want to kill myself", "")
	first := s.expectCall(0, nightPhone) // it rings: nobody picks up yet
	s.waitAudit(z.key, id, "alert outcome: "+night+" by voice: placed (call "+first.SID)
	if lines := strings.Join(auditLines(s.escalation(z.key, id)), "\n"); !strings.Contains(lines, "step 1 round 1 to "+night+" by voice") || strings.Contains(lines, "skipped") {
		t.Errorf("audit:\n%s\nwant the first step's call to the person on call", lines)
	}

	s.clock.Jump(time.Minute + time.Second)
	s.nextSMS(m, nightPhone, isAlert)
	s.settle()
	if calls := s.twilio.Calls(); len(calls) != 1 {
		t.Fatalf("%d calls while the first still rings; want 1: %+v", len(calls), calls)
	}
	s.waitAudit(z.key, id, "round 2 to "+night+" by sms (ACK")
	s.waitAudit(z.key, id, "not called again: call "+first.SID+" still ringing or in progress)")

	// The first call rings out; the next round may call again, and does.
	if err := s.twilio.Play(context.Background(), first.SID, twiliotest.NoAnswer); err != nil {
		t.Fatal(err)
	}
	s.waitAudit(z.key, id, "call ended: "+night+": no-answer")
	s.clock.Jump(time.Minute)
	second := s.expectCall(1, nightPhone)
	if second.SID == first.SID {
		t.Fatalf("round 3 call = %s; want a new call", second.SID)
	}
	s.waitAudit(z.key, id, "round 3 to "+night+" by voice")
	s.waitAudit(z.key, id, "alert outcome: "+night+" by voice: placed (call "+second.SID)
	if got := s.metric("carecheck_alerts_total", map[string]string{"method": "voice", "outcome": "placed"}); got != 2 {
		t.Errorf("voice placed = %v; want 2", got)
	}
	if e := s.escalation(z.key, id); e["status"] != "open" {
		t.Errorf("escalation %v; want open (nobody took it)", e["status"])
	}
	s.checkLogsArePrivate()
}

// A call's final status can be lost (the service was down when Twilio sent
// it). The call is then taken as over once it can no longer be ringing
// (store.CallRingingFor after it was placed, when nobody picked up), so the
// next round calls the person on call again rather than only texting them
// for the rest of the night.
func TestStoryLostCallStatusDoesNotStopCalls(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	rot, night, _, _ := s.onCallSeed(z)
	s.policy(z.key, 2, "on-call:"+rot+"/3m")
	s.contactRules(z.key, night, "0s/voice")
	id := s.crisis(z.key, clientPhone, "i want to kill myself", "")
	first := s.expectCall(0, nightPhone) // its status never comes back
	s.waitAudit(z.key, id, "alert outcome: "+night+" by voice: placed (call "+first.SID)

	s.clock.Jump(3*time.Minute + time.Second)
	second := s.expectCall(1, nightPhone)
	if second.SID == first.SID {
		t.Fatalf("round 2 call = %s; want a new call", second.SID)
	}
	s.waitAudit(z.key, id, "round 2 to "+night+" by voice")
	if lines := strings.Join(auditLines(s.escalation(z.key, id)), "\n"); strings.Contains(lines, "not called again") {
		t.Errorf("audit:\n%s\nwant round 2 to call, the first call long past ringing", lines)
	}
	s.checkLogsArePrivate()
}

// Two crises a moment apart, both alerting the person on call by voice,
// before Twilio has taken the first call: the first alert's call is placed,
// the second goes by SMS (the audit says why), and the phone rings once.
func TestStoryTwoAlertsAtOnceCallOnce(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	const otherPhone = "+13125550177"
	s.mustFn(s.api("POST", "/v1/clients", z.key, map[string]any{
		"name": "Marguerite Ellison", "phone": otherPhone, "channel": "sms", "timezone": "America/Chicago", "case_manager_id": z.cm,
		"language": "en", "consent": map[string]any{"at": "2026-11-01T15:00:00Z", "method": "written"},
	}))(201)
	s.used.add("Marguerite Ellison", "Marguerite", "Ellison")
	rot, night, _, _ := s.onCallSeed(z)
	s.policy(z.key, 0, "on-call:"+rot+"/10m")
	s.contactRules(z.key, night, "0s/voice")
	release := s.twilio.HoldCalls() // Twilio is slow to take the call
	defer release()

	m := s.mark()
	first := s.crisis(z.key, clientPhone, "i want to kill myself", "")
	s.waitAudit(z.key, first, "step 1 round 1 to "+night+" by voice")
	if code, _ := s.sms(otherPhone, "i am going to end my life tonight"); code != 200 {
		t.Fatalf("second crisis webhook = %d", code)
	}
	s.nextSMS(m, nightPhone, isAlert) // the second alert, by SMS
	var second string
	for _, e := range s.openEscalations(z.key) {
		if id := e["id"].(string); id != first {
			second = id
		}
	}
	if second == "" {
		t.Fatal("no escalation for the second crisis")
	}
	s.waitAudit(z.key, second, "not called again: another alert's call to them is being placed")

	release()
	s.expectCall(0, nightPhone)
	s.waitAudit(z.key, first, "alert outcome: "+night+" by voice: placed")
	s.settle()
	if calls := s.twilio.Calls(); len(calls) != 1 {
		t.Errorf("%d calls to the person on call; want 1: %+v", len(calls), calls)
	}
	s.checkLogsArePrivate()
}
