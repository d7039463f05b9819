package bot_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
)

// outcomes records what the outbox reports.
type outcomes struct {
	mu  sync.Mutex
	got []string
}

func (r *outcomes) Outcome(_ context.Context, j *bot.Job, o bot.Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, j.About+" "+j.Msg.ID+" "+o.Status+" "+o.Code)
	return nil
}

// TestOutcomesOfAlerts: a message about an escalation reports what became
// of each send: Twilio's final delivery report once (a repeated report is
// not news, "sent" is not final), a send Twilio refused as an error with
// its code; a message about nothing reports nothing.
func TestOutcomesOfAlerts(t *testing.T) {
	o, _, _, fake := smsOutbox(t)
	rec := &outcomes{}
	o.Outcomes = rec
	ctx := t.Context()

	alert := &bot.Job{Msg: bot.Outbound{ID: "alert:esc_1:0:0:cm_1:sms", Channel: bot.SMS, To: "+17735550123", Text: "URGENT alert", Urgent: true}, About: "esc_1"}
	if err := o.Handle(ctx, alert, nil); err != nil {
		t.Fatal(err)
	}
	sid := fake.Messages()[0].SID
	for _, st := range []string{"sent", "delivered", "delivered", "sent"} {
		if err := o.Status(ctx, bot.StatusUpdate{Channel: bot.SMS, ProviderID: sid, Status: st}); err != nil {
			t.Fatal(err)
		}
	}

	fake.FailNext(1, 400, 21211)
	refused := &bot.Job{Msg: bot.Outbound{ID: "alert:esc_2:0:0:cm_1:sms", Channel: bot.SMS, To: "+17735550124", Text: "URGENT alert", Urgent: true}, About: "esc_2"}
	if err := o.Handle(ctx, refused, nil); err != nil {
		t.Fatal(err)
	}
	fake.FailNext(1, 400, 21211)
	if err := o.Handle(ctx, &bot.Job{Msg: checkInMsg("checkin_1")}, nil); err != nil {
		t.Fatal(err)
	}

	want := []string{"esc_1 alert:esc_1:0:0:cm_1:sms delivered ", "esc_2 alert:esc_2:0:0:cm_1:sms error 21211"}
	if len(rec.got) != len(want) || rec.got[0] != want[0] || rec.got[1] != want[1] {
		t.Errorf("outcomes = %q; want %q", rec.got, want)
	}
}

// A delivery report can overtake the outbox's own record of the send
// (Twilio called back while the sent marker was being written): a final
// report for a message not on record yet is looked for again for a
// moment, and its outcome is reported once the record is there.
func TestDeliveryReportBeforeTheSentMarker(t *testing.T) {
	o, st, _, _ := smsOutbox(t)
	rec := &outcomes{}
	o.Outcomes = rec
	ctx := t.Context()
	job := &bot.Job{Msg: bot.Outbound{ID: "alert:esc_9:0:0:cm_1:sms", Channel: bot.SMS, To: "+17735550129", Text: "URGENT alert", Urgent: true}, About: "esc_9"}
	raw, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- o.Status(ctx, bot.StatusUpdate{Channel: bot.SMS, ProviderID: "SMearly", Status: "delivered"})
	}()
	time.Sleep(60 * time.Millisecond) // the report's first look finds nothing (ordering, not timing under test)
	if err := st.MarkSent(ctx, job.Msg.ID, "SMearly", raw, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{"esc_9 alert:esc_9:0:0:cm_1:sms delivered "}; len(rec.got) != 1 || rec.got[0] != want[0] {
		t.Errorf("outcomes = %q; want %q", rec.got, want)
	}
}
