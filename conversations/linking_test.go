package conversations_test

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/store"
)

// A staff ACK whose effect fails after the message's provider id was
// claimed (Redis dropped a read) returns an error, so the webhook answers
// 503; the provider's retry of the same message then acknowledges the
// alert and answers the case manager, and a later copy changes nothing.
func TestStaffAckRetriedAfterAFailure(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, "I want to kill myself tonight"))
	open := r.openEscalations()
	if len(open) != 1 {
		t.Fatalf("open escalations = %d; want 1", len(open))
	}
	fault := r.failOnce(func(cmd redis.Cmder) bool { return argHas(cmd, "get", ":cm:"+r.cm.ID) })
	ack := r.sms(r.cm.Phone, "ACK")
	if err := r.rooms.Inbox.Receive(t.Context(), ack); err == nil {
		t.Fatal("Receive succeeded though reading the case manager failed")
	}
	if fault.hit.Load() != 1 {
		t.Fatalf("the fault hit %d times; want 1", fault.hit.Load())
	}
	r.receive(ack) // the provider's retry
	r.receive(ack) // a late copy
	e, err := r.st.Escalation(t.Context(), r.a.ID, open[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != store.EscAcknowledged {
		t.Errorf("escalation status after the retried ACK = %q; want acknowledged", e.Status)
	}
	if got := r.to(r.cm.Phone); len(got) != 2 {
		t.Errorf("case manager got %q; want the alert and one acknowledgement", got)
	}
}

// A Telegram link that fails half-way (the client's record could not be
// saved) is finished by the provider's retry: the chat is linked, the
// client told once, and the code used up only then.
func TestTelegramLinkRetriedAfterAFailure(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	code, err := r.st.NewLinkCode(ctx, store.Owner{Kind: "client", ID: r.c.ID, AgencyID: r.a.ID})
	if err != nil {
		t.Fatal(err)
	}
	const chat = "7001"
	start := bot.Inbound{Channel: bot.Telegram, Kind: bot.KindText, From: chat, ProviderID: "tg:42", Text: "/start " + code}
	fault := r.failOnce(func(cmd redis.Cmder) bool { return argHas(cmd, "set", "{c:"+r.c.ID+"}:client") })
	if err := r.rooms.Inbox.Receive(ctx, start); err == nil || errors.Is(err, bot.ErrUnknownSender) {
		t.Fatalf("Receive = %v; want the failure", err)
	}
	if fault.hit.Load() != 1 {
		t.Fatalf("the fault hit %d times; want 1", fault.hit.Load())
	}
	for range 2 { // the retry, then a late copy
		if err := r.rooms.Inbox.Receive(ctx, start); err != nil && !errors.Is(err, bot.ErrUnknownSender) {
			t.Fatalf("retry: %v", err)
		}
	}
	if c := r.client(); c.TelegramChat != chat {
		t.Errorf("client's Telegram chat = %q; want %q", c.TelegramChat, chat)
	}
	if got := r.to(chat); len(got) != 1 || got[0] != conversations.LinkedText("en") {
		t.Errorf("chat got %q; want the link confirmed once", got)
	}
	if _, err := r.st.LinkCodeOwner(ctx, code); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link code after linking: %v; want used up", err)
	}
}

// An unknown sender's answer that could not be queued is not counted as
// given: the provider's retry answers, once.
func TestUnknownSenderAnsweredOnRetry(t *testing.T) {
	r := newRig(t)
	const stranger = "+13125559998"
	in := r.sms(stranger, "hello?")
	fault := r.failOnce(func(cmd redis.Cmder) bool { return argHas(cmd, "xadd", "send:unknown:"+in.ProviderID) })
	if err := r.rooms.Inbox.Receive(t.Context(), in); err == nil || errors.Is(err, bot.ErrUnknownSender) {
		t.Fatalf("Receive = %v; want the failure", err)
	}
	if fault.hit.Load() != 1 {
		t.Fatalf("the fault hit %d times; want 1", fault.hit.Load())
	}
	for range 2 { // the retry, then a late copy
		if err := r.rooms.Inbox.Receive(t.Context(), in); !errors.Is(err, bot.ErrUnknownSender) {
			t.Fatalf("retry: %v; want bot.ErrUnknownSender", err)
		}
	}
	if got := r.to(stranger); len(got) != 1 || got[0] != conversations.UnknownText {
		t.Errorf("stranger got %q; want the generic reply once", got)
	}
}
