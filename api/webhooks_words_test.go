package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Payloads carry the client's own words only when the agency turns
// export_words on: off (the default), a completed check-in has its scores
// and no free-text answer, and an escalation opened by a message has its
// categories and not the message; on, the answers and the message are there.
func TestWebhookPayloadsCarryWordsOnlyWithExportWords(t *testing.T) {
	h := newServiceHarness(t, day(1))
	r := newWebhookRig(t, h)
	note, crisisText := "slept badly, worried about rent", "i want to kill myself tonight"

	day := func(client, phone string) {
		h.checkin(client, "daily-mood")
		h.texts(phone, "4", note)
		h.clock.Advance(time.Hour)
		h.texts(phone, crisisText)
		h.deliverDue(5)
	}
	payloads := func(client string) map[string]map[string]any {
		r.rc.mu.Lock()
		defer r.rc.mu.Unlock()
		out := map[string]map[string]any{}
		for _, b := range r.rc.bodies {
			var ev struct {
				Type string
				Data map[string]any
			}
			if json.Unmarshal([]byte(b), &ev) == nil && ev.Data["client_id"] == client {
				out[ev.Type] = ev.Data
			}
		}
		return out
	}

	day(r.c1, r.phone1)
	off := payloads(r.c1)
	if off["checkin.completed"] == nil || off["escalation.opened"] == nil {
		t.Fatalf("events received with export_words off: %v", off)
	}
	if _, ok := off["checkin.completed"]["answers"]; ok {
		t.Errorf("checkin.completed carries answers with export_words off: %v", off["checkin.completed"])
	}
	if _, ok := off["escalation.opened"]["message"]; ok {
		t.Errorf("escalation.opened carries the message with export_words off: %v", off["escalation.opened"])
	}
	r.rc.mu.Lock()
	for _, b := range r.rc.bodies {
		if strings.Contains(b, "rent") || strings.Contains(b, "kill") {
			t.Errorf("a payload holds the client's words with export_words off: %s", b)
		}
	}
	r.rc.mu.Unlock()

	if code, out := h.do("PATCH", "/v1/agency", r.key, map[string]any{"export_words": true}); code != 200 {
		t.Fatalf("PATCH export_words = %d %v", code, out)
	}
	day(r.c2, "+13125550202")
	on := payloads(r.c2)
	answers, _ := on["checkin.completed"]["answers"].([]any)
	if len(answers) != 1 || answers[0].(map[string]any)["question"] != "note" || answers[0].(map[string]any)["text"] != note {
		t.Errorf("checkin.completed answers with export_words on = %v; want the note", on["checkin.completed"]["answers"])
	}
	if got := on["escalation.opened"]["message"]; got != crisisText {
		t.Errorf("escalation.opened message with export_words on = %v; want %q", got, crisisText)
	}
	if on["checkin.completed"]["total"] != float64(4) {
		t.Errorf("checkin.completed = %v; want its score too", on["checkin.completed"])
	}
}
