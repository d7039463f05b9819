package conversations_test

import (
	"testing"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
)

// A provider's "stopped" answer opts an SMS client out and marks a Telegram
// client unreachable there; a staff member is not recorded.
func TestStoppedByProvider(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	stops := conversations.NewStops(r.st, nil)
	if err := stops.Stopped(ctx, bot.Person{Kind: "staff", ID: r.cm.ID, AgencyID: r.a.ID}, bot.SMS); err != nil {
		t.Fatal(err)
	}
	if err := stops.Stopped(ctx, bot.Person{Kind: "client", ID: r.c.ID, AgencyID: r.a.ID}, bot.Telegram); err != nil {
		t.Fatal(err)
	}
	if c := r.client(); !c.TelegramUnreachable || c.OptedOut {
		t.Errorf("after Telegram's block: unreachable %v, opted out %v; want unreachable only", c.TelegramUnreachable, c.OptedOut)
	}
	if err := stops.Stopped(ctx, bot.Person{Kind: "client", ID: r.c.ID, AgencyID: r.a.ID}, bot.SMS); err != nil {
		t.Fatal(err)
	}
	if c := r.client(); !c.OptedOut || c.OptedOutAt == nil || !c.OptedOutAt.Equal(start) {
		t.Errorf("after Twilio's 21610: opted out %v at %v; want opted out at %v", c.OptedOut, c.OptedOutAt, start)
	}
}

// A Telegram block and unblock of a linked client mark it unreachable and
// reachable there, and are kept in its timeline; neither is answered.
func TestTelegramBlockAndUnblock(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	c := r.client()
	upd := *c
	upd.TelegramChat = "7002"
	if err := r.st.UpdateClient(ctx, c, &upd); err != nil {
		t.Fatal(err)
	}
	block := bot.Inbound{Channel: bot.Telegram, Kind: bot.KindUnreachable, From: "7002", ProviderID: "tg:50"}
	r.receive(block)
	if !r.client().TelegramUnreachable {
		t.Error("after a block the client is still reachable on Telegram")
	}
	r.receive(bot.Inbound{Channel: bot.Telegram, Kind: bot.KindReachable, From: "7002", ProviderID: "tg:51"})
	if r.client().TelegramUnreachable {
		t.Error("after an unblock the client is still unreachable on Telegram")
	}
	if got := r.to("7002"); len(got) != 0 {
		t.Errorf("chat got %q; want nothing", got)
	}
	ev := r.events()
	if count(ev, string(bot.KindUnreachable)) != 1 || count(ev, string(bot.KindReachable)) != 1 {
		t.Errorf("timeline = %v; want the block and the unblock", ev)
	}
}
