package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/conversations/schedule"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Checkins starts check-ins (now, or for a schedule's occurrences), plans
// each schedule's next occurrence, and times out unanswered questions: one
// nudge, then the check-in counts as missed.
type Checkins struct {
	store    *store.Store
	esc      *escalation.Service
	contacts *contacts
	cats     *catalogues
	hold     *holder
	log      *slog.Logger
	now      func() time.Time
}

// StartCheckin queues a check-in for a client now (POST /v1/clients/{id}/checkins).
// Each request is its own occurrence, so two started in the same
// millisecond are two check-ins.
func (k *Checkins) StartCheckin(ctx context.Context, c *store.Client, questionnaire string) (string, error) {
	if _, err := k.cats.lookup(ctx, c.AgencyID, questionnaire); err != nil {
		return "", err
	}
	id := "now:" + store.NewID("ci", k.now())
	w := Work{Kind: WorkCheckin, Client: c.ID, Agency: c.AgencyID, Questionnaire: questionnaire, Occurrence: id, Due: k.now()}
	if err := k.store.Enqueue(ctx, "checkin:"+id, false, w.encode()); err != nil {
		return "", fmt.Errorf("queue check-in: %w", err)
	}
	return id, nil
}

// HandleCheckin starts the check-in of an occurrence, exactly once: the
// conversation takes the occurrence's id, so a repeated delivery finds it
// started and only makes sure the first question is queued (the outbox's
// sent marker stops a second send).
func (k *Checkins) HandleCheckin(ctx context.Context, w Work) error {
	stopped := "" // the schedule was paused or removed after this occurrence was planned
	if w.Schedule != "" {
		// The next occurrence is planned first: a crash after this line
		// repeats this one (deduplicated below), never loses the next.
		var err error
		if stopped, err = k.planNext(ctx, w.Client, w.Schedule, w.Due); err != nil {
			return err
		}
	}
	// A mood check-in reads the client's 7-day mood totals with the lock (its
	// drop rule needs them when the last answer comes).
	var lock func() (*store.Batch, error)
	since := k.now().Add(-7 * 24 * time.Hour)
	if qn, ok := k.cats.builtin.Lookup(w.Questionnaire); ok && qn.Instrument == q.InstrumentMood {
		lock = func() (*store.Batch, error) {
			return k.store.LockWithScores(ctx, w.Client, w.Agency, q.InstrumentMood, since)
		}
	}
	return k.hold.hold(ctx, w, lock, func(b *store.Batch) error {
		return k.start(ctx, w, b, stopped, lock != nil, since)
	})
}

// start is HandleCheckin with the client held. scored reports that b
// carries the client's mood totals since `since`.
func (k *Checkins) start(ctx context.Context, w Work, b *store.Batch, stopped string, scored bool, since time.Time) error {
	c, a := b.Client, b.Agency
	skip := func(reason string) error {
		_, err := k.store.Apply(ctx, c.ID, "", nil, []store.Event{{"t", "skipped", "occ", w.Occurrence, "q", w.Questionnaire, "reason", reason}})
		if err != nil {
			return fmt.Errorf("record skipped check-in: %w", err)
		}
		return nil
	}
	conv, err := loadConversation(b.Conversation, c)
	if err != nil {
		// Kept for someone to look at, not replaced by a new check-in.
		k.log.Error("stored conversation unreadable: check-in skipped", "client_id", c.ID, "occ", w.Occurrence, "err", err)
		return skip("stored conversation unreadable")
	}
	late := w.Schedule != "" && schedule.Late(w.Due, k.now(), LateLimit)
	if conv.ID == w.Occurrence {
		// Re-asked only while on time: the sent marker of a routine message
		// is kept hours, not days (store.MarkSent), so an occurrence taken
		// over late must not send its question again.
		if conv.Active() && conv.Seq == 1 && !late {
			return k.askFirst(ctx, a, c, conv)
		}
		return nil // already done
	}
	switch {
	case stopped != "":
		return skip(stopped)
	case !c.Messageable():
		return skip(notMessageable(c))
	case late:
		return skip("late: the service was not running at the due time")
	case conv.Active() && conv.Appointment == "":
		return skip("another check-in is in progress")
	case conv.pendingSafety(k.now()) != nil && !conv.Safety.TimedOut:
		// Its yes/no questions would take the answer meant for the
		// safety question; after the wait, the check-in takes over.
		return skip("safety question pending")
	}
	var closed []store.Event
	if conv.Safety != nil {
		// A late answer no longer counts: bare yes and no answer the check-in.
		closed = append(closed, store.Event{"t", "safety-question-closed", "msg", conv.Safety.Msg, "reason", "a check-in started"})
	}
	if conv.Active() {
		// An unanswered appointment confirmation (it has no timeout) does not
		// block later check-ins: the check-in takes over.
		closed = append(closed, store.Event{"t", "confirmation-unanswered", "conv", conv.ID, "appt", conv.Appointment})
	}
	ch := bot.Kind(c.Channel)
	if ch == bot.Telegram && (c.TelegramChat == "" || c.TelegramUnreachable) {
		return skip("telegram not linked or unreachable")
	}
	cat, err := AgencyCatalogue(ctx, k.store, k.cats.builtin, a.ID)
	if err != nil {
		return err
	}
	conv = &Conversation{ID: w.Occurrence, Lang: c.Language, MissedInARow: conv.MissedInARow}
	if qn, ok := cat.Lookup(w.Questionnaire); ok && qn.Instrument == q.InstrumentMood {
		// The drop rule's 7 days are read as the check-in starts, not with
		// its last answer: the window ends hours at most before the answer,
		// and no other mood check-in can score in between.
		hist := b.Scores
		if !scored { // an agency's own mood questionnaire
			if hist, err = k.store.RecentScores(ctx, c.ID, q.InstrumentMood, since); err != nil {
				return fmt.Errorf("read mood history: %w", err)
			}
		}
		conv.MoodHistory = hist
	}
	out, err := Start(cat, conv, w.Questionnaire, ch == bot.SMS, k.now())
	if err != nil {
		return skip(err.Error())
	}
	raw, err := json.Marshal(conv)
	if err != nil {
		return fmt.Errorf("encode conversation: %w", err)
	}
	if _, err := k.store.Apply(ctx, c.ID, "", raw, append(closed, out.Events...)); err != nil {
		return fmt.Errorf("start check-in: %w", err)
	}
	return k.askFirst(ctx, a, c, conv)
}

