package conversations

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Deps are what the conversation rooms need from the rest of the service.
type Deps struct {
	Store       *store.Store
	Screen      Screener
	Escalations *escalation.Service
	Outbox      *bot.Outbox
	// Handoff is this process's work runner: replies a turn queues are
	// claimed for it in the same round trip and handed over in memory, with
	// no stream read in between. Nil in a process without workers.
	Handoff escalation.Handoff
	Log     *slog.Logger
}

// Rooms are the package's parts, one job each, wired together:
//   - Inbox receives inbound events (bot.Receiver) and processes each
//     client's messages in order: screen first, keywords, answers;
//   - Checkins starts check-ins, plans schedules' occurrences and times out
//     unanswered questions;
//   - Appointments plans and sends reminders and records confirmations.
//
// Stops (NewStops) stands apart: the outbox it serves is built before these.
type Rooms struct {
	Inbox        *Inbox
	Checkins     *Checkins
	Appointments *Appointments
}

// New wires the rooms.
func New(d Deps) *Rooms {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := d.Store.Now
	builtin := q.Builtin()
	k := &contacts{store: d.Store, outbox: d.Outbox}
	cats := &catalogues{store: d.Store, builtin: builtin}
	inbox := &Inbox{handoff: d.Handoff, store: d.Store, screen: d.Screen, esc: d.Escalations, contacts: k, cats: cats, log: log, now: now,
		linking: &linking{store: d.Store, screen: d.Screen, esc: d.Escalations, contacts: k, log: log}}
	hold := &holder{store: d.Store, inbox: inbox, log: log}
	inbox.hold = hold
	appts := &Appointments{store: d.Store, contacts: k, builtin: builtin, hold: hold, log: log, now: now}
	inbox.appts = appts
	return &Rooms{
		Inbox:        inbox,
		Checkins:     &Checkins{store: d.Store, esc: d.Escalations, contacts: k, cats: cats, hold: hold, log: log, now: now},
		Appointments: appts,
	}
}

// Stops records a provider's "stopped" answer (Twilio 21610, Telegram
// blocked): a client stopped on SMS is opted out, one who blocked the bot
// is unreachable on Telegram.
type Stops struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
}

// NewStops builds the recorder the outbox tells of stopped people.
func NewStops(st *store.Store, log *slog.Logger) *Stops {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stops{store: st, log: log, now: st.Now}
}

var _ bot.StopRecorder = (*Stops)(nil)

// Stopped records that a provider says p stopped us on ch; staff are not recorded.
func (k *Stops) Stopped(ctx context.Context, p bot.Person, ch bot.Kind) error {
	if p.Kind != "client" {
		return nil
	}
	c, err := k.store.Client(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("read client %s: %w", p.ID, err)
	}
	upd := *c
	if ch == bot.Telegram {
		upd.TelegramUnreachable = true
	} else {
		now := k.now().UTC()
		upd.OptedOut, upd.OptedOutAt = true, &now
	}
	if err := k.store.UpdateClient(ctx, c, &upd); err != nil {
		return fmt.Errorf("record that client %s stopped us: %w", c.ID, err)
	}
	k.log.Warn("provider says the person stopped us", "client_id", c.ID, "channel", string(ch))
	return nil
}
