package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

// item is one escalation as the inbox shows it.
type item struct {
	ID       string
	Level    string
	Status   string
	Client   string // the client's name (staff see names; logs never do)
	Reasons  []string
	OpenFor  string
	Opened   time.Time
	Alerted  []alerted
	AckedBy  string
	Resolved bool
}

// alerted is one alert sent: to whom and when.
type alerted struct {
	Name string
	At   time.Time
}

// inbox is the inbox's two lists.
type inbox struct {
	Crises   []item
	Concerns []item
	Flash    string
}

// visible reports whether the viewer may see an escalation: supervisors
// and admins the whole agency's; a case manager those of their caseload
// and those addressed to them.
func visible(v *viewer, e *store.Escalation, c *store.Client) bool {
	if v.CanSeeAgency() {
		return true
	}
	return (c != nil && c.CaseManagerID == v.Staff.ID) || escalation.AlertedTo(e, v.Staff.ID) || e.AckedBy == "staff:"+v.Staff.ID
}

// loadInbox reads the agency's unresolved escalations that the viewer may
// see: crises then concerns, each oldest first.
func (c *console) loadInbox(ctx context.Context, v *viewer) (inbox, error) {
	var out inbox
	all, err := c.Store.UnresolvedEscalations(ctx, v.Agency.ID)
	if err != nil {
		return out, err
	}
	ids := make([]string, len(all))
	for i, e := range all {
		ids[i] = e.ClientID
	}
	clients, err := c.Store.AgencyClients(ctx, v.Agency.ID, ids)
	if err != nil {
		return out, err
	}
	names := c.staffNames(ctx, v.Agency.ID)
	now := c.Now()
	for _, e := range all {
		cl := clients[e.ClientID] // nil: the client record is gone
		if !visible(v, e, cl) {
			continue
		}
		it := itemOf(e, cl, names, now, v.Lang, zoneOf(v.Agency))
		if e.Level == "crisis" {
			out.Crises = append(out.Crises, it)
		} else {
			out.Concerns = append(out.Concerns, it)
		}
	}
	oldest := func(a, b item) int { return a.Opened.Compare(b.Opened) }
	slices.SortFunc(out.Crises, oldest)
	slices.SortFunc(out.Concerns, oldest)
	return out, nil
}

// staffNames maps the agency's staff ids to their names.
func (c *console) staffNames(ctx context.Context, agency string) map[string]string {
	names := map[string]string{}
	all, _ := c.allStaff(ctx, agency) // names of what could be read; ids stand for the rest
	for _, m := range all {
		names[m.ID] = m.Name
	}
	return names
}

// allStaff reads every staff member of the agency, active or not, in id
// order (the store pages them).
func (c *console) allStaff(ctx context.Context, agency string) ([]*store.CaseManager, error) {
	var all []*store.CaseManager
	cursor := ""
	for {
		page, err := c.Store.CaseManagers(ctx, agency, cursor, 200)
		if err != nil {
			return all, err
		}
		all = append(all, page.Items...)
		if cursor = page.Next; cursor == "" {
			return all, nil
		}
	}
}

// itemOf is an escalation as the inbox shows it; times in the agency's zone.
func itemOf(e *store.Escalation, cl *store.Client, names map[string]string, now time.Time, lang string, loc *time.Location) item {
	it := item{ID: e.ID, Level: e.Level, Status: e.Status, Reasons: e.Reasons, Opened: e.Opened,
		OpenFor: since(now.Sub(e.Opened), lang), Resolved: e.Status == store.EscResolved}
	it.Client = e.ClientID
	if cl != nil {
		it.Client = cl.Name
	}
	for _, en := range e.Audit {
		if en.Action != "alert sent" {
			continue
		}
		id := alertedID(en.Detail)
		name := names[id]
		if name == "" {
			name = id
		}
		it.Alerted = append(it.Alerted, alerted{Name: name, At: en.At.In(loc)})
	}
	if id, ok := strings.CutPrefix(e.AckedBy, "staff:"); ok {
		it.AckedBy = names[id]
		if it.AckedBy == "" {
			it.AckedBy = id
		}
	} else {
		it.AckedBy = e.AckedBy
	}
	return it
}

// zoneOf is the agency's time zone (UTC when it cannot be loaded).
func zoneOf(a *store.Agency) *time.Location {
	if loc, err := time.LoadLocation(a.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

// alertedID reads the staff id of an "alert sent" audit line ("... to <id> ...").
func alertedID(detail string) string {
	f := strings.Fields(detail)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "to" {
			return f[i+1]
		}
	}
	return ""
}

// since words a duration the way a person reads it: "4 min", "2 h 5 min", "3 d 2 h".
func since(d time.Duration, lang string) string {
	T := texts[lang]
	if d < 0 {
		d = 0
	}
	m := int(d / time.Minute)
	switch {
	case m < 60:
		return fmt.Sprintf("%d %s", m, T["minutes"])
	case m < 24*60:
		return fmt.Sprintf("%d %s %d %s", m/60, T["hours"], m%60, T["minutes"])
	}
	return fmt.Sprintf("%d %s %d %s", m/(24*60), T["days"], (m/60)%24, T["hours"])
}

// handleInbox shows the open escalations: crises, then concerns.
func handleInbox(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		in, err := c.loadInbox(r.Context(), v)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		T := texts[v.Lang]
		flash := ""
		switch {
		case r.URL.Query().Has("acked"):
			flash = T["acked_flash"]
		case r.URL.Query().Has("resolved"):
			flash = T["resolved_flash"]
		case r.URL.Query().Has("totp"):
			flash = T["totp_enrolled"]
		}
		c.render(w, r, "inbox.html", http.StatusOK, "inbox_title", view{Data: in, Flash: flash})
	})
}

