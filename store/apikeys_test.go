package store

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func apiKeyScenarios() []scenario {
	return []scenario{
		{"api keys/a key from before named keys becomes the initial key", testLegacyKeyNamed},
		{"api keys/last use written at most once a minute", testKeyLastUse},
	}
}

// clock is a settable clock for a scenario's store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testLegacyKeyNamed(t *testing.T, s *Store) {
	ctx := t.Context()
	a := &Agency{Name: "Northside", Timezone: "America/Chicago"}
	if _, err := s.CreateAgency(ctx, a); err != nil {
		t.Fatal(err)
	}
	// The index entry as releases before named keys wrote it: no record.
	const legacy = "cc_legacylegacylegacylegacylegacylegacylega"
	h := hashKey(legacy)
	if err := s.rdb.Set(ctx, keyAPIKey(h), a.ID+" "+h, 0).Err(); err != nil {
		t.Fatal(err)
	}
	u, err := s.UseKey(ctx, legacy)
	if err != nil || u.AgencyID != a.ID || u.KeyID == "" {
		t.Fatalf("legacy key = %+v, %v; want the agency and a key id", u, err)
	}
	again, err := s.UseKey(ctx, legacy)
	if err != nil || again != u {
		t.Errorf("second use = %+v, %v; want %+v", again, err, u)
	}
	k, err := s.APIKeyByID(ctx, a.ID, u.KeyID)
	if err != nil || k.Name != InitialKeyName || k.Prefix != legacy[:keyPrefixLen] {
		t.Errorf("legacy key's record = %+v, %v; want named %q with its prefix", k, err, InitialKeyName)
	}
	if _, err := s.UseKey(ctx, legacy+"x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a wrong key = %v; want ErrNotFound", err)
	}
	// It can be revoked like any other (the agency has its own initial key too).
	if _, err := s.RevokeAPIKey(ctx, a.ID, u.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseKey(ctx, legacy); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked legacy key = %v; want ErrNotFound", err)
	}
}

func testKeyLastUse(t *testing.T, s *Store) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)}
	s.now = clk.now
	a := &Agency{Name: "Northside", Timezone: "America/Chicago"}
	key, err := s.CreateAgency(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	lastUse := func() time.Time {
		t.Helper()
		keys, err := s.APIKeys(ctx, a.ID, false)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys = %v, %v", keys, err)
		}
		if keys[0].LastUsed == nil {
			return time.Time{}
		}
		return *keys[0].LastUsed
	}
	if got := lastUse(); !got.IsZero() {
		t.Errorf("last use before any = %v; want none", got)
	}
	first := clk.now()
	for range 30 {
		if _, err := s.UseKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Second)
	}
	if got := lastUse(); !got.Equal(first) {
		t.Errorf("last use after 30 uses in 30 s = %v; want the first, %v (one write a minute)", got, first)
	}
	clk.add(31 * time.Second) // a minute after the first write
	if _, err := s.UseKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := lastUse(); !got.Equal(clk.now()) {
		t.Errorf("last use a minute on = %v; want %v", got, clk.now())
	}
}
