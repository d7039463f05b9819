// Package bot holds the channel-neutral messages CareCheck exchanges with
// people, and the interfaces that channel adapters (bot/twilio, bot/telegram)
// implement or call. Provider types never leave their adapter: the core only
// sees Inbound, Outbound and StatusUpdate.
package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind names a messaging channel.
type Kind string

// The channels CareCheck speaks.
const (
	SMS      Kind = "sms"
	Telegram Kind = "telegram"
	// Voice is a phone call that reads an alert (staff only; never a
	// client's channel, so Valid does not count it).
	Voice Kind = "voice"
)

// Valid reports whether k is a known channel.
func (k Kind) Valid() bool { return k == SMS || k == Telegram }

// InboundKind says what a person did.
type InboundKind string

// What an inbound event can be.
const (
	// KindText is a typed message.
	KindText InboundKind = "text"
	// KindButton is a press on an inline button (Telegram callback_query).
	KindButton InboundKind = "button"
	// KindUnreachable means the provider told us the person can no longer be
	// reached on this channel (Telegram: the bot was blocked or kicked).
	KindUnreachable InboundKind = "unreachable"
	// KindReachable means the person can be reached again (Telegram: the
	// bot was unblocked).
	KindReachable InboundKind = "reachable"
	// KindEdited is a correction of a message already sent (Telegram
	// edited_message): screened and kept, never taken as an answer, since
	// the conversation has moved on from the question it answered.
	KindEdited InboundKind = "edited"
)

// Inbound is one event from a person, already verified by its adapter.
type Inbound struct {
	Channel Kind
	Kind    InboundKind
	// ProviderID identifies the event at the provider (Twilio MessageSid,
	// Telegram "tg:<update_id>"); re-deliveries carry the same one.
	ProviderID string
	// From is the sender's address: E.164 phone for SMS, chat id for Telegram.
	From string
	// To is our address: the number the text was sent to for SMS, the bot
	// for Telegram.
	To string
	// Service is the Twilio Messaging Service the text came through
	// (MessagingServiceSid), "" when the number is in none.
	Service string
	// Text is what the person typed, or the button's data for KindButton.
	Text string
	// Received is when the adapter accepted the event.
	Received time.Time
}

// Button is one inline answer option (Telegram renders it; SMS ignores it).
type Button struct {
	Label string `json:"label"`
	Data  string `json:"data"`
}

// Outbound is one message to send to a person.
type Outbound struct {
	// ID is CareCheck's own id for the message; a sent marker is kept under it
	// so that a message is not sent twice.
	ID      string   `json:"id"`
	Channel Kind     `json:"channel"`
	To      string   `json:"to"`
	Text    string   `json:"text"`
	Buttons []Button `json:"buttons,omitempty"`
	// Urgent messages (safety replies, crisis alerts) skip the queue and pacing.
	Urgent bool `json:"urgent,omitempty"`
	// From is the sending address (SMS: the agency's own number, or the
	// number the person wrote to); "" is the channel's default
	// (TWILIO_FROM_NUMBER).
	From string `json:"from,omitempty"`
	// Service is the Twilio Messaging Service that sends an SMS (its
	// MessagingServiceSid) in place of From.
	Service string `json:"service,omitempty"`
	// Ref is a voice call's reference: a URL query its webhooks carry back
	// (CallEvent.Ref), signed by the provider with the rest of the URL.
	Ref string `json:"ref,omitempty"`
}

// StatusUpdate is a delivery report from a provider.
type StatusUpdate struct {
	Channel    Kind
	ProviderID string
	Status     string
	ErrorCode  string
	Received   time.Time
}

// Sender sends messages on one channel. Implementations return *SendError
// for failures the caller must classify.
type Sender interface {
	Send(ctx context.Context, m Outbound) (providerID string, err error)
}

// SentFinder is implemented by a Sender whose provider can be asked what
// was sent (Twilio's message list). The outbox asks it when an earlier
// attempt to send m died after claiming it, perhaps after the provider took
// the message: found means m went out then, with providerID, and must not
// be sent again. since is when that attempt began; implementations allow a
// little slack for the provider's clock.
type SentFinder interface {
	FindSent(ctx context.Context, m Outbound, since time.Time) (providerID string, found bool, err error)
}

// Receiver takes verified inbound events. The core implements it; it returns
// nil only once the event is stored (or was already stored: a re-delivery).
// ErrUnknownSender means no one owns the sender's address.
type Receiver interface {
	Receive(ctx context.Context, in Inbound) error
}

// StatusReceiver takes verified delivery reports.
type StatusReceiver interface {
	Status(ctx context.Context, s StatusUpdate) error
}

// ErrUnknownSender is returned by a Receiver when the sender belongs to no one.
var ErrUnknownSender = errors.New("unknown sender")

// SendError answers the two questions a failed send raises: try again? has
// the person stopped us?
type SendError struct {
	Code      string // provider's error code, e.g. "21610" or "403"
	Retryable bool   // 429, 5xx, network errors
	Stopped   bool   // the person opted out or blocked us (Twilio 21610, Telegram 403)
	Err       error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send failed (code %s, retryable %t, stopped %t): %v", e.Code, e.Retryable, e.Stopped, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth trying again later. Errors that are
// not *SendError (a dropped connection before the adapter could classify it)
// count as retryable: a duplicate is better than a lost alert.
func IsRetryable(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retryable
	}
	return err != nil
}

// IsStopped reports whether err means the person has stopped us on this channel.
func IsStopped(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Stopped
}
