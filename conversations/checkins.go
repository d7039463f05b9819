package conversations

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/conversations/schedule"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Work kinds this package puts on the shared queue.
const (
	WorkCheckin  = "checkin"  // start a check-in now (API) or for an occurrence
	WorkTimeout  = "timeout"  // a question got no reply in time
	WorkReminder = "reminder" // an appointment reminder is due
)

// Work is the payload of this package's queued work.
type Work struct {
	Kind          string
	Client        string
	Agency        string
	Questionnaire string
	Schedule      string
	Occurrence    string // occurrence id: one occurrence, one check-in
	Due           time.Time
	Conv          string
	Seq           int
	Appointment   string
}

// workRecord is Work as queued: every due occurrence of every schedule
// waits in the queue, so it is short. A schedule's occurrence id is its
// schedule id and a slot (schedule.OccurrenceID): the slot alone is kept;
// due is unix milliseconds. Work queued before this (long keys, an RFC 3339
// due) still reads.
type workRecord struct {
	Kind          string `json:"k"`
	Client        string `json:"c,omitempty"`
	Agency        string `json:"a,omitempty"`
	Questionnaire string `json:"q,omitempty"`
	Schedule      string `json:"s,omitempty"`
	Slot          string `json:"o,omitempty"`   // with s: the occurrence is s + ":" + o
	Occurrence    string `json:"occ,omitempty"` // the whole id: not a schedule's, or queued before
	Due           int64  `json:"d,omitempty"`
	Conv          string `json:"conv,omitempty"`
	Seq           int    `json:"seq,omitempty"`
	Appointment   string `json:"appt,omitempty"`

	LegacyClient   string     `json:"client,omitempty"`
	LegacyAgency   string     `json:"agency,omitempty"`
	LegacySchedule string     `json:"schedule,omitempty"`
	LegacyDue      *time.Time `json:"due,omitempty"`
}

// MarshalJSON writes the short form (workRecord).
func (w Work) MarshalJSON() ([]byte, error) {
	r := workRecord{Kind: w.Kind, Client: w.Client, Agency: w.Agency, Questionnaire: w.Questionnaire,
		Occurrence: w.Occurrence, Conv: w.Conv, Seq: w.Seq, Appointment: w.Appointment}
	if slot, ok := strings.CutPrefix(w.Occurrence, w.Schedule+":"); w.Schedule != "" && ok {
		r.Schedule, r.Slot, r.Occurrence = w.Schedule, slot, ""
	} else {
		r.LegacySchedule = w.Schedule // an occurrence id not made from its schedule's: keep both whole
	}
	if !w.Due.IsZero() {
		r.Due = w.Due.UnixMilli()
	}
	return json.Marshal(r)
}

// UnmarshalJSON reads the short form and the long one queued before it.
func (w *Work) UnmarshalJSON(b []byte) error {
	var r workRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	*w = Work{Kind: r.Kind, Client: cmp.Or(r.Client, r.LegacyClient), Agency: cmp.Or(r.Agency, r.LegacyAgency),
		Questionnaire: r.Questionnaire, Schedule: cmp.Or(r.Schedule, r.LegacySchedule), Occurrence: r.Occurrence,
		Conv: r.Conv, Seq: r.Seq, Appointment: r.Appointment}
	if r.Schedule != "" {
		w.Occurrence = r.Schedule + ":" + r.Slot
	}
	switch {
	case r.Due != 0:
		w.Due = time.UnixMilli(r.Due).UTC()
	case r.LegacyDue != nil:
		w.Due = *r.LegacyDue
	}
	return nil
}

func (w Work) encode() []byte { b, _ := json.Marshal(w); return b }

// ErrBusy means the client is being worked on by another worker; try again shortly.
var ErrBusy = errors.New("client busy")

// LateLimit: an occurrence later than this (the service was down) is
// recorded as skipped rather than sent in the night.
const LateLimit = time.Hour

// StartCheckin queues a check-in for a client now (POST /v1/clients/{id}/checkins).
func (r *Router) StartCheckin(ctx context.Context, c *store.Client, questionnaire string) (string, error) {
	if _, err := r.catalogueHas(ctx, c.AgencyID, questionnaire); err != nil {
		return "", err
	}
	// Unique per request: an id made of the client and the millisecond made
	// a second check-in started in the same millisecond look "already done"
	// and it was dropped without a trace.
	id := "now:" + store.NewID("ci", r.now())
	w := Work{Kind: WorkCheckin, Client: c.ID, Agency: c.AgencyID, Questionnaire: questionnaire, Occurrence: id, Due: r.now()}
	return id, r.store.Enqueue(ctx, "checkin:"+id, false, w.encode())
}

