package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/carecheck/carecheck/store"
)

// fieldRule says how a field's change is shown in the audit.
type fieldRule int

const (
	// valueShown: old and new values.
	valueShown fieldRule = iota
	// hidden: "<field> changed" (message texts, names, phone numbers).
	hidden
	// counted: how many items before and after (phrases).
	counted
)

// auditRules say, per record kind, which fields are not shown as values;
// "*" covers every field of the kind. Anything not named is shown.
var auditRules = map[string]map[string]fieldRule{
	"agency":         {"safety_message": hidden, "phrases": counted},
	"safety_message": {"*": hidden},
	"phrases":        {"phrases": counted},
	"case_manager":   {"name": hidden, "phone": hidden, "telegram_chat": hidden},
	"client":         {"name": hidden, "phone": hidden, "telegram_chat": hidden},
	"appointment":    {"with": hidden, "location": hidden},
	"questionnaire":  {"*": hidden},
}

// auditSkipped fields are bookkeeping, not configuration.
var auditSkipped = []string{"id", "agency_id", "client_id", "created_at", "updated_at", "last_used_at", "needs_case_manager", "hash"}

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
	rec := store.AuditRecord{Actor: actor, Kind: kind, RecordID: id, Action: action, Changes: changes(kind, old, updated)}
	if err := d.Store.AppendAudit(r.Context(), agency, rec); err != nil {
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

// changes lists the fields that differ between old and updated (as JSON),
// shown as the kind's rules say. A nil old is a creation: every field set.
func changes(kind string, old, updated any) []store.Change {
	before, after := fieldsOf(old), fieldsOf(updated)
	names := make([]string, 0, len(after)+len(before))
	for k := range after {
		names = append(names, k)
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	rules := auditRules[kind]
	var out []store.Change
	for _, f := range names {
		if slices.Contains(auditSkipped, f) {
			continue
		}
		b, a := before[f], after[f]
		if bytes.Equal(b, a) {
			continue
		}
		if old == nil && isEmptyJSON(a) {
			continue
		}
		rule, ok := rules[f]
		if !ok {
			rule = rules["*"]
		}
		c := store.Change{Field: f}
		switch rule {
		case hidden:
			c.Note = f + " changed"
		case counted:
			c.Note = fmt.Sprintf("%d → %d", countJSON(b), countJSON(a))
		default:
			c.Old, c.New = showJSON(b), showJSON(a)
		}
		out = append(out, c)
	}
	return out
}

func fieldsOf(v any) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	if v == nil {
		return out
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return out
	}
	_ = json.Unmarshal(raw, &out)
	return out
}

func isEmptyJSON(b json.RawMessage) bool {
	switch string(b) {
	case "", "null", `""`, "[]", "{}", "false", "0":
		return true
	}
	return false
}

// showJSON is a value as the audit shows it: a string without its quotes,
// anything else as compact JSON; nil for no value.
func showJSON(b json.RawMessage) *string {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return &s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return nil
	}
	s = buf.String()
	return &s
}

func countJSON(b json.RawMessage) int {
	var list []json.RawMessage
	if json.Unmarshal(b, &list) == nil {
		return len(list)
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) == nil {
		return len(m)
	}
	return 0
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
