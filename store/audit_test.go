package store

import (
	"strings"
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

// Changes, the audit's rule of what a change shows: settings old → new;
// names, phone numbers and message texts only as "changed"; phrases as
// counts; bookkeeping fields never; a creation lists only what is set.
func TestChanges(t *testing.T) {
	show := func(cs []Change) string {
		var out []string
		for _, c := range cs {
			if c.Note != "" {
				out = append(out, c.Field+": "+c.Note)
				continue
			}
			o, n := "", ""
			if c.Old != nil {
				o = *c.Old
			}
			if c.New != nil {
				n = *c.New
			}
			out = append(out, c.Field+": "+o+" → "+n)
		}
		return strings.Join(out, "; ")
	}
	cm := &CaseManager{ID: "cm_1", AgencyID: "ag_1", Name: "Ana", Phone: "+13125550101", Active: true}
	moved := *cm
	moved.Phone, moved.Name, moved.BackupID = "+13125550102", "Ana A.", "cm_2"
	cases := []struct {
		name, kind string
		old, new   any
		want       string
	}{
		{"case manager edited", "case_manager", cm, &moved, "backup_id:  → cm_2; name: name changed; phone: phone changed"},
		{"case manager created", "case_manager", nil, cm, "active:  → true; name: name changed; phone: phone changed; working_hours:  → {\"start\":\"\",\"end\":\"\",\"days\":null,\"timezone\":\"\"}"},
		{"settings", "agency", &Agency{QuietStart: "21:00", Phrases: []Phrase{{Text: "x"}}}, &Agency{QuietStart: "22:00", SafetyMessage: map[string]string{"en": "call 988"}},
			"phrases: 1 → 0; quiet_start: 21:00 → 22:00; safety_message: safety_message changed"},
		{"safety message", "safety_message", map[string]string{"en": "a"}, map[string]string{"en": "b", "es": "c"}, "en: en changed; es: es changed"},
		{"nothing changed", "client", cm, cm, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := show(Changes(tc.kind, tc.old, tc.new))
			if got != tc.want {
				t.Errorf("Changes = %q; want %q", got, tc.want)
			}
			if strings.Contains(got, "+1312") || strings.Contains(got, "988") || strings.Contains(got, "Ana") {
				t.Errorf("Changes shows a phone, a text or a name: %q", got)
			}
		})
	}
}
