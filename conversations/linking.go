package conversations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// linking answers senders who are not a client in conversation: staff
// replies (acknowledgements handed to escalation), Telegram link codes, and
// senders nobody owns.
type linking struct {
	store    *store.Store
	screen   Screener
	esc      *escalation.Service
	contacts *contacts
	log      *slog.Logger
}

// once runs effect for a provider event at most once per provider id: the
// id is claimed first (a concurrent re-delivery is dropped) and the claim is
// forgotten when the effect fails, so the provider's retry of a webhook
// answered 503 runs the effect again rather than being dropped as seen.
// Every effect run here repeats safely.
func (l *linking) once(ctx context.Context, in bot.Inbound, effect func() error) error {
	first, err := l.store.MarkProviderSeen(ctx, string(in.Channel), in.ProviderID)
	if err != nil {
		return err
	}
	if !first {
		return nil
	}
	err = effect()
	if err == nil {
		return nil
	}
	if ferr := l.store.ForgetProviderSeen(context.WithoutCancel(ctx), string(in.Channel), in.ProviderID); ferr != nil {
		// The claim stays: the retry is dropped. Both are returned.
		err = errors.Join(err, ferr)
	}
	return err
}

// staff handles a message from a case manager: an acknowledgement, or a
// Telegram /start of a chat already linked.
func (l *linking) staff(ctx context.Context, owner store.Owner, in bot.Inbound) error {
	return l.once(ctx, in, func() error {
		cm, err := l.store.CaseManager(ctx, owner.AgencyID, owner.ID)
		if err != nil {
			return fmt.Errorf("read case manager %s: %w", owner.ID, err)
		}
		who := bot.Person{Kind: "staff", ID: cm.ID, AgencyID: cm.AgencyID}
		if strings.HasPrefix(strings.TrimSpace(in.Text), "/start") {
			return l.contacts.answer(ctx, in, "staff-linked:"+in.ProviderID, StaffLinkedText, who)
		}
		via := string(in.Channel)
		if in.Kind == bot.KindButton {
			via = "telegram button"
		}
		reply, err := l.esc.StaffReply(ctx, cm, in.Text, via)
		if err != nil {
			return fmt.Errorf("staff reply of %s: %w", cm.ID, err)
		}
		return l.contacts.answer(ctx, in, "staff:"+in.ProviderID, reply, who)
	})
}

// unknown answers a sender nobody owns: a Telegram link; crisis language
// gets the safety message (at most one per half hour per address); anything
// else one generic reply a day that reveals nothing.
func (l *linking) unknown(ctx context.Context, in bot.Inbound) error {
	if code := linkCode(in); code != "" {
		return l.link(ctx, in, code, nil)
	}
	if sig := l.screen.Screen(nil, in.Text, ""); sig.Level == escalation.Crisis {
		lang := sig.Lang
		if lang == "" {
			lang = "en"
		}
		l.log.Warn("crisis language from an unknown sender", "channel", string(in.Channel), "provider_id", in.ProviderID)
		err := l.once(ctx, in, func() error {
			return l.esc.StrangerSafety(ctx, in, lang)
		})
		if err != nil {
			return err
		}
		return bot.ErrUnknownSender
	}
	first, err := l.store.MarkUnknownSenderAnswered(ctx, string(in.Channel), in.From, 24*time.Hour)
	if err != nil {
		return fmt.Errorf("claim the unknown sender's daily answer: %w", err)
	}
	if !first {
		return bot.ErrUnknownSender
	}
	reply := UnknownText
	if in.Channel == bot.Telegram {
		reply = UnlinkedText
	}
	l.log.Info("message from an unknown sender", "channel", string(in.Channel), "provider_id", in.ProviderID)
	if err := l.contacts.answer(ctx, in, "unknown:"+in.ProviderID, reply, bot.Person{}); err != nil {
		// Not counted as answered: the provider's retry answers.
		if ferr := l.store.ForgetUnknownSenderAnswered(context.WithoutCancel(ctx), string(in.Channel), in.From); ferr != nil {
			err = errors.Join(err, ferr)
		}
		return err
	}
	return bot.ErrUnknownSender
}

// linkCode is the code of a Telegram "/start <code>" ("" for anything else).
func linkCode(in bot.Inbound) string {
	text := strings.TrimSpace(in.Text)
	if in.Channel != bot.Telegram || !strings.HasPrefix(text, "/start") {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(text, "/start"))
}

// link binds a Telegram chat to the person a one-time code was made for;
// owner is who the chat already belongs to (nil: nobody). The code is used
// up only once the chat is bound and the confirmation queued, so a link
// that failed half-way is finished by the provider's retry. A chat that
// already belongs to someone and taps a link again (used, or another
// person's) is only told it is connected.
func (l *linking) link(ctx context.Context, in bot.Inbound, code string, owner *store.Owner) error {
	return l.once(ctx, in, func() error {
		o, err := l.store.LinkCodeOwner(ctx, code)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		found := err == nil
		switch {
		case owner != nil && (!found || o.Kind != owner.Kind || o.ID != owner.ID):
			return l.confirm(ctx, in, *owner)
		case !found:
			return l.contacts.answer(ctx, in, "badlink:"+in.ProviderID, BadLinkText, bot.Person{})
		}
		if err := l.bind(ctx, o, in.From); err != nil {
			return err
		}
		if err := l.confirm(ctx, in, o); err != nil {
			return err
		}
		if _, err := l.store.UseLinkCode(ctx, code); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}

// bind records a Telegram chat as o's. Binding the same chat again changes nothing.
func (l *linking) bind(ctx context.Context, o store.Owner, chat string) error {
	switch o.Kind {
	case "client":
		c, err := l.store.Client(ctx, o.ID)
		if err != nil {
			return fmt.Errorf("read client %s to link: %w", o.ID, err)
		}
		upd := *c
		upd.TelegramChat, upd.TelegramUnreachable = chat, false
		if err := l.store.UpdateClient(ctx, c, &upd); err != nil {
			return fmt.Errorf("link client %s: %w", c.ID, err)
		}
		l.log.Info("telegram linked", "client_id", c.ID)
	case "staff":
		cm, err := l.store.CaseManager(ctx, o.AgencyID, o.ID)
		if err != nil {
			return fmt.Errorf("read case manager %s to link: %w", o.ID, err)
		}
		if err := l.store.BindTelegram(ctx, o, chat); err != nil {
			return fmt.Errorf("link case manager %s: %w", cm.ID, err)
		}
		cm.TelegramChat = chat
		if err := l.store.SaveCaseManager(ctx, cm); err != nil {
			return fmt.Errorf("link case manager %s: %w", cm.ID, err)
		}
		l.log.Info("telegram linked", "case_manager_id", cm.ID)
	}
	return nil
}

// confirm tells a linked chat that it is connected, in its person's language.
func (l *linking) confirm(ctx context.Context, in bot.Inbound, o store.Owner) error {
	who := bot.Person{Kind: o.Kind, ID: o.ID, AgencyID: o.AgencyID}
	if o.Kind == "staff" {
		return l.contacts.answer(ctx, in, "linked:"+in.ProviderID, StaffLinkedText, who)
	}
	c, err := l.store.Client(ctx, o.ID)
	if err != nil {
		return fmt.Errorf("read client %s: %w", o.ID, err)
	}
	return l.contacts.answer(ctx, in, "linked:"+in.ProviderID, LinkedText(c.Language), who)
}
