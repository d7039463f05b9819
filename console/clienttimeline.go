package console

import (
	"context"
	"sort"
	"strings"
	"time"
)

// escalationRows are the timeline's rows for a client's escalations opened
// since then: opened (level, why), each alert sent (to whom),
// acknowledged and resolved (by whom), each linking to the escalation.
// They come from the client's own index of escalations.
func (c *console) escalationRows(ctx context.Context, agencyID, clientID string, since time.Time, names map[string]string,
	loc *time.Location, T map[string]string) ([]timelineRow, error) {
	var rows []timelineRow
	row := func(at time.Time, kind, detail, id string) {
		rows = append(rows, timelineRow{Datetime: at.Format(time.RFC3339), Shown: at.In(loc).Format("2006-01-02 15:04"),
			Kind: T[kind], Detail: detail, Link: "/console/escalations/" + id, at: at})
	}
	who := func(actor string) string {
		if id, ok := strings.CutPrefix(actor, "staff:"); ok {
			return orElse(names[id], id)
		}
		return labelOr(T, "actor_"+actor, actor)
	}
	escs, err := c.Store.ClientEscalations(ctx, agencyID, clientID, since)
	if err != nil {
		return nil, err
	}
	for _, e := range escs {
		row(e.Opened, "ev_esc-opened", labelOr(T, "level_"+e.Level, e.Level)+": "+strings.Join(e.Reasons, "; "), e.ID)
		for _, a := range e.Audit {
			switch a.Action {
			case "alert sent":
				row(a.At, "ev_esc-alerted", T["alert_to"]+" "+orElse(names[alertedID(a.Detail)], alertedID(a.Detail)), e.ID)
			case "resolved":
				row(a.At, "ev_esc-resolved", T["by_whom"]+" "+who(a.Actor), e.ID)
			}
		}
		if e.AckedAt != nil {
			row(*e.AckedAt, "ev_esc-acknowledged", T["by_whom"]+" "+who(e.AckedBy), e.ID)
		}
	}
	return rows, nil
}

// newestFirst orders the timeline's rows, newest first.
func newestFirst(rows []timelineRow) {
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.After(rows[j].at) })
}
