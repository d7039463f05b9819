package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRetention is how long an agency's audit is kept when it set
// nothing: 6 years (HIPAA), in 365.25-day years.
const DefaultRetention = Duration(6 * 8766 * time.Hour)

// AuditRecord is one configuration change: who made it, when, to which
// record, and what changed. It never carries message texts, names of
// people or phone numbers: a Change says "changed" for those.
type AuditRecord struct {
	// ID is the entry's id in the agency's audit stream; lists page by it.
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Actor    Actor     `json:"actor"`
	Kind     string    `json:"kind"`      // agency, policy, safety_message, phrases, case_manager, client, schedule, appointment, questionnaire, api_key
	RecordID string    `json:"record_id"` // the record's id
	Action   string    `json:"action"`    // created, changed, deactivated, discharged, revoked
	Changes  []Change  `json:"changes,omitempty"`
}

// Actor is who made a change: an API key (by id and its name then), the
// operator, or (the console) a staff member.
type Actor struct {
	Kind string `json:"kind"` // api_key, operator, staff
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Change is one field's change: old and new values when they may be
// shown, else a note ("changed", "2 → 3 phrases").
type Change struct {
	Field string  `json:"field"`
	Old   *string `json:"old,omitempty"`
	New   *string `json:"new,omitempty"`
	Note  string  `json:"note,omitempty"`
}

// AppendAudit adds a record to an agency's audit, stamped now, and trims
// what is older than the agency's retention (XADD MINID, exact: audit
// writes are rare, so the exact trim's cost does not matter).
func (s *Store) AppendAudit(ctx context.Context, agencyID string, rec AuditRecord) error {
	a, err := s.Agency(ctx, agencyID)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	keep := a.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	now := s.nowMilli()
	rec.ID, rec.At = "", time.Time{}
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	minID := strconv.FormatInt(now.Add(-time.Duration(keep)).UnixMilli(), 10)
	args := &redis.XAddArgs{Stream: keyAudit(agencyID), MinID: minID,
		ID: strconv.FormatInt(now.UnixMilli(), 10) + "-*", Values: []string{"e", string(body)}}
	err = s.rdb.XAdd(ctx, args).Err()
	if err != nil && strings.Contains(err.Error(), "equal or smaller") {
		// Another process's clock is ahead: keep the stream's order.
		args.ID = "*"
		err = s.rdb.XAdd(ctx, args).Err()
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Audit pages an agency's audit newest first, between since and until
// (zero: unbounded), after the cursor (an entry id this list handed out).
func (s *Store) Audit(ctx context.Context, agencyID string, since, until time.Time, cursor string, limit int) (Page[*AuditRecord], error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	hi, lo := "+", "-"
	if !until.IsZero() {
		hi = strconv.FormatInt(until.UnixMilli(), 10)
	}
	if cursor != "" {
		hi = "(" + cursor
	}
	if !since.IsZero() {
		lo = strconv.FormatInt(since.UnixMilli(), 10)
	}
	msgs, err := s.rdb.XRevRangeN(ctx, keyAudit(agencyID), hi, lo, int64(limit+1)).Result()
	if err != nil {
		return Page[*AuditRecord]{}, fmt.Errorf("read audit: %w", err)
	}
	out := Page[*AuditRecord]{Items: []*AuditRecord{}}
	for _, m := range msgs {
		if len(out.Items) == limit {
			out.Next = out.Items[limit-1].ID
			break
		}
		raw, _ := m.Values["e"].(string)
		var rec AuditRecord
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			return Page[*AuditRecord]{}, fmt.Errorf("decode audit entry %s: %w", m.ID, err)
		}
		rec.ID = m.ID
		if ms, _, ok := strings.Cut(m.ID, "-"); ok {
			if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
				rec.At = time.UnixMilli(n).UTC()
			}
		}
		out.Items = append(out.Items, &rec)
	}
	return out, nil
}

// RecordChange is the one writer of configuration changes, for the API and
// the console alike: what changed between old and updated (nil old: a
// creation) as the kind's rules show it (Changes), by actor, to the
// record kind/id, in the agency's audit. An edit ("changed") that changed
// nothing is not recorded.
func (s *Store) RecordChange(ctx context.Context, agencyID string, actor Actor, kind, id, action string, old, updated any) error {
	changes := Changes(kind, old, updated)
	if action == "changed" && len(changes) == 0 {
		return nil
	}
	return s.AppendAudit(ctx, agencyID, AuditRecord{Actor: actor, Kind: kind, RecordID: id, Action: action, Changes: changes})
}

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
	"case_manager":   {"name": hidden, "phone": hidden, "telegram_chat": hidden, "email": hidden},
	"client":         {"name": hidden, "phone": hidden, "telegram_chat": hidden, "external_id": hidden},
	"appointment":    {"with": hidden, "location": hidden},
	"questionnaire":  {"*": hidden},
	"rotation":       {"overrides": counted},
}

// auditSkipped fields are bookkeeping, not configuration.
var auditSkipped = []string{"id", "agency_id", "client_id", "created_at", "updated_at", "last_used_at", "needs_case_manager", "hash"}

// Changes lists the fields that differ between old and updated (as JSON),
// shown as the kind's rules say. A nil old is a creation: every field set.
func Changes(kind string, old, updated any) []Change {
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
	var out []Change
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
		c := Change{Field: f}
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
