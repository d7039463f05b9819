package bot

import (
	"context"
	"time"
)

// CallEvent is one webhook of a voice call, verified by its adapter.
type CallEvent struct {
	// Ref is the Outbound.Ref the call was placed with.
	Ref string
	// CallID is the provider's id of the call (Twilio CallSid).
	CallID string
	// Status is the call's status: "in-progress" while answered, then one
	// of "completed", "no-answer", "busy", "failed", "canceled".
	Status string
	// AnsweredBy is "human", "machine_start", "machine_end_beep", "fax",
	// "unknown" or "" (not detected).
	AnsweredBy string
	// Digits is what the person pressed (a gather's answer).
	Digits   string
	Received time.Time
}

// Machine reports whether an answering machine or a fax took the call.
func (e CallEvent) Machine() bool {
	return len(e.AnsweredBy) >= 7 && e.AnsweredBy[:7] == "machine" || e.AnsweredBy == "fax"
}

// Speech is what a call says next: Text in Lang ("en", "es"), then, with
// Gather, it waits for one digit; without, it hangs up. An empty Text
// without Gather hangs up at once.
type Speech struct {
	Lang   string
	Text   string
	Gather bool
}

// CallReceiver takes a voice call's verified webhooks. The core implements it.
type CallReceiver interface {
	// CallAnswered is the call picked up: what it says first.
	CallAnswered(ctx context.Context, e CallEvent) (Speech, error)
	// CallDigits is a digit pressed: what it says next.
	CallDigits(ctx context.Context, e CallEvent) (Speech, error)
	// CallStatus is the call's final status.
	CallStatus(ctx context.Context, e CallEvent) error
}
