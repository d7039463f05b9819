package main

import (
	"strings"
	"testing"
	"time"
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