func (r *Router) catalogueHas(ctx context.Context, agency, id string) (*q.Questionnaire, error) {
	cat, err := AgencyCatalogue(ctx, r.store, r.builtin, agency)
	if err != nil {
		return nil, err
	}
	qn, ok := cat.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: unknown questionnaire %q", ErrInvalid, id)
	}
	return qn, nil
}

// ErrInvalid marks a request the caller got wrong.
var ErrInvalid = errors.New("invalid")

// HandleCheckin starts the check-in of an occurrence, exactly once: the
// conversation takes the occurrence's id, so a repeated delivery finds it
// started and only makes sure the first question is queued (the outbox's
// sent marker stops a second send).
func (r *Router) HandleCheckin(ctx context.Context, w Work) error {
	stopped := "" // the schedule was paused or removed after this occurrence was planned
	if w.Schedule != "" {
		// Plan the next occurrence first: a crash after this line repeats
		// this one (deduplicated below), never loses the next.
		var err error
		if stopped, err = r.planNext(ctx, w.Client, w.Schedule, w.Due); err != nil {
			return err
		}
	}
	// A mood check-in reads the client's 7-day mood totals with the lock (its
	// drop rule needs them when the last answer comes).
	var lock func() (*store.Batch, error)
	since := r.now().Add(-7 * 24 * time.Hour)
	if qn, ok := r.builtin.Lookup(w.Questionnaire); ok && qn.Instrument == q.InstrumentMood {
		lock = func() (*store.Batch, error) {
			return r.store.LockWithScores(ctx, w.Client, w.Agency, q.InstrumentMood, since)
		}
	}
	return r.holdingWith(ctx, w, lock, func(b *store.Batch) error {
		c, a := b.Client, b.Agency
		conv := decodeConv(b.Conversation, c)
		if conv.ID == w.Occurrence {
			// Re-asked only while on time: the sent marker of a routine
			// message is kept hours, not days (store.MarkSent), so an
			// occurrence taken over late must not send its question again.
			if conv.Active() && conv.Seq == 1 && !(w.Schedule != "" && schedule.Late(w.Due, r.now(), LateLimit)) {
				return r.askFirst(ctx, a, c, conv)
			}
			return nil // already done
		}
		skip := func(reason string) error {
			_, err := r.store.Apply(ctx, c.ID, "", nil, []store.Event{{"t", "skipped", "occ", w.Occurrence, "q", w.Questionnaire, "reason", reason}})
			return err
		}
		switch {
		case stopped != "":
			return skip(stopped)
		case !c.Messageable():
			return skip(notMessageable(c))
		case w.Schedule != "" && schedule.Late(w.Due, r.now(), LateLimit):
			return skip("late: the service was not running at the due time")
		case conv.Active() && conv.Appointment == "":
			return skip("another check-in is in progress")
		}
		var closed []store.Event
		if conv.Active() {
			// An unanswered appointment confirmation (it has no timeout) must not
			// block every later check-in: the check-in takes over.
			closed = append(closed, store.Event{"t", "confirmation-unanswered", "conv", conv.ID, "appt", conv.Appointment})
		}
		ch := bot.Kind(c.Channel)
		if ch == bot.Telegram && (c.TelegramChat == "" || c.TelegramUnreachable) {
			return skip("telegram not linked or unreachable")
		}
		cat, err := AgencyCatalogue(ctx, r.store, r.builtin, a.ID)
		if err != nil {
			return err
		}
		missed := conv.MissedInARow
		conv = &Conversation{ID: w.Occurrence, Lang: c.Language, MissedInARow: missed}
		if qn, ok := cat.Lookup(w.Questionnaire); ok && qn.Instrument == q.InstrumentMood {
			// The drop rule's 7 days, read now rather than with the last
			// answer: the answering webhook makes one round trip fewer. The
			// window ends at the start, hours at most before the answer, and
			// no other mood check-in can score in between.
			hist := b.Scores
			if lock == nil { // an agency's own mood questionnaire
				var err error
				if hist, err = r.store.RecentScores(ctx, c.ID, q.InstrumentMood, since); err != nil {
					return err
				}
			}
			conv.MoodHistory, conv.MoodRead = hist, true
		}
		out, err := Start(cat, conv, w.Questionnaire, ch == bot.SMS, r.now())
		if err != nil {
			return skip(err.Error())
		}
		raw, _ := json.Marshal(conv)
		if _, err := r.store.Apply(ctx, c.ID, "", raw, append(closed, out.Events...)); err != nil {
			return err
		}
		return r.askFirst(ctx, a, c, conv)
	})
}

