package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Stories of the safety question (README, "The safety question") and of
// strangers in crisis, through the whole service: signed Twilio webhooks
// in, the fake Twilio records what goes out.

var safetyQuestion = contains("thoughts of killing yourself right now")

// reasons lists an escalation's reasons.
func reasons(e map[string]any) []string {
	var out []string
	for _, r := range e["reasons"].([]any) {
		out = append(out, r.(string))
	}
	return out
}

// onlyOpen is the agency's one open escalation, read in full.
func (s *stack) onlyOpen(key string) map[string]any {
	s.t.Helper()
	open := s.openEscalations(key)
	if len(open) != 1 {
		s.t.Fatalf("open escalations = %d; want 1", len(open))
	}
	return s.escalation(key, open[0]["id"].(string))
}

// The words of issue 13: a plan with means in everyday words is a crisis.
func TestStoryPillsReadyPagesTheCaseManager(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.jumpTo(time.Date(2026, 11, 24, 23, 0, 0, 0, chicago))
	s.crisis(z.key, clientPhone, "i cant do this anymore, i have the pills ready", cmPhone)
	if e := s.onlyOpen(z.key); e["level"] != "crisis" {
		t.Errorf("escalation level = %v; want crisis", e["level"])
	}
	s.checkLogsArePrivate()
}

// An ambiguous message gets the safety question and nobody is paged yet;
// "yes" brings the safety reply and pages the case manager; the question
// and the answer are in the escalation's audit and on the timeline.
func TestStorySafetyQuestionYesPages(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	m := s.answer(clientPhone, "honestly i just want out", safetyQuestion)
	if !strings.Contains(m, "988") || !strings.Contains(m, "911") || !strings.Contains(m, "YES or NO") {
		t.Errorf("safety question = %q; want YES/NO and the crisis lines", m)
	}
	mark := s.mark()
	s.quiet(mark, "before the answer", cmPhone, backupPhone)
	if open := s.openEscalations(z.key); len(open) != 0 {
		t.Errorf("open escalations before the answer = %d; want 0", len(open))
	}
	s.answer(clientPhone, "yes", contains("988"))
	alert := s.nextSMS(mark, cmPhone, isAlert)
	if !strings.Contains(alert.Body, "URGENT") || !strings.Contains(alert.Body, "safety question answered yes") {
		t.Errorf("alert = %q; want urgent, saying why", alert.Body)
	}
	e := s.onlyOpen(z.key)
	a := audit(e)
	if e["level"] != "crisis" || !slices.Contains(a, "safety question asked") || !slices.Contains(a, "safety question answered") {
		t.Errorf("escalation %v with audit %v; want crisis, the question asked and answered", e["level"], a)
	}
	s.expectEntry(z.key, z.client, "safety-question", nil)
	s.expectEntry(z.key, z.client, "safety-answer", map[string]string{"answer": "yes", "outcome": "crisis"})
	s.checkLogsArePrivate()
}

// "no" at night: the client is thanked, a concern waits for the case
// manager's working hours (nobody paged at night), then reaches them.
func TestStorySafetyQuestionNoWaitsForMorning(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.jumpTo(time.Date(2026, 11, 24, 23, 0, 0, 0, chicago))
	s.answer(clientPhone, "honestly i just want out", safetyQuestion)
	mark := s.mark()
	s.answer(clientPhone, "No.", contains("thank you"))
	s.quiet(mark, "a no at 23:00", cmPhone, backupPhone)
	e := s.onlyOpen(z.key)
	if e["level"] != "concern" || reasons(e)[0] != "safety question answered no" {
		t.Errorf("escalation = %v %v; want a concern for the no", e["level"], reasons(e))
	}
	// The wait running out changes nothing: the question was answered.
	s.clock.Jump(31 * time.Minute)
	s.quiet(mark, "the answered question's wait", cmPhone, backupPhone)
	s.jumpTo(time.Date(2026, 11, 25, 9, 0, 1, 0, chicago))
	alert := s.nextSMS(mark, cmPhone, contains("please check on"))
	if strings.Contains(alert.Body, "URGENT") || !strings.Contains(alert.Body, "safety question answered no") {
		t.Errorf("morning alert = %q", alert.Body)
	}
}

