package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// applyRun runs `carecheck apply` against the stack as the agency's key.
func (s *stack) applyRun(key, file string, extra ...string) (string, error) {
	s.t.Helper()
	var out, errs bytes.Buffer
	args := append([]string{"carecheck", "apply", "-f", file}, extra...)
	err := run(context.Background(), args, envOf(map[string]string{"CARECHECK_URL": s.url, "CARECHECK_API_KEY": key}), strings.NewReader(""), &out, &errs)
	return out.String(), err
}

// auditCount is how many entries the agency's audit holds.
func (s *stack) auditCount(key string) int {
	s.t.Helper()
	out := s.mustFn(s.api("GET", "/v1/audit?limit=200", key, nil))(200)
	return len(out["audit"].([]any))
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The example file applied to a new agency: --dry-run lists what it would
// create and changes nothing; applying makes staff (with each other as
// backups), the policy naming them, settings, the questionnaire and the
// templates; the second run changes nothing and adds nothing to the audit;
// an edit shows field by field.
func TestStoryApplyAgencyFile(t *testing.T) {
	s := startStack(t)
	ag := s.mustFn(s.api("POST", "/v1/agencies", operatorTok, map[string]any{"name": "Placeholder", "timezone": "UTC"}))(201)
	key := ag["api_key"].(string)
	example, err := os.ReadFile("../../examples/agency.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "agency.yaml", string(example))
	before := s.auditCount(key)

	out, err := s.applyRun(key, file, "--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	for _, want := range []string{"created    staff dana@northside.example.org", "updated    settings", `quiet_start: "21:00" → "21:00"`, "created    schedule_template weekly-phq9", "updated    escalation_policy", "nothing was changed"} {
		if want == `quiet_start: "21:00" → "21:00"` {
			if strings.Contains(out, "quiet_start") {
				t.Errorf("dry run lists quiet_start, which is already 21:00:\n%s", out)
			}
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, `timezone: "UTC" → "America/Chicago"`) {
		t.Errorf("dry run does not show the timezone's change field by field:\n%s", out)
	}
	if got := s.auditCount(key); got != before {
		t.Fatalf("dry run wrote %d audit entries", got-before)
	}
	if staff := s.mustFn(s.api("GET", "/v1/case-managers", key, nil))(200)["case_managers"].([]any); len(staff) != 0 {
		t.Fatalf("dry run made staff: %v", staff)
	}

	out, err = s.applyRun(key, file)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "5 created, 4 updated, 0 unchanged") {
		t.Errorf("first apply's summary:\n%s", out)
	}
	agency := s.mustFn(s.api("GET", "/v1/agency", key, nil))(200)
	if agency["timezone"] != "America/Chicago" || agency["require_totp"] != true || agency["name"] != "Northside CMH" {
		t.Errorf("settings after apply: %v", agency)
	}
	byEmail := map[string]map[string]any{}
	for _, m := range s.mustFn(s.api("GET", "/v1/case-managers", key, nil))(200)["case_managers"].([]any) {
		m := m.(map[string]any)
		byEmail[m["email"].(string)] = m
	}
	dana, ellis := byEmail["dana@northside.example.org"], byEmail["ellis@northside.example.org"]
	if dana == nil || ellis == nil || dana["backup_id"] != ellis["id"] || ellis["backup_id"] != dana["id"] || dana["role"] != "admin" || ellis["language"] != "es" {
		t.Fatalf("staff after apply: %v", byEmail)
	}
	if wh := dana["working_hours"].(map[string]any); wh["timezone"] != "America/Chicago" {
		t.Errorf("working hours without a zone took %v; want the agency's", wh["timezone"])
	}
	steps := agency["escalation_policy"].(map[string]any)["steps"].([]any)
	if len(steps) != 3 || steps[2].(map[string]any)["notify"] != ellis["id"] {
		t.Errorf("policy after apply: %v; want step 3 to name Ellis by id", steps)
	}
	tpls := s.mustFn(s.api("GET", "/v1/schedule-templates", key, nil))(200)["schedule_templates"].([]any)
	if len(tpls) != 2 {
		t.Errorf("templates after apply: %v", tpls)
	}
	afterFirst := s.auditCount(key)
	if afterFirst == before {
		t.Fatal("apply wrote no audit entries")
	}

	// Applying the same file again changes nothing.
	out, err = s.applyRun(key, file)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if !strings.Contains(out, "0 created, 0 updated, 9 unchanged") {
		t.Errorf("second apply's summary:\n%s", out)
	}
	if got := s.auditCount(key); got != afterFirst {
		t.Errorf("second apply wrote %d audit entries; want none", got-afterFirst)
	}

	// An edit: dry run shows each changed field, old → new.
	edited := strings.Replace(string(example), `quiet_start: "21:00"`, `quiet_start: "22:00"`, 1)
	edited = strings.Replace(edited, "    role: supervisor\n", "    role: admin\n", 1)
	edited = strings.Replace(edited, "rrule: FREQ=WEEKLY;BYDAY=MO\n", "rrule: FREQ=WEEKLY;BYDAY=TU\n", 1)
	file2 := writeFile(t, "agency.yaml", edited)
	out, err = s.applyRun(key, file2, "--dry-run")
	if err != nil {
		t.Fatalf("dry run of the edit: %v", err)
	}
	for _, want := range []string{`quiet_start: "21:00" → "22:00"`, "updated    staff ellis@northside.example.org", `role: "supervisor" → "admin"`, "rrule: FREQ=WEEKLY;BYDAY=MO → FREQ=WEEKLY;BYDAY=TU", "0 created, 3 updated, 6 unchanged"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run of the edit lacks %q:\n%s", want, out)
		}
	}
	if got := s.auditCount(key); got != afterFirst {
		t.Errorf("dry run of the edit wrote %d audit entries", got-afterFirst)
	}
	if _, err = s.applyRun(key, file2); err != nil {
		t.Fatalf("apply the edit: %v", err)
	}
	if got := s.auditCount(key); got != afterFirst+3 {
		t.Errorf("the edit wrote %d audit entries; want 3 (settings, Ellis, the template)", got-afterFirst)
	}
}

// A file with problems changes nothing and names each line; a refusal only
// the service can make (a phone another agency's person holds on the shared
// number) is named by the file's line too.
func TestStoryApplyInvalidFileChangesNothing(t *testing.T) {
	s := startStack(t)
	key := s.mustFn(s.api("POST", "/v1/agencies", operatorTok, map[string]any{"name": "North", "timezone": "America/Chicago"}))(201)["api_key"].(string)
	before := s.auditCount(key)
	bad := `settings:
  timezone: Mars/Olympus
  quiet_start: "21:00"
staff:
  - email: dana@northside.example.org
    name: Dana Whitfield
    backup: nobody@northside.example.org
    colour: blue
schedule_templates:
  - name: weekly
    questionnaire: phq9
    rrule: FREQ=SECONDLY
`
	_, err := s.applyRun(key, writeFile(t, "agency.yaml", bad))
	if err == nil {
		t.Fatal("a bad file was applied")
	}
	// Unknown fields are found first (the file is not read further).
	if !strings.Contains(err.Error(), "agency.yaml:8: unknown field colour") {
		t.Errorf("error = %v; want line 8's unknown field", err)
	}
	bad = strings.Replace(bad, "    colour: blue\n", "", 1)
	_, err = s.applyRun(key, writeFile(t, "agency.yaml", bad))
	for _, want := range []string{"agency.yaml:2: settings.timezone: timezone: unknown zone", "agency.yaml:11: schedule_templates[0]: rrule:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v; want %q", err, want)
		}
	}
	bad = strings.Replace(strings.Replace(bad, "Mars/Olympus", "America/Chicago", 1), "FREQ=SECONDLY", "FREQ=WEEKLY", 1)
	_, err = s.applyRun(key, writeFile(t, "agency.yaml", bad))
	if err == nil || !strings.Contains(err.Error(), `agency.yaml:7: staff[0]: backup: no active staff member with email "nobody@northside.example.org"`) {
		t.Errorf("error = %v; want line 7's unknown backup", err)
	}
	if _, err = s.applyRun(key, writeFile(t, "agency.yaml", "staff: [\n")); err == nil || !strings.Contains(err.Error(), "agency.yaml:") {
		t.Errorf("bad YAML: %v; want a line", err)
	}
	if got := s.auditCount(key); got != before {
		t.Errorf("bad files wrote %d audit entries", got-before)
	}
	if staff := s.mustFn(s.api("GET", "/v1/case-managers", key, nil))(200)["case_managers"].([]any); len(staff) != 0 {
		t.Errorf("bad files made staff: %v", staff)
	}

	// Another agency's staff member holds the phone on the shared number.
	other := s.mustFn(s.api("POST", "/v1/agencies", operatorTok, map[string]any{"name": "South", "timezone": "America/Chicago"}))(201)["api_key"].(string)
	s.mustFn(s.api("POST", "/v1/case-managers", other, map[string]any{"name": cmName, "phone": cmPhone}))(201)
	refused := "staff:\n  - email: dana@northside.example.org\n    name: Dana Whitfield\n    phone: \"" + cmPhone + "\"\n"
	_, err = s.applyRun(key, writeFile(t, "agency.yaml", refused))
	if err == nil || !strings.Contains(err.Error(), "agency.yaml:4: staff[0]: the service refused: phone: already belongs to another active person") {
		t.Errorf("refusal = %v; want it at the phone's line", err)
	}
}
