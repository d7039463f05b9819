package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// CreateAgency stores a new agency and makes its first API key ("initial"),
// which is shown once: only its SHA-256 is kept.
func (s *Store) CreateAgency(ctx context.Context, a *Agency) (apiKey string, err error) {
	now := s.now().UTC()
	a.ID = NewID("ag", now)
	a.Created = now
	body, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	// Different hash slots ({a:<id>} and the global index): a plain pipeline,
	// since a MULTI across slots fails with CROSSSLOT on a Cluster. The agency
	// record first, the key index last, so a key never points at a missing agency.
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, keyAgency(a.ID), body, 0)
	pipe.ZAdd(ctx, keyAgencies(), redis.Z{Member: a.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("store agency: %w", err)
	}
	_, apiKey, err = s.CreateAPIKey(ctx, a.ID, InitialKeyName)
	return apiKey, err
}

func cutSpace(v string) (string, string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			return v[:i], v[i+1:], true
		}
	}
	return "", "", false
}

// Agency loads an agency.
func (s *Store) Agency(ctx context.Context, id string) (*Agency, error) {
	var a Agency
	if err := s.getJSON(ctx, keyAgency(id), &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// SaveAgency overwrites an agency record (settings, policy) with a whole
// record read earlier: for seeding and tests. A request that changes some
// settings uses UpdateAgency, so that two changes at once both stay. The
// SMS identity is not among what it writes: the stored one is kept
// (SetSMSIdentity changes it, with its claims).
func (s *Store) SaveAgency(ctx context.Context, a *Agency) error {
	return s.updateAgency(ctx, a.ID, func(stored *Agency) {
		keep := stored.SMS
		*stored = *a
		stored.SMS = keep
		a.SMS = keep
	})
}

// UpdateAgency changes an agency's settings and policy atomically: change
// edits the stored record, and the result is written only if nobody wrote
// the record meanwhile; else change runs again on the newer one. So an
// admin saving quiet hours in the console and a script setting the policy
// through the API at the same moment both keep their change. An error from
// change writes nothing and is returned as it is. The SMS identity is not
// change's to write (SetSMSIdentity changes it, with its claims). It
// returns the record before and after.
func (s *Store) UpdateAgency(ctx context.Context, id string, change func(*Agency) error) (before, after *Agency, err error) {
	return changeJSON(ctx, s, keyAgency(id), 10, func(a *Agency) error {
		keep := a.SMS
		if err := change(a); err != nil {
			return err
		}
		a.SMS = keep
		return nil
	})
}

func (s *Store) getJSON(ctx context.Context, key string, v any) error {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}