// No answer: 31 minutes later the case manager is told at once, even at
// night, that the safety question was not answered.
func TestStorySafetyQuestionNotAnswered(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.jumpTo(time.Date(2026, 11, 24, 23, 0, 0, 0, chicago))
	s.answer(clientPhone, "honestly i just want out", safetyQuestion)
	mark := s.mark()
	s.clock.Jump(29 * time.Minute)
	s.quiet(mark, "29 minutes without an answer", cmPhone)
	s.clock.Jump(2 * time.Minute)
	alert := s.nextSMS(mark, cmPhone, isAlert)
	if !strings.Contains(alert.Body, "safety question not answered") {
		t.Errorf("alert = %q; want it marked not answered", alert.Body)
	}
	e := s.onlyOpen(z.key)
	if e["level"] != "concern" || !slices.Contains(audit(e), "safety question not answered") {
		t.Errorf("escalation %v with audit %v; want a concern marked not answered", e["level"], audit(e))
	}
	s.expectEntry(z.key, z.client, "safety-unanswered", nil)
	s.quiet(mark, "after the unanswered alert", backupPhone, clientPhone)
}

// A stranger's crisis text gets the safety message, never the generic
// reply; a second within 30 minutes nothing more; an ordinary text from a
// stranger still gets the generic reply.
func TestStoryStrangerInCrisis(t *testing.T) {
	s := startStack(t)
	s.seed()
	const stranger = "+13125550177"
	safety := s.answer(stranger, "i want to kill myself tonight", contains("988"))
	if strings.Contains(safety, "does not recognise") || !strings.Contains(safety, "911") {
		t.Errorf("stranger got %q; want the safety message", safety)
	}
	mark := s.mark()
	s.clock.Jump(10 * time.Minute)
	if code, _ := s.sms(stranger, "i want to kill myself tonight"); code != 200 {
		t.Fatalf("webhook = %d", code)
	}
	s.quiet(mark, "a second crisis text within 30 minutes", stranger)
	s.answer("+13125550178", "hello?", contains("does not recognise"))
	if strings.Contains(s.logs.String(), stranger) || strings.Contains(s.logs.String(), "3125550177") {
		t.Error("logs hold the stranger's number")
	}
}

// At 3 a.m., inside the agency's quiet hours (21:00–08:00) and outside the
// case manager's working hours, a client's crisis text brings the safety
// reply and pages the case manager at once, without the clock moving; the
// routine check-in due at 03:00 waits for 08:00.
func TestStoryCrisisInQuietHoursPagesAtOnce(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/schedules", z.key, map[string]any{
		"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=3;BYMINUTE=0", "start": "2026-11-24T08:00:00-06:00",
	}))(201)
	m := s.mark()
	night := time.Date(2026, 11, 25, 3, 0, 30, 0, chicago)
	s.jumpTo(night)
	s.quiet(m, "a check-in due at 03:00", clientPhone)

	if code, _ := s.sms(clientPhone, "i want to kill myself tonight"); code != 200 {
		t.Fatalf("crisis webhook = %d; want 200", code)
	}
	safety := s.nextSMS(m, clientPhone, contains("988"))
	alert := s.nextSMS(m, cmPhone, isAlert)
	if !strings.Contains(safety.Body, "911") {
		t.Errorf("safety reply = %q; want 911 too", safety.Body)
	}
	if !strings.Contains(alert.Body, "URGENT") || !strings.Contains(alert.Body, z.client) {
		t.Errorf("alert = %q; want urgent, naming the client by id", alert.Body)
	}
	if now := s.clock.Now(); !now.Equal(night) {
		t.Fatalf("the clock moved to %v; the story needs it at 03:00:30", now.In(chicago))
	}
	e := s.onlyOpen(z.key)
	if a := audit(e); e["level"] != "crisis" || slices.Contains(a, "alert held") || !slices.Contains(a, "alert sent") {
		t.Errorf("escalation %v with audit %v; want a crisis alerted at once, nothing held", e["level"], a)
	}
	s.settle()
	if got := s.bodiesSince(m, clientPhone); len(got) != 1 || slices.ContainsFunc(got, moodQ) {
		t.Errorf("at 03:00 the client got %q; want only the safety reply (the check-in waits for 08:00)", got)
	}

	s.jumpTo(time.Date(2026, 11, 25, 7, 59, 0, 0, chicago))
	s.quiet(len(s.twilio.Messages()), "the check-in at 07:59", clientPhone)
	s.jumpTo(time.Date(2026, 11, 25, 8, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, moodQ)
	s.checkLogsArePrivate()
}
