package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// contacts addresses people on their channels: a client on the channel
// they use, a case manager where they can be reached, the sender of an
// inbound event on the channel it came from. SMS goes out from the
// agency's own identity, or the default number (store.Agency.SMSFrom).
type contacts struct {
	store  *store.Store
	outbox *bot.Outbox
}

// addr is the client's address on a channel.
func (k *contacts) addr(c *store.Client, ch bot.Kind) string {
	if ch == bot.Telegram {
		return c.TelegramChat
	}
	return c.Phone
}

// from is the agency's sending address on a channel for a message to
// the address to ("" and "" where the channel has none, and for the
// default number).
func from(a *store.Agency, ch bot.Kind, to string) (number, service string) {
	if ch != bot.SMS {
		return "", ""
	}
	return a.SMSFrom(to)
}

// message is a message from the agency to the client on a channel.
func (k *contacts) message(a *store.Agency, c *store.Client, ch bot.Kind, id, text string) bot.Outbound {
	m := bot.Outbound{ID: id, Channel: ch, To: k.addr(c, ch), Text: text}
	m.From, m.Service = from(a, ch, m.To)
	return m
}

// toClient is a message to a client on a channel.
func (k *contacts) toClient(a *store.Agency, c *store.Client, ch bot.Kind, id, text string, buttons []bot.Button) *bot.Job {
	m := k.message(a, c, ch, id, text)
	m.Buttons = buttons
	return &bot.Job{Msg: m, Person: bot.Person{Kind: "client", ID: c.ID, AgencyID: c.AgencyID}}
}

// safetyReply says where a client's safety reply goes: the channel they
// wrote from, from the agency's address on it.
func (k *contacts) safetyReply(a *store.Agency, c *store.Client, ch bot.Kind, key string) *escalation.Reply {
	m := k.message(a, c, ch, "", "")
	return &escalation.Reply{Channel: ch, To: m.To, From: m.From, Service: m.Service, Key: key}
}

// answer queues an urgent answer to an inbound event on its own channel,
// from the address it came to (Inbox.Receive sets an SMS's To and Service
// to where answers to it go out from).
func (k *contacts) answer(ctx context.Context, in bot.Inbound, id, text string, p bot.Person) error {
	m := bot.Outbound{ID: id, Channel: in.Channel, To: in.From, Text: text, Urgent: true}
	if in.Channel == bot.SMS {
		m.From, m.Service = in.To, in.Service
	}
	return k.outbox.Queue(ctx, &bot.Job{Msg: m, Person: p})
}

// tellCaseManager sends the client's case manager an informational message
// (not an alert: no climbing). A client without a reachable case manager
// (none, deactivated, no channel) tells nobody.
func (k *contacts) tellCaseManager(ctx context.Context, a *store.Agency, c *store.Client, id, text string) error {
	cm, err := k.store.CaseManager(ctx, a.ID, c.CaseManagerID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !cm.Active) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read case manager %s: %w", c.CaseManagerID, err)
	}
	msg := bot.Outbound{ID: "cm:" + id, Text: text}
	switch {
	case cm.TelegramChat != "" && k.outbox.Has(bot.Telegram):
		msg.Channel, msg.To = bot.Telegram, cm.TelegramChat
	case cm.Phone != "":
		msg.Channel, msg.To = bot.SMS, cm.Phone
		msg.From, msg.Service = a.SMSFrom(cm.Phone)
	default:
		return nil
	}
	return k.outbox.Queue(ctx, &bot.Job{Msg: msg, Person: bot.Person{Kind: "staff", ID: cm.ID, AgencyID: a.ID}})
}

// catalogues finds the questionnaires an agency can use: the built-in ones
// and the agency's own.
type catalogues struct {
	store   *store.Store
	builtin *q.Catalogue
}

// holding returns a catalogue that holds questionnaire id for an agency:
// the built-in one when id is built in, else the agency's.
func (k *catalogues) holding(ctx context.Context, agency, id string) (*q.Catalogue, error) {
	if _, ok := k.builtin.Lookup(id); ok || id == "" {
		return k.builtin, nil
	}
	return AgencyCatalogue(ctx, k.store, k.builtin, agency)
}

// lookup finds a questionnaire an agency can use; an unknown one is ErrInvalid.
func (k *catalogues) lookup(ctx context.Context, agency, id string) (*q.Questionnaire, error) {
	cat, err := AgencyCatalogue(ctx, k.store, k.builtin, agency)
	if err != nil {
		return nil, err
	}
	qn, ok := cat.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: unknown questionnaire %q", ErrInvalid, id)
	}
	return qn, nil
}

// AgencyCatalogue is the built-in catalogue plus an agency's own questionnaires.
func AgencyCatalogue(ctx context.Context, st *store.Store, builtin *q.Catalogue, agency string) (*q.Catalogue, error) {
	raw, err := st.Questionnaires(ctx, agency)
	if err != nil {
		return nil, fmt.Errorf("read questionnaires of agency %s: %w", agency, err)
	}
	if len(raw) == 0 {
		return builtin, nil
	}
	var own []*q.Questionnaire
	for _, body := range raw {
		var qn q.Questionnaire
		if err := json.Unmarshal([]byte(body), &qn); err != nil {
			return nil, fmt.Errorf("decode questionnaire of agency %s: %w", agency, err)
		}
		own = append(own, &qn)
	}
	return builtin.With(own...)
}
