package reports

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
)

var chicago, _ = time.LoadLocation("America/Chicago")

// july is 1–31 July 2026 in Chicago.
var july = mustPeriod("2026-07-01", "2026-07-31")

func mustPeriod(from, to string) Period {
	p, err := ParsePeriod(from, to, "America/Chicago")
	if err != nil {
		panic(err)
	}
	return p
}

// at is a Chicago wall clock in July 2026: at(3, 10) is 3 July, 10:00.
func at(day, hour int) time.Time { return time.Date(2026, 7, day, hour, 0, 0, 0, chicago) }

// ev is a timeline entry: type, time, then field, value pairs.
func ev(typ string, t time.Time, kv ...string) store.Entry {
	e := store.Entry{Type: typ, At: t.UTC(), Fields: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Fields[kv[i]] = kv[i+1]
	}
	return e
}

func started(conv, qn string, t time.Time) store.Entry {
	return ev("checkin-started", t, "conv", conv, "q", qn)
}
func answer(conv string, t time.Time) store.Entry { return ev("answer", t, "conv", conv) }
func score(conv, inst string, total int, t time.Time) store.Entry {
	return ev("score", t, "conv", conv, "instrument", inst, "valid", "true", "total", fmt.Sprint(total))
}
func missed(conv string, t time.Time) store.Entry { return ev("missed", t, "conv", conv) }

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct {
		from, to, want string
	}{
		{"2026-07-01", "2026-07-31", ""},
		{"2026-07-01", "2026-07-01", ""},
		{"2025-07-01", "2026-06-30", ""}, // 365 days
		{"2024-01-01", "2024-12-31", ""}, // 366 days, a leap year
		{"", "2026-07-31", "from: required"},
		{"2026-07-01", "", "to: required"},
		{"2026-7-1", "2026-07-31", `from: "2026-7-1" is not a date`},
		{"2026-07-01", "yesterday", `to: "yesterday" is not a date`},
		{"2026-07-31", "2026-07-01", "to: before from"},
		{"2025-01-01", "2026-01-02", "to: the period is over 366 days"},
	} {
		_, err := ParsePeriod(tc.from, tc.to, "America/Chicago")
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("ParsePeriod(%q, %q) = %q; want %q", tc.from, tc.to, got, tc.want)
		}
	}
	// Local midnights: March 2026 in Chicago crosses the change to daylight time.
	p := mustPeriod("2026-03-01", "2026-03-31")
	if want := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC); !p.Start.Equal(want) {
		t.Errorf("start = %v; want %v (midnight CST)", p.Start, want)
	}
	if want := time.Date(2026, 4, 1, 5, 0, 0, 0, time.UTC); !p.End.Equal(want) {
		t.Errorf("end = %v; want %v (midnight CDT)", p.End, want)
	}
	if _, err := ParsePeriod("2026-07-01", "2026-07-02", "Mars/Olympus"); err == nil {
		t.Error("an unknown zone was taken")
	}
}