func notMessageable(c *store.Client) string {
	switch {
	case c.Consent == nil:
		return "no recorded consent"
	case c.OptedOut:
		return "opted out"
	default:
		return "client " + c.Status
	}
}

// askFirst queues the conversation's current question and its timeout.
func (k *Checkins) askFirst(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation) error {
	text, buttons, ok, err := k.question(ctx, a, conv, bot.Kind(c.Channel))
	if err != nil || !ok {
		return err
	}
	return k.ask(ctx, a, c, conv, fmt.Sprintf("q:%s:%s:%d", c.ID, conv.ID, conv.Seq), text, buttons)
}

// ask queues a message that asks the client something on their channel,
// and the reply timeout of the conversation's current question.
func (k *Checkins) ask(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation, id, text string, buttons []bot.Button) error {
	if err := k.contacts.outbox.Queue(ctx, k.contacts.toClient(a, c, bot.Kind(c.Channel), id, text, buttons)); err != nil {
		return err
	}
	if err := k.store.Submit(ctx, timeoutWork(a, c, conv)); err != nil {
		return fmt.Errorf("plan reply timeout: %w", err)
	}
	return nil
}

// question renders the conversation's current question for a channel; ok
// is false when there is none (the questionnaire or question is gone).
func (k *Checkins) question(ctx context.Context, a *store.Agency, conv *Conversation, ch bot.Kind) (text string, buttons []bot.Button, ok bool, err error) {
	cat, err := k.cats.holding(ctx, a.ID, conv.Questionnaire)
	if err != nil {
		return "", nil, false, err
	}
	qn, ok := cat.Lookup(conv.Questionnaire)
	if !ok {
		return "", nil, false, nil
	}
	cur, ok := qn.Question(conv.Question)
	if !ok {
		return "", nil, false, nil
	}
	text, buttons = cur.Render(conv.Lang, ch == bot.SMS)
	return text, buttons, true, nil
}

// timeoutWork is the reply timeout of the conversation's current question:
// due the agency's reply window (4 h unless set) after it was asked.
func timeoutWork(a *store.Agency, c *store.Client, conv *Conversation) store.Work {
	window := time.Duration(a.ReplyWindow)
	if window <= 0 {
		window = 4 * time.Hour
	}
	w := Work{Kind: WorkTimeout, Client: c.ID, Agency: c.AgencyID, Conv: conv.ID, Seq: conv.Seq}
	return store.Work{ID: fmt.Sprintf("timeout:%s:%s", c.ID, conv.ID), At: conv.AskedAt.Add(window), Payload: w.encode()}
}

