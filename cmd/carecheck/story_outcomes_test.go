package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
)

// auditLines reads an escalation's audit as "action: detail" lines.
func auditLines(e map[string]any) []string {
	var out []string
	for _, a := range e["audit"].([]any) {
		en := a.(map[string]any)
		out = append(out, fmt.Sprint(en["action"], ": ", en["detail"]))
	}
	return out
}

// waitAudit waits until the escalation's audit has a line holding want
// (delivery reports come back on the provider's own time).
func (s *stack) waitAudit(key, id, want string) {
	s.t.Helper()
	deadline := time.Now().Add(storyWait)
	for {
		lines := auditLines(s.escalation(key, id))
		for _, l := range lines {
			if strings.Contains(l, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("audit lacks %q within %v:\n%s", want, storyWait, strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond) // polling the API; nothing under test is timed by it
	}
}

// What became of each alert is on the record, from the providers
// themselves: Twilio's signed delivery report of an SMS alert (delivered;
// undelivered, with its error code) and the Bot API's answer to a Telegram
// alert (an error, then sent), in the escalation's audit and in
// carecheck_alerts_total. An SMS alert reported undelivered for good moves
// the alert on at once: the backup does not wait out the step's minutes.
func TestStoryAlertOutcomesFromProviders(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.policy(z.key, 0, "assigned/5m", "backup/10m")

	// Delivered: the handset took it.
	s.twilio.ScriptStatuses(cmPhone, "queued", "sent", "delivered")
	id := s.crisis(z.key, clientPhone, "i want to kill myself", cmPhone)
	s.waitAudit(z.key, id, "alert outcome: "+z.cm+" by sms: delivered (message alert:"+id)
	s.mustFn(s.api("POST", "/v1/escalations/"+id+"/resolve", z.key, map[string]any{"note": "called, safe"}))(200)

	// Undelivered (30005, unknown handset: not worth retrying): the backup,
	// on Telegram, is alerted at once; the Bot API fails once (500), the
	// retry is sent.
	const chat = 555011
	s.linkStaffTelegram(z.key, z.backup, chat)
	s.twilio.ScriptStatuses(cmPhone, "sent", "undelivered:30005")
	s.tg.FailNext(1, 500, "Internal Server Error")
	s.clock.Jump(31 * time.Minute) // the next safety reply may go out
	start := s.clock.Now()
	id2 := s.crisis(z.key, clientPhone, "i am going to kill myself", cmPhone)
	s.waitAudit(z.key, id2, "alert outcome: "+z.cm+" by sms: undelivered (error 30005; message alert:"+id2)
	s.waitAudit(z.key, id2, "alert outcome: "+z.backup+" by telegram: error (error 500; message alert:"+id2)
	isAlertTo := func(m telegramtest.Message) bool {
		return m.ChatID == chat && len(m.Buttons) > 0 && m.Buttons[0].Data == "ack:"+id2
	}
	s.driveRetries(func() bool { return slices.ContainsFunc(s.tg.Sent(), isAlertTo) })
	alert := s.expectTG(chat, isAlertTo)
	if waited := s.clock.Now().Sub(start); waited >= 5*time.Minute {
		t.Errorf("the backup was alerted %v after the crisis; want at once (the SMS was undelivered)", waited)
	}
	s.waitAudit(z.key, id2, "alert outcome: "+z.backup+" by telegram: sent (message alert:"+id2)
	lines := strings.Join(auditLines(s.escalation(z.key, id2)), "\n")
	if !strings.Contains(lines, "by telegram: sent (message alert:"+id2) || !strings.Contains(lines, ":tg, attempt 2)") {
		t.Errorf("audit:\n%s\nwant the Telegram retry as attempt 2", lines)
	}
	if strings.Contains(lines, clientName) || strings.Contains(lines, cmPhone) || strings.Contains(lines, alert.Text) {
		t.Errorf("audit names the client or quotes the alert:\n%s", lines)
	}

	for _, c := range []struct {
		method, outcome string
		want            float64
	}{{"sms", "delivered", 1}, {"sms", "undelivered", 1}, {"telegram", "error", 1}, {"telegram", "sent", 1}} {
		if got := s.metric("carecheck_alerts_total", map[string]string{"method": c.method, "outcome": c.outcome}); got != c.want {
			t.Errorf("carecheck_alerts_total{%s,%s} = %v; want %v", c.method, c.outcome, got, c.want)
		}
	}
	if errs := s.twilio.CallbackErrors(); len(errs) != 0 {
		t.Errorf("the fake's status callbacks failed: %v", errs)
	}
	s.checkLogsArePrivate()
}
