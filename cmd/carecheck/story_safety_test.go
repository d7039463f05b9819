package main

import (
	"strings"
	"testing"
	"time"
)

// Stories of strangers in crisis, through the whole service: signed Twilio
// webhooks in, the fake Twilio records what goes out.

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
