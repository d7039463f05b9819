package reports

import (
	"cmp"
	"slices"
	"time"

	"github.com/carecheck/carecheck/store"
)

// EscalationStats are escalations counted and timed.
type EscalationStats struct {
	Opened  int `json:"opened"`
	Crisis  int `json:"crisis"`
	Concern int `json:"concern"`
	// Acknowledged counts those someone acknowledged or resolved.
	Acknowledged int `json:"acknowledged"`
	// Unacknowledged counts those nobody has acted on yet.
	Unacknowledged int `json:"unacknowledged"`
	// MedianAckSeconds and P90AckSeconds time the first acknowledgement
	// from the opening; nil when none was acknowledged.
	MedianAckSeconds *int64 `json:"median_ack_seconds"`
	P90AckSeconds    *int64 `json:"p90_ack_seconds"`

	waits []time.Duration
}

func (s *EscalationStats) add(e *store.Escalation) {
	s.Opened++
	if e.Level == "crisis" {
		s.Crisis++
	} else {
		s.Concern++
	}
	if at, ok := FirstResponse(e); ok {
		s.Acknowledged++
		s.waits = append(s.waits, at.Sub(e.Opened))
	} else {
		s.Unacknowledged++
	}
}

func (s *EscalationStats) finish() { s.MedianAckSeconds, s.P90AckSeconds = percentiles(s.waits) }

// CaseManagerEscalations are the escalations of a case manager's clients.
type CaseManagerEscalations struct {
	CaseManagerID string `json:"case_manager_id"`
	Name          string `json:"name"`
	EscalationStats
}

// StepEscalations are the escalations that reached a policy step (1 the
// first) when first acknowledged, or stand at it unacknowledged.
type StepEscalations struct {
	Step int `json:"step"`
	EscalationStats
}

// EscalationReport is the escalation figures of a period.
type EscalationReport struct {
	Period       Period                   `json:"period"`
	Totals       EscalationStats          `json:"totals"`
	CaseManagers []CaseManagerEscalations `json:"case_managers"`
	Steps        []StepEscalations        `json:"steps"`
}

// FirstResponse is when someone first acted on an escalation: the earlier
// of its acknowledgement and its resolution.
func FirstResponse(e *store.Escalation) (time.Time, bool) {
	var at time.Time
	for _, t := range []*time.Time{e.AckedAt, e.ResolvedAt} {
		if t != nil && (at.IsZero() || t.Before(at)) {
			at = *t
		}
	}
	return at, !at.IsZero()
}

// StepReached is the policy step (1 the first) an escalation stands at; an
// escalation past its last step (the policy ran out, or repeats) is at the
// last.
func StepReached(e *store.Escalation) int {
	n := len(e.Policy.Steps)
	if n == 0 {
		return 1
	}
	return min(e.Step, n-1) + 1
}

// Escalations computes the escalation figures of the period from the
// escalations opened in it; per case manager is by each client's case
// manager now.
func Escalations(r *Records) EscalationReport {
	out := EscalationReport{Period: r.Period, CaseManagers: []CaseManagerEscalations{}, Steps: []StepEscalations{}}
	cmOf := map[string]string{}
	for _, c := range r.Clients {
		cmOf[c.ID] = c.CaseManagerID
	}
	byCM := map[string]*CaseManagerEscalations{}
	for _, cm := range r.CaseManagers {
		byCM[cm.ID] = &CaseManagerEscalations{CaseManagerID: cm.ID, Name: cm.Name}
	}
	bySteps := map[int]*StepEscalations{}
	for _, e := range r.Escalations {
		if !r.Period.Contains(e.Opened) {
			continue
		}
		out.Totals.add(e)
		cmID := cmOf[e.ClientID]
		cm := byCM[cmID]
		if cm == nil {
			cm = &CaseManagerEscalations{CaseManagerID: cmID}
			byCM[cmID] = cm
		}
		cm.add(e)
		n := StepReached(e)
		if bySteps[n] == nil {
			bySteps[n] = &StepEscalations{Step: n}
		}
		bySteps[n].add(e)
	}
	out.Totals.finish()
	for _, cm := range byCM {
		if cm.Opened > 0 {
			cm.finish()
			out.CaseManagers = append(out.CaseManagers, *cm)
		}
	}
	for _, st := range bySteps {
		st.finish()
		out.Steps = append(out.Steps, *st)
	}
	slices.SortFunc(out.CaseManagers, func(a, b CaseManagerEscalations) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.CaseManagerID, b.CaseManagerID))
	})
	slices.SortFunc(out.Steps, func(a, b StepEscalations) int { return cmp.Compare(a.Step, b.Step) })
	return out
}
