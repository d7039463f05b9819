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
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Screener checks a text for crisis signals (escalation/detect behind an adapter).
type Screener interface {
	Screen(a *store.Agency, text, lang string) escalation.Signal
}

// Inbox is the core's bot.Receiver: it stores every inbound event, screens
// a client's text for crisis signals first, then honours keywords and
// advances the client's conversation, one message at a time per client,
// across processes. Staff and unknown senders go to linking.
type Inbox struct {
	store    *store.Store
	screen   Screener
	esc      *escalation.Service
	contacts *contacts
	cats     *catalogues
	linking  *linking
	appts    *Appointments
	hold     *holder
	log      *slog.Logger
	now      func() time.Time
	// handoff takes the replies this process queues straight to its own
	// workers (nil: a process without workers; nothing is claimed).
	handoff escalation.Handoff
}

var _ bot.Receiver = (*Inbox)(nil)

// ownerOf finds who owns the sender's address on its channel. An SMS is
// read in the phone space of the identity its number (or Messaging
// Service) belongs to; its To and Service come back as where answers to it
// go out from: the agency's number it was sent to or the agency's service,
// "" for the default number and for a number nobody owns.
func ownerOf(ctx context.Context, st *store.Store, in *bot.Inbound) (store.Owner, error) {
	if in.Channel == bot.Telegram {
		return st.ChatOwner(ctx, in.From)
	}
	owner, line, err := st.PhoneOwner(ctx, in.To, in.Service, in.From)
	in.To, in.Service = line.From, line.Service
	return owner, err
}

