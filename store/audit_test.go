package store

import (
	"testing"
	"time"
)

func auditScenarios() []scenario {
	return []scenario{
		{"audit/kept as long as the agency's retention, newest first", testAuditRetention},
	}
}

// Entries older than the agency's retention are trimmed when the next is
// written; those within it stay, and pages run newest first.
func testAuditRetention(t *testing.T, s *Store) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)}
	s.now = clk.now
	a := &Agency{Name: "Northside", Timezone: "America/Chicago"}
	if _, err := s.CreateAgency(ctx, a); err != nil {
		t.Fatal(err)
	}
	write := func(id string) {
		t.Helper()
		if err := s.AppendAudit(ctx, a.ID, AuditRecord{Actor: Actor{Kind: "operator"}, Kind: "client", RecordID: id, Action: "created"}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() []string {
		t.Helper()
		p, err := s.Audit(ctx, a.ID, time.Time{}, time.Time{}, "", 200)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range p.Items {
			out = append(out, e.RecordID)
		}
		return out
	}
	// Many entries in 2020, so the trim can drop whole stream nodes.
	for range 300 {
		write("old")
	}
	clk.add(5 * 365 * 24 * time.Hour) // 2025: within 6 years
	write("mid")
	if got := ids(); len(got) != 200 || got[0] != "mid" {
		t.Fatalf("after 5 years: %d entries, newest %v; want 200 on the page, newest mid", len(got), got[:1])
	}
	clk.add(2 * 365 * 24 * time.Hour) // 2027: the 2020 entries are past 6 years
	write("new")
	got := ids()
	if len(got) != 2 || got[0] != "new" || got[1] != "mid" {
		t.Errorf("after 7 years = %v; want [new mid] (2020's entries trimmed)", got)
	}
	if p, _ := s.Audit(ctx, a.ID, clk.now().Add(-time.Hour), time.Time{}, "", 10); len(p.Items) != 1 {
		t.Errorf("since an hour ago = %d entries; want 1", len(p.Items))
	}
	// A longer retention keeps more.
	a.Retention = 3 * DefaultRetention
	if err := s.SaveAgency(ctx, a); err != nil {
		t.Fatal(err)
	}
	clk.add(10 * 365 * 24 * time.Hour)
	write("later")
	if got := ids(); len(got) != 3 {
		t.Errorf("with 18 years' retention, 10 years on = %v; want all three kept", got)
	}
}
