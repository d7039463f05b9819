package conversations_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
)

// receiveStranger hands a message from an address nobody owns to the inbox.
func (r *rig) receiveStranger(in bot.Inbound) {
	r.t.Helper()
	if err := r.rooms.Inbox.Receive(r.t.Context(), in); !errors.Is(err, bot.ErrUnknownSender) {
		r.t.Fatalf("Receive from a stranger = %v; want ErrUnknownSender", err)
	}
}

// A crisis text from a number nobody owns always gets the safety message,
// never the generic "unknown number" reply; at most one per 30 minutes per
// number. A stranger's ordinary text still gets the generic reply once.
func TestStrangerCrisisGetsTheSafetyMessage(t *testing.T) {
	r := newRig(t)
	const stranger = "+13125550999"
	r.receiveStranger(r.sms(stranger, "i cant do this anymore, i have the pills ready"))
	if got := r.to(stranger); len(got) != 1 || got[0] != escalation.Safety(nil, "en") {
		t.Fatalf("stranger got %q; want the safety message once", got)
	}
	r.clock.Advance(10 * time.Minute)
	r.receiveStranger(r.sms(stranger, "i want to kill myself tonight"))
	if got := r.to(stranger); len(got) != 1 {
		t.Errorf("after a second crisis text within 30 minutes the stranger got %q; want nothing more", got)
	}
	r.clock.Advance(21 * time.Minute)
	r.receiveStranger(r.sms(stranger, "i want to kill myself tonight"))
	if got := r.to(stranger); len(got) != 2 || got[1] != escalation.Safety(nil, "en") {
		t.Errorf("31 minutes after the first the stranger got %q; want a second safety message", got)
	}
	r.receiveStranger(r.sms(stranger, "who is this?"))
	got := r.to(stranger)
	if len(got) != 3 || got[2] != conversations.UnknownText {
		t.Errorf("an ordinary text got %q; want the generic reply after the safety messages", got)
	}
	if open := r.openEscalations(); len(open) != 0 {
		t.Errorf("open escalations = %d; a stranger belongs to no agency", len(open))
	}
	for _, leak := range []string{stranger, "pills", "kill", "myself"} {
		if strings.Contains(r.logs.String(), leak) {
			t.Errorf("logs hold %q; want ids only", leak)
		}
	}
}

// The generic reply already sent today does not keep a stranger's crisis
// text from the safety message; a stranger writing Spanish gets it in Spanish.
func TestStrangerCrisisAfterTheGenericReplyInSpanish(t *testing.T) {
	r := newRig(t)
	const stranger = "+13125550998"
	r.receiveStranger(r.sms(stranger, "hola"))
	r.receiveStranger(r.sms(stranger, "me quiero matar esta noche"))
	got := r.to(stranger)
	if len(got) != 2 || got[0] != conversations.UnknownText || got[1] != escalation.Safety(nil, "es") {
		t.Errorf("stranger got %q; want the generic reply, then the Spanish safety message", got)
	}
}

// A provider's re-delivery of a stranger's crisis text sends nothing more,
// even after the 30 minutes.
func TestStrangerCrisisRedeliveredOnce(t *testing.T) {
	r := newRig(t)
	const stranger = "+13125550997"
	in := r.sms(stranger, "i want to kill myself tonight")
	r.receiveStranger(in)
	r.clock.Advance(40 * time.Minute)
	r.receiveStranger(in)
	if got := r.to(stranger); len(got) != 1 {
		t.Errorf("stranger got %q after a re-delivery; want one safety message", got)
	}
}
