package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestTriage(t *testing.T) {
	d := mustNew(t)
	long := strings.Repeat("ok fine ", 20000) + "i want to die" // > 64 KiB on one line
	in := strings.Join([]string{
		"feeling ok today",
		"i want to kill myself",
		"",
		"stopped my meds\r",
		long,
		"me quiero morir",
	}, "\n") // no final newline: the last line still counts
	var out bytes.Buffer
	if err := d.Triage(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"none", "crisis", "none", "concern", "crisis", "crisis"}
	if len(lines) != len(want) {
		t.Fatalf("Triage wrote %d lines; want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		var r struct {
			Level   string            `json:"level"`
			Signals []json.RawMessage `json:"signals"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		if r.Level != want[i] {
			t.Errorf("line %d level = %s; want %s", i+1, r.Level, want[i])
		}
		if r.Signals == nil {
			t.Errorf("line %d signals = null; want a list", i+1)
		}
	}
	if !strings.Contains(lines[2], `"signals":[]`) {
		t.Errorf("empty line = %s; want signals []", lines[2])
	}
}

func TestTriageEmptyInput(t *testing.T) {
	d := mustNew(t)
	for _, in := range []string{"", "\n"} {
		var out bytes.Buffer
		if err := d.Triage(strings.NewReader(in), &out); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"": "", "\n": `{"level":"none","signals":[]}` + "\n"}[in]
		if out.String() != want {
			t.Errorf("Triage(%q) = %q; want %q", in, out.String(), want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestTriageErrors(t *testing.T) {
	d := mustNew(t)
	if err := d.Triage(strings.NewReader("hello\n"), failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Triage to a failing writer = %v; want the write error", err)
	}
	if err := d.Triage(failReader{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("Triage from a failing reader = %v; want the read error", err)
	}
}
