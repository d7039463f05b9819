package schedule

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// occ is an expected occurrence: its UTC instant and the wall clock it was scheduled for.
type occ struct{ at, local string }

func checkUpcoming(t *testing.T, r *Rule, after string, want []occ) {
	t.Helper()
	got := r.Upcoming(mustTime(t, after), len(want)+1)
	if len(got) < len(want) {
		t.Errorf("Upcoming(%s) gave %d occurrences; want at least %d: %v", after, len(got), len(want), got)
	}
	for i, w := range want {
		if i >= len(got) {
			break
		}
		if g := got[i].At.Format(time.RFC3339); g != w.at {
			t.Errorf("occurrence %d At = %s (%s local); want %s", i, g, got[i].At.In(r.Zone).Format("15:04 MST"), w.at)
		}
		if got[i].Local != w.local {
			t.Errorf("occurrence %d Local = %q; want %q", i, got[i].Local, w.local)
		}
	}
}

func TestDST(t *testing.T) {
	tests := []struct {
		name  string
		rule  string
		start string
		zone  string
		after string
		want  []occ
	}{
		{
			// 02:30 does not exist on 2026-03-08: fire once at 03:30 CDT, then back to 02:30.
			// (rrule-go alone, through time.Date, says 01:30 CST.)
			name: "Chicago spring-forward gap", rule: "FREQ=DAILY", zone: "America/Chicago",
			start: "2026-03-06T02:30:00-06:00", after: "2026-03-07T00:00:00Z",
			want: []occ{
				{"2026-03-07T08:30:00Z", "2026-03-07T02:30"}, // 02:30 CST
				{"2026-03-08T08:30:00Z", "2026-03-08T02:30"}, // 03:30 CDT
				{"2026-03-09T07:30:00Z", "2026-03-09T02:30"}, // 02:30 CDT
			},
		},
		{
			name: "Madrid spring-forward gap", rule: "FREQ=DAILY", zone: "Europe/Madrid",
			start: "2026-03-27T02:30:00+01:00", after: "2026-03-28T00:00:00Z",
			want: []occ{
				{"2026-03-28T01:30:00Z", "2026-03-28T02:30"}, // 02:30 CET
				{"2026-03-29T01:30:00Z", "2026-03-29T02:30"}, // 03:30 CEST
				{"2026-03-30T00:30:00Z", "2026-03-30T02:30"}, // 02:30 CEST
			},
		},
		{
			// 01:30 happens twice on 2026-11-01: fire once, at the first (CDT).
			name: "Chicago fall-back repeat", rule: "FREQ=DAILY", zone: "America/Chicago",
			start: "2026-10-30T01:30:00-05:00", after: "2026-10-31T00:00:00Z",
			want: []occ{
				{"2026-10-31T06:30:00Z", "2026-10-31T01:30"}, // 01:30 CDT
				{"2026-11-01T06:30:00Z", "2026-11-01T01:30"}, // 01:30 CDT, not 01:30 CST
				{"2026-11-02T07:30:00Z", "2026-11-02T01:30"}, // 01:30 CST
			},
		},
		{
			// (rrule-go alone says the second, CET, instance.)
			name: "Madrid fall-back repeat", rule: "FREQ=DAILY", zone: "Europe/Madrid",
			start: "2026-10-23T02:30:00+02:00", after: "2026-10-24T00:00:00Z",
			want: []occ{
				{"2026-10-24T00:30:00Z", "2026-10-24T02:30"}, // 02:30 CEST
				{"2026-10-25T00:30:00Z", "2026-10-25T02:30"}, // 02:30 CEST, not CET
				{"2026-10-26T01:30:00Z", "2026-10-26T02:30"}, // 02:30 CET
			},
		},
		{
			// Hourly across the gap: 02:30 is shifted onto the real 03:30, which is kept (once).
			name: "Chicago hourly across the gap", rule: "FREQ=HOURLY", zone: "America/Chicago",
			start: "2026-03-08T00:30:00-06:00", after: "2026-03-08T06:00:00Z",
			want: []occ{
				{"2026-03-08T06:30:00Z", "2026-03-08T00:30"},
				{"2026-03-08T07:30:00Z", "2026-03-08T01:30"},
				{"2026-03-08T08:30:00Z", "2026-03-08T03:30"},
				{"2026-03-08T09:30:00Z", "2026-03-08T04:30"},
			},
		},
		{
			// Hourly across the repeat: the second 01:30 is skipped, so 2 h pass once.
			name: "Chicago hourly across the repeat", rule: "FREQ=HOURLY", zone: "America/Chicago",
			start: "2026-11-01T00:30:00-05:00", after: "2026-11-01T05:00:00Z",
			want: []occ{
				{"2026-11-01T05:30:00Z", "2026-11-01T00:30"},
				{"2026-11-01T06:30:00Z", "2026-11-01T01:30"},
				{"2026-11-01T08:30:00Z", "2026-11-01T02:30"},
			},
		},
		{
			// Lord Howe moves 30 minutes (02:00 → 02:30 on 2026-10-04): 02:15 is
			// shifted to 02:45, which leaves 03:15 only 30 minutes later, so 03:15 is
			// dropped that day to keep check-ins an hour apart.
			name: "Lord Howe half-hour gap", rule: "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=15", zone: "Australia/Lord_Howe",
			start: "2026-10-01T02:15:00+10:30", after: "2026-10-02T12:00:00Z",
			want: []occ{
				{"2026-10-02T15:45:00Z", "2026-10-03T02:15"},
				{"2026-10-02T16:45:00Z", "2026-10-03T03:15"},
				{"2026-10-03T15:45:00Z", "2026-10-04T02:15"}, // 02:45 LHDT
				{"2026-10-04T15:15:00Z", "2026-10-05T02:15"},
				{"2026-10-04T16:15:00Z", "2026-10-05T03:15"},
			},
		},
		{
			// A start inside the repeated hour, at its second instance: that instance is the first occurrence.
			name: "start at the second 01:30", rule: "FREQ=DAILY", zone: "America/Chicago",
			start: "2026-11-01T01:30:00-06:00", after: "2026-11-01T00:00:00Z",
			want: []occ{
				{"2026-11-01T07:30:00Z", "2026-11-01T01:30"},
				{"2026-11-02T07:30:00Z", "2026-11-02T01:30"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, tt.rule, tt.start, tt.zone)
			checkUpcoming(t, r, tt.after, tt.want)
		})
	}
}

