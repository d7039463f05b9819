package store

import (
	"context"
	"encoding/json"
	"fmt"
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