// HandleTimeout nudges once, then counts the check-in as missed. A timeout
// for a question already answered does nothing.
func (k *Checkins) HandleTimeout(ctx context.Context, w Work) error {
	return k.hold.hold(ctx, w, nil, func(b *store.Batch) error {
		c, a := b.Client, b.Agency
		conv, err := loadConversation(b.Conversation, c)
		if err != nil {
			k.log.Error("stored conversation unreadable: reply timeout dropped", "client_id", c.ID, "conv", w.Conv, "err", err)
			return nil
		}
		if conv.ID != w.Conv || conv.Seq != w.Seq || !conv.Active() {
			return nil // stale: answered or moved on
		}
		if !conv.Nudged && c.Messageable() {
			return k.nudge(ctx, w, a, c, conv)
		}
		return k.missed(ctx, a, c, conv)
	})
}

// nudge asks the current question again, once. A nudge is routine: one due
// in the agency's quiet hours waits for their end.
func (k *Checkins) nudge(ctx context.Context, w Work, a *store.Agency, c *store.Client, conv *Conversation) error {
	if at := k.outOfQuiet(a, c, k.now()); at.After(k.now()) {
		if err := k.store.Schedule(ctx, fmt.Sprintf("timeout:%s:%s", c.ID, conv.ID), at, w.encode()); err != nil {
			return fmt.Errorf("defer nudge past quiet hours: %w", err)
		}
		return nil
	}
	// The nudge repeats the question: hours later, on an old phone, "a
	// question is waiting" alone sends them scrolling for it.
	text, buttons, ok, err := k.question(ctx, a, conv, bot.Kind(c.Channel))
	if err != nil {
		return err
	}
	if ok {
		text = nudgeText(conv.Lang) + "\n" + text
	} else {
		text = nudgeText(conv.Lang)
	}
	conv.Nudged = true
	conv.AskedAt = k.now()
	raw, err := json.Marshal(conv)
	if err != nil {
		return fmt.Errorf("encode conversation: %w", err)
	}
	if _, err := k.store.Apply(ctx, c.ID, "", raw, []store.Event{{"t", "nudged", "conv", conv.ID}}); err != nil {
		return fmt.Errorf("record nudge: %w", err)
	}
	return k.ask(ctx, a, c, conv, fmt.Sprintf("nudge:%s:%s:%d", c.ID, conv.ID, conv.Seq), text, buttons)
}

// missed ends an unanswered check-in; the agency's limit of misses in a row
// (2 unless set) raises a concern for the case manager.
func (k *Checkins) missed(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation) error {
	conv.Question = ""
	conv.MissedInARow++
	raw, err := json.Marshal(conv)
	if err != nil {
		return fmt.Errorf("encode conversation: %w", err)
	}
	if _, err := k.store.Apply(ctx, c.ID, "", raw, []store.Event{{"t", "missed", "conv", conv.ID, "q", conv.Questionnaire, "in_a_row", fmt.Sprint(conv.MissedInARow)}}); err != nil {
		return fmt.Errorf("record missed check-in: %w", err)
	}
	limit := a.MissedInARow
	if limit <= 0 {
		limit = 2
	}
	if conv.MissedInARow < limit || conv.Appointment != "" {
		return nil
	}
	sig := escalation.Signal{Level: escalation.Concern, Reasons: []string{fmt.Sprintf("%d missed check-ins", conv.MissedInARow)}}
	if _, err := k.esc.Raise(ctx, a, c, sig, "system"); err != nil {
		return fmt.Errorf("raise concern for missed check-ins: %w", err)
	}
	return nil
}

// outOfQuiet is t, or the end of the agency's quiet hours in the client's
// zone when t falls inside them.
func (k *Checkins) outOfQuiet(a *store.Agency, c *store.Client, t time.Time) time.Time {
	loc, err := schedule.LoadZone(c.Timezone)
	if err != nil {
		loc = nil // UTC; the zone was validated when the client was saved
	}
	return schedule.QuietHours{Start: a.QuietStart, End: a.QuietEnd}.Defer(t, loc)
}

// planNext plans a schedule's next occurrence after `after`, deferred out
// of quiet hours. Planning is idempotent: the occurrence id is the item id.
// It reports why the schedule no longer runs ("" when it does): an
// occurrence planned before the schedule was paused does not go out.
func (k *Checkins) planNext(ctx context.Context, clientID, scheduleID string, after time.Time) (string, error) {
	sc, err := k.store.ClientSchedule(ctx, clientID, scheduleID)
	if errors.Is(err, store.ErrNotFound) {
		return "schedule removed", nil
	}
	if err != nil {
		return "", fmt.Errorf("read schedule %s: %w", scheduleID, err)
	}
	if sc.Paused {
		return "schedule paused", nil
	}
	c, err := k.store.Client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return "client removed", nil
	}
	if err != nil {
		return "", fmt.Errorf("read client %s: %w", clientID, err)
	}
	if c.Status == store.StatusDischarged {
		return "", nil // skipped as not messageable
	}
	a, err := k.store.Agency(ctx, c.AgencyID)
	if err != nil {
		return "", fmt.Errorf("read agency %s: %w", c.AgencyID, err)
	}
	return "", k.PlanSchedule(ctx, a, sc, after)
}

