package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/carecheck/carecheck/apikeys"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

// actor is the signed-in staff member as an audit actor.
func (v *viewer) actor() store.Actor {
	return store.Actor{Kind: "staff", ID: v.Staff.ID, Name: v.Staff.Name}
}

// keyRow is one live API key on the keys page.
type keyRow struct {
	ID, Name, Prefix, Created, LastUsed string
}

// keysPage is the API keys page's data.
type keysPage struct {
	Keys []keyRow
	// NewKey is the key just made, shown this once; NewName its name.
	NewKey, NewName string
	// Name is the name typed when it was refused.
	Name string
}

// handleKeys lists the agency's live API keys (name, prefix, created,
// last used; never a key) for an admin.
func handleKeys(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.renderKeys(w, r, http.StatusOK, keysPage{}, "", false)
	})
}

func (c *console) renderKeys(w http.ResponseWriter, r *http.Request, status int, p keysPage, flash string, isErr bool) {
	v := viewerOf(r)
	keys, err := c.Store.APIKeys(r.Context(), v.Agency.ID, false)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	loc := zoneOf(v.Agency)
	for _, k := range keys {
		row := keyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Created: k.Created.In(loc).Format("2006-01-02 15:04"), LastUsed: texts[v.Lang]["never"]}
		if k.LastUsed != nil {
			row.LastUsed = k.LastUsed.In(loc).Format("2006-01-02 15:04")
		}
		p.Keys = append(p.Keys, row)
	}
	c.render(w, r, "keys.html", status, "keys_title", view{Data: p, Flash: flash, FlashError: isErr})
}

// handleCreateKey makes a named API key by the API's rules (apikeys.Create),
// audited as the signed-in admin; the key is shown on this answer only.
func handleCreateKey(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		T := texts[v.Lang]
		raw := r.PostFormValue("name")
		k, key, err := apikeys.Create(r.Context(), c.Store, v.Agency.ID, raw)
		var fe *freetext.Error
		switch {
		case errors.As(err, &fe):
			c.renderKeys(w, r, http.StatusBadRequest, keysPage{Name: raw}, textProblem(v.Lang, "key_name", err), true)
			return
		case errors.Is(err, apikeys.ErrTooMany):
			c.renderKeys(w, r, http.StatusConflict, keysPage{Name: raw}, T["keys_too_many"], true)
			return
		case errors.Is(err, apikeys.ErrNameTaken):
			c.renderKeys(w, r, http.StatusConflict, keysPage{Name: raw}, T["key_name_taken"], true)
			return
		case err != nil:
			c.fail(w, r, err)
			return
		}
		c.Log.Info("api key created", "agency_id", v.Agency.ID, "key_id", k.ID, "staff_id", v.Staff.ID)
		c.audit(r, "api_key", k.ID, "created", nil, k)
		c.renderKeys(w, r, http.StatusCreated, keysPage{NewKey: key, NewName: k.Name}, "", false)
	})
}

// handleRevokeKey revokes an API key as DELETE /v1/api-keys/{id} does:
// the agency's last live key is refused (409).
func handleRevokeKey(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		k, err := c.Store.RevokeAPIKey(r.Context(), v.Agency.ID, urlParam(r, "id"))
		switch {
		case errors.Is(err, store.ErrNotFound):
			c.notFound(w, r)
			return
		case errors.Is(err, store.ErrLastKey):
			c.renderKeys(w, r, http.StatusConflict, keysPage{}, texts[v.Lang]["key_last"], true)
			return
		case err != nil:
			c.fail(w, r, err)
			return
		}
		c.Log.Info("api key revoked", "agency_id", v.Agency.ID, "key_id", k.ID, "staff_id", v.Staff.ID)
		c.audit(r, "api_key", k.ID, "revoked", nil, nil)
		c.renderKeys(w, r, http.StatusOK, keysPage{}, texts[v.Lang]["key_revoked"], false)
	})
}

// audit records a configuration change in the agency's audit as the
// signed-in staff member (store.RecordChange, the API's audit writer).
func (c *console) audit(r *http.Request, kind, id, action string, old, updated any) {
	v := viewerOf(r)
	if err := c.Store.RecordChange(r.Context(), v.Agency.ID, v.actor(), kind, id, action, old, updated); err != nil {
		c.Log.Error("audit not written", "agency_id", v.Agency.ID, "kind", kind, "record_id", id, "action", action, "err", err)
	}
}

// auditRow is one audit record as the page shows it.
type auditRow struct {
	At, Actor, Kind, RecordID, Action string
	Changes                           []string
}

// auditPage is the audit log page's data.
type auditPage struct {
	Rows []auditRow
	// Next is the cursor of the next (older) page, "" at the end.
	Next string
}

// auditPageSize is how many records one audit page shows.
const auditPageSize = 50

// handleAudit pages the agency's audit, newest first (?cursor= the next
// page's, as the list hands it out): time in the agency's zone, who (a
// staff member or API key by name), the record, what changed.
func handleAudit(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		cursor := r.URL.Query().Get("cursor")
		if cursor != "" && !auditCursor(cursor) {
			c.notFound(w, r)
			return
		}
		page, err := c.Store.Audit(r.Context(), v.Agency.ID, time.Time{}, time.Time{}, cursor, auditPageSize)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		names := c.staffNames(r.Context(), v.Agency.ID)
		loc := zoneOf(v.Agency)
		T := texts[v.Lang]
		p := auditPage{Next: page.Next}
		for _, rec := range page.Items {
			row := auditRow{At: rec.At.In(loc).Format("2006-01-02 15:04:05"), Kind: rec.Kind, RecordID: rec.RecordID, Action: rec.Action}
			switch rec.Actor.Kind {
			case "staff":
				row.Actor = names[rec.Actor.ID]
				if row.Actor == "" {
					row.Actor = rec.Actor.ID
				}
			case "api_key":
				row.Actor = T["actor_api_key"] + " " + orElse(rec.Actor.Name, rec.Actor.ID)
			default:
				row.Actor = labelOr(T, "actor_"+rec.Actor.Kind, rec.Actor.Kind)
			}
			for _, ch := range rec.Changes {
				switch {
				case ch.Note != "":
					row.Changes = append(row.Changes, ch.Field+": "+ch.Note)
				default:
					row.Changes = append(row.Changes, ch.Field+": "+deref(ch.Old)+" → "+deref(ch.New))
				}
			}
			p.Rows = append(p.Rows, row)
		}
		c.render(w, r, "audit.html", http.StatusOK, "audit_title", view{Data: p})
	})
}

func orElse(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return "—"
	}
	return *s
}

// auditCursor reports whether s looks like an audit entry id (ms-seq).
func auditCursor(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	return ok && ms != "" && seq != "" && strings.Trim(ms, "0123456789") == "" && strings.Trim(seq, "0123456789") == ""
}
