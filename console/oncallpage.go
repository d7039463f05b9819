package console

import (
	"net/http"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/oncall"
	"github.com/carecheck/carecheck/store"
)

// onCallHandoffs is how many coming hand-offs the on-call page shows per
// rotation.
const onCallHandoffs = 3

// onCallRow is one rotation on the on-call page: who is on call now and the
// next hand-offs, times in the agency's zone.
type onCallRow struct {
	Name    string
	Now     onCallShift
	Next    []onCallShift
	Problem bool // the rotation cannot be read (a zone or a rule the service refuses)
}

// onCallShift is one turn: from when, whom, and whether an override put
// them there.
type onCallShift struct {
	Datetime, From, Who string
	Override            bool
}

// handleOnCall lists the agency's on-call rotations for every signed-in
// staff member: who is on call now, since when, and the next hand-offs
// (the answer of GET /v1/rotations/{id}/on-call, read the same way).
func handleOnCall(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		ctx := r.Context()
		var rots []*store.Rotation
		cursor := ""
		for {
			page, err := c.Store.Rotations(ctx, v.Agency.ID, cursor, 200)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			rots = append(rots, page.Items...)
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		names := c.staffNames(ctx, v.Agency.ID)
		loc := zoneOf(v.Agency)
		T := texts[v.Lang]
		shift := func(s oncall.Shift) onCallShift {
			who := T["oncall_nobody"]
			if s.StaffID != "" {
				who = orElse(names[s.StaffID], s.StaffID)
			}
			return onCallShift{Datetime: s.From.Format(time.RFC3339), From: s.From.In(loc).Format("Mon 2006-01-02 15:04"), Who: who, Override: s.Override}
		}
		now := c.Now()
		rows := make([]onCallRow, 0, len(rots))
		for _, rot := range rots {
			row := onCallRow{Name: rot.Name}
			cur, next, err := escalation.OnCall(rot, v.Agency.Timezone, now, onCallHandoffs)
			if err != nil {
				row.Problem = true
				rows = append(rows, row)
				continue
			}
			row.Now = shift(cur)
			for _, s := range next {
				row.Next = append(row.Next, shift(s))
			}
			rows = append(rows, row)
		}
		c.render(w, r, "oncall.html", http.StatusOK, "oncall_title", view{Data: rows})
	})
}