// Exactly one occurrence on each DST day, whatever `after` is.
func TestDSTDayFiresOnce(t *testing.T) {
	tests := []struct{ zone, start, day string }{
		{"America/Chicago", "2026-03-01T02:30:00-06:00", "2026-03-08"},
		{"Europe/Madrid", "2026-03-20T02:30:00+01:00", "2026-03-29"},
		{"America/Chicago", "2026-10-20T01:30:00-05:00", "2026-11-01"},
		{"Europe/Madrid", "2026-10-20T02:30:00+02:00", "2026-10-25"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.day, func(t *testing.T) {
			r := mustParse(t, "FREQ=DAILY", tt.start, tt.zone)
			ids := map[string]time.Time{}
			// Ask from every quarter hour of a 3-day window: the set seen must not change.
			from := mustTime(t, tt.day+"T00:00:00Z").Add(-36 * time.Hour)
			for a := from; a.Before(from.Add(72 * time.Hour)); a = a.Add(15 * time.Minute) {
				o, ok := r.Next(a)
				if !ok {
					t.Fatalf("Next(%s) = none", a)
				}
				if prev, seen := ids[o.ID]; seen && !prev.Equal(o.At) {
					t.Errorf("ID %s at %s and at %s", o.ID, prev, o.At)
				}
				ids[o.ID] = o.At
			}
			n := 0
			for id := range ids {
				if id[:10] == tt.day {
					n++
				}
			}
			if n != 1 {
				t.Errorf("occurrences on %s = %d; want 1 (%v)", tt.day, n, ids)
			}
		})
	}
}