// One client's check-ins by outcome: what the supervisor sees for them.
func TestClientCounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []store.Entry
		want    string // sent answered missed interrupted open skipped rate
	}{
		{"answered", []store.Entry{started("a", "daily-mood", at(3, 10)), answer("a", at(3, 11)), score("a", "mood", 6, at(3, 11))},
			"1 1 0 0 0 0 1"},
		{"nudged then missed", []store.Entry{started("a", "daily-mood", at(3, 10)), ev("nudged", at(3, 14), "conv", "a"), missed("a", at(3, 18))},
			"1 0 1 0 0 0 0"},
		{"screen continued, then answered", []store.Entry{started("a", "phq2", at(3, 10)), answer("a", at(3, 10)), answer("a", at(3, 10)),
			score("a", "phq2", 4, at(3, 10)), answer("a", at(3, 11)), score("a", "phq9", 12, at(3, 12))}, "1 1 0 0 0 0 1"},
		{"screen continued, then missed", []store.Entry{started("a", "phq2", at(3, 10)), answer("a", at(3, 10)),
			score("a", "phq2", 4, at(3, 10)), answer("a", at(3, 11)), missed("a", at(3, 20))}, "1 0 1 0 0 0 0"},
		{"screen continued, still open", []store.Entry{started("a", "phq2", at(3, 10)), score("a", "phq2", 4, at(3, 10)), answer("a", at(3, 11))},
			"1 0 0 0 1 0 -"},
		{"interrupted by a crisis", []store.Entry{started("a", "daily-mood", at(3, 10)), ev("checkin-interrupted", at(3, 11), "conv", "a", "reason", "crisis")},
			"1 0 0 1 0 0 -"},
		{"started before the period", []store.Entry{started("a", "daily-mood", at(1, 0).Add(-time.Minute)), score("a", "mood", 5, at(1, 1))},
			"0 0 0 0 0 0 -"},
		{"started on the last evening, missed after the end", []store.Entry{started("a", "daily-mood", at(31, 22)), missed("a", at(32, 9))},
			"1 0 1 0 0 0 0"},
		{"appointment confirmations are not check-ins", []store.Entry{started("a", "appointment-confirm", at(3, 10)), score("a", "appointment", 1, at(3, 11))},
			"0 0 0 0 0 0 -"},
		{"skipped: not messageable", []store.Entry{ev("skipped", at(3, 10), "occ", "o1", "q", "daily-mood", "reason", "opted out"),
			ev("skipped", at(4, 10), "occ", "r1", "reason", "opted out")}, "0 0 0 0 0 1 -"},
		{"one conversation started twice counts once", []store.Entry{started("a", "daily-mood", at(3, 10)), started("a", "daily-mood", at(3, 10)),
			score("a", "mood", 7, at(3, 11))}, "1 1 0 0 0 0 1"},
		{"two of three", []store.Entry{started("a", "daily-mood", at(3, 10)), score("a", "mood", 7, at(3, 11)),
			started("b", "daily-mood", at(4, 10)), missed("b", at(4, 20)),
			started("c", "daily-mood", at(5, 10)), score("c", "mood", 2, at(5, 10))}, "3 2 1 0 0 0 0.667"},
	} {
		c := clientCounts(july, tc.entries)
		rate := "-"
		if c.ResponseRate != nil {
			rate = fmt.Sprint(*c.ResponseRate)
		}
		got := fmt.Sprintf("%d %d %d %d %d %d %s", c.Sent, c.Answered, c.Missed, c.Interrupted, c.Open, c.Skipped, rate)
		if got != tc.want {
			t.Errorf("%s: counts = %s; want %s", tc.name, got, tc.want)
		}
	}
}

func TestCheckinsPerClientAndCaseManager(t *testing.T) {
	r := &Records{
		Period:       july,
		CaseManagers: []*store.CaseManager{{ID: "cm_b", Name: "Bea"}, {ID: "cm_a", Name: "Ana"}, {ID: "cm_idle", Name: "Ida"}},
		Clients: []*store.Client{
			{ID: "cl_1", CaseManagerID: "cm_a"}, {ID: "cl_2", CaseManagerID: "cm_a"}, {ID: "cl_3", CaseManagerID: "cm_b"},
			{ID: "cl_quiet", CaseManagerID: "cm_idle"},
		},
		Entries: map[string][]store.Entry{
			"cl_1": {started("a", "daily-mood", at(3, 10)), score("a", "mood", 7, at(3, 11)), started("b", "daily-mood", at(4, 10)), score("b", "mood", 7, at(4, 11))},
			"cl_2": {started("a", "daily-mood", at(3, 10)), missed("a", at(3, 20)), started("b", "daily-mood", at(4, 10)), score("b", "mood", 7, at(4, 11))},
			"cl_3": {started("a", "daily-mood", at(3, 10)), missed("a", at(3, 20))},
		},
	}
	got := Checkins(r)
	raw, _ := json.Marshal(got)
	want := `{"period":{"from":"2026-07-01","to":"2026-07-31","timezone":"America/Chicago"},` +
		`"totals":{"sent":5,"answered":3,"missed":2,"interrupted":0,"open":0,"skipped":0,"response_rate":0.6},` +
		`"clients":[{"client_id":"cl_1","case_manager_id":"cm_a","sent":2,"answered":2,"missed":0,"interrupted":0,"open":0,"skipped":0,"response_rate":1},` +
		`{"client_id":"cl_2","case_manager_id":"cm_a","sent":2,"answered":1,"missed":1,"interrupted":0,"open":0,"skipped":0,"response_rate":0.5},` +
		`{"client_id":"cl_3","case_manager_id":"cm_b","sent":1,"answered":0,"missed":1,"interrupted":0,"open":0,"skipped":0,"response_rate":0}],` +
		`"case_managers":[{"case_manager_id":"cm_a","name":"Ana","clients":2,"sent":4,"answered":3,"missed":1,"interrupted":0,"open":0,"skipped":0,"response_rate":0.75},` +
		`{"case_manager_id":"cm_b","name":"Bea","clients":1,"sent":1,"answered":0,"missed":1,"interrupted":0,"open":0,"skipped":0,"response_rate":0}]}`
	if string(raw) != want {
		t.Errorf("report =\n%s\nwant\n%s", raw, want)
	}
}