// AddSchedule checks and saves a new schedule of a client (the API's
// POST …/schedules and the console's schedule form) and plans its first
// occurrence unless it is paused or the client discharged. A problem with
// the schedule is ErrInvalid, naming the field; nothing is saved then.
func (k *Checkins) AddSchedule(ctx context.Context, a *store.Agency, c *store.Client, sc *store.Schedule) error {
	if sc.Questionnaire == "" {
		return fmt.Errorf("%w: questionnaire: required", ErrInvalid)
	}
	cat, err := AgencyCatalogue(ctx, k.store, k.cats.builtin, c.AgencyID)
	if err != nil {
		return err
	}
	if _, ok := cat.Get(sc.Questionnaire); !ok {
		return fmt.Errorf("%w: questionnaire: unknown %q (see GET /v1/questionnaires)", ErrInvalid, sc.Questionnaire)
	}
	if sc.Start.IsZero() {
		return fmt.Errorf("%w: start: required (RFC 3339)", ErrInvalid)
	}
	if sc.Timezone == "" {
		sc.Timezone = c.Timezone
	}
	if _, err := schedule.Parse(sc.RRule, sc.Start, sc.Until, sc.Timezone); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	sc.ClientID, sc.AgencyID = c.ID, c.AgencyID
	if err := k.store.SaveSchedule(ctx, sc); err != nil {
		return err
	}
	if sc.Paused || c.Status == store.StatusDischarged {
		return nil
	}
	return k.PlanSchedule(ctx, a, sc, k.now().Add(-time.Second))
}

// PlanSchedule plans the first occurrence of a schedule strictly after
// `after`, deferred out of the agency's quiet hours. An occurrence is
// planned once whatever the calls: its id is the item id.
func (k *Checkins) PlanSchedule(ctx context.Context, a *store.Agency, sc *store.Schedule, after time.Time) error {
	rule, err := schedule.Parse(sc.RRule, sc.Start, sc.Until, sc.Timezone)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	occ, ok := rule.Next(after)
	if !ok {
		return nil
	}
	quiet := schedule.QuietHours{Start: a.QuietStart, End: a.QuietEnd}
	due := quiet.Defer(occ.At, rule.Zone)
	id := schedule.OccurrenceID(sc.ID, occ)
	w := Work{Kind: WorkCheckin, Client: sc.ClientID, Agency: sc.AgencyID, Questionnaire: sc.Questionnaire, Schedule: sc.ID, Occurrence: id, Due: due}
	if err := k.store.ScheduleOnce(ctx, "occ:"+id, due, w.encode()); err != nil {
		return fmt.Errorf("plan occurrence of schedule %s: %w", sc.ID, err)
	}
	return nil
}

// SendTime is one upcoming check-in of a schedule as the service will
// send it.
type SendTime struct {
	schedule.Occurrence
	// Send is when it goes out: the occurrence's time, or the end of the
	// agency's quiet hours it falls in (as PlanSchedule defers it).
	Send time.Time
}

// Deferred reports whether quiet hours move the send from the occurrence.
func (s SendTime) Deferred() bool { return !s.Send.Equal(s.At) }

// Upcoming previews a schedule's next n check-ins after `after` as they
// will be sent: the rule's occurrences in the schedule's zone, each
// deferred out of the agency's quiet hours exactly as PlanSchedule plans
// it. The API's GET …/upcoming and the console's schedule form both show
// these.
func Upcoming(a *store.Agency, sc *store.Schedule, after time.Time, n int) ([]SendTime, *time.Location, error) {
	rule, err := schedule.Parse(sc.RRule, sc.Start, sc.Until, sc.Timezone)
	if err != nil {
		return nil, nil, err
	}
	quiet := schedule.QuietHours{Start: a.QuietStart, End: a.QuietEnd}
	occs := rule.Upcoming(after, n)
	out := make([]SendTime, len(occs))
	for i, o := range occs {
		out[i] = SendTime{Occurrence: o, Send: quiet.Defer(o.At, rule.Zone)}
	}
	return out, rule.Zone, nil
}
