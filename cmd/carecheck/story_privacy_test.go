package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStoryRefusedNumberIsNotLogged: Twilio refuses the client's number
// with 21211, quoting it. The service logs the failure by message id and
// code; the number (E.164 or national), the name and the check-in text
// never reach the log (the stack's cleanup checks every line for every
// value the story used).
func TestStoryRefusedNumberIsNotLogged(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.twilio.FailNext(1, http.StatusBadRequest, 21211)
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	deadline := time.Now().Add(storyWait)
	for !strings.Contains(s.logs.String(), `"code":"21211"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no send failure with code 21211 logged within %v:\n%s", storyWait, s.logs)
		}
		time.Sleep(20 * time.Millisecond) // watching the outbox's goroutines
	}
	for _, secret := range []string{clientPhone, strings.TrimPrefix(clientPhone, "+1"), clientName} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("logs hold %q", secret)
		}
	}
}
