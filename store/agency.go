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

// SaveAgency overwrites an agency record (settings, policy). The SMS
// identity is not among what it writes: the stored one is kept
// (SetSMSIdentity changes it, with its claims).
func (s *Store) SaveAgency(ctx context.Context, a *Agency) error {
	return s.updateAgency(ctx, a.ID, func(stored *Agency) {
		keep := stored.SMS
		*stored = *a
		stored.SMS = keep
		a.SMS = keep
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
