package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/store"
)

// contacts addresses people on their channels: a client on the channel
// they use, a case manager where they can be reached, the sender of an
// inbound event on the channel it came from. SMS goes out from smsFrom.
type contacts struct {
	store   *store.Store
	outbox  *bot.Outbox
	smsFrom string
}

// addr is the client's address on a channel.
func (k *contacts) addr(c *store.Client, ch bot.Kind) string {
	if ch == bot.Telegram {
		return c.TelegramChat
	}
	return c.Phone
}

// from is the sending address on a channel ("" where the channel has none).
func (k *contacts) from(ch bot.Kind) string {
	if ch == bot.SMS {
		return k.smsFrom
	}
	return ""
}

// toClient is a message to a client on a channel.
func (k *contacts) toClient(c *store.Client, ch bot.Kind, id, text string, buttons []bot.Button) *bot.Job {
	return &bot.Job{
		Msg:    bot.Outbound{ID: id, Channel: ch, To: k.addr(c, ch), From: k.from(ch), Text: text, Buttons: buttons},
		Person: bot.Person{Kind: "client", ID: c.ID, AgencyID: c.AgencyID},
	}
}

// answer queues an urgent answer to an inbound event on its own channel.
func (k *contacts) answer(ctx context.Context, in bot.Inbound, id, text string, p bot.Person) error {
	return k.outbox.Queue(ctx, &bot.Job{Msg: bot.Outbound{ID: id, Channel: in.Channel, To: in.From, From: k.from(in.Channel), Text: text, Urgent: true}, Person: p})
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
		msg.Channel, msg.To, msg.From = bot.SMS, cm.Phone, k.smsFrom
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