// Receive takes one verified inbound event. It returns once the event is
// stored (and, when this process holds the client, processed).
func (i *Inbox) Receive(ctx context.Context, in bot.Inbound) error {
	owner, err := ownerOf(ctx, i.store, &in)
	said := in.Kind == bot.KindText || in.Kind == bot.KindButton
	if errors.Is(err, store.ErrNotFound) {
		if !said {
			return bot.ErrUnknownSender // nobody to answer about a block or an edit
		}
		return i.linking.unknown(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("look up sender: %w", err)
	}
	if code := linkCode(in); code != "" {
		return i.linking.link(ctx, in, code, &owner)
	}
	if owner.Kind == "staff" {
		if !said {
			return nil // staff act by writing (ACK) or pressing; edits and blocks change nothing
		}
		return i.linking.staff(ctx, owner, in)
	}
	b, err := i.store.Receive(ctx, owner.ID, owner.AgencyID, store.Message{
		Channel: string(in.Channel), Kind: string(in.Kind), ProviderID: in.ProviderID, Text: in.Text,
	})
	if err != nil {
		return fmt.Errorf("store message of client %s: %w", owner.ID, err)
	}
	if !b.Stored {
		i.log.Info("re-delivery dropped", "client_id", owner.ID, "provider_id", in.ProviderID)
	}
	if !b.Locked {
		return nil // the worker holding this client processes the message
	}
	return i.drain(ctx, owner, b)
}

// Drain processes whatever a client has pending. agencyID "" is a client
// whose record is gone: its messages are taken off the queue, kept.
func (i *Inbox) Drain(ctx context.Context, clientID, agencyID string) error {
	b, err := i.store.Lock(ctx, clientID, agencyID)
	if err != nil {
		return fmt.Errorf("lock client %s: %w", clientID, err)
	}
	if !b.Locked {
		return nil // its holder processes them
	}
	return i.drain(ctx, store.Owner{Kind: "client", ID: clientID, AgencyID: agencyID}, b)
}

// Sweep processes the messages of clients that have waited longer than
// age (their process crashed or their lock expired). A client whose record
// no longer exists has its messages taken off the queue, kept in its
// timeline, and leaves the sweeper's list.
func (i *Inbox) Sweep(ctx context.Context, age time.Duration) error {
	stale, err := i.store.StalePending(ctx, i.now(), age, 100)
	if err != nil {
		return fmt.Errorf("list clients with pending messages: %w", err)
	}
	for _, id := range stale {
		agency := ""
		c, err := i.store.Client(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			i.log.Warn("pending messages of a client that no longer exists: taken off the queue", "client_id", id)
		case err != nil:
			i.log.Error("sweep pending messages: read client", "client_id", id, "err", err)
			continue
		default:
			agency = c.AgencyID
		}
		if err := i.Drain(ctx, id, agency); err != nil {
			i.log.Error("sweep pending messages", "client_id", id, "err", err)
		}
	}
	return nil
}

// drain processes a locked batch and any that arrive meanwhile, then
// releases the client.
func (i *Inbox) drain(ctx context.Context, owner store.Owner, b *store.Batch) error {
	for {
		if i.handoff != nil {
			b.ClaimFor = i.handoff.Consumer()
		}
		for _, m := range b.Pending {
			if err := i.process(ctx, owner.ID, b, m); err != nil {
				err = fmt.Errorf("process message %s of client %s: %w", m.ID, owner.ID, err)
				if _, uerr := i.store.Unlock(context.WithoutCancel(ctx), owner.ID, b.Lock); uerr != nil {
					err = errors.Join(err, fmt.Errorf("unlock client %s: %w", owner.ID, uerr))
				}
				return err
			}
		}
		more := b.More
		if !b.Unlocked {
			var err error
			if more, err = i.store.Unlock(ctx, owner.ID, b.Lock); err != nil {
				return fmt.Errorf("unlock client %s: %w", owner.ID, err)
			}
		}
		if !more {
			return nil
		}
		var err error
		if b, err = i.store.Lock(ctx, owner.ID, owner.AgencyID); err != nil {
			return fmt.Errorf("lock client %s: %w", owner.ID, err)
		}
		if !b.Locked {
			return nil
		}
	}
}

// turn is the state one message works on.
type turn struct {
	batch  *store.Batch
	conv   *Conversation
	keep   bool // the stored conversation is unreadable: it is not written
	events []store.Event
	jobs   []*bot.Job
	asks   []time.Time  // a question went out: plan its timeout
	work   []store.Work // timed work the turn plans (the safety question's wait)
	// safetyAsked: this message got the safety question, which is the
	// turn's last word to the client.
	safetyAsked bool
}

// reply queues a message to the client on the channel they wrote from.
// Replies are keyed by the inbound message and their place in the turn, so
// a turn processed twice makes the same ids and the outbox sends them once.
func (t *turn) reply(k *contacts, c *store.Client, ch bot.Kind, key, text string, buttons []bot.Button) {
	t.jobs = append(t.jobs, k.toClient(t.batch.Agency, c, ch, fmt.Sprintf("r:%s:%s:%d", c.ID, key, len(t.jobs)), text, buttons))
}

// process handles one stored message: screen, keywords, conversation.
func (i *Inbox) process(ctx context.Context, clientID string, b *store.Batch, m store.Message) error {
	c, a := b.Client, b.Agency
	if c == nil || a == nil {
		// The record is gone: keep the message, take it off the queue.
		if _, err := i.store.Apply(ctx, clientID, m.ID, nil, nil); err != nil {
			return fmt.Errorf("take message off the queue: %w", err)
		}
		return nil
	}
	conv, err := loadConversation(b.Conversation, c)
	t := &turn{batch: b, conv: conv}
	if err != nil {
		// The message is still screened and keywords honoured; the stored
		// record stays as it is for someone to look at.
		i.log.Error("stored conversation unreadable: kept; the message is not taken as an answer", "client_id", c.ID, "msg", m.ID, "err", err)
		t.conv, t.keep = &Conversation{Lang: cmpLang(c.Language)}, true
	}
	ch := bot.Kind(m.Channel)
	switch bot.InboundKind(m.Kind) {
	case bot.KindUnreachable, bot.KindReachable:
		return i.reachability(ctx, b, m)
	case bot.KindText, bot.KindEdited:
		done, err := i.screenFirst(ctx, t, m)
		if err != nil || done {
			return err
		}
		if bot.InboundKind(m.Kind) == bot.KindEdited {
			// Screened and kept; the question it answered has moved on.
			return i.finish(ctx, t, m)
		}
	}
	if m.Kind == string(bot.KindText) && strings.TrimSpace(m.Text) == "/start" && ch == bot.Telegram {
		t.reply(i.contacts, c, ch, m.ID, LinkedText(c.Language), nil)
		return i.finish(ctx, t, m)
	}
	if kw := ParseKeyword(m.Text); kw != NoKeyword && m.Kind == string(bot.KindText) {
		// START, UNSTOP and YES mean "opt in" only to someone opted out; to
		// anyone else "Yes." answers an open yes/no question.
		if !(kw == StartKeyword && !c.OptedOut) {
			return i.keyword(ctx, t, m, kw)
		}
	}
	if t.conv.Active() && !c.OptedOut {
		n := len(t.jobs)
		if err := i.answer(ctx, t, m); err != nil {
			return err
		}
		if t.safetyAsked {
			// The message is kept as the answer (and a finished check-in
			// scored), but the safety question is the last word: the
			// check-in sends nothing more and stops.
			t.jobs, t.asks = t.jobs[:n], nil
			if t.conv.Active() {
				t.conv.Question = ""
				t.events = append(t.events, store.Event{"t", "checkin-interrupted", "conv", t.conv.ID, "reason", "safety question"})
			}
		}
	}
	return i.finish(ctx, t, m)
}

func cmpLang(lang string) string {
	if lang == "" {
		return "en"
	}
	return lang
}

// screenFirst runs crisis detection on a text, whatever the conversation is
// doing: a crisis queues the safety reply and opens or joins the client's
// escalation; a concern raises one. done reports that a crisis ended the
// check-in in progress and the turn is written.
func (i *Inbox) screenFirst(ctx context.Context, t *turn, m store.Message) (done bool, err error) {
	c, a := t.batch.Client, t.batch.Agency
	sig := i.screen.Screen(a, m.Text, c.Language)
	pending := t.conv.pendingSafety(i.now())
	if pending != nil && sig.Level != escalation.Crisis && bot.InboundKind(m.Kind) == bot.KindText {
		// While the safety question waits, a bare yes or no answers it
		// before anything else reads the message.
		if yes, ok := safetyAnswer(m.Text); ok {
			return true, i.safetyAnswered(ctx, t, m, yes)
		}
	}
	if sig.Level == "" || sig.Level == "none" {
		return false, nil
	}
	t.events = append(t.events, store.Event{"t", "screen", "msg", m.ID, "level", sig.Level, "reasons", strings.Join(sig.Reasons, "; ")})
	if sig.Level == escalation.Concern && sig.Ask && pending == nil {
		asked, err := i.askSafety(ctx, t, m, sig)
		if err != nil || asked {
			return false, err // the concern waits for the answer
		}
	}
	if pending != nil && sig.Level == escalation.Crisis {
		// A crisis text answers the safety question too.
		t.conv.Safety = nil
		t.events = append(t.events, store.Event{"t", "safety-answer", "msg", m.ID, "answer", "crisis message", "outcome", escalation.Crisis})
		if !pending.TimedOut {
			sig.Audit = append(sig.Audit, pending.askedEntry())
		}
		sig.Audit = append(sig.Audit, store.AuditEntry{At: i.now().UTC(), Actor: "client:" + c.ID, Action: "safety question answered", Detail: "a crisis message", MessageID: m.ID})
	}
	var reply *escalation.Reply // a crisis gets the safety reply first
	if sig.Level == escalation.Crisis {
		ch := bot.Kind(m.Channel)
		reply = i.contacts.safetyReply(a, c, ch, m.ID)
	}
	if _, err := i.esc.Signal(ctx, a, c, sig, "client:"+c.ID, reply); err != nil {
		return false, fmt.Errorf("signal %s: %w", sig.Level, err)
	}
	if sig.Level != escalation.Crisis || !t.conv.Active() {
		return false, nil
	}
	// Someone in crisis is not asked the next questionnaire item, nor told
	// their message was not a number: the check-in stops and the safety
	// reply is the last word.
	t.conv.Question = ""
	t.events = append(t.events, store.Event{"t", "checkin-interrupted", "conv", t.conv.ID, "reason", "crisis"})
	return true, i.finish(ctx, t, m)
}

// answer takes a text as the answer to the conversation's current question.
func (i *Inbox) answer(ctx context.Context, t *turn, m store.Message) error {
	c, a := t.batch.Client, t.batch.Agency
	ch := bot.Kind(m.Channel)
	now := i.now()
	cat, err := i.cats.holding(ctx, a.ID, t.conv.Questionnaire)
	if err != nil {
		return err
	}
	// A mood check-in's drop rule compares with the client's own 7-day
	// median, read when the check-in started (Checkins.HandleCheckin).
	opts := q.ScoreOptions{MoodThreshold: a.MoodThreshold, MoodHistory: t.conv.MoodHistory}
	out := Answer(cat, t.conv, m.Text, ch == bot.SMS, opts, now)
	t.events = append(t.events, textByReference(out.Events, m)...)
	for _, rep := range out.Replies {
		t.reply(i.contacts, c, ch, m.ID, rep.Text, rep.Buttons)
		if rep.Asks {
			t.asks = append(t.asks, now)
		}
	}
	if out.Later {
		t.asks = append(t.asks, now) // the timeout nudges them later
	}
	if out.Finished != nil {
		return i.finished(ctx, t, a, c, out.Finished)
	}
	return nil
}

// textByReference makes answers that keep the message's own text (trimmed,
// as answers are) point at the message instead ("msg"): the text is stored
// once, in the message's timeline entry, and the store shows it on the
// answer again when the timeline is read.
func textByReference(events []store.Event, m store.Message) []store.Event {
	for i, e := range events {
		if len(e) < 2 || e[1] != "answer" {
			continue
		}
		for j := 2; j+1 < len(e); j += 2 {
			if e[j] == "text" && e[j+1] == strings.TrimSpace(m.Text) {
				ref := append(store.Event{}, e[:j]...)
				events[i] = append(append(ref, e[j+2:]...), "msg", m.ID)
				break
			}
		}
	}
	return events
}

// finished hands a completed questionnaire's score to escalation and the
// appointment it confirms.
func (i *Inbox) finished(ctx context.Context, t *turn, a *store.Agency, c *store.Client, res *q.Result) error {
	if t.conv.Appointment != "" {
		if err := i.appts.answered(ctx, a, c, t.conv, res); err != nil {
			return err
		}
	}
	switch res.Risk {
	case q.RiskCrisis:
		ch := bot.Kind(c.Channel)
		reply := i.contacts.safetyReply(a, c, ch, t.conv.ID)
		if _, err := i.esc.Signal(ctx, a, c, escalation.Signal{Level: escalation.Crisis, Reasons: res.Reasons}, "system", reply); err != nil {
			return fmt.Errorf("signal crisis from a score: %w", err)
		}
	case q.RiskConcern:
		if _, err := i.esc.Raise(ctx, a, c, escalation.Signal{Level: escalation.Concern, Reasons: res.Reasons}, "system"); err != nil {
			return fmt.Errorf("raise concern from a score: %w", err)
		}
	}
	return nil
}

// finish writes the turn (conversation, events, message done), its replies
// and the reply timeout in one round trip. Should another worker have
// applied this message already (our lock expired mid-turn), the replies are
// the same ids and the outbox sends them once.
func (i *Inbox) finish(ctx context.Context, t *turn, m store.Message) error {
	c := t.batch.Client
	var raw []byte
	if !t.keep {
		var err error
		if raw, err = json.Marshal(t.conv); err != nil {
			return fmt.Errorf("encode conversation: %w", err)
		}
	}
	work := make([]store.Work, 0, len(t.jobs)+len(t.work)+1)
	for _, j := range t.jobs {
		work = append(work, i.contacts.outbox.Work(j))
		// What the client was told goes on their timeline beside what they
		// wrote, in the same write.
		t.events = append(t.events, store.Event{"t", "out", "ch", string(j.Msg.Channel), "x", j.Msg.Text})
	}
	work = append(work, t.work...)
	if len(t.asks) > 0 && t.conv.Active() {
		work = append(work, timeoutWork(t.batch.Agency, c, t.conv))
	}
	var applied bool
	var err error
	if p := t.batch.Pending; len(p) > 0 && p[len(p)-1].ID == m.ID {
		// The batch's last message: release the client in the same round trip.
		applied, err = i.store.ApplyAndUnlock(ctx, t.batch, c.ID, m.ID, raw, t.events, work...)
		if claimed := t.batch.Claimed; len(claimed) > 0 {
			t.batch.Claimed = nil
			i.handoff.Handoff(claimed)
		}
	} else {
		applied, err = i.store.ApplyAndSubmit(ctx, c.ID, m.ID, raw, t.events, work...)
	}
	if err != nil {
		return fmt.Errorf("apply turn: %w", err)
	}
	if applied && raw != nil {
		t.batch.Conversation = raw
	}
	return nil
}

// keyword honours STOP, START and HELP at once.
func (i *Inbox) keyword(ctx context.Context, t *turn, m store.Message, kw Keyword) error {
	c, a := t.batch.Client, t.batch.Agency
	ch := bot.Kind(m.Channel)
	switch kw {
	case StopKeyword:
		if c.OptedOut {
			break
		}
		now := i.now().UTC()
		upd := *c
		upd.OptedOut, upd.OptedOutAt = true, &now
		if err := i.store.UpdateClient(ctx, c, &upd); err != nil {
			return fmt.Errorf("record opt-out: %w", err)
		}
		*c = upd
		t.conv.Question = "" // the check-in in progress ends
		t.events = append(t.events, store.Event{"t", "opted-out", "msg", m.ID})
		t.reply(i.contacts, c, ch, m.ID, StopText(a, c.Language), nil)
		text := fmt.Sprintf("CareCheck: %s replied STOP and gets no check-ins or reminders until they reply START.", escalation.Who(a, c))
		if err := i.contacts.tellCaseManager(ctx, a, c, "opt-out:"+c.ID+":"+m.ID, text); err != nil {
			return fmt.Errorf("tell case manager of opt-out: %w", err)
		}
	case StartKeyword:
		if !c.OptedOut {
			break
		}
		upd := *c
		upd.OptedOut, upd.OptedOutAt = false, nil
		if err := i.store.UpdateClient(ctx, c, &upd); err != nil {
			return fmt.Errorf("record opt-in: %w", err)
		}
		*c = upd
		t.events = append(t.events, store.Event{"t", "opted-in", "msg", m.ID})
		t.reply(i.contacts, c, ch, m.ID, StartText(a, c.Language), nil)
	case HelpKeyword:
		cm, err := i.store.CaseManager(ctx, a.ID, c.CaseManagerID)
		if errors.Is(err, store.ErrNotFound) {
			cm, err = nil, nil // the help text names "your case manager"
		}
		if err != nil {
			return fmt.Errorf("read case manager for HELP: %w", err)
		}
		t.events = append(t.events, store.Event{"t", "help", "msg", m.ID})
		t.reply(i.contacts, c, ch, m.ID, HelpText(a, cm, c.Language), nil)
	}
	return i.finish(ctx, t, m)
}

// reachability records that Telegram can no longer (or can again) reach the client.
func (i *Inbox) reachability(ctx context.Context, b *store.Batch, m store.Message) error {
	c := b.Client
	unreachable := bot.InboundKind(m.Kind) == bot.KindUnreachable
	if c.TelegramUnreachable != unreachable {
		upd := *c
		upd.TelegramUnreachable = unreachable
		if err := i.store.UpdateClient(ctx, c, &upd); err != nil {
			return fmt.Errorf("record telegram reachability: %w", err)
		}
		*c = upd
	}
	if _, err := i.store.Apply(ctx, c.ID, m.ID, nil, []store.Event{{"t", m.Kind, "channel", m.Channel}}); err != nil {
		return fmt.Errorf("apply reachability: %w", err)
	}
	return nil
}
