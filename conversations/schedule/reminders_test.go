package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLate(t *testing.T) {
	due := mustTime(t, "2026-03-08T16:00:00Z")
	tests := []struct {
		late  time.Duration
		limit time.Duration
		want  bool
	}{
		{59 * time.Minute, 0, false},
		{60 * time.Minute, 0, false},
		{61 * time.Minute, 0, true},
		{-time.Hour, 0, false}, // early
		{90 * time.Minute, 2 * time.Hour, false},
		{121 * time.Minute, 2 * time.Hour, true},
		{61 * time.Minute, -time.Second, true}, // non-positive limit: the default
	}
	for _, tt := range tests {
		if got := Late(due, due.Add(tt.late), tt.limit); got != tt.want {
			t.Errorf("Late(%v late, limit %v) = %v; want %v", tt.late, tt.limit, got, tt.want)
		}
	}
}

func TestParseOffsets(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr string
	}{
		{nil, "[24h0m0s 2h0m0s]", ""},
		{[]string{}, "[24h0m0s 2h0m0s]", ""},
		{[]string{"2h", "24h"}, "[24h0m0s 2h0m0s]", ""},
		{[]string{"30m", "1d", "1w", "90m"}, "[168h0m0s 24h0m0s 1h30m0s 30m0s]", ""},
		{[]string{"24h", "1d", " 24h "}, "[24h0m0s]", ""},
		{[]string{"30d"}, "[720h0m0s]", ""},
		{[]string{"0h"}, "", "more than 0"},
		{[]string{"-2h"}, "", "more than 0"},
		{[]string{"31d"}, "", "at most 30 days"},
		{[]string{"5w"}, "", "at most 30 days"},
		{[]string{"soon"}, "", `"soon": want e.g.`},
		{[]string{"1.5d"}, "", "want e.g."},
		{[]string{""}, "", "want e.g."},
		{[]string{"1h", "2h", "3h", "4h", "5h", "6h"}, "", "at most 5"},
	}
	for _, tt := range tests {
		got, err := ParseOffsets(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "reminders: ") {
				t.Errorf("ParseOffsets(%q) error = %v; want reminders: …%s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("ParseOffsets(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestReminderTimes(t *testing.T) {
	at := mustTime(t, "2026-03-10T15:00:00Z")
	offs := []time.Duration{24 * time.Hour, 2 * time.Hour}
	tests := []struct {
		now  string
		want string
	}{
		{"2026-03-01T00:00:00Z", "[2026-03-09 15:00:00 +0000 UTC 2026-03-10 13:00:00 +0000 UTC]"},
		{"2026-03-09T15:00:00Z", "[2026-03-09 15:00:00 +0000 UTC 2026-03-10 13:00:00 +0000 UTC]"}, // due now: sent
		{"2026-03-09T15:00:01Z", "[2026-03-10 13:00:00 +0000 UTC]"},                               // passed: not sent late
		{"2026-03-10T14:00:00Z", "[]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(ReminderTimes(at, offs, mustTime(t, tt.now))); got != tt.want {
			t.Errorf("ReminderTimes(now %s) = %s; want %s", tt.now, got, tt.want)
		}
	}
}

func TestPlanReminders(t *testing.T) {
	chicago, _ := time.LoadLocation("America/Chicago")
	now := mustTime(t, "2026-03-01T00:00:00Z")
	offs := []time.Duration{24 * time.Hour, 2 * time.Hour}
	tests := []struct {
		name string
		at   string
		want []string // send times, Chicago
	}{
		{"daytime", "2026-03-10T14:00:00-05:00", []string{"2026-03-09T14:00:00-05:00", "2026-03-10T12:00:00-05:00"}},
		{"2h one deferred to 08:00", "2026-03-10T09:00:00-05:00", []string{"2026-03-09T09:00:00-05:00", "2026-03-10T08:00:00-05:00"}},
		{"2h one would land after the appointment", "2026-03-10T07:30:00-05:00", []string{"2026-03-09T08:00:00-05:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := mustTime(t, tt.at)
			got := PlanReminders("a1", at, offs, now, DefaultQuietHours(), chicago)
			if len(got) != len(tt.want) {
				t.Fatalf("PlanReminders = %v; want %v", got, tt.want)
			}
			for i, w := range tt.want {
				if !got[i].At.Equal(mustTime(t, w)) {
					t.Errorf("reminder %d at %s; want %s", i, got[i].At.In(chicago).Format(time.RFC3339), w)
				}
				if want := ReminderID("a1", at, got[i].Offset); got[i].ID != want {
					t.Errorf("reminder %d ID = %q; want %q", i, got[i].ID, want)
				}
			}
		})
	}
	if got, want := ReminderID("a1", mustTime(t, "2026-03-10T09:00:00-05:00"), 2*time.Hour), "a1:20260310T1400Z:2h0m0s"; got != want {
		t.Errorf("ReminderID = %q; want %q", got, want)
	}
	// Two offsets deferred onto the same 08:00 are sent once.
	got := PlanReminders("a2", mustTime(t, "2026-03-10T10:00:00-05:00"), []time.Duration{4 * time.Hour, 3 * time.Hour}, now, DefaultQuietHours(), chicago)
	if len(got) != 1 || got[0].Offset != 4*time.Hour {
		t.Errorf("collapsed reminders = %v; want one, the 4h one", got)
	}
}
