package schedule

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary rules and zones to Parse: it must never panic, and
// every rule it accepts must keep the promises the scheduler relies on.
func FuzzParse(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzParse.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rule, zone string, startMin, afterMin int64) {
		// Start within 40 years of 2026, `after` within ±3 years of start.
		start := base.Add(time.Duration(startMin%(40*366*24*60)) * time.Minute)
		after := start.Add(time.Duration(afterMin%(3*366*24*60))*time.Minute + time.Duration(afterMin%997)*time.Second)

		r, err := Parse(rule, start, nil, zone)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error %T %v; want *FieldError", err, err)
			}
			return
		}
		list := r.Upcoming(after, 8)
		o, ok := r.Next(after)
		if ok != (len(list) > 0) || ok && o != list[0] {
			t.Fatalf("Next(%s) = %+v, %v; Upcoming[0] = %v", after, o, ok, list)
		}
		prev := after
		ids := map[string]bool{}
		for i, o := range list {
			if !o.At.After(prev) {
				t.Fatalf("%q in %s: occurrence %d at %s, not after %s", rule, zone, i, o.At, prev)
			}
			if i > 0 && o.At.Sub(prev) < MinSpacing {
				t.Fatalf("%q in %s: occurrences %s and %s less than 1 h apart", rule, zone, prev, o.At)
			}
			if o.At.Before(r.Start) {
				t.Fatalf("%q: occurrence %s before start %s", rule, o.At, r.Start)
			}
			if ids[o.ID] {
				t.Fatalf("%q: duplicate id %s", rule, o.ID)
			}
			ids[o.ID] = true
			w, err := time.Parse("2006-01-02T15:04", o.Local) // floating, as scheduled
			if err != nil || o.ID != w.Format("2006-01-02:1504") {
				t.Fatalf("Local %q and ID %q disagree", o.Local, o.ID)
			}
			// The clock at At is the scheduled one, or later by a gap (a whole day in Apia, 2011).
			if d := floating(o.At.In(r.Zone)).Sub(w); d < 0 || d > 24*time.Hour {
				t.Fatalf("%q in %s: At %s reads %v after its wall clock %s", rule, zone, o.At, d, o.Local)
			}
			prev = o.At
		}
		if full := r.scan(after, 8, false); len(full) != len(list) || len(list) > 0 && full[len(full)-1] != list[len(list)-1] {
			t.Fatalf("%q in %s after %s: fast-forward %v; full %v", rule, zone, after, list, full)
		}
		r2, err := Parse(r.RRule, r.Start, r.Until, r.Zone.String())
		if err != nil {
			t.Fatalf("Parse(own RRule %q): %v", r.RRule, err)
		}
		if o2, ok2 := r2.Next(after); ok2 != ok || o2 != o {
			t.Fatalf("reparsed %q: Next = %+v; want %+v", r.RRule, o2, o)
		}
	})
}

func BenchmarkNext(b *testing.B) {
	start := mustTime(b, "2024-01-01T10:00:00-06:00")
	after := mustTime(b, "2026-06-15T12:00:00Z")
	for _, bc := range []struct{ name, rule string }{
		{"daily", "FREQ=DAILY"},
		{"weekly-MO-WE-FR", "FREQ=WEEKLY;BYDAY=MO,WE,FR"},
		{"daily-COUNT", "FREQ=DAILY;COUNT=5000"}, // expanded from start: 2.5 years in
	} {
		r, err := Parse(bc.rule, start, nil, "America/Chicago")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := r.Next(after); !ok {
					b.Fatal("no occurrence")
				}
			}
		})
	}
}
