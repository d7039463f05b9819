package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/conversations/schedule"
	"github.com/carecheck/carecheck/store"
)

// Appointment statuses.
const (
	ApptScheduled  = "scheduled"
	ApptConfirmed  = "confirmed"
	ApptReschedule = "reschedule-requested"
	ApptCancelled  = "cancelled"
)

// SaveAppointment stores an appointment and (re)plans its reminders: the
// reminders of its old time are dropped, so no stale reminder goes out.
func (r *Router) SaveAppointment(ctx context.Context, a *store.Agency, c *store.Client, ap *store.Appointment, old *store.Appointment) error {
	offsets, err := schedule.ParseOffsets(ap.Reminders)
	if err != nil {
		return fmt.Errorf("%w: reminders: %v", ErrInvalid, err)
	}
	ap.Reminders = make([]string, len(offsets))
	for i, o := range offsets {
		ap.Reminders[i] = o.String()
	}
	if ap.Status == "" {
		ap.Status = ApptScheduled
	}
	if err := r.store.SaveAppointment(ctx, ap); err != nil {
		return err
	}
	if old != nil {
		oldOffsets, _ := schedule.ParseOffsets(old.Reminders)
		for _, o := range oldOffsets {
			if err := r.store.Unschedule(ctx, "rem:"+schedule.ReminderID(old.ID, old.At, o)); err != nil {
				return err
			}
		}
	}
	if ap.Status == ApptCancelled {
		return nil
	}
	// Reminders are routine messages: one due in the client's quiet hours
	// waits for their end (one deferred to the appointment is dropped); one
	// whose time passed is not sent.
	loc, err := schedule.LoadZone(c.Timezone)
	if err != nil {
		loc = nil
	}
	quiet := schedule.QuietHours{Start: a.QuietStart, End: a.QuietEnd}
	for _, rem := range schedule.PlanReminders(ap.ID, ap.At, offsets, r.now(), quiet, loc) {
		w := Work{Kind: WorkReminder, Client: c.ID, Agency: a.ID, Appointment: ap.ID, Due: rem.At, Occurrence: rem.ID}
		if err := r.store.Schedule(ctx, "rem:"+w.Occurrence, rem.At, w.encode()); err != nil {
			return err
		}
	}
	return nil
}

// HandleReminder sends an appointment reminder once; when the client has
// no check-in in progress it opens the confirmation (C / R).
func (r *Router) HandleReminder(ctx context.Context, w Work) error {
	return r.holding(ctx, w, func(b *store.Batch) error {
		c := b.Client
		ap, err := r.store.ClientAppointment(ctx, c.ID, w.Appointment)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if ap.Status == ApptCancelled || !ap.At.After(r.now()) {
			return nil
		}
		conv := decodeConv(b.Conversation, c)
		if conv.ID == w.Occurrence {
			return nil // this reminder already went out
		}
		if !c.Messageable() {
			_, err := r.store.Apply(ctx, c.ID, "", nil, []store.Event{{"t", "skipped", "occ", w.Occurrence, "reason", notMessageable(c)}})
			return err
		}
		ch := bot.Kind(c.Channel)
		text := ReminderText(ap, c)
		var buttons []bot.Button
		events := []store.Event{{"t", "reminder", "appt", ap.ID, "occ", w.Occurrence}}
		var raw []byte
		if !conv.Active() {
			cat := r.builtin
			next := &Conversation{ID: w.Occurrence, Lang: c.Language, MissedInARow: conv.MissedInARow, Appointment: ap.ID}
			if _, err := Start(cat, next, "appointment-confirm", ch == bot.SMS, r.now()); err == nil {
				if ch == bot.Telegram {
					buttons = []bot.Button{{Label: "C", Data: "ans:C"}, {Label: "R", Data: "ans:R"}}
				}
				raw, _ = json.Marshal(next)
				conv = next
			}
		}
		if raw == nil {
			// A check-in is in progress: send the reminder without starting a confirmation.
			marker := *conv
			raw, _ = json.Marshal(&marker)
		}
		if _, err := r.store.Apply(ctx, c.ID, "", raw, events); err != nil {
			return err
		}
		job := &bot.Job{
			Msg:    bot.Outbound{ID: "rem:" + w.Occurrence, Channel: ch, To: r.addr(c, ch), From: r.from(ch), Text: text, Buttons: buttons},
			Person: bot.Person{Kind: "client", ID: c.ID, AgencyID: c.AgencyID},
		}
		return r.outbox.Queue(ctx, job)
	})
}

// ReminderText carries time, place and whom — never a diagnosis or programme.
func ReminderText(ap *store.Appointment, c *store.Client) string {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		loc = time.UTC
	}
	at := ap.At.In(loc)
	if c.Language == "es" {
		s := fmt.Sprintf("Recordatorio: cita con %s el %s a las %s", ap.With, at.Format("02/01"), at.Format("15:04"))
		if ap.Location != "" {
			s += " en " + ap.Location
		}
		return s + ". Responde C para confirmar o R para cambiarla."
	}
	s := fmt.Sprintf("Reminder: appointment with %s on %s at %s", ap.With, at.Format("Mon Jan 2"), at.Format("3:04 PM"))
	if ap.Location != "" {
		s += " at " + ap.Location
	}
	return s + ". Reply C to confirm or R to reschedule."
}

// appointmentAnswered records C (confirm) or R (reschedule: the case manager is told).
func (r *Router) appointmentAnswered(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation, res *q.Result) error {
	ap, err := r.store.ClientAppointment(ctx, c.ID, conv.Appointment)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var code string
	for _, ans := range conv.Answers {
		code = lower(ans.Code)
	}
	switch code {
	case "c":
		ap.Status = ApptConfirmed
	case "r":
		ap.Status = ApptReschedule
		if err := r.tellCaseManager(ctx, a, c, "resched:"+conv.ID, fmt.Sprintf("CareCheck: %s asked to reschedule an appointment (%s).", whoShort(a, c), ap.ID)); err != nil {
			return err
		}
	default:
		return nil
	}
	return r.store.SaveAppointment(ctx, ap)
}
