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

// Router is the core's bot.Receiver: it stores every inbound event, screens
// it for crisis signals first, then honours keywords and advances the
// client's conversation, one message at a time per client.
type Router struct {
	store   *store.Store
	screen  Screener
	esc     *escalation.Service
	outbox  *bot.Outbox
	builtin *q.Catalogue
	log     *slog.Logger
	now     func() time.Time
	// SMSFrom is the number clients text (replies go out from it).
	SMSFrom string
	// handoff, when set, takes the replies this process queues straight to
	// its own workers.
	handoff escalation.Handoff
}

// SetHandoff wires this process's workers (before serving): replies a turn
// queues are claimed for them in the same round trip and handed over in
// memory, with no stream read in between.
func (r *Router) SetHandoff(h escalation.Handoff) { r.handoff = h }

var _ bot.Receiver = (*Router)(nil)

// NewRouter builds the router.
func NewRouter(st *store.Store, screen Screener, esc *escalation.Service, ob *bot.Outbox, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{store: st, screen: screen, esc: esc, outbox: ob, builtin: q.Builtin(), log: log, now: st.Now}
}

// Receive takes one verified inbound event. It returns once the event is
// stored (and, when this process holds the client, processed).
func (r *Router) Receive(ctx context.Context, in bot.Inbound) error {
	owner, err := r.store.LookupOwner(ctx, string(in.Channel), in.From)
	said := in.Kind == bot.KindText || in.Kind == bot.KindButton
	if errors.Is(err, store.ErrNotFound) {
		if !said {
			return bot.ErrUnknownSender // nobody to answer about a block or an edit
		}
		return r.unknown(ctx, in)
	}
	if err != nil {
		return err
	}
	if owner.Kind == "staff" {
		if !said {
			return nil // staff act by writing (ACK) or pressing; edits and blocks change nothing
		}
		return r.staff(ctx, owner, in)
	}
	if strings.HasPrefix(strings.TrimSpace(in.Text), "/start ") && in.Channel == bot.Telegram {
		// An already-linked chat tapping a link again: nothing to do but confirm.
		in.Text = "/start"
	}
	b, err := r.store.Receive(ctx, owner.ID, owner.AgencyID, store.Message{
		Channel: string(in.Channel), Kind: string(in.Kind), ProviderID: in.ProviderID, Text: in.Text,
	})
	if err != nil {
		return err
	}
	if !b.Stored {
		r.log.Info("re-delivery dropped", "client_id", owner.ID, "provider_id", in.ProviderID)
	}
	if !b.Locked {
		return nil // the worker holding this client processes the message
	}
	return r.drain(ctx, owner, b)
}

// Drain processes whatever a client has pending (the sweeper calls it for
// clients whose worker crashed).
func (r *Router) Drain(ctx context.Context, clientID, agencyID string) error {
	b, err := r.store.Lock(ctx, clientID, agencyID)
	if err != nil || !b.Locked {
		return err
	}
	return r.drain(ctx, store.Owner{Kind: "client", ID: clientID, AgencyID: agencyID}, b)
}

func (r *Router) drain(ctx context.Context, owner store.Owner, b *store.Batch) error {
	for {
		if r.handoff != nil {
			b.ClaimFor = r.handoff.Consumer()
		}
		for _, m := range b.Pending {
			if err := r.process(ctx, owner.ID, b, m); err != nil {
				_, _ = r.store.Unlock(ctx, owner.ID, b.Lock)
				return fmt.Errorf("process message %s: %w", m.ID, err)
			}
		}
		more := b.More
		if !b.Unlocked {
			var err error
			if more, err = r.store.Unlock(ctx, owner.ID, b.Lock); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		var err error
		if b, err = r.store.Lock(ctx, owner.ID, owner.AgencyID); err != nil || !b.Locked {
			return err
		}
	}
}

// turn is the state one message works on.
type turn struct {
	batch  *store.Batch
	conv   *Conversation
	events []store.Event
	jobs   []*bot.Job
	asks   []time.Time // a question went out: plan its timeout
}

func decodeConv(raw []byte, c *store.Client) *Conversation {
	conv := &Conversation{Lang: c.Language}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, conv)
	}
	if conv.Lang == "" {
		conv.Lang = "en"
	}
	return conv
}

