package agencyfile

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The example file parses and passes every check.
func TestExampleFileChecks(t *testing.T) {
	src, err := os.ReadFile("../examples/agency.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(src)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	w, err := f.Check()
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(w.staff) != 2 || len(w.templates) != 2 || len(w.questionnair) != 1 || w.policy == nil {
		t.Errorf("checked: %d staff, %d templates, %d questionnaires, policy %v", len(w.staff), len(w.templates), len(w.questionnair), w.policy)
	}
}

// Each problem is named by its line, and every problem of the file is told
// at once.
func TestProblemsNameTheirLine(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown field", "settings:\n  quiet_start: \"21:00\"\n  quiet_hours: 3\n", []string{"line 3: unknown field quiet_hours"}},
		{"wrong type", "settings:\n  missed_in_a_row: two\n", []string{"line 2: the text `two`: not a value this field takes"}},
		{"key twice", "settings:\n  name: A\n  name: B\n", []string{"line 3:"}},
		{"two documents", "settings: {}\n---\nstaff: []\n", []string{"one YAML document only"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1: the file must be a mapping"}},
		{"every value", "staff:\n  - email: not-an-email\n  - email: b@x.org\n    phone: \"+1 312 CALL\"\nschedule_templates:\n  - {name: w, questionnaire: phq9, rrule: \"FREQ=DAILY;DTSTART=20260101\"}\n",
			[]string{"line 2: staff[0]: email: not an email address", "line 4: staff[1]: phone: letters are not allowed", "line 6: schedule_templates[0]: rrule:"}},
		{"questionnaire shape", "questionnaires:\n  - id: x\n    name: X\n    colour: red\n", []string{"line 2: questionnaires[0]: unknown field \"colour\""}},
		{"builtin id", "questionnaires:\n  - id: phq9\n    name: X\n", []string{"line 2: questionnaires[0]: id: a built-in questionnaire has this id"}},
		{"staff twice", "staff:\n  - {email: a@x.org, name: A}\n  - {email: A@x.org, name: B}\n", []string{"line 3: staff[1]: email: given twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.src))
			if err == nil {
				_, err = f.Check()
			}
			if err == nil {
				t.Fatal("no problem found")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems:\n%v\nlack %q", err, w)
				}
			}
		})
	}
}

// FuzzParse: any bytes give a file or problems, never a panic; a problem's
// line is within the file.
func FuzzParse(f *testing.F) {
	if src, err := os.ReadFile("../examples/agency.yaml"); err == nil {
		f.Add(src)
	}
	f.Add([]byte("staff:\n  - email: a@x.org\n    backup: a@x.org\n"))
	f.Add([]byte("settings: {reply_window: 1h, missed_in_a_row: 99}\n"))
	f.Add([]byte("escalation_policy:\n  steps: [{notify: '', wait: 1s}]\n  repeat: -1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse(src)
		if err == nil {
			_, err = file.Check()
		}
		lines := bytes.Count(src, []byte("\n")) + bytes.Count(src, []byte("\r")) + 2
		if bad, ok := err.(Invalid); ok {
			for _, p := range bad {
				if p.Line < 0 || p.Line > lines {
					t.Fatalf("problem %q at line %d of a %d-line file", p.Msg, p.Line, lines)
				}
			}
		}
	})
}
