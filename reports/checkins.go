package reports

import (
	"cmp"
	"math"
	"slices"
	"time"

	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/store"
)

// Records are what the reports are computed from, for one agency.
type Records struct {
	Period Period
	// Clients are the agency's clients (any status).
	Clients []*store.Client
	// CaseManagers are the agency's case managers (any status).
	CaseManagers []*store.CaseManager
	// Entries are the clients' timeline entries from Period.Start to
	// Period.End plus Settle, in time order, by client id.
	Entries map[string][]store.Entry
	// Escalations are the agency's escalations opened in the period.
	Escalations []*store.Escalation
}

// Counts are check-ins by outcome.
type Counts struct {
	Sent        int `json:"sent"`
	Answered    int `json:"answered"`
	Missed      int `json:"missed"`
	Interrupted int `json:"interrupted"`
	Open        int `json:"open"`
	// Skipped were due but not sent: no consent, opted out, not active.
	Skipped int `json:"skipped"`
	// ResponseRate is Answered / (Answered + Missed), to three decimals;
	// nil with neither.
	ResponseRate *float64 `json:"response_rate"`
}

func (c *Counts) add(o Counts) {
	c.Sent += o.Sent
	c.Answered += o.Answered
	c.Missed += o.Missed
	c.Interrupted += o.Interrupted
	c.Open += o.Open
	c.Skipped += o.Skipped
}

func (c *Counts) rate() {
	c.ResponseRate = nil
	if n := c.Answered + c.Missed; n > 0 {
		r := math.Round(float64(c.Answered)/float64(n)*1000) / 1000
		c.ResponseRate = &r
	}
}

// ClientCheckins are one client's check-ins.
type ClientCheckins struct {
	ClientID      string `json:"client_id"`
	CaseManagerID string `json:"case_manager_id"`
	Counts
}

// CaseManagerCheckins are the check-ins of a case manager's clients.
type CaseManagerCheckins struct {
	CaseManagerID string `json:"case_manager_id"`
	Name          string `json:"name"`
	// Clients counts their clients with a check-in sent or skipped.
	Clients int `json:"clients"`
	Counts
}

// CheckinReport is the check-in figures of a period.
type CheckinReport struct {
	Period       Period                `json:"period"`
	Totals       Counts                `json:"totals"`
	Clients      []ClientCheckins      `json:"clients"`
	CaseManagers []CaseManagerCheckins `json:"case_managers"`
}

// Outcomes of one check-in.
const (
	outcomeOpen        = "open"
	outcomeAnswered    = "answered"
	outcomeMissed      = "missed"
	outcomeInterrupted = "interrupted"
)

// clientCounts counts one client's check-ins from their entries.
func clientCounts(p Period, entries []store.Entry) Counts {
	var c Counts
	outcome := map[string]string{} // conversation → outcome, for those sent in the period
	var order []string
	for _, e := range entries {
		conv := e.Fields["conv"]
		switch e.Type {
		case "checkin-started":
			if _, seen := outcome[conv]; seen || !p.Contains(e.At) || isAppointment(e.Fields["q"]) {
				continue
			}
			outcome[conv] = outcomeOpen
			order = append(order, conv)
		case "skipped":
			if p.Contains(e.At) && e.Fields["q"] != "" && !isAppointment(e.Fields["q"]) {
				c.Skipped++
			}
		case "answer":
			if _, ok := outcome[conv]; ok {
				outcome[conv] = outcomeOpen // a score before it was a screen that continued
			}
		case "score":
			if _, ok := outcome[conv]; ok {
				outcome[conv] = outcomeAnswered
			}
		case "missed":
			if _, ok := outcome[conv]; ok {
				outcome[conv] = outcomeMissed
			}
		case "checkin-interrupted":
			if _, ok := outcome[conv]; ok {
				outcome[conv] = outcomeInterrupted
			}
		}
	}
	for _, conv := range order {
		c.Sent++
		switch outcome[conv] {
		case outcomeAnswered:
			c.Answered++
		case outcomeMissed:
			c.Missed++
		case outcomeInterrupted:
			c.Interrupted++
		default:
			c.Open++
		}
	}
	c.rate()
	return c
}

// isAppointment reports whether a questionnaire is an appointment
// confirmation (a reminder's question, not a check-in).
func isAppointment(questionnaire string) bool {
	qn, ok := q.Builtin().Get(questionnaire)
	return ok && qn.Instrument == q.InstrumentAppointment
}

// Checkins computes the check-in figures of the period.
func Checkins(r *Records) CheckinReport {
	out := CheckinReport{Period: r.Period, Clients: []ClientCheckins{}, CaseManagers: []CaseManagerCheckins{}}
	byCM := map[string]*CaseManagerCheckins{}
	for _, cm := range r.CaseManagers {
		byCM[cm.ID] = &CaseManagerCheckins{CaseManagerID: cm.ID, Name: cm.Name}
	}
	for _, cl := range r.Clients {
		c := clientCounts(r.Period, r.Entries[cl.ID])
		if c.Sent == 0 && c.Skipped == 0 {
			continue
		}
		out.Clients = append(out.Clients, ClientCheckins{ClientID: cl.ID, CaseManagerID: cl.CaseManagerID, Counts: c})
		out.Totals.add(c)
		cm := byCM[cl.CaseManagerID]
		if cm == nil {
			cm = &CaseManagerCheckins{CaseManagerID: cl.CaseManagerID}
			byCM[cl.CaseManagerID] = cm
		}
		cm.Clients++
		cm.add(c)
	}
	out.Totals.rate()
	for _, cm := range byCM {
		if cm.Clients == 0 {
			continue
		}
		cm.rate()
		out.CaseManagers = append(out.CaseManagers, *cm)
	}
	slices.SortFunc(out.Clients, func(a, b ClientCheckins) int { return cmp.Compare(a.ClientID, b.ClientID) })
	slices.SortFunc(out.CaseManagers, func(a, b CaseManagerCheckins) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.CaseManagerID, b.CaseManagerID))
	})
	return out
}

// percentiles returns the median and the 90th percentile (nearest rank) of
// durations in whole seconds; nil for none.
func percentiles(ds []time.Duration) (median, p90 *int64) {
	if len(ds) == 0 {
		return nil, nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	p := s[int(math.Ceil(0.9*float64(n)))-1]
	ms, ps := int64(math.Round(m.Seconds())), int64(math.Round(p.Seconds()))
	return &ms, &ps
}
