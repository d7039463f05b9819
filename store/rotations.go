package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rotation is an on-call rotation of an agency's staff (escalation/oncall
// computes who is on call from it).
type Rotation struct {
	ID       string `json:"id"`
	AgencyID string `json:"agency_id"`
	Name     string `json:"name"`
	// Staff are case manager ids in the order they take the shifts.
	Staff []string `json:"staff"`
	// Handoff is "daily" or "weekly".
	Handoff string `json:"handoff"`
	// At is the local hand-off time in the agency's zone, "09:00".
	At string `json:"at"`
	// Start is the local date of the first hand-off, "2026-11-02" (a
	// weekly rotation hands off on its weekday).
	Start string `json:"start"`
	// Overrides put someone else on call for a while, in the order added.
	Overrides []RotationOverride `json:"overrides,omitempty"`
	Created   time.Time          `json:"created_at"`
}

// RotationOverride puts StaffID on call from Start (inclusive) to End (exclusive).
type RotationOverride struct {
	ID      string    `json:"id"`
	StaffID string    `json:"staff_id"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// A rotation and the agency's list of them live in the agency's hash slot.
func keyRotation(agency, id string) string { return agencyTag(agency) + ":rot:" + id }
func keyRotations(agency string) string    { return agencyTag(agency) + ":rots" }

// CreateRotation stores a new rotation; it sets ID and Created.
func (s *Store) CreateRotation(ctx context.Context, r *Rotation) error {
	now := s.nowMilli()
	r.ID, r.Created = NewID("ro", now), now
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode rotation: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, keyRotation(r.AgencyID, r.ID), body, 0)
	pipe.ZAdd(ctx, keyRotations(r.AgencyID), redis.Z{Member: r.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store rotation: %w", err)
	}
	return nil
}

// Rotation loads one rotation of an agency (ErrNotFound: none by that id there).
func (s *Store) Rotation(ctx context.Context, agency, id string) (*Rotation, error) {
	var r Rotation
	if err := s.getJSON(ctx, keyRotation(agency, id), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Rotations lists an agency's rotations by id, after the cursor.
func (s *Store) Rotations(ctx context.Context, agency, cursor string, limit int) (Page[*Rotation], error) {
	ids, next, err := s.pageIDs(ctx, keyRotations(agency), cursor, limit)
	if err != nil {
		return Page[*Rotation]{}, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = keyRotation(agency, id)
	}
	items, err := getMany[Rotation](ctx, s, keys)
	return Page[*Rotation]{Items: items, Next: next}, err
}

// UpdateRotation changes a rotation atomically: change runs on the stored
// record and the result is written only if nobody wrote it meanwhile (else
// change runs again). It returns the record before and after the change.
func (s *Store) UpdateRotation(ctx context.Context, agency, id string, change func(*Rotation) error) (old, updated *Rotation, err error) {
	return changeJSON(ctx, s, keyRotation(agency, id), 20, change)
}

// DeleteRotation removes a rotation (ErrNotFound: none by that id).
func (s *Store) DeleteRotation(ctx context.Context, agency, id string) error {
	pipe := s.rdb.TxPipeline()
	del := pipe.Del(ctx, keyRotation(agency, id))
	pipe.ZRem(ctx, keyRotations(agency), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delete rotation %s: %w", id, err)
	}
	if del.Val() == 0 {
		return ErrNotFound
	}
	return nil
}
