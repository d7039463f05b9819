package store

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func outboxScenarios() []scenario {
	return []scenario{
		{"outbox/send claim outcomes", testClaimOutcomes},
		{"outbox/an expired claim without a sent marker is uncertain", testClaimExpired},
		{"outbox/ExpireSend leaves the attempt visible", testExpireSend},
	}
}

// claim calls ClaimSend and fails the test on an error or another outcome.
func claim(t *testing.T, s *Store, id string, ttl time.Duration, want int) time.Time {
	t.Helper()
	got, since, err := s.ClaimSend(t.Context(), id, ttl)
	if err != nil {
		t.Fatalf("ClaimSend(%s): %v", id, err)
	}
	if got != want {
		t.Fatalf("ClaimSend(%s) = %d; want %d", id, got, want)
	}
	if (got == SendUncertain) == since.IsZero() {
		t.Fatalf("ClaimSend(%s) = %d with since %v: a start time comes with SendUncertain only", id, got, since)
	}
	return since
}

func testClaimOutcomes(t *testing.T, s *Store) {
	ctx := t.Context()
	id := unique("out_")
	claim(t, s, id, time.Minute, SendClaimed)
	claim(t, s, id, time.Minute, SendBusy)
	// A failed send releases the claim: the retry claims afresh, not uncertain.
	if err := s.ReleaseSend(ctx, id); err != nil {
		t.Fatal(err)
	}
	claim(t, s, id, time.Minute, SendClaimed)
	if err := s.MarkSent(ctx, id, "SM1"+id, []byte("{}"), nil, false); err != nil {
		t.Fatal(err)
	}
	claim(t, s, id, time.Minute, SendDone)
	if n, _ := s.rdb.Exists(ctx, keySending(id)).Result(); n != 0 {
		t.Error("MarkSent left the send claim behind")
	}
	if got, err := s.SentWith(ctx, "SM1"+id); err != nil || got != id {
		t.Errorf("SentWith = %q, %v; want %q", got, err, id)
	}
	if got, err := s.SentWith(ctx, "SMnone"); err != nil || got != "" {
		t.Errorf("SentWith(unknown) = %q, %v; want none", got, err)
	}
	// A claim written before claims carried their start (a bare "1" with a
	// real expiry) is busy, never uncertain.
	old := unique("out_")
	if err := s.rdb.Set(ctx, keySending(old), 1, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	claim(t, s, old, time.Minute, SendBusy)
}

func testClaimExpired(t *testing.T, s *Store) {
	ctx := t.Context()
	id := unique("out_")
	before := time.Now()
	claim(t, s, id, 50*time.Millisecond, SendClaimed)
	after := time.Now()
	time.Sleep(120 * time.Millisecond) // the claim's deadline passes on Redis's clock
	// The process that claimed it died: the next attempt takes it over and
	// learns when the first began.
	since := claim(t, s, id, 50*time.Millisecond, SendUncertain)
	if since.Before(before.Add(-time.Second)) || since.After(after.Add(time.Second)) {
		t.Errorf("since = %v; want the first claim's start, between %v and %v", since, before, after)
	}
	// The takeover is a claim like any other...
	claim(t, s, id, 50*time.Millisecond, SendBusy)
	// ...and if it dies too, the next one still searches from the first start.
	time.Sleep(120 * time.Millisecond)
	if again := claim(t, s, id, time.Minute, SendUncertain); !again.Equal(since) {
		t.Errorf("second takeover since = %v; want the first start %v", again, since)
	}
	// The record outlives the claim by far.
	if ttl, err := s.rdb.PTTL(ctx, keySending(id)).Result(); err != nil || ttl < time.Hour {
		t.Errorf("claim record TTL = %v, %v; want about %v", ttl, err, claimKeep)
	}
	// Found at the provider: marked sent, so done.
	if err := s.MarkSent(ctx, id, "SM2"+id, []byte("{}"), nil, false); err != nil {
		t.Fatal(err)
	}
	claim(t, s, id, time.Minute, SendDone)
}

func testExpireSend(t *testing.T, s *Store) {
	ctx := t.Context()
	id := unique("out_")
	claim(t, s, id, time.Minute, SendClaimed)
	if err := s.ExpireSend(ctx, id); err != nil {
		t.Fatal(err)
	}
	since := claim(t, s, id, time.Minute, SendUncertain)
	if d := time.Since(since); d < -time.Second || d > 10*time.Second {
		t.Errorf("since = %v (%v ago); want the claim's start", since, d)
	}
	if err := s.ExpireSend(ctx, unique("out_")); err != nil {
		t.Errorf("ExpireSend without a claim: %v", err)
	}
	// Not found at the provider, sent, failed: released, so a fresh claim.
	if err := s.ReleaseSend(ctx, id); err != nil {
		t.Fatal(err)
	}
	claim(t, s, id, time.Minute, SendClaimed)
}

// TestClaimSendOnEmbedded runs the claim scenarios on the embedded server
// `serve` uses without REDIS_URL (its Lua and TIME are its own).
func TestClaimSendOnEmbedded(t *testing.T) {
	for _, sc := range outboxScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			t.Cleanup(func() { _ = rdb.Close() })
			sc.run(t, New(rdb, nil))
		})
	}
}
