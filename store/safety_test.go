package store

import (
	"sync/atomic"
	"testing"
	"time"
)

func safetyScenarios() []scenario {
	return []scenario{
		{"safety/one question per client per window, none while an escalation is open", testClaimSafetyQuestion},
	}
}

func testClaimSafetyQuestion(t *testing.T, base *Store) {
	ctx := t.Context()
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	s := New(base.rdb, func() time.Time { return time.UnixMilli(now.Load()) })
	a, c := seedClient(t, s)
	claim := func() SafetyClaim {
		t.Helper()
		got, err := s.ClaimSafetyQuestion(ctx, a.ID, c.ID, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := claim(); !got.Claimed {
		t.Fatalf("first claim = %+v; want claimed", got)
	}
	now.Add((23 * time.Hour).Milliseconds())
	if got := claim(); got.Claimed {
		t.Errorf("claim 23 hours later = %+v; want refused", got)
	}
	now.Add((2 * time.Hour).Milliseconds())
	e, _, err := openEscalation(ctx, s, newEscalation(a, c))
	if err != nil {
		t.Fatal(err)
	}
	if got := claim(); got.Claimed || got.OpenEscalation != e.ID {
		t.Errorf("claim with an open escalation = %+v; want refused naming %s", got, e.ID)
	}
	if _, err := s.UpdateEscalation(ctx, a.ID, e.ID, func(x *Escalation) error { x.Status = EscResolved; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := claim(); !got.Claimed {
		t.Errorf("claim 25 hours after the first, escalation resolved = %+v; want claimed", got)
	}
}
