package conversations

import (
	"strings"
	"testing"
	"time"
)

func TestWorkRoundTrip(t *testing.T) {
	due := time.Date(2026, 7, 1, 15, 0, 0, 0, time.UTC)
	for _, w := range []Work{
		{Kind: WorkCheckin, Client: "cl_1", Agency: "ag_1", Questionnaire: "daily-mood", Schedule: "sc_1", Occurrence: "sc_1:2026-07-01:1000", Due: due},
		{Kind: WorkCheckin, Client: "cl_1", Agency: "ag_1", Questionnaire: "phq9", Occurrence: "now:ci_1", Due: due.Add(123 * time.Millisecond)},
		{Kind: WorkCheckin, Client: "cl_1", Agency: "ag_1", Schedule: "sc_1", Occurrence: "other:1", Due: due}, // not made from its schedule's id
		{Kind: WorkTimeout, Client: "cl_1", Agency: "ag_1", Conv: "sc_1:2026-07-01:1000", Seq: 2},
		{Kind: WorkReminder, Client: "cl_1", Agency: "ag_1", Appointment: "ap_1", Occurrence: "ap_1:24h", Due: due},
	} {
		p := w.encode()
		got, ok := DecodeWork(p)
		if !ok || got != w {
			t.Errorf("DecodeWork(%s) = %+v, %v; want %+v", p, got, ok, w)
		}
		if w.Schedule != "" && strings.Count(string(p), w.Schedule) != 1 {
			t.Errorf("queued %s repeats its schedule id", p)
		}
	}
}

// Every client's next occurrence waits in the queue's items hash: its
// payload, 241 bytes in the long form (a 256-byte allocation), stays in the
// 192-byte class.
func TestQueuedOccurrenceIsShort(t *testing.T) {
	const sc = "sc_06h0q6e02w6h5mr8v3s18rdm2m" // ids are 29 characters
	w := Work{Kind: WorkCheckin, Client: "cl_06h0q6e02vm42agy41q0c0cf4w", Agency: "ag_06h0q6e0267xn3j9xhtjpdk6z8",
		Questionnaire: "daily-mood", Schedule: sc, Occurrence: sc + ":2026-07-01:1000", Due: time.Date(2026, 7, 1, 15, 0, 0, 0, time.UTC)}
	if p := w.encode(); len(p) > 188 {
		t.Errorf("queued occurrence is %d bytes: %s; want ≤ 188", len(p), p)
	}
}