// process handles one stored message: screen, keywords, conversation.
func (r *Router) process(ctx context.Context, clientID string, b *store.Batch, m store.Message) error {
	c, a := b.Client, b.Agency
	if c == nil || a == nil {
		// The record is gone: keep the message, take it off the queue.
		_, err := r.store.Apply(ctx, clientID, m.ID, nil, nil)
		return err
	}
	t := &turn{batch: b, conv: decodeConv(b.Conversation, c)}
	ch := bot.Kind(m.Channel)
	now := r.now()
	switch bot.InboundKind(m.Kind) {
	case bot.KindUnreachable, bot.KindReachable:
		return r.reachability(ctx, b, m)
	case bot.KindText, bot.KindEdited:
		// Every text is screened first, whatever the conversation is doing.
		sig := r.screen.Screen(a, m.Text, c.Language)
		if sig.Level != "" && sig.Level != "none" {
			t.events = append(t.events, store.Event{"t", "screen", "msg", m.ID, "level", sig.Level, "reasons", strings.Join(sig.Reasons, "; ")})
			var reply *escalation.Reply // a crisis gets the safety reply first
			if sig.Level == escalation.Crisis {
				reply = &escalation.Reply{Channel: ch, To: r.addr(c, ch), From: r.from(ch), Key: m.ID}
			}
			if _, err := r.esc.Signal(ctx, a, c, sig, "client:"+c.ID, reply); err != nil {
				return err
			}
			if sig.Level == escalation.Crisis && t.conv.Active() {
				// Someone in crisis is not asked the next questionnaire item,
				// nor told their message was not a number: the check-in stops
				// and the safety reply is the last word.
				t.conv.Question = ""
				t.events = append(t.events, store.Event{"t", "checkin-interrupted", "conv", t.conv.ID, "reason", "crisis"})
				return r.finish(ctx, t, m)
			}
		}
		if bot.InboundKind(m.Kind) == bot.KindEdited {
			// Screened and kept; the question it answered has moved on.
			return r.finish(ctx, t, m)
		}
	}
	if m.Kind == string(bot.KindText) && strings.TrimSpace(m.Text) == "/start" && ch == bot.Telegram {
		t.reply(r, c, ch, m.ID, LinkedText(c.Language), nil)
		return r.finish(ctx, t, m)
	}
	if kw := ParseKeyword(m.Text); kw != NoKeyword && m.Kind == string(bot.KindText) {
		// START, UNSTOP and YES mean "opt in" only to someone opted out; to
		// anyone else "Yes." answers an open yes/no question (the exact-"yes"
		// test sent "Yes." and "yes!" to a keyword that did nothing, and the
		// answer was lost).
		if !(kw == StartKeyword && !c.OptedOut) {
			return r.keyword(ctx, t, m, kw)
		}
	}
	if t.conv.Active() && !c.OptedOut {
		cat, err := r.catalogue(ctx, a.ID, t.conv.Questionnaire)
		if err != nil {
			return err
		}
		opts := q.ScoreOptions{MoodThreshold: a.MoodThreshold}
		if qn, ok := cat.Lookup(t.conv.Questionnaire); ok && qn.Instrument == q.InstrumentMood && isLast(qn, t.conv.Question) {
			// The drop rule compares with the client's own 7-day median,
			// read when the check-in started (HandleCheckin).
			opts.MoodHistory = t.conv.MoodHistory
			if !t.conv.MoodRead {
				hist, err := r.store.RecentScores(ctx, c.ID, q.InstrumentMood, now.Add(-7*24*time.Hour))
				if err != nil {
					return err
				}
				opts.MoodHistory = hist
			}
		}
		out := Answer(cat, t.conv, m.Text, ch == bot.SMS, opts, now)
		t.events = append(t.events, textByReference(out.Events, m)...)
		for _, rep := range out.Replies {
			// Keyed by the inbound message: a reply derived from the
			// conversation's Seq collided with the previous turn's (the
			// thank-you after the last answer, a second hint) and the
			// outbox's sent marker dropped it.
			t.reply(r, c, ch, m.ID, rep.Text, rep.Buttons)
			if rep.Asks {
				t.asks = append(t.asks, now)
			}
		}
		if out.Later {
			t.asks = append(t.asks, now) // the timeout nudges them later
		}
		if out.Finished != nil {
			if err := r.finished(ctx, t, a, c, out.Finished); err != nil {
				return err
			}
		}
	}
	return r.finish(ctx, t, m)
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
func (r *Router) finished(ctx context.Context, t *turn, a *store.Agency, c *store.Client, res *q.Result) error {
	if t.conv.Appointment != "" {
		if err := r.appointmentAnswered(ctx, a, c, t.conv, res); err != nil {
			return err
		}
	}
	switch res.Risk {
	case q.RiskCrisis:
		ch := bot.Kind(c.Channel)
		_, err := r.esc.Signal(ctx, a, c, escalation.Signal{Level: escalation.Crisis, Reasons: res.Reasons}, "system",
			&escalation.Reply{Channel: ch, To: r.addr(c, ch), From: r.from(ch), Key: t.conv.ID})
		return err
	case q.RiskConcern:
		_, err := r.esc.Raise(ctx, a, c, escalation.Signal{Level: escalation.Concern, Reasons: res.Reasons}, "system")
		return err
	}
	return nil
}

// reply queues a message to the client on the channel they wrote from.
func (t *turn) reply(r *Router, c *store.Client, ch bot.Kind, key, text string, buttons []bot.Button) {
	id := fmt.Sprintf("r:%s:%s:%d", c.ID, key, len(t.jobs))
	t.jobs = append(t.jobs, &bot.Job{
		Msg:    bot.Outbound{ID: id, Channel: ch, To: r.addr(c, ch), From: r.from(ch), Text: text, Buttons: buttons},
		Person: bot.Person{Kind: "client", ID: c.ID, AgencyID: c.AgencyID},
	})
}

// finish writes the turn (conversation, events, message done) in one script,
// then queues its replies and the reply timeout.
func (r *Router) finish(ctx context.Context, t *turn, m store.Message) error {
	c := t.batch.Client
	raw, _ := json.Marshal(t.conv)
	// The turn's writes, its replies and the reply timeout leave in one round
	// trip. Should another worker have applied this message already (our
	// lock expired mid-turn), the replies are the same ids and the outbox
	// sends them once.
	work := make([]store.Work, 0, len(t.jobs)+1)
	for _, j := range t.jobs {
		work = append(work, r.outbox.Work(j))
	}
	if len(t.asks) > 0 && t.conv.Active() {
		work = append(work, r.timeoutWork(t.batch.Agency, c, t.conv))
	}
	var applied bool
	var err error
	if p := t.batch.Pending; len(p) > 0 && p[len(p)-1].ID == m.ID {
		// The batch's last message: release the client in the same round trip.
		applied, err = r.store.ApplyAndUnlock(ctx, t.batch, c.ID, m.ID, raw, t.events, work...)
		if claimed := t.batch.Claimed; len(claimed) > 0 {
			t.batch.Claimed = nil
			r.handoff.Handoff(claimed)
		}
	} else {
		applied, err = r.store.ApplyAndSubmit(ctx, c.ID, m.ID, raw, t.events, work...)
	}
	if err != nil {
		return err
	}
	if applied {
		t.batch.Conversation = raw
	}
	return nil
}

func (r *Router) addr(c *store.Client, ch bot.Kind) string {
	if ch == bot.Telegram {
		return c.TelegramChat
	}
	return c.Phone
}

func (r *Router) from(ch bot.Kind) string {
	if ch == bot.SMS {
		return r.SMSFrom
	}
	return ""
}

// keyword honours STOP, START and HELP at once.
func (r *Router) keyword(ctx context.Context, t *turn, m store.Message, kw Keyword) error {
	c, a := t.batch.Client, t.batch.Agency
	ch := bot.Kind(m.Channel)
	switch kw {
	case StopKeyword:
		if !c.OptedOut {
			now := r.now().UTC()
			upd := *c
			upd.OptedOut, upd.OptedOutAt = true, &now
			if err := r.store.UpdateClient(ctx, c, &upd); err != nil {
				return err
			}
			*c = upd
			t.conv.Question = "" // the check-in in progress ends
			t.events = append(t.events, store.Event{"t", "opted-out", "msg", m.ID})
			t.reply(r, c, ch, m.ID, StopText(a, c.Language), nil)
			if err := r.tellCaseManager(ctx, a, c, "opt-out:"+c.ID+":"+m.ID, fmt.Sprintf("CareCheck: %s replied STOP and gets no check-ins or reminders until they reply START.", escalation.Who(a, c))); err != nil {
				return err
			}
		}
	case StartKeyword:
		if c.OptedOut {
			upd := *c
			upd.OptedOut, upd.OptedOutAt = false, nil
			if err := r.store.UpdateClient(ctx, c, &upd); err != nil {
				return err
			}
			*c = upd
			t.events = append(t.events, store.Event{"t", "opted-in", "msg", m.ID})
			t.reply(r, c, ch, m.ID, StartText(a, c.Language), nil)
		}
	case HelpKeyword:
		cm, _ := r.store.CaseManager(ctx, a.ID, c.CaseManagerID)
		t.events = append(t.events, store.Event{"t", "help", "msg", m.ID})
		t.reply(r, c, ch, m.ID, HelpText(a, cm, c.Language), nil)
	}
	return r.finish(ctx, t, m)
}

// tellCaseManager sends the client's case manager an informational message
// (not an alert: no climbing).
func (r *Router) tellCaseManager(ctx context.Context, a *store.Agency, c *store.Client, id, text string) error {
	cm, err := r.store.CaseManager(ctx, a.ID, c.CaseManagerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	msg := bot.Outbound{ID: "cm:" + id, Text: text}
	switch {
	case cm.TelegramChat != "" && r.outbox.Has(bot.Telegram):
		msg.Channel, msg.To = bot.Telegram, cm.TelegramChat
	case cm.Phone != "":
		msg.Channel, msg.To, msg.From = bot.SMS, cm.Phone, r.SMSFrom
	default:
		return nil
	}
	return r.outbox.Queue(ctx, &bot.Job{Msg: msg, Person: bot.Person{Kind: "staff", ID: cm.ID, AgencyID: a.ID}})
}

// reachability records that Telegram can no longer (or can again) reach the client.
func (r *Router) reachability(ctx context.Context, b *store.Batch, m store.Message) error {
	c := b.Client
	unreachable := bot.InboundKind(m.Kind) == bot.KindUnreachable
	if c.TelegramUnreachable != unreachable {
		upd := *c
		upd.TelegramUnreachable = unreachable
		if err := r.store.UpdateClient(ctx, c, &upd); err != nil {
			return err
		}
		*c = upd
	}
	_, err := r.store.Apply(ctx, c.ID, m.ID, nil, []store.Event{{"t", m.Kind, "channel", m.Channel}})
	return err
}

// Stopped records a provider's "stopped" answer (Twilio 21610, Telegram blocked).
func (r *Router) Stopped(ctx context.Context, p bot.Person, ch bot.Kind) error {
	if p.Kind != "client" {
		return nil
	}
	c, err := r.store.Client(ctx, p.ID)
	if err != nil {
		return err
	}
	upd := *c
	if ch == bot.Telegram {
		upd.TelegramUnreachable = true
	} else {
		now := r.now().UTC()
		upd.OptedOut, upd.OptedOutAt = true, &now
	}
	r.log.Warn("provider says the person stopped us", "client_id", c.ID, "channel", string(ch))
	return r.store.UpdateClient(ctx, c, &upd)
}

// staff handles a message from a case manager: acknowledgements.
func (r *Router) staff(ctx context.Context, owner store.Owner, in bot.Inbound) error {
	first, err := r.store.Once(ctx, "seen:"+string(in.Channel)+":"+in.ProviderID, 7*24*time.Hour)
	if err != nil {
		return err
	}
	if !first {
		return nil
	}
	cm, err := r.store.CaseManager(ctx, owner.AgencyID, owner.ID)
	if err != nil {
		return err
	}
	if strings.HasPrefix(strings.TrimSpace(in.Text), "/start") {
		return r.send(ctx, in, "staff-linked:"+in.ProviderID, "You're connected. CareCheck alerts will arrive here.", bot.Person{Kind: "staff", ID: cm.ID, AgencyID: cm.AgencyID})
	}
	reply, err := r.esc.StaffReply(ctx, cm, in.Text)
	if err != nil {
		return err
	}
	return r.send(ctx, in, "staff:"+in.ProviderID, reply, bot.Person{Kind: "staff", ID: cm.ID, AgencyID: cm.AgencyID})
}

// send answers an inbound event on its own channel, at once.
func (r *Router) send(ctx context.Context, in bot.Inbound, id, text string, p bot.Person) error {
	return r.outbox.Queue(ctx, &bot.Job{Msg: bot.Outbound{ID: id, Channel: in.Channel, To: in.From, From: r.from(in.Channel), Text: text, Urgent: true}, Person: p})
}

// unknown answers a sender nobody owns: a Telegram link, or one generic
// reply a day that reveals nothing.
func (r *Router) unknown(ctx context.Context, in bot.Inbound) error {
	text := strings.TrimSpace(in.Text)
	if in.Channel == bot.Telegram && strings.HasPrefix(text, "/start") {
		code := strings.TrimSpace(strings.TrimPrefix(text, "/start"))
		if code != "" {
			return r.link(ctx, in, code)
		}
	}
	first, err := r.store.Once(ctx, "unknown:"+string(in.Channel)+":"+in.From, 24*time.Hour)
	if err != nil {
		return err
	}
	if first {
		reply := UnknownText
		if in.Channel == bot.Telegram {
			reply = UnlinkedText
		}
		r.log.Info("message from an unknown sender", "channel", string(in.Channel), "provider_id", in.ProviderID)
		if err := r.send(ctx, in, "unknown:"+in.ProviderID, reply, bot.Person{}); err != nil {
			return err
		}
	}
	return bot.ErrUnknownSender
}

// link binds a Telegram chat to the person a one-time code was made for.
func (r *Router) link(ctx context.Context, in bot.Inbound, code string) error {
	first, err := r.store.Once(ctx, "seen:"+string(in.Channel)+":"+in.ProviderID, 7*24*time.Hour)
	if err != nil || !first {
		return err
	}
	o, err := r.store.UseLinkCode(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return r.send(ctx, in, "badlink:"+in.ProviderID, BadLinkText, bot.Person{})
	}
	if err != nil {
		return err
	}
	lang := "en"
	switch o.Kind {
	case "client":
		c, err := r.store.Client(ctx, o.ID)
		if err != nil {
			return err
		}
		upd := *c
		upd.TelegramChat, upd.TelegramUnreachable = in.From, false
		if err := r.store.UpdateClient(ctx, c, &upd); err != nil {
			return err
		}
		lang = c.Language
		r.log.Info("telegram linked", "client_id", c.ID)
	case "staff":
		cm, err := r.store.CaseManager(ctx, o.AgencyID, o.ID)
		if err != nil {
			return err
		}
		if err := r.store.BindTelegram(ctx, o, in.From); err != nil {
			return err
		}
		cm.TelegramChat = in.From
		if err := r.store.SaveCaseManager(ctx, cm); err != nil {
			return err
		}
		r.log.Info("telegram linked", "case_manager_id", cm.ID)
	}
	return r.send(ctx, in, "linked:"+in.ProviderID, LinkedText(lang), bot.Person{Kind: o.Kind, ID: o.ID, AgencyID: o.AgencyID})
}

// catalogue returns the questionnaires an agency can use.
func (r *Router) catalogue(ctx context.Context, agency, id string) (*q.Catalogue, error) {
	if _, ok := r.builtin.Lookup(id); ok || id == "" {
		return r.builtin, nil
	}
	return AgencyCatalogue(ctx, r.store, r.builtin, agency)
}

// AgencyCatalogue is the built-in catalogue plus an agency's own questionnaires.
func AgencyCatalogue(ctx context.Context, st *store.Store, builtin *q.Catalogue, agency string) (*q.Catalogue, error) {
	raw, err := st.Questionnaires(ctx, agency)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return builtin, nil
	}
	var own []*q.Questionnaire
	for _, body := range raw {
		var qn q.Questionnaire
		if err := json.Unmarshal([]byte(body), &qn); err != nil {
			return nil, fmt.Errorf("decode agency questionnaire: %w", err)
		}
		own = append(own, &qn)
	}
	return builtin.With(own...)
}

func whoShort(a *store.Agency, c *store.Client) string { return escalation.Who(a, c) }

// isLast reports whether id is the questionnaire's last question (only an
// answer to it can finish the questionnaire and need scoring history).
func isLast(qn *q.Questionnaire, id string) bool {
	return len(qn.Questions) > 0 && qn.Questions[len(qn.Questions)-1].ID == id
}
