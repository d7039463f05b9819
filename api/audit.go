package api

import (
	"net/http"
	"time"

	"github.com/carecheck/carecheck/store"
)

// audit records a configuration change by the request's caller: the record
// (kind and id), the action, and what changed between old and updated (nil
// old: created). It is the one audit writer of every handler that changes
// configuration. The change has been saved; an audit that cannot be written
// is logged (ids only) and the answer stands.
func audit(d Deps, r *http.Request, kind, id, action string, old, updated any) {
	agency := agencyID(r)
	if agency == "" && kind == "agency" {
		agency = id // the operator creating an agency
	}
	auditAs(d, r, agency, actorOf(d, r), kind, id, action, old, updated)
}

// auditAs is audit in a given agency's audit, by a given actor.
func auditAs(d Deps, r *http.Request, agency string, actor store.Actor, kind, id, action string, old, updated any) {
	if err := d.Store.RecordChange(r.Context(), agency, actor, kind, id, action, old, updated); err != nil {
		d.Log.Error("audit not written", "agency_id", agency, "kind", kind, "record_id", id, "action", action, "err", err)
	}
}

// actorOf names who made the request's change: the API key (id and its
// name now), or the operator.
func actorOf(d Deps, r *http.Request) store.Actor {
	u := keyUse(r)
	if u.KeyID == "" {
		return store.Actor{Kind: "operator"}
	}
	a := store.Actor{Kind: "api_key", ID: u.KeyID}
	if k, err := d.Store.APIKeyByID(r.Context(), u.AgencyID, u.KeyID); err == nil {
		a.Name = k.Name
	}
	return a
}

// auditCursor is an audit entry id.
var auditCursor = cursorKind{entry: true}

// handleAudit lists the calling agency's configuration changes, newest
// first: ?since=&until= (RFC 3339) and ?cursor= page it.
func handleAudit(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := pageLimit(r)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		cursor, err := pageCursor(r, auditCursor)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		var bounds [2]time.Time
		for i, name := range []string{"since", "until"} {
			v := r.URL.Query().Get(name)
			if v == "" {
				continue
			}
			if bounds[i], err = time.Parse(time.RFC3339, v); err != nil {
				respondErr(w, r, d.Log, invalid("%s: an RFC 3339 time", name))
				return
			}
		}
		page, err := d.Store.Audit(r.Context(), agencyID(r), bounds[0], bounds[1], cursor, limit)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"audit": page.Items, "next": page.Next})
	})
}
