// Package inproc is the contract between cmd/carecheck, which wires a CareCheck
// process, and the commands that run such a process inside themselves (the
// bench and the demo): a way to build one from its settings, and the few
// pieces of it they drive. cmd/carecheck provides the Start function; the
// commands never see how the process is put together.
package inproc

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/carecheck/carecheck/store"
)

// Options say how to build one process.
type Options struct {
	// Env holds the process's settings by their environment names
	// (REDIS_URL, TWILIO_*, TELEGRAM_*, …, as `carecheck serve` reads
	// them); a name not in it is unset.
	Env map[string]string
	// LogTo receives the process's JSON logs, redacted as the service's
	// are; nil discards them.
	LogTo io.Writer
	// LogLevel is debug, info, warn or error; "" is info.
	LogLevel string
	// Now is the process's clock; nil is the real one.
	Now func() time.Time
	// Wrap, when set, wraps the process's whole HTTP surface: Handler and
	// Serve use what it returns.
	Wrap func(http.Handler) http.Handler
	// SMSClient, when set, is the HTTP client the SMS sender uses instead
	// of the one the process's wiring gives it.
	SMSClient *http.Client
}

// Service is one built process. It runs nothing until Serve or Work.
type Service interface {
	// Store is the process's store.
	Store() *store.Store
	// Handler is the process's whole HTTP surface (Options.Wrap applied).
	Handler() http.Handler
	// Serve answers HTTP on ln and runs the workers until ctx ends, then
	// drains both. ready, when not nil, receives the address once listening.
	Serve(ctx context.Context, ln net.Listener, ready chan<- string) error
	// Work runs the workers alone until ctx ends; the function it returns
	// waits until they stopped.
	Work(ctx context.Context) (wait func())
	// StartCheckin starts a check-in now, as POST /v1/clients/{id}/checkins does.
	StartCheckin(ctx context.Context, c *store.Client, questionnaire string) error
	// PlanSchedule queues the schedule's first occurrence after the given time,
	// as saving a schedule through the API does.
	PlanSchedule(ctx context.Context, a *store.Agency, sc *store.Schedule, after time.Time) error
	// ResolveEscalation resolves an escalation as actor, with a note, as
	// POST /v1/escalations/{id}/resolve does.
	ResolveEscalation(ctx context.Context, agencyID, id, actor, note string) error
	// Close releases the store; call it once Serve or Work has returned.
	Close() error
}

// Start builds a process from its options.
type Start func(ctx context.Context, o Options) (Service, error)

// UsageError is a mistake in how carecheck was called (a bad flag, a bad
// setting): the binary prints it and exits 2.
type UsageError struct{ Msg string }

// Error returns the message as it is printed.
func (u UsageError) Error() string { return u.Msg }
