// Package escalation turns crisis and concern signals into a safety reply for
// the client and alerts that climb the agency's policy until a human
// acknowledges. Detection itself lives in escalation/detect.
package escalation

import (
	"log/slog"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// Levels of an escalation.
const (
	Crisis  = "crisis"
	Concern = "concern"
)

// Signal is why an escalation opens: the level, category words for staff
// ("crisis language", "PHQ-9 item 9 = 2") and the detector's explanations.
type Signal struct {
	Level   string
	Reasons []string
	Explain []string
	// Ask marks a concern whose risk is ambiguous (a passive wish, "i want
	// out"): the client may be asked the safety question, whose answer
	// settles it (conversations).
	Ask bool
	// Lang is the language the detector read the message in ("" unknown).
	Lang string
	// AtOnce makes a concern alert now rather than wait for the case
	// manager's working hours (a safety question left unanswered).
	AtOnce bool
	// Audit is what led to the signal, recorded on the escalation before
	// its opening or joining entry (the safety question asked, answered).
	Audit []store.AuditEntry
}

// Service runs escalations.
type Service struct {
	store  *store.Store
	outbox *bot.Outbox
	log    *slog.Logger
	now    func() time.Time
	// workers takes urgent work this process queued (none: nothing is claimed).
	workers localWorkers

	// SafetyEvery spaces safety replies to one client.
	SafetyEvery time.Duration
	// Observe counts alerts and acknowledgements (nil: not counted). Set
	// before use.
	Observe Observer
}

// NewService builds the escalation service. handoff is this process's work
// runner (nil in a process without workers: nothing is claimed for it).
func NewService(st *store.Store, ob *bot.Outbox, handoff Handoff, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, outbox: ob, workers: localWorkers{handoff}, log: log, now: st.Now, SafetyEvery: 30 * time.Minute}
}

// Handoff gives urgent work this process just queued to its own workers,
// so an alert does not wait for a stream read (work.Runner).
type Handoff interface {
	// Consumer names this process's queue consumer, "" while nothing may
	// be claimed for it (its workers are not running, or are saturated).
	Consumer() string
	// Handoff hands over items claimed for Consumer. It is bounded: an item
	// it cannot hand over stays pending in its stream for the reclaimer.
	Handoff(items []store.Item)
}

// localWorkers is this process's Handoff, or none (a process that only
// serves the API): with none, nothing is claimed for this process and
// queued work waits in its stream for any process's workers.
type localWorkers struct{ h Handoff }

// consumer names the consumer urgent work may be claimed for, "" for none.
func (w localWorkers) consumer() string {
	if w.h == nil {
		return ""
	}
	return w.h.Consumer()
}

// hand gives claimed items to this process's workers.
func (w localWorkers) hand(items []store.Item) {
	if len(items) > 0 && w.h != nil {
		w.h.Handoff(items)
	}
}
