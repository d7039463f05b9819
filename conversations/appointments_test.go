package conversations_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/store"
)

// A reminder goes out at its offset, once, and opens the confirmation: C
// confirms the appointment; a moved appointment's old reminder never goes.
func TestReminderOnceThenConfirm(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	ap := &store.Appointment{ClientID: r.c.ID, AgencyID: r.a.ID, At: start.Add(26 * time.Hour), With: "Dana", Reminders: []string{"24h"}}
	if err := r.rooms.Appointments.SaveAppointment(ctx, r.a, r.c, ap, nil); err != nil {
		t.Fatal(err)
	}
	// Moved an hour later: the reminder planned for the old time is dropped.
	old := *ap
	ap.At = ap.At.Add(time.Hour)
	if err := r.rooms.Appointments.SaveAppointment(ctx, r.a, r.c, ap, &old); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(2*time.Hour + time.Minute)
	if n := r.moveDue(); n != 0 {
		t.Fatalf("%d items due at the old reminder time; want none", n)
	}
	r.clock.Advance(time.Hour)
	if n := r.moveDue(); n != 1 {
		t.Fatalf("%d items due at the reminder time; want 1", n)
	}
	ws := r.queuedWork(conversations.WorkReminder)
	for range 2 { // a second delivery sends nothing more
		if err := r.rooms.Appointments.HandleReminder(ctx, ws[0]); err != nil {
			t.Fatal(err)
		}
	}
	got := r.to(r.c.Phone)
	if len(got) != 1 || got[0] != conversations.ReminderText(ap, r.c) {
		t.Fatalf("client got %q; want the reminder once", got)
	}
	r.receive(r.sms(r.c.Phone, "C"))
	saved, err := r.st.ClientAppointment(ctx, r.c.ID, ap.ID)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Status != conversations.ApptConfirmed {
		t.Errorf("appointment status after C = %q; want confirmed", saved.Status)
	}
}

// R asks to reschedule: the case manager is told.
func TestReminderRescheduleTellsCaseManager(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	ap := &store.Appointment{ClientID: r.c.ID, AgencyID: r.a.ID, At: start.Add(3 * time.Hour), With: "Dana", Reminders: []string{"2h"}}
	if err := r.rooms.Appointments.SaveAppointment(ctx, r.a, r.c, ap, nil); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Hour)
	if n := r.moveDue(); n != 1 {
		t.Fatalf("%d items due; want the reminder", n)
	}
	if err := r.rooms.Appointments.HandleReminder(ctx, r.queuedWork(conversations.WorkReminder)[0]); err != nil {
		t.Fatal(err)
	}
	r.receive(r.sms(r.c.Phone, "r"))
	saved, err := r.st.ClientAppointment(ctx, r.c.ID, ap.ID)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Status != conversations.ApptReschedule {
		t.Errorf("appointment status after R = %q; want %q", saved.Status, conversations.ApptReschedule)
	}
	if got := r.to(r.cm.Phone); len(got) != 1 || !strings.Contains(got[0], "asked to reschedule") {
		t.Errorf("case manager got %q; want to be told", got)
	}
}