// handleInboxLists renders the two lists alone, for the live update.
func handleInboxLists(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := c.loadInbox(r.Context(), viewerOf(r))
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.renderFragment(w, r, "inbox.html", "lists", in)
	})
}

// handleInboxEvents is the live inbox: a server-sent event stream that says
// "inbox" whenever what the viewer's inbox shows changed (looked at every
// LivePoll), and "expired" when the session ended. It does not count as
// activity: an open inbox does not keep an idle session alive.
func handleInboxEvents(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // the server's write timeout would cut the stream
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprint(w, "retry: 1000\n\n")
		_ = rc.Flush()
		ctx := r.Context()
		last := ""
		tick := time.NewTicker(c.LivePoll)
		defer tick.Stop()
		for {
			v, err := c.loadViewer(ctx, r, false)
			if err != nil {
				_, _ = fmt.Fprint(w, "event: expired\ndata: 1\n\n")
				_ = rc.Flush()
				return
			}
			// The first look also says "inbox": what changed between the
			// page's rendering and this stream's start is not missed.
			in, err := c.loadInbox(ctx, v)
			if err == nil {
				if fp := fingerprint(in); fp != last {
					_, _ = fmt.Fprint(w, "event: inbox\ndata: changed\n\n")
					last = fp
				}
			}
			_, _ = fmt.Fprint(w, ": tick\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
}

// fingerprint says what an inbox shows, minus the clock.
func fingerprint(in inbox) string {
	var b strings.Builder
	for _, list := range [][]item{in.Crises, in.Concerns} {
		for _, it := range list {
			fmt.Fprintf(&b, "%s %s %d %s|", it.ID, it.Status, len(it.Alerted), it.AckedBy)
		}
		b.WriteString("/")
	}
	return b.String()
}

// visibleEscalation loads the route's escalation if the viewer may see it;
// else it answers 404 (another agency's or caseload's look like none).
func (c *console) visibleEscalation(w http.ResponseWriter, r *http.Request) (*store.Escalation, *store.Client, bool) {
	v := viewerOf(r)
	e, err := c.Store.Escalation(r.Context(), v.Agency.ID, urlParam(r, "id"))
	if !c.loaded(w, r, err) {
		return nil, nil, false
	}
	cl, err := c.Store.AgencyClient(r.Context(), v.Agency.ID, e.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, err)
		return nil, nil, false
	}
	if !visible(v, e, cl) {
		c.notFound(w, r)
		return nil, nil, false
	}
	return e, cl, true
}

// escalationPage is the escalation page's data.
type escalationPage struct {
	item
	Audit []store.AuditEntry
}

// handleEscalation shows one escalation and its history.
func handleEscalation(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, cl, ok := c.visibleEscalation(w, r)
		if !ok {
			return
		}
		v := viewerOf(r)
		loc := zoneOf(v.Agency)
		it := itemOf(e, cl, c.staffNames(r.Context(), v.Agency.ID), c.Now(), v.Lang, loc)
		// The history's times in the agency's zone, as the inbox's.
		history := make([]store.AuditEntry, len(e.Audit))
		for i, a := range e.Audit {
			a.At = a.At.In(loc)
			history[i] = a
		}
		c.render(w, r, "escalation.html", http.StatusOK, "details", view{Data: escalationPage{item: it, Audit: history}})
	})
}

// handleAck acknowledges as the signed-in staff member, through the
// escalation service the API and the SMS ACK use: its audit names them
// (staff:<id>, via console) and the others alerted are told who took it.
func handleAck(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, _, ok := c.visibleEscalation(w, r)
		if !ok {
			return
		}
		v := viewerOf(r)
		if _, _, err := c.Escalations.Ack(r.Context(), v.Agency.ID, e.ID, "staff:"+v.Staff.ID, "console"); err != nil {
			c.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/console/?acked="+e.ID, http.StatusSeeOther)
	})
}

// handleResolve resolves with a note, as the signed-in staff member.
func handleResolve(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, _, ok := c.visibleEscalation(w, r)
		if !ok {
			return
		}
		v := viewerOf(r)
		note, problem := checkText(v.Lang, "note", r.PostFormValue("note"), freetext.Note)
		if strings.TrimSpace(r.PostFormValue("note")) == "" {
			problem = texts[v.Lang]["note_required"]
		}
		if problem != "" {
			in, err := c.loadInbox(r.Context(), v)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			c.render(w, r, "inbox.html", http.StatusBadRequest, "inbox_title", view{Data: in, Flash: problem, FlashError: true})
			return
		}
		if _, err := c.Escalations.Resolve(r.Context(), v.Agency.ID, e.ID, "staff:"+v.Staff.ID, note); err != nil {
			c.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/console/?resolved="+e.ID, http.StatusSeeOther)
	})
}
