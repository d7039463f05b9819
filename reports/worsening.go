package reports

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/store"
)

// WorseningPoints is the rise of a PHQ-9 or GAD-7 total that counts as
// worse, whatever the bands.
const WorseningPoints = 5

// Instruments are those whose worsening is reported.
var worseningInstruments = []string{q.InstrumentPHQ9, q.InstrumentGAD7}

// Score is one valid score of an instrument.
type Score struct {
	At    time.Time `json:"at"`
	Total int       `json:"total"`
	Band  string    `json:"band"`
}

// Worsened is a client whose score of one instrument worsened between
// their first and last in the period.
type Worsened struct {
	ClientID      string `json:"client_id"`
	CaseManagerID string `json:"case_manager_id"`
	Instrument    string `json:"instrument"`
	First         Score  `json:"first"`
	Last          Score  `json:"last"`
	// Change is Last.Total - First.Total.
	Change int `json:"change"`
	// BandUp: Last's band is above First's.
	BandUp bool `json:"band_up"`
	// Scores counts the valid scores in the period.
	Scores int `json:"scores"`
}

// WorseningReport lists the clients whose scores worsened in a period.
type WorseningReport struct {
	Period  Period     `json:"period"`
	Points  int        `json:"points"`
	Clients []Worsened `json:"clients"`
}

// Scores picks the valid totals of an instrument from timeline entries,
// in their order; the band is the one recorded, else the total's.
func Scores(entries []store.Entry, instrument string) []Score {
	var out []Score
	for _, e := range entries {
		if e.Type != "score" || e.Fields["instrument"] != instrument || e.Fields["valid"] != "true" {
			continue
		}
		total, err := strconv.Atoi(e.Fields["total"])
		if err != nil {
			continue
		}
		band := e.Fields["band"]
		if band == "" {
			band = q.BandOf(instrument, total)
		}
		out = append(out, Score{At: e.At, Total: total, Band: band})
	}
	return out
}

// Worsening lists, by client and instrument, the PHQ-9 and GAD-7 scores
// that rose by WorseningPoints or more, or into a higher band, between the
// client's first and last valid score in the period.
func Worsening(r *Records) WorseningReport {
	out := WorseningReport{Period: r.Period, Points: WorseningPoints, Clients: []Worsened{}}
	for _, c := range r.Clients {
		var inPeriod []store.Entry
		for _, e := range r.Entries[c.ID] {
			if r.Period.Contains(e.At) {
				inPeriod = append(inPeriod, e)
			}
		}
		for _, inst := range worseningInstruments {
			s := Scores(inPeriod, inst)
			if len(s) < 2 {
				continue
			}
			first, last := s[0], s[len(s)-1]
			w := Worsened{ClientID: c.ID, CaseManagerID: c.CaseManagerID, Instrument: inst, First: first, Last: last,
				Change: last.Total - first.Total, Scores: len(s)}
			w.BandUp = q.BandRank(inst, last.Band) > q.BandRank(inst, first.Band)
			if w.Change >= WorseningPoints || w.BandUp {
				out.Clients = append(out.Clients, w)
			}
		}
	}
	slices.SortFunc(out.Clients, func(a, b Worsened) int {
		return cmp.Or(cmp.Compare(b.Change, a.Change), cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.Instrument, b.Instrument))
	})
	return out
}
