package api

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/carecheck/carecheck/reports"
	"github.com/carecheck/carecheck/store"
)

// The header rows of the CSV exports (the README lists them). The answers'
// "text" column is there only when the agency's export_words is on.
var (
	answersHeader     = []string{"client_id", "case_manager_id", "conversation_id", "at", "questionnaire", "item", "value", "code", "skipped"}
	scoresHeader      = []string{"client_id", "case_manager_id", "conversation_id", "at", "questionnaire", "instrument", "total", "band", "risk", "valid"}
	missedHeader      = []string{"client_id", "case_manager_id", "conversation_id", "at", "questionnaire", "missed_in_a_row"}
	escalationsHeader = []string{"escalation_id", "client_id", "case_manager_id", "level", "reasons", "status", "opened_at", "acknowledged_at", "acknowledged_by", "resolved_at", "step", "round"}
)

// entryExport turns one timeline entry of a type into a row.
type entryExport struct {
	typ    string
	header []string
	row    func(c *store.Client, e store.Entry, loc *time.Location, words bool) []string
}

var entryExports = map[string]entryExport{
	"answers": {typ: "answer", header: answersHeader, row: func(c *store.Client, e store.Entry, loc *time.Location, words bool) []string {
		f := e.Fields
		skipped := "false"
		if f["skipped"] != "" {
			skipped = "true"
		}
		r := []string{c.ID, c.CaseManagerID, f["conv"], localTime(e.At, loc), f["q"], f["question"], f["value"], f["code"], skipped}
		if words {
			r = append(r, f["text"])
		}
		return r
	}},
	"scores": {typ: "score", header: scoresHeader, row: func(c *store.Client, e store.Entry, loc *time.Location, _ bool) []string {
		f := e.Fields
		return []string{c.ID, c.CaseManagerID, f["conv"], localTime(e.At, loc), f["q"], f["instrument"], f["total"], f["band"], f["risk"], f["valid"]}
	}},
	"missed": {typ: "missed", header: missedHeader, row: func(c *store.Client, e store.Entry, loc *time.Location, _ bool) []string {
		f := e.Fields
		return []string{c.ID, c.CaseManagerID, f["conv"], localTime(e.At, loc), f["q"], f["in_a_row"]}
	}},
}

// localTime writes an instant in the agency's zone, with its offset.
func localTime(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.RFC3339) }

// handleExport streams one of the agency's records as CSV for ?from=&to=
// (local dates in the agency's zone, both included): answers, scores,
// missed check-ins (the timeline entries of each client in turn, in time
// order) or escalations (those opened in the period, newest first). Rows
// are written and flushed as they are read; nothing holds the whole range.
func handleExport(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutSuffix(chi.URLParam(r, "name"), ".csv")
		_, known := entryExports[name]
		if !ok || (!known && name != "escalations") {
			respondErr(w, r, d.Log, &Error{Code: CodeNotFound, Message: "no such export (answers.csv, scores.csv, missed.csv, escalations.csv)"})
			return
		}
		ag, p, ok := agencyPeriod(w, r, d)
		if !ok {
			return
		}
		loc, _ := time.LoadLocation(ag.Timezone) // ParsePeriod has loaded it
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+p.From+"-"+p.To+`.csv"`)
		w.WriteHeader(http.StatusOK)
		out := &csvStream{w: csv.NewWriter(w), rc: http.NewResponseController(w)}
		var err error
		if name == "escalations" {
			err = exportEscalations(r.Context(), d.Store, ag.ID, p, loc, out)
		} else {
			err = exportEntries(r.Context(), d.Store, ag, entryExports[name], p, loc, out)
		}
		if err == nil {
			err = out.flush()
		}
		if err != nil {
			// The status is sent: a cut connection is how the client
			// learns the file is incomplete.
			d.Log.Error("export failed", "agency_id", ag.ID, "export", name, "err", err)
			panic(http.ErrAbortHandler)
		}
		d.Log.Info("export sent", "agency_id", ag.ID, "export", name, "rows", out.rows)
	})
}

// csvStream writes rows and flushes them to the client every 200.
type csvStream struct {
	w    *csv.Writer
	rc   *http.ResponseController
	rows int
}

func (s *csvStream) write(row []string) error {
	if err := s.w.Write(row); err != nil {
		return err
	}
	s.rows++
	if s.rows%200 == 0 {
		return s.flush()
	}
	return nil
}

func (s *csvStream) flush() error {
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// exportEntries writes the header, then each client's entries of the
// export's type, a page of clients and one client's timeline at a time.
func exportEntries(ctx context.Context, st *store.Store, ag *store.Agency, ex entryExport, p reports.Period, loc *time.Location, out *csvStream) error {
	header := ex.header
	if ex.typ == "answer" && ag.ExportWords {
		header = append(header[:len(header):len(header)], "text")
	}
	if err := out.write(header); err != nil {
		return err
	}
	out.rows--
	cursor := ""
	for {
		page, err := st.Clients(ctx, ag.ID, cursor, 200)
		if err != nil {
			return err
		}
		for _, c := range page.Items {
			if !c.Created.Before(p.End) {
				continue
			}
			err := st.EachEntry(ctx, c.ID, p.Start, p.End, ex.typ == "answer" && ag.ExportWords, func(e store.Entry) error {
				if e.Type != ex.typ {
					return nil
				}
				return out.write(ex.row(c, e, loc, ag.ExportWords))
			})
			if err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}

// exportEscalations writes the escalations opened in the period, newest
// first, a page at a time. Reasons are the detector's categories (joined
// by "; "); the messages that raised them are never in the file.
func exportEscalations(ctx context.Context, st *store.Store, agencyID string, p reports.Period, loc *time.Location, out *csvStream) error {
	if err := out.write(escalationsHeader); err != nil {
		return err
	}
	out.rows--
	cms := map[string]string{} // client → case manager, read once each
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return localTime(*t, loc)
	}
	cursor := ""
	for {
		page, err := st.Escalations(ctx, agencyID, "", cursor, 200)
		if err != nil {
			return err
		}
		for _, e := range page.Items {
			if e.Opened.Before(p.Start) {
				return nil
			}
			if !p.Contains(e.Opened) {
				continue
			}
			cm, ok := cms[e.ClientID]
			if !ok {
				c, err := st.Client(ctx, e.ClientID)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if c != nil {
					cm = c.CaseManagerID
				}
				cms[e.ClientID] = cm
			}
			row := []string{e.ID, e.ClientID, cm, e.Level, strings.Join(e.Reasons, "; "), e.Status, localTime(e.Opened, loc),
				when(e.AckedAt), e.AckedBy, when(e.ResolvedAt), strconv.Itoa(e.Step + 1), strconv.Itoa(e.Round)}
			if err := out.write(row); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}