func TestPercentiles(t *testing.T) {
	secs := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, s := range n {
			out = append(out, time.Duration(s)*time.Second)
		}
		return out
	}
	seq := func(n int) []time.Duration {
		var out []time.Duration
		for i := n; i >= 1; i-- { // unsorted on purpose
			out = append(out, time.Duration(i)*time.Minute)
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		want string
	}{
		{nil, "- -"},
		{secs(42), "42 42"},
		{secs(30, 10), "20 30"},
		{seq(10), "330 540"},                           // median (5+6)/2 min, p90 the 9th of 10
		{seq(20), "630 1080"},                          // median (10+11)/2 min, p90 the 18th
		{seq(11), "360 600"},                           // median the 6th, p90 the 10th (⌈9.9⌉)
		{secs(1, 1, 1, 1, 1, 1, 1, 1, 1, 3600), "1 1"}, // one slow answer does not reach p90 of ten
	} {
		m, p := percentiles(tc.in)
		got := "- -"
		if m != nil {
			got = fmt.Sprint(*m, " ", *p)
		}
		if got != tc.want {
			t.Errorf("percentiles(%v) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

// esc is an escalation of a client opened at open, at a step of a
// two-step policy, acknowledged and resolved after the given waits (0: not).
func esc(id, client, level string, open time.Time, step int, ack, resolve time.Duration) *store.Escalation {
	e := &store.Escalation{ID: id, ClientID: client, Level: level, Opened: open.UTC(), Step: step,
		Policy: store.Policy{Steps: []store.PolicyStep{{Notify: "assigned"}, {Notify: "backup"}}, Repeat: 2}}
	if ack > 0 {
		t := open.Add(ack).UTC()
		e.AckedAt, e.Status = &t, store.EscAcknowledged
	}
	if resolve > 0 {
		t := open.Add(resolve).UTC()
		e.ResolvedAt, e.Status = &t, store.EscResolved
	}
	return e
}

func TestEscalations(t *testing.T) {
	r := &Records{
		Period:       july,
		CaseManagers: []*store.CaseManager{{ID: "cm_a", Name: "Ana"}, {ID: "cm_b", Name: "Bea"}},
		Clients:      []*store.Client{{ID: "cl_1", CaseManagerID: "cm_a"}, {ID: "cl_2", CaseManagerID: "cm_b"}},
		Escalations: []*store.Escalation{
			esc("e1", "cl_1", "crisis", at(2, 10), 0, 4*time.Minute, 0),               // step 1, 4 min
			esc("e2", "cl_1", "crisis", at(5, 3), 1, 25*time.Minute, time.Hour),       // climbed to the backup, 25 min
			esc("e3", "cl_1", "concern", at(6, 20), 0, 0, 13*time.Hour),               // resolved without ack, 13 h
			esc("e4", "cl_2", "crisis", at(9, 1), 2, 0, 0),                            // policy ran out: at the last step, nobody
			esc("e5", "cl_2", "crisis", at(10, 12), 1, 8*time.Minute, 2*time.Minute),  // resolved before the ack: 2 min
			esc("old", "cl_2", "crisis", at(1, 0).Add(-time.Hour), 0, time.Minute, 0), // June: not in July
		},
	}
	got := Escalations(r)
	line := func(s EscalationStats) string {
		f := func(p *int64) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprint(*p)
		}
		return fmt.Sprintf("opened %d crisis %d concern %d acked %d unacked %d median %s p90 %s",
			s.Opened, s.Crisis, s.Concern, s.Acknowledged, s.Unacknowledged, f(s.MedianAckSeconds), f(s.P90AckSeconds))
	}
	if g, w := line(got.Totals), "opened 5 crisis 4 concern 1 acked 4 unacked 1 median 870 p90 46800"; g != w {
		t.Errorf("totals: %s; want %s", g, w)
	}
	var cms []string
	for _, cm := range got.CaseManagers {
		cms = append(cms, cm.Name+": "+line(cm.EscalationStats))
	}
	if g, w := strings.Join(cms, "\n"), "Ana: opened 3 crisis 2 concern 1 acked 3 unacked 0 median 1500 p90 46800\n"+
		"Bea: opened 2 crisis 2 concern 0 acked 1 unacked 1 median 120 p90 120"; g != w {
		t.Errorf("per case manager:\n%s\nwant\n%s", g, w)
	}
	var steps []string
	for _, s := range got.Steps {
		steps = append(steps, fmt.Sprintf("step %d: %s", s.Step, line(s.EscalationStats)))
	}
	if g, w := strings.Join(steps, "\n"), "step 1: opened 2 crisis 1 concern 1 acked 2 unacked 0 median 23520 p90 46800\n"+
		"step 2: opened 3 crisis 3 concern 0 acked 2 unacked 1 median 810 p90 1500"; g != w {
		t.Errorf("per step:\n%s\nwant\n%s", g, w)
	}
}

func TestWorsening(t *testing.T) {
	phq := func(total int, day int, extra ...string) store.Entry {
		e := score("c", "phq9", total, at(day, 10))
		for i := 0; i+1 < len(extra); i += 2 {
			e.Fields[extra[i]] = extra[i+1]
		}
		return e
	}
	gad := func(total, day int) store.Entry { return score("c", "gad7", total, at(day, 10)) }
	for _, tc := range []struct {
		name    string
		entries []store.Entry
		want    string // "" none; else instrument first→last change bandUp
	}{
		{"up 5 and a band", []store.Entry{phq(6, 2), phq(11, 20)}, "phq9 6(mild)→11(moderate) +5 band up"},
		{"up 3 into a higher band", []store.Entry{phq(8, 2), phq(11, 20)}, "phq9 8(mild)→11(moderate) +3 band up"},
		{"up 5 within severe", []store.Entry{phq(20, 2), phq(25, 20)}, "phq9 20(severe)→25(severe) +5"},
		{"up 4 within a band", []store.Entry{phq(10, 2), phq(14, 20)}, ""},
		{"first and last, not the peak", []store.Entry{phq(10, 2), phq(22, 10), phq(12, 20)}, ""},
		{"better", []store.Entry{phq(18, 2), phq(7, 20)}, ""},
		{"one score", []store.Entry{phq(18, 2)}, ""},
		{"invalid scores are not read", []store.Entry{phq(2, 2), phq(20, 10, "valid", "false"), phq(3, 20)}, ""},
		{"scores outside the period", []store.Entry{score("c", "phq9", 2, at(1, 0).Add(-time.Hour)), phq(4, 20), score("c", "phq9", 20, at(32, 10))}, ""},
		{"GAD-7 on its own", []store.Entry{gad(4, 2), phq(12, 3), gad(5, 20), phq(12, 21)}, "gad7 4(minimal)→5(mild) +1 band up"},
		{"band recorded is read", []store.Entry{phq(9, 2, "band", "mild"), phq(9, 20, "band", "moderate")}, "phq9 9(mild)→9(moderate) +0 band up"},
	} {
		r := &Records{Period: july, Clients: []*store.Client{{ID: "cl_1", CaseManagerID: "cm_a"}}, Entries: map[string][]store.Entry{"cl_1": tc.entries}}
		var got []string
		for _, w := range Worsening(r).Clients {
			s := fmt.Sprintf("%s %d(%s)→%d(%s) %+d", w.Instrument, w.First.Total, w.First.Band, w.Last.Total, w.Last.Band, w.Change)
			if w.BandUp {
				s += " band up"
			}
			got = append(got, s)
		}
		if g := strings.Join(got, "; "); g != tc.want {
			t.Errorf("%s: worsened = %q; want %q", tc.name, g, tc.want)
		}
	}
}
