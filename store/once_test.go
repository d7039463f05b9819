package store

import (
	"testing"
	"time"

	"github.com/carecheck/carecheck/store/redistest"
)

// TestProviderSeen: a provider's message id is taken once; forgetting it
// (the effect failed) lets the provider's retry through.
func TestProviderSeen(t *testing.T) {
	ctx := t.Context()
	s := New(redistest.New(t).Client(t), nil)
	for i, want := range []bool{true, false} {
		if first, err := s.MarkProviderSeen(ctx, "sms", "SM1"); err != nil || first != want {
			t.Errorf("delivery %d: first = %v, %v; want %v", i+1, first, err, want)
		}
	}
	if first, err := s.MarkProviderSeen(ctx, "telegram", "SM1"); err != nil || !first {
		t.Errorf("same id on another channel: first = %v, %v; want true", first, err)
	}
	if err := s.ForgetProviderSeen(ctx, "sms", "SM1"); err != nil {
		t.Fatal(err)
	}
	if first, err := s.MarkProviderSeen(ctx, "sms", "SM1"); err != nil || !first {
		t.Errorf("retry after forget: first = %v, %v; want true", first, err)
	}
}

// TestUnknownSenderAnswered: a stranger is answered once per window, on the
// store's clock.
func TestUnknownSenderAnswered(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := New(redistest.New(t).Client(t), func() time.Time { return now })
	for _, tc := range []struct {
		after time.Duration
		want  bool
	}{{0, true}, {time.Hour, false}, {24 * time.Hour, true}} {
		now = now.Add(tc.after)
		if first, err := s.MarkUnknownSenderAnswered(ctx, "sms", "+15550001111", 24*time.Hour); err != nil || first != tc.want {
			t.Errorf("after %s: answered = %v, %v; want %v", tc.after, first, err, tc.want)
		}
	}
}
