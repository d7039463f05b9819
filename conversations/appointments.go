package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/conversations/schedule"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Appointment statuses.
const (
	ApptScheduled  = "scheduled"
	ApptConfirmed  = "confirmed"
	ApptReschedule = "reschedule-requested"
	ApptCancelled  = "cancelled"
)

// Appointments keeps appointments and their reminders: it plans the
// reminders, sends each once, and records the client's C (confirm) or R
// (reschedule: the case manager is told).
type Appointments struct {
	store    *store.Store
	contacts *contacts
	builtin  *q.Catalogue
	hold     *holder
	log      *slog.Logger
	now      func() time.Time
}

// SaveAppointment stores an appointment and (re)plans its reminders: the
// reminders of its old time are dropped, so no stale reminder goes out.
func (k *Appointments) SaveAppointment(ctx context.Context, a *store.Agency, c *store.Client, ap *store.Appointment, old *store.Appointment) error {
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
	if err := k.store.SaveAppointment(ctx, ap); err != nil {
		return fmt.Errorf("save appointment: %w", err)
	}
	if old != nil {
		// Stored offsets were parsed when they were saved.
		oldOffsets, err := schedule.ParseOffsets(old.Reminders)
		if err != nil {
			return fmt.Errorf("read reminders of appointment %s: %w", old.ID, err)
		}
		for _, o := range oldOffsets {
			if err := k.store.Unschedule(ctx, "rem:"+schedule.ReminderID(old.ID, old.At, o)); err != nil {
				return fmt.Errorf("drop old reminder: %w", err)
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
	for _, rem := range schedule.PlanReminders(ap.ID, ap.At, offsets, k.now(), quiet, loc) {
		w := Work{Kind: WorkReminder, Client: c.ID, Agency: a.ID, Appointment: ap.ID, Due: rem.At, Occurrence: rem.ID}
		if err := k.store.Schedule(ctx, "rem:"+w.Occurrence, rem.At, w.encode()); err != nil {
			return fmt.Errorf("plan reminder: %w", err)
		}
	}
	return nil
}

// HandleReminder sends an appointment reminder once; when the client has
// no check-in in progress it opens the confirmation (C / R).
func (k *Appointments) HandleReminder(ctx context.Context, w Work) error {
	return k.hold.hold(ctx, w, nil, func(b *store.Batch) error {
		c := b.Client
		ap, err := k.store.ClientAppointment(ctx, c.ID, w.Appointment)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read appointment %s: %w", w.Appointment, err)
		}
		if ap.Status == ApptCancelled || !ap.At.After(k.now()) {
			return nil
		}
		conv, err := loadConversation(b.Conversation, c)
		if err != nil {
			// The reminder still goes out; the unreadable record is kept.
			k.log.Error("stored conversation unreadable: reminder sent without a confirmation", "client_id", c.ID, "appt", ap.ID, "err", err)
		}
		if conv != nil && conv.ID == w.Occurrence {
			return nil // this reminder already went out
		}
		if !c.Messageable() {
			if _, err := k.store.Apply(ctx, c.ID, "", nil, []store.Event{{"t", "skipped", "occ", w.Occurrence, "reason", notMessageable(c)}}); err != nil {
				return fmt.Errorf("record skipped reminder: %w", err)
			}
			return nil
		}
		ch := bot.Kind(c.Channel)
		var buttons []bot.Button
		var raw []byte // nil: the stored conversation is kept
		if conv != nil && !conv.Active() {
			// No check-in in progress: the reminder opens the confirmation,
			// and the conversation takes this reminder's id (sent once).
			next := &Conversation{ID: w.Occurrence, Lang: c.Language, MissedInARow: conv.MissedInARow, Appointment: ap.ID, Safety: conv.Safety}
			if _, err := Start(k.builtin, next, "appointment-confirm", ch == bot.SMS, k.now()); err == nil {
				if ch == bot.Telegram {
					buttons = []bot.Button{{Label: "C", Data: "ans:C"}, {Label: "R", Data: "ans:R"}}
				}
				if raw, err = json.Marshal(next); err != nil {
					return fmt.Errorf("encode conversation: %w", err)
				}
			}
		}
		if _, err := k.store.Apply(ctx, c.ID, "", raw, []store.Event{{"t", "reminder", "appt", ap.ID, "occ", w.Occurrence}}); err != nil {
			return fmt.Errorf("record reminder: %w", err)
		}
		return k.contacts.outbox.Queue(ctx, k.contacts.toClient(b.Agency, c, ch, "rem:"+w.Occurrence, ReminderText(ap, c), buttons))
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

// answered records the client's C (confirm) or R (reschedule: the case
// manager is told) that finished an appointment's confirmation.
func (k *Appointments) answered(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation, res *q.Result) error {
	ap, err := k.store.ClientAppointment(ctx, c.ID, conv.Appointment)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read appointment %s: %w", conv.Appointment, err)
	}
	var code string
	for _, ans := range conv.Answers {
		code = strings.ToLower(strings.TrimSpace(ans.Code))
	}
	switch code {
	case "c":
		ap.Status = ApptConfirmed
	case "r":
		ap.Status = ApptReschedule
		text := fmt.Sprintf("CareCheck: %s asked to reschedule an appointment (%s).", escalation.Who(a, c), ap.ID)
		if err := k.contacts.tellCaseManager(ctx, a, c, "resched:"+conv.ID, text); err != nil {
			return fmt.Errorf("tell case manager of reschedule: %w", err)
		}
	default:
		return nil
	}
	if err := k.store.SaveAppointment(ctx, ap); err != nil {
		return fmt.Errorf("save appointment: %w", err)
	}
	return nil
}