// holding runs timed work on a client while holding the client's processing
// lock, so that it never interleaves with the client's messages; messages
// that arrived meanwhile are processed when it is done.
func (r *Router) holding(ctx context.Context, w Work, do func(b *store.Batch) error) error {
	return r.holdingWith(ctx, w, nil, do)
}

// holdingWith is holding with a lock function of its own (nil: store.Lock).
func (r *Router) holdingWith(ctx context.Context, w Work, lock func() (*store.Batch, error), do func(b *store.Batch) error) error {
	if lock == nil {
		lock = func() (*store.Batch, error) { return r.store.Lock(ctx, w.Client, w.Agency) }
	}
	b, err := lock()
	if err != nil {
		return err
	}
	if !b.Locked {
		return ErrBusy
	}
	defer r.release(context.WithoutCancel(ctx), w.Client, w.Agency, b.Lock)
	if b.Client == nil || b.Agency == nil {
		return nil // the client is gone
	}
	return do(b)
}

// release ends a piece of timed work that held the client's lock. Messages
// that arrived meanwhile (Receive found the lock taken and left them to the
// holder) are processed now; ignoring Unlock's answer left them to the
// sweeper, 10 to 15 seconds later — a crisis message included.
func (r *Router) release(ctx context.Context, clientID, agencyID, token string) {
	more, err := r.store.Unlock(ctx, clientID, token)
	if err != nil {
		r.log.Error("unlock client", "client_id", clientID, "err", err)
		return
	}
	if !more {
		return
	}
	if err := r.Drain(ctx, clientID, agencyID); err != nil {
		r.log.Error("process messages that arrived during timed work", "client_id", clientID, "err", err)
	}
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
func (r *Router) askFirst(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation) error {
	ch := bot.Kind(c.Channel)
	text, buttons, ok, err := r.question(ctx, a, conv, ch)
	if err != nil || !ok {
		return err
	}
	return r.ask(ctx, a, c, conv, fmt.Sprintf("q:%s:%s:%d", c.ID, conv.ID, conv.Seq), text, buttons)
}

// ask queues a message that asks the client something on their channel,
// and the reply timeout of the conversation's current question.
func (r *Router) ask(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation, id, text string, buttons []bot.Button) error {
	ch := bot.Kind(c.Channel)
	job := &bot.Job{
		Msg:    bot.Outbound{ID: id, Channel: ch, To: r.addr(c, ch), From: r.from(ch), Text: text, Buttons: buttons},
		Person: bot.Person{Kind: "client", ID: c.ID, AgencyID: c.AgencyID},
	}
	if err := r.outbox.Queue(ctx, job); err != nil {
		return err
	}
	return r.planTimeout(ctx, a, c, conv)
}

// question renders the conversation's current question for a channel.
func (r *Router) question(ctx context.Context, a *store.Agency, conv *Conversation, ch bot.Kind) (string, []bot.Button, bool, error) {
	cat, err := r.catalogue(ctx, a.ID, conv.Questionnaire)
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
	text, buttons := cur.Render(conv.Lang, ch == bot.SMS)
	return text, buttons, true, nil
}

// planTimeout plans the reply timeout of the conversation's current question.
func (r *Router) planTimeout(ctx context.Context, a *store.Agency, c *store.Client, conv *Conversation) error {
	return r.store.Submit(ctx, r.timeoutWork(a, c, conv))
}

// timeoutWork is the reply timeout of the conversation's current question.
func (r *Router) timeoutWork(a *store.Agency, c *store.Client, conv *Conversation) store.Work {
	window := time.Duration(a.ReplyWindow)
	if window <= 0 {
		window = 4 * time.Hour
	}
	w := Work{Kind: WorkTimeout, Client: c.ID, Agency: c.AgencyID, Conv: conv.ID, Seq: conv.Seq}
	return store.Work{ID: fmt.Sprintf("timeout:%s:%s", c.ID, conv.ID), At: conv.AskedAt.Add(window), Payload: w.encode()}
}

// HandleTimeout nudges once, then counts the check-in as missed. A timeout
// for a question already answered does nothing.
func (r *Router) HandleTimeout(ctx context.Context, w Work) error {
	return r.holding(ctx, w, func(b *store.Batch) error {
		c, a := b.Client, b.Agency
		conv := decodeConv(b.Conversation, c)
		if conv.ID != w.Conv || conv.Seq != w.Seq || !conv.Active() {
			return nil // stale: answered or moved on
		}
		if !conv.Nudged && c.Messageable() {
			// A nudge is routine: due in quiet hours, it waits for their end
			// (it went out at 22:00 for a check-in sent at 18:00).
			if at := r.outOfQuiet(a, c, r.now()); at.After(r.now()) {
				return r.store.Schedule(ctx, fmt.Sprintf("timeout:%s:%s", c.ID, conv.ID), at, w.encode())
			}
			ch := bot.Kind(c.Channel)
			// The nudge repeats the question: hours later, on an old phone,
			// "a question is waiting" alone sends them scrolling for it.
			text, buttons, ok, err := r.question(ctx, a, conv, ch)
			if err != nil {
				return err
			}
			if ok {
				text = nudgeText(conv.Lang) + "\n" + text
			} else {
				text = nudgeText(conv.Lang)
			}
			conv.Nudged = true
			conv.AskedAt = r.now()
			raw, _ := json.Marshal(conv)
			if _, err := r.store.Apply(ctx, c.ID, "", raw, []store.Event{{"t", "nudged", "conv", conv.ID}}); err != nil {
				return err
			}
			return r.ask(ctx, a, c, conv, fmt.Sprintf("nudge:%s:%s:%d", c.ID, conv.ID, conv.Seq), text, buttons)
		}
		conv.Question = ""
		conv.MissedInARow++
		raw, _ := json.Marshal(conv)
		if _, err := r.store.Apply(ctx, c.ID, "", raw, []store.Event{{"t", "missed", "conv", conv.ID, "q", conv.Questionnaire, "in_a_row", fmt.Sprint(conv.MissedInARow)}}); err != nil {
			return err
		}
		limit := a.MissedInARow
		if limit <= 0 {
			limit = 2
		}
		if conv.MissedInARow >= limit && conv.Appointment == "" {
			_, err := r.esc.Raise(ctx, a, c, escalation.Signal{Level: escalation.Concern, Reasons: []string{fmt.Sprintf("%d missed check-ins", conv.MissedInARow)}}, "system")
			return err
		}
		return nil
	})
}

// outOfQuiet is t, or the end of the agency's quiet hours in the client's
// zone when t falls inside them.
func (r *Router) outOfQuiet(a *store.Agency, c *store.Client, t time.Time) time.Time {
	loc, err := schedule.LoadZone(c.Timezone)
	if err != nil {
		loc = nil // UTC; the zone was validated when the client was saved
	}
	return schedule.QuietHours{Start: a.QuietStart, End: a.QuietEnd}.Defer(t, loc)
}

// planNext plans a schedule's next occurrence after `after`, deferred out
// of quiet hours. Planning is idempotent: the occurrence id is the item id.
// It reports why the schedule no longer runs ("" when it does): an
// occurrence planned before the schedule was paused must not go out.
func (r *Router) planNext(ctx context.Context, clientID, scheduleID string, after time.Time) (string, error) {
	sc, err := r.store.ClientSchedule(ctx, clientID, scheduleID)
	if errors.Is(err, store.ErrNotFound) {
		return "schedule removed", nil
	}
	if err != nil {
		return "", err
	}
	if sc.Paused {
		return "schedule paused", nil
	}
	c, err := r.store.Client(ctx, clientID)
	if err != nil {
		return "", err
	}
	if c.Status == store.StatusDischarged {
		return "", nil // skipped below as not messageable
	}
	a, err := r.store.Agency(ctx, c.AgencyID)
	if err != nil {
		return "", err
	}
	return "", r.PlanSchedule(ctx, a, sc, after)
}

// PlanSchedule plans the first occurrence of a schedule strictly after `after`.
func (r *Router) PlanSchedule(ctx context.Context, a *store.Agency, sc *store.Schedule, after time.Time) error {
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
	return r.store.ScheduleOnce(ctx, "occ:"+id, due, w.encode())
}

// DecodeWork reads this package's queued work; ok is false for other kinds.
func DecodeWork(p []byte) (Work, bool) {
	var w Work
	if json.Unmarshal(p, &w) != nil {
		return w, false
	}
	switch w.Kind {
	case WorkCheckin, WorkTimeout, WorkReminder:
		return w, true
	}
	return w, false
}

// Upcoming previews a schedule's next fire times.
func Upcoming(sc *store.Schedule, after time.Time, n int) ([]schedule.Occurrence, *time.Location, error) {
	rule, err := schedule.Parse(sc.RRule, sc.Start, sc.Until, sc.Timezone)
	if err != nil {
		return nil, nil, err
	}
	return rule.Upcoming(after, n), rule.Zone, nil
}

// lower trims and lower-cases (appointment replies).
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
