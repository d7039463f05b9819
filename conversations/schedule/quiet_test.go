package schedule

import (
	"testing"
	"time"
)

func TestQuietHoursValidate(t *testing.T) {
	tests := []struct {
		q  QuietHours
		ok bool
	}{
		{QuietHours{"21:00", "08:00"}, true},
		{QuietHours{"13:00", "14:00"}, true},
		{QuietHours{"00:00", "00:00"}, true},
		{QuietHours{"23:59", "00:00"}, true},
		{QuietHours{"9:00", "08:00"}, false},
		{QuietHours{"21:00", "24:00"}, false},
		{QuietHours{"21:60", "08:00"}, false},
		{QuietHours{"", "08:00"}, false},
		{QuietHours{"21:00", "ab:cd"}, false},
		{QuietHours{"21-00", "08:00"}, false},
		{QuietHours{"21:00", "08:00 "}, false},
	}
	for _, tt := range tests {
		err := tt.q.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v; want ok %v", tt.q, err, tt.ok)
		}
	}
}

func TestQuietHoursDefer(t *testing.T) {
	chicago, _ := time.LoadLocation("America/Chicago")
	night := QuietHours{"21:00", "08:00"}
	lunch := QuietHours{"13:00", "14:00"}
	at := func(s string) time.Time { return mustTime(t, s) }
	tests := []struct {
		name string
		q    QuietHours
		t    string
		want string
	}{
		{"22:15 → 08:00 next day", night, "2026-05-05T22:15:00-05:00", "2026-05-06T08:00:00-05:00"},
		{"07:59 → 08:00 same day", night, "2026-05-05T07:59:00-05:00", "2026-05-05T08:00:00-05:00"},
		{"07:59:59 → 08:00", night, "2026-05-05T07:59:59-05:00", "2026-05-05T08:00:00-05:00"},
		{"08:00 not deferred", night, "2026-05-05T08:00:00-05:00", "2026-05-05T08:00:00-05:00"},
		{"20:59 not deferred", night, "2026-05-05T20:59:00-05:00", "2026-05-05T20:59:00-05:00"},
		{"21:00 deferred", night, "2026-05-05T21:00:00-05:00", "2026-05-06T08:00:00-05:00"},
		{"midnight → 08:00 same day", night, "2026-05-06T00:00:00-05:00", "2026-05-06T08:00:00-05:00"},
		{"UTC input, local rules", night, "2026-05-06T03:15:00Z", "2026-05-06T08:00:00-05:00"}, // 22:15 CDT
		{"lunch 13:30 → 14:00", lunch, "2026-05-05T13:30:00-05:00", "2026-05-05T14:00:00-05:00"},
		{"lunch 12:59 not deferred", lunch, "2026-05-05T12:59:00-05:00", "2026-05-05T12:59:00-05:00"},
		{"lunch 14:00 not deferred", lunch, "2026-05-05T14:00:00-05:00", "2026-05-05T14:00:00-05:00"},
		{"lunch 22:00 not deferred", lunch, "2026-05-05T22:00:00-05:00", "2026-05-05T22:00:00-05:00"},
		{"Start == End: none", QuietHours{"08:00", "08:00"}, "2026-05-05T03:00:00-05:00", "2026-05-05T03:00:00-05:00"},
		{"invalid: default 21–08", QuietHours{"late", "early"}, "2026-05-05T23:00:00-05:00", "2026-05-06T08:00:00-05:00"},
		{"night before spring-forward", night, "2026-03-07T22:15:00-06:00", "2026-03-08T08:00:00-05:00"},
		{"end in the gap: shifted", QuietHours{"22:00", "02:30"}, "2026-03-08T01:00:00-06:00", "2026-03-08T03:30:00-05:00"},
		{"end repeated, first pass", QuietHours{"22:00", "01:30"}, "2026-11-01T01:10:00-05:00", "2026-11-01T01:30:00-05:00"},
		{"end repeated, second pass", QuietHours{"22:00", "01:30"}, "2026-11-01T01:10:00-06:00", "2026-11-01T01:30:00-06:00"},
		{"end repeated, past it", QuietHours{"22:00", "01:30"}, "2026-11-01T01:45:00-05:00", "2026-11-01T01:45:00-05:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.q.Defer(at(tt.t), chicago)
			if want := at(tt.want); !got.Equal(want) {
				t.Errorf("Defer(%s) = %s; want %s", tt.t, got.In(chicago).Format(time.RFC3339), tt.want)
			}
		})
	}
	if got, want := night.Defer(at("2026-05-05T23:00:00Z"), nil), at("2026-05-06T08:00:00Z"); !got.Equal(want) {
		t.Errorf("Defer with nil zone = %s; want %s (UTC)", got, want)
	}
}
