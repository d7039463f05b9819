package bench

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// Kinds of message the fake Twilio records.
const (
	kQuestion = iota // the first check-in question
	kNote            // the second question (after an answer)
	kThanks          // the end of a check-in
	kSafety          // the safety reply to a crisis
	kAlert           // a crisis alert to staff
	kOther
	nKinds
)

func classify(body string) int {
	switch {
	case strings.Contains(body, "How is your mood"):
		return kQuestion
	case strings.Contains(body, "Anything you"):
		return kNote
	case strings.Contains(body, "Thank you."):
		return kThanks
	case strings.Contains(body, "988") && strings.Contains(body, "911"):
		return kSafety
	case strings.Contains(body, "URGENT") || strings.Contains(body, "Reply ACK"):
		return kAlert
	}
	return kOther
}

// Groups of phones the observer counts separately.
const (
	gNone = iota
	gDispatch
	gCrisisClients
	gCrisisStaff
	gIdleClients
	gIdleStaff
	gMemClients
	gMemStaff
	gBench
	gStep0 = 100 // inbound step i is gStep0+i; the crisis background is gStep0+99
)

type benchSeen struct {
	at   time.Time
	kind int
}

// benchObserver records every message the fake Twilio accepts, by recipient.
type benchObserver struct {
	mu     sync.Mutex
	group  map[string]int
	counts map[int]*[nKinds]int
	byTo   map[string][]benchSeen
}

func newBenchObserver() *benchObserver {
	return &benchObserver{group: map[string]int{}, counts: map[int]*[nKinds]int{}, byTo: map[string][]benchSeen{}}
}

// run records until ctx ends (WaitFor's predicate sees every message once, in order).
func (o *benchObserver) run(ctx context.Context, tw *twiliotest.Server) {
	_, _ = tw.WaitFor(ctx, func(m twiliotest.Message) bool {
		k := classify(m.Body)
		o.mu.Lock()
		g := o.group[m.To]
		c := o.counts[g]
		if c == nil {
			c = new([nKinds]int)
			o.counts[g] = c
		}
		c[k]++
		o.byTo[m.To] = append(o.byTo[m.To], benchSeen{m.At, k})
		o.mu.Unlock()
		return false
	})
}

func (o *benchObserver) register(g int, phones ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range phones {
		o.group[p] = g
	}
}

func (o *benchObserver) count(g, kind int) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c := o.counts[g]; c != nil {
		return c[kind]
	}
	return 0
}

// seen returns when each message of kind reached phone, in order.
func (o *benchObserver) seen(phone string, kind int) []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []time.Time
	for _, s := range o.byTo[phone] {
		if s.kind == kind {
			out = append(out, s.at)
		}
	}
	return out
}
