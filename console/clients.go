package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/carecheck/carecheck/reports"
	"github.com/carecheck/carecheck/store"
)

// clientRow is one line of the clients list.
type clientRow struct {
	ID, Name, Status, CaseManager string
	// LastAnswer is the time of the client's last answer in the last 30
	// days, in the agency's zone ("" none).
	LastAnswer string
	Missed     int
}

// clientsPage is the clients list's data.
type clientsPage struct {
	Query string
	All   bool
	Rows  []clientRow
}

// recentDays is how far back the clients list and the client page read.
const recentDays = 30

// caseload lists the clients the viewer may see: the whole agency for
// supervisors and admins, their own caseload for a case manager.
func (c *console) caseload(ctx context.Context, v *viewer) ([]*store.Client, error) {
	var out []*store.Client
	cursor := ""
	for {
		page, err := c.Store.Clients(ctx, v.Agency.ID, cursor, 200)
		if err != nil {
			return nil, err
		}
		for _, cl := range page.Items {
			if v.CanSeeAgency() || cl.CaseManagerID == v.Staff.ID {
				out = append(out, cl)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// matches reports whether a client matches a search: part of the name (any
// case) or the id, whole or its beginning.
func matches(cl *store.Client, query string) bool {
	if query == "" {
		return true
	}
	return strings.Contains(strings.ToLower(cl.Name), strings.ToLower(query)) || strings.HasPrefix(cl.ID, query)
}

// recentPeriod is the last recentDays local days of the agency, today included.
func recentPeriod(a *store.Agency, now time.Time) (reports.Period, error) {
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		return reports.Period{}, err
	}
	today := now.In(loc)
	return reports.ParsePeriod(today.AddDate(0, 0, -(recentDays-1)).Format(time.DateOnly), today.Format(time.DateOnly), a.Timezone)
}

// handleClients lists the viewer's clients with their status, last answer
// and check-ins missed in the last 30 days; ?q= searches by name or id.
func handleClients(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v := viewerOf(r)
		query := strings.TrimSpace(r.URL.Query().Get("q"))
		all, err := c.caseload(ctx, v)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		var list []*store.Client
		var ids []string
		for _, cl := range all {
			if matches(cl, query) {
				list = append(list, cl)
				ids = append(ids, cl.ID)
			}
		}
		p, err := recentPeriod(v.Agency, c.Now())
		if err != nil {
			c.fail(w, r, err)
			return
		}
		entries, err := c.Store.Timelines(ctx, ids, p.Start, p.End)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		counts := map[string]reports.Counts{}
		for _, row := range reports.Checkins(&reports.Records{Period: p, Clients: list, Entries: entries}).Clients {
			counts[row.ClientID] = row.Counts
		}
		names := c.staffNames(ctx, v.Agency.ID)
		loc, _ := time.LoadLocation(v.Agency.Timezone)
		data := clientsPage{Query: query, All: v.CanSeeAgency()}
		for _, cl := range list {
			row := clientRow{ID: cl.ID, Name: cl.Name, Status: cl.Status, CaseManager: names[cl.CaseManagerID], Missed: counts[cl.ID].Missed}
			for _, e := range entries[cl.ID] {
				if e.Type == "answer" {
					row.LastAnswer = e.At.In(loc).Format("2006-01-02 15:04")
				}
			}
			data.Rows = append(data.Rows, row)
		}
		slices.SortFunc(data.Rows, func(a, b clientRow) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
		c.render(w, r, "clients.html", http.StatusOK, "clients_title", view{Data: data})
	})
}

// visibleClient loads the route's client if the viewer may see it; else
// it answers 404: another agency's client, and another caseload's for a
// case manager, look like none.
func (c *console) visibleClient(w http.ResponseWriter, r *http.Request) (*store.Client, bool) {
	v := viewerOf(r)
	cl, err := c.Store.AgencyClient(r.Context(), v.Agency.ID, urlParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !v.CanSeeAgency() && cl.CaseManagerID != v.Staff.ID) {
		c.notFound(w, r)
		return nil, false
	}
	if err != nil {
		c.fail(w, r, err)
		return nil, false
	}
	return cl, true
}