func TestDailyKeepsLocalClock(t *testing.T) {
	for _, zone := range []string{"America/Chicago", "Europe/Madrid", "Australia/Sydney", "America/Santiago"} {
		t.Run(zone, func(t *testing.T) {
			loc, _ := time.LoadLocation(zone)
			start := time.Date(2026, 1, 1, 10, 0, 0, 0, loc)
			r, err := Parse("FREQ=DAILY", start, nil, zone)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Upcoming(start.Add(-time.Minute), 365)
			if len(got) != 365 {
				t.Fatalf("occurrences in 2026 = %d; want 365", len(got))
			}
			offsets := map[int]bool{}
			for i, o := range got {
				l := o.At.In(loc)
				if l.Hour() != 10 || l.Minute() != 0 || l.YearDay() != i+1 {
					t.Errorf("occurrence %d = %s local; want 10:00 on day %d", i, l, i+1)
				}
				_, off := l.Zone()
				offsets[off] = true
			}
			if len(offsets) != 2 {
				t.Errorf("UTC offsets seen = %v; want 2 (standard and summer time)", offsets)
			}
		})
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name         string
		rule         string
		start, after string
		until        string // optional until field
		want         []occ  // all occurrences after `after` (checked to be all when end is set)
		end          bool
	}{
		{
			name: "weekly MO,WE,FR", rule: "FREQ=WEEKLY;BYDAY=MO,WE,FR",
			start: "2026-03-02T09:00:00-06:00", after: "2026-03-01T00:00:00Z",
			want: []occ{
				{"2026-03-02T15:00:00Z", "2026-03-02T09:00"},
				{"2026-03-04T15:00:00Z", "2026-03-04T09:00"},
				{"2026-03-06T15:00:00Z", "2026-03-06T09:00"},
				{"2026-03-09T14:00:00Z", "2026-03-09T09:00"}, // CDT now
				{"2026-03-11T14:00:00Z", "2026-03-11T09:00"},
			},
		},
		{
			name: "BYHOUR/BYMINUTE", rule: "FREQ=DAILY;BYHOUR=10;BYMINUTE=0",
			start: "2026-03-01T00:00:00-06:00", after: "2026-02-01T00:00:00Z",
			want: []occ{
				{"2026-03-01T16:00:00Z", "2026-03-01T10:00"},
				{"2026-03-02T16:00:00Z", "2026-03-02T10:00"},
			},
		},
		{
			name: "twice a day", rule: "FREQ=DAILY;BYHOUR=9,18;BYMINUTE=0",
			start: "2026-03-01T12:00:00-06:00", after: "2026-03-01T00:00:00Z",
			want: []occ{
				{"2026-03-02T00:00:00Z", "2026-03-01T18:00"},
				{"2026-03-02T15:00:00Z", "2026-03-02T09:00"},
				{"2026-03-03T00:00:00Z", "2026-03-02T18:00"},
			},
		},
		{
			name: "UNTIL in the rule, inclusive", rule: "FREQ=DAILY;UNTIL=20260303T160000Z",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-01T00:00:00Z", end: true,
			want: []occ{
				{"2026-03-01T16:00:00Z", "2026-03-01T10:00"},
				{"2026-03-02T16:00:00Z", "2026-03-02T10:00"},
				{"2026-03-03T16:00:00Z", "2026-03-03T10:00"},
			},
		},
		{
			name: "floating UNTIL read in the zone", rule: "FREQ=DAILY;UNTIL=20260302T100000",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-01T00:00:00Z", end: true,
			want: []occ{
				{"2026-03-01T16:00:00Z", "2026-03-01T10:00"},
				{"2026-03-02T16:00:00Z", "2026-03-02T10:00"},
			},
		},
		{
			name: "date UNTIL includes the day", rule: "FREQ=DAILY;BYHOUR=23;BYMINUTE=0;UNTIL=20260302",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-01T00:00:00Z", end: true,
			want: []occ{
				{"2026-03-02T05:00:00Z", "2026-03-01T23:00"},
				{"2026-03-03T05:00:00Z", "2026-03-02T23:00"},
			},
		},
		{
			name: "until field", rule: "FREQ=DAILY", until: "2026-03-02T16:00:00Z",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-01T00:00:00Z", end: true,
			want: []occ{
				{"2026-03-01T16:00:00Z", "2026-03-01T10:00"},
				{"2026-03-02T16:00:00Z", "2026-03-02T10:00"},
			},
		},
		{
			name: "COUNT", rule: "FREQ=DAILY;COUNT=3",
			start: "2026-03-01T10:00:00-06:00", after: "2026-01-01T00:00:00Z", end: true,
			want: []occ{
				{"2026-03-01T16:00:00Z", "2026-03-01T10:00"},
				{"2026-03-02T16:00:00Z", "2026-03-02T10:00"},
				{"2026-03-03T16:00:00Z", "2026-03-03T10:00"},
			},
		},
		{
			name: "COUNT, after in the middle", rule: "FREQ=WEEKLY;BYDAY=TU;COUNT=3",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-03T16:00:00Z", end: true,
			want: []occ{
				{"2026-03-10T15:00:00Z", "2026-03-10T10:00"},
				{"2026-03-17T15:00:00Z", "2026-03-17T10:00"},
			},
		},
		{
			name: "start in the future", rule: "FREQ=DAILY",
			start: "2027-01-15T10:00:00-06:00", after: "2026-03-01T00:00:00Z",
			want: []occ{{"2027-01-15T16:00:00Z", "2027-01-15T10:00"}},
		},
		{
			name: "after exactly on an occurrence is strict", rule: "FREQ=DAILY",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-02T16:00:00Z",
			want: []occ{{"2026-03-03T16:00:00Z", "2026-03-03T10:00"}},
		},
		{
			name: "after a nanosecond before an occurrence", rule: "FREQ=DAILY",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-02T15:59:59.999999999Z",
			want: []occ{{"2026-03-02T16:00:00Z", "2026-03-02T10:00"}},
		},
		{
			name: "after years into the series", rule: "FREQ=DAILY;INTERVAL=3",
			start: "2026-03-01T10:00:00-06:00", after: "2031-07-04T00:00:00Z",
			want: []occ{
				{"2031-07-06T15:00:00Z", "2031-07-06T10:00"}, // 2026-03-01 + 1953 days, 3 × 651
				{"2031-07-09T15:00:00Z", "2031-07-09T10:00"},
			},
		},
		{
			name: "every other week", rule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
			start: "2026-03-04T10:00:00-06:00", after: "2026-03-01T00:00:00Z", // a Wednesday
			want: []occ{
				{"2026-03-16T15:00:00Z", "2026-03-16T10:00"},
				{"2026-03-30T15:00:00Z", "2026-03-30T10:00"},
			},
		},
		{
			name: "last Friday of the month", rule: "FREQ=MONTHLY;BYDAY=-1FR",
			start: "2026-03-01T10:00:00-06:00", after: "2026-03-01T00:00:00Z",
			want: []occ{
				{"2026-03-27T15:00:00Z", "2026-03-27T10:00"},
				{"2026-04-24T15:00:00Z", "2026-04-24T10:00"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var until *time.Time
			if tt.until != "" {
				u := mustTime(t, tt.until)
				until = &u
			}
			r, err := Parse(tt.rule, mustTime(t, tt.start), until, "America/Chicago")
			if err != nil {
				t.Fatal(err)
			}
			checkUpcoming(t, r, tt.after, tt.want)
			if tt.end {
				if got := r.Upcoming(mustTime(t, tt.after), 100); len(got) != len(tt.want) {
					t.Errorf("Upcoming = %d occurrences; want %d (then the end)", len(got), len(tt.want))
				}
				last := mustTime(t, tt.want[len(tt.want)-1].at)
				if o, ok := r.Next(last); ok {
					t.Errorf("Next(last) = %v; want none", o)
				}
			}
		})
	}
}

func TestNextAgreesWithUpcoming(t *testing.T) {
	r := mustParse(t, "FREQ=HOURLY;INTERVAL=5;BYMINUTE=20", "2026-03-06T00:20:00-06:00", "America/Chicago")
	after := mustTime(t, "2026-03-06T00:00:00Z")
	list := r.Upcoming(after, 200)
	if len(list) != 200 {
		t.Fatalf("Upcoming = %d; want 200", len(list))
	}
	prev := after
	for i, o := range list {
		if !o.At.After(prev) {
			t.Errorf("occurrence %d at %s not after %s", i, o.At, prev)
		}
		n, ok := r.Next(prev)
		if !ok || n != o {
			t.Errorf("Next(%s) = %+v; want %+v", prev, n, o)
		}
		prev = o.At
	}
}

func TestOccurrenceID(t *testing.T) {
	r := mustParse(t, "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "2026-03-01T00:00:00-06:00", "America/Chicago")
	o, _ := r.Next(mustTime(t, "2026-03-08T00:00:00Z"))
	if got, want := OccurrenceID("s1", o), "s1:2026-03-08:1000"; got != want {
		t.Errorf("OccurrenceID = %q; want %q", got, want)
	}

	// Stable: another parse, another `after`, same instant → same id.
	r2 := mustParse(t, "RRULE:FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "2026-03-01T00:00:00-06:00", "America/Chicago")
	o2, _ := r2.Next(o.At.Add(-20 * time.Hour))
	if o2 != o {
		t.Errorf("second parse: %+v; want %+v", o2, o)
	}

	// Unique across two years of an hourly rule, DST days included.
	h := mustParse(t, "FREQ=HOURLY;INTERVAL=3", "2026-01-01T00:00:00-06:00", "America/Chicago")
	seen := map[string]bool{}
	after := mustTime(t, "2026-01-01T00:00:00Z")
	for range 6 {
		list := h.Upcoming(after, MaxUpcoming)
		for _, o := range list {
			if seen[o.ID] {
				t.Errorf("duplicate ID %s", o.ID)
			}
			seen[o.ID] = true
		}
		after = list[len(list)-1].At
	}
	if len(seen) != 6*MaxUpcoming {
		t.Errorf("ids = %d; want %d", len(seen), 6*MaxUpcoming)
	}
}

// Fast-forwarding to a later period must not change any answer.
func TestFastForwardMatchesFullExpansion(t *testing.T) {
	rules := []string{
		"FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=DAILY;BYDAY=MO,TH;BYHOUR=8,20",
		"FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU", "FREQ=WEEKLY;INTERVAL=3;BYDAY=SA;WKST=TH",
		"FREQ=MONTHLY", "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR", "FREQ=MONTHLY;BYMONTHDAY=31",
		"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1",
		"FREQ=YEARLY", "FREQ=YEARLY;INTERVAL=2;BYMONTH=3,10;BYDAY=1SU", "FREQ=YEARLY;BYWEEKNO=1,52;BYDAY=MO",
		"FREQ=YEARLY;BYYEARDAY=1,100,-1",
		"FREQ=HOURLY", "FREQ=HOURLY;INTERVAL=7", "FREQ=HOURLY;INTERVAL=5;BYDAY=WE;BYHOUR=1,6,11,16,21",
		"FREQ=HOURLY;INTERVAL=2;BYMONTHDAY=1,15", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29",
	}
	starts := []string{"2025-01-31T23:30:00-06:00", "2026-03-08T01:45:00-06:00", "2024-02-29T12:00:00+01:00"}
	zones := []string{"America/Chicago", "Europe/Madrid", "Australia/Lord_Howe"}
	for _, rule := range rules {
		for i, s := range starts {
			zone := zones[i]
			r := mustParse(t, rule, s, zone)
			for _, days := range []int{-3, 0, 1, 10, 45, 400, 1000, 1500} {
				after := r.Start.AddDate(0, 0, days).Add(time.Duration(days) * 37 * time.Minute)
				ff, full := r.scan(after, 40, true), r.scan(after, 40, false)
				if fmt.Sprint(ff) != fmt.Sprint(full) {
					t.Errorf("%s from %s in %s, after %s:\nfast-forward %v\nfull         %v", rule, s, zone, after, ff, full)
				}
			}
		}
	}
}

// A Rule is shared by the scheduler's workers: run with -race.
func TestRuleConcurrentUse(t *testing.T) {
	r := mustParse(t, "FREQ=WEEKLY;BYDAY=MO,WE,FR", "2026-01-05T09:00:00-06:00", "America/Chicago")
	want := fmt.Sprint(r.Upcoming(mustTime(t, "2026-06-01T00:00:00Z"), 50))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := fmt.Sprint(r.Upcoming(mustTime(t, "2026-06-01T00:00:00Z"), 50)); got != want {
				t.Errorf("concurrent Upcoming differs")
			}
		})
	}
	wg.Wait()
}

func TestZeroRule(t *testing.T) {
	var r *Rule
	if _, ok := r.Next(time.Now()); ok {
		t.Error("nil Rule: Next ok; want none")
	}
	if _, ok := (&Rule{}).Next(time.Now()); ok {
		t.Error("zero Rule: Next ok; want none")
	}
}
