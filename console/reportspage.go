package console

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/carecheck/carecheck/reports"
)

// reportsView is the reports page's data: the period asked for and the
// three reports of GET /v1/reports/…, computed by the same functions.
type reportsView struct {
	From, To    string
	Problem     string
	Checkins    reports.CheckinReport
	Escalations reports.EscalationReport
	Worsening   reports.WorseningReport
	Clients     map[string]string // id → name
}

// handleReports shows supervisors and admins the agency's reports for
// ?from=&to= (local dates; the last 30 days unless given).
func handleReports(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		p, err := recentPeriod(v.Agency, c.Now())
		if err != nil {
			c.fail(w, r, err)
			return
		}
		data := reportsView{From: p.From, To: p.To}
		if from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to"); from != "" || to != "" {
			data.From, data.To = from, to
			p, err = reports.ParsePeriod(from, to, v.Agency.Timezone)
			var fe *reports.FieldError
			if errors.As(err, &fe) {
				data.Problem = fe.Error()
				c.render(w, r, "reports.html", http.StatusBadRequest, "reports_title", view{Data: data})
				return
			}
			if err != nil {
				c.fail(w, r, err)
				return
			}
		}
		recs, err := reports.Gather(r.Context(), c.Store, v.Agency.ID, p, reports.Need{Entries: true, Escalations: true})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		data.Checkins, data.Escalations, data.Worsening = reports.Checkins(recs), reports.Escalations(recs), reports.Worsening(recs)
		data.Clients = map[string]string{}
		for _, cl := range recs.Clients {
			data.Clients[cl.ID] = cl.Name
		}
		c.render(w, r, "reports.html", http.StatusOK, "reports_title", view{Data: data})
	})
}

// duration writes seconds as minutes or hours for the reports page.
func duration(secs *int64) string {
	if secs == nil {
		return "—"
	}
	return (time.Duration(*secs) * time.Second).String()
}

// percent writes a response rate.
func percent(rate *float64) string {
	if rate == nil {
		return "—"
	}
	return strconv.FormatFloat(*rate*100, 'f', 1, 64) + " %"
}
