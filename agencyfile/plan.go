package agencyfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/carecheck/carecheck/apiclient"
	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// Actions of a change.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// Change is what applying does to one object of the file.
type Change struct {
	Kind   string // settings, safety_message, phrases, staff, escalation_policy, questionnaire, schedule_template
	Name   string // the staff member's email, the questionnaire's id, the template's name
	Action string
	Fields []FieldChange // for updates
	Line   int

	send []request // what makes the service match (none when unchanged)
}

// FieldChange is one field of an update; Old and New are empty for a field
// whose values are not shown (names, phone numbers, message texts).
type FieldChange struct {
	Field    string
	Old, New string
}

// request is one call to the API, and where in the file it comes from.
type request struct {
	method, path string
	body         any
	path2        []any // the object's path in the file, for refusals
	// then runs before the request, with the ids created so far (a new
	// staff member's backup is set once both exist).
	then func(ids map[string]string) (any, bool)
	// created records a new staff member's id under its email.
	created string
}

// Plan is every change, in the order they are applied.
type Plan struct {
	Changes []Change
	file    *File
	ids     map[string]string // email → id of the service's active staff
}

// state is what the service has now.
type state struct {
	agency         store.Agency
	staff          []store.CaseManager
	questionnaires map[string]json.RawMessage // agency-defined, by id
	builtin        map[string]bool
	templates      map[string]store.ScheduleTemplate
}

func readState(ctx context.Context, c *apiclient.Client) (*state, error) {
	s := &state{questionnaires: map[string]json.RawMessage{}, builtin: map[string]bool{}, templates: map[string]store.ScheduleTemplate{}}
	if err := c.Do(ctx, "GET", "/v1/agency", nil, &s.agency); err != nil {
		return nil, err
	}
	for cursor := ""; ; {
		var page struct {
			CaseManagers []store.CaseManager `json:"case_managers"`
			Next         string              `json:"next"`
		}
		path := "/v1/case-managers?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := c.Do(ctx, "GET", path, nil, &page); err != nil {
			return nil, err
		}
		s.staff = append(s.staff, page.CaseManagers...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	var qs struct {
		Questionnaires []json.RawMessage `json:"questionnaires"`
	}
	if err := c.Do(ctx, "GET", "/v1/questionnaires", nil, &qs); err != nil {
		return nil, err
	}
	for _, raw := range qs.Questionnaires {
		var head struct {
			ID     string `json:"id"`
			Custom bool   `json:"custom"`
		}
		if json.Unmarshal(raw, &head) == nil {
			if head.Custom {
				s.questionnaires[head.ID] = raw
			} else {
				s.builtin[head.ID] = true
			}
		}
	}
	var ts struct {
		Templates []store.ScheduleTemplate `json:"schedule_templates"`
	}
	if err := c.Do(ctx, "GET", "/v1/schedule-templates", nil, &ts); err != nil {
		return nil, err
	}
	for _, t := range ts.Templates {
		s.templates[t.Name] = t
	}
	return s, nil
}

// byEmail finds the active staff member with an email, else the most
// recent inactive one (nil: none).
func (s *state) byEmail(email string) *store.CaseManager {
	var found *store.CaseManager
	for i := range s.staff {
		m := &s.staff[i]
		if !strings.EqualFold(m.Email, email) {
			continue
		}
		if m.Active {
			return m
		}
		found = m
	}
	return found
}

// hidden fields' values are not printed (as the audit does not show them).
var hidden = map[string]bool{"name": true, "phone": true, "email": true, "safety_message": true}

// PlanChanges checks the file, reads the service's state and works out
// every change. An Invalid names every problem; nothing has been sent.
func PlanChanges(ctx context.Context, c *apiclient.Client, f *File) (*Plan, error) {
	w, err := f.Check()
	if err != nil {
		return nil, err
	}
	st, err := readState(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("read the agency's configuration: %w", err)
	}
	p := &Plan{file: f, ids: map[string]string{}}
	var bad Invalid
	add := func(msg string, path ...any) {
		bad = append(bad, Problem{Line: f.lineOfField(msg, path...), Path: pathString(path...), Msg: msg})
	}
	cur := map[string]any{}
	raw, _ := json.Marshal(st.agency)
	_ = json.Unmarshal(raw, &cur)

	zone := st.agency.Timezone
	if len(w.settings) > 0 {
		ch := Change{Kind: "settings", Line: f.Line("settings")}
		body := map[string]any{}
		for _, fl := range w.settings {
			if fl.name == "timezone" {
				zone = fl.value.(string)
			}
			old, nw := canonicalOf(cur[fl.name]), canonicalOf(fl.value)
			if old != nw {
				ch.Fields = append(ch.Fields, shownChange(fl.name, old, nw))
				body[fl.name] = fl.value
			}
		}
		p.add(ch, request{method: "PATCH", path: "/v1/agency", body: body, path2: []any{"settings"}})
	}
	if w.safetySet {
		ch := Change{Kind: "safety_message", Line: f.Line("safety_message")}
		if canonicalOf(st.agency.SafetyMessage) != canonicalOf(w.safety) && !(len(st.agency.SafetyMessage) == 0 && len(w.safety) == 0) {
			ch.Fields = []FieldChange{{Field: "safety_message"}}
		}
		p.add(ch, request{method: "PUT", path: "/v1/agency/safety-message", body: w.safety, path2: []any{"safety_message"}})
	}
	if w.phrasesSet {
		ch := Change{Kind: "phrases", Line: f.Line("phrases")}
		old := st.agency.Phrases
		if canonicalOf(old) != canonicalOf(w.phrases) && !(len(old) == 0 && len(w.phrases) == 0) {
			ch.Fields = []FieldChange{{Field: "phrases", Old: fmt.Sprintf("%d phrases", len(old)), New: fmt.Sprintf("%d phrases", len(w.phrases))}}
		}
		p.add(ch, request{method: "PUT", path: "/v1/agency/phrases", body: map[string]any{"phrases": w.phrases}, path2: []any{"phrases"}})
	}

	// Questionnaires are created, never changed: answers are kept by
	// their questions, and a conversation in flight reads its questionnaire
	// again at each answer.
	known := map[string]bool{}
	for id := range st.builtin {
		known[id] = true
	}
	for id := range st.questionnaires {
		known[id] = true
	}
	for _, qw := range w.questionnair {
		at := []any{"questionnaires", qw.index}
		known[qw.id] = true
		ch := Change{Kind: "questionnaire", Name: qw.id, Line: f.Line(at...), Action: Unchanged}
		if have, ok := st.questionnaires[qw.id]; ok {
			if canonical(have) != qw.canon {
				add(fmt.Sprintf("questionnaire %q exists with other content: a questionnaire is not changed once created (its answers are kept by its questions); give this version a new id", qw.id), at...)
			}
			p.Changes = append(p.Changes, ch)
			continue
		}
		ch.Action = Created
		ch.send = []request{{method: "POST", path: "/v1/questionnaires", body: qw.body, path2: at}}
		p.Changes = append(p.Changes, ch)
	}
	for i, t := range w.templates {
		at := []any{"schedule_templates", indexOfTemplate(f, t.Name, i)}
		if !known[t.Questionnaire] {
			add(fmt.Sprintf("questionnaire: unknown %q (neither the service's nor in this file)", t.Questionnaire), at...)
			continue
		}
		ch := Change{Kind: "schedule_template", Name: t.Name, Line: f.Line(at...)}
		put := request{method: "PUT", path: "/v1/schedule-templates/" + url.PathEscape(t.Name), body: map[string]string{"questionnaire": t.Questionnaire, "rrule": t.RRule}, path2: at}
		have, ok := st.templates[t.Name]
		switch {
		case !ok:
			ch.Action, ch.send = Created, []request{put}
		case have.Questionnaire != t.Questionnaire || have.RRule != t.RRule:
			ch.Action, ch.send = Updated, []request{put}
			if have.Questionnaire != t.Questionnaire {
				ch.Fields = append(ch.Fields, FieldChange{"questionnaire", have.Questionnaire, t.Questionnaire})
			}
			if have.RRule != t.RRule {
				ch.Fields = append(ch.Fields, FieldChange{"rrule", have.RRule, t.RRule})
			}
		default:
			ch.Action = Unchanged
		}
		p.Changes = append(p.Changes, ch)
	}

	// Staff: who is new, who changes, and every backup named by email.
	inFile := map[string]bool{}
	for _, sw := range w.staff {
		inFile[sw.email] = true
	}
	idOf := map[string]string{} // email → id of those that exist (active)
	emailOf := map[string]string{}
	for _, m := range st.staff {
		if m.Active && m.Email != "" {
			idOf[m.Email], emailOf[m.ID] = m.ID, m.Email
			p.ids[m.Email] = m.ID
		}
	}
	var backups []Change
	for _, sw := range w.staff {
		at := []any{"staff", sw.index}
		m := st.byEmail(sw.email)
		if m != nil && !m.Active {
			m = nil // a deactivated record stays so; the file makes a new one
		}
		fields := sw.fields
		if sw.zoneless {
			fields = withZone(fields, zone)
		}
		ch := Change{Kind: "staff", Name: sw.email, Line: f.Line(at...)}
		if m == nil {
			if !hasField(fields, "name") {
				add("name: required for a new staff member", at...)
				continue
			}
			body := map[string]any{"email": sw.email}
			for _, fl := range fields {
				body[fl.name] = fl.value
			}
			ch.Action = Created
			ch.send = []request{{method: "POST", path: "/v1/case-managers", body: body, path2: at, created: sw.email}}
		} else {
			have := staffFields(m, zone)
			body := map[string]any{}
			for _, fl := range fields {
				old, nw := canonicalOf(have[fl.name]), canonicalOf(fl.value)
				if old != nw {
					ch.Fields = append(ch.Fields, shownChange(fl.name, old, nw))
					body[fl.name] = fl.value
				}
			}
			if len(body) > 0 {
				ch.Action = Updated
				ch.send = []request{{method: "PATCH", path: "/v1/case-managers/" + url.PathEscape(m.ID), body: body, path2: at}}
			} else {
				ch.Action = Unchanged
			}
		}
		if sw.backup != nil {
			b := *sw.backup
			if b != "" && !inFile[b] && idOf[b] == "" {
				add(fmt.Sprintf("backup: no active staff member with email %q (in this file or the service)", b), at...)
				continue
			}
			oldBackup := ""
			if m != nil {
				oldBackup = m.BackupID
			}
			if b == "" && oldBackup != "" || b != "" && (oldBackup == "" || idOf[b] != oldBackup) {
				email := sw.email
				old := emailOf[oldBackup]
				if oldBackup != "" && old == "" {
					old = oldBackup
				}
				ch.Fields = append(ch.Fields, FieldChange{Field: "backup", Old: old, New: b})
				if ch.Action == Unchanged {
					ch.Action = Updated
				}
				backups = append(backups, Change{send: []request{{method: "PATCH", path2: at, then: func(ids map[string]string) (any, bool) {
					return map[string]any{"backup_id": ids[b]}, true
				}, created: "backup:" + email}}})
			}
		}
		p.Changes = append(p.Changes, ch)
	}
	// Backups go once every staff member of the file exists.
	for _, b := range backups {
		p.Changes = append(p.Changes, Change{Kind: "", send: b.send})
	}

	if w.policy != nil {
		at := []any{"escalation_policy"}
		for i, s := range w.policy.Steps {
			n := strings.ToLower(strings.TrimSpace(s.Notify))
			if strings.Contains(n, "@") && !inFile[n] && idOf[n] == "" {
				add(fmt.Sprintf("steps[%d].notify: no active staff member with email %q (in this file or the service)", i, n), at...)
			}
		}
		want := policyOf(w.policy, func(e string) string { return e })
		for i, s := range want.Steps {
			if e := emailOf[s.Notify]; e != "" {
				want.Steps[i].Notify = e
			}
		}
		var shownOld string
		if st.agency.Policy != nil {
			old := *st.agency.Policy
			for i, s := range old.Steps {
				if e := emailOf[s.Notify]; e != "" {
					old.Steps[i].Notify = e
				}
			}
			shownOld = canonicalOf(old)
		}
		ch := Change{Kind: "escalation_policy", Line: f.Line(at...)}
		if shownOld != canonicalOf(want) {
			ch.Fields = []FieldChange{{Field: "escalation_policy", Old: policyText(shownOld), New: policyText(canonicalOf(want))}}
		}
		pol := w.policy
		ch.Action = Unchanged
		if len(ch.Fields) > 0 {
			ch.Action = Updated
			ch.send = []request{{method: "PUT", path: "/v1/agency/escalation-policy", path2: at, then: func(ids map[string]string) (any, bool) {
				return policyOf(pol, func(e string) string { return ids[e] }), true
			}}}
		}
		p.Changes = append(p.Changes, ch)
	}
	if len(bad) > 0 {
		sort.SliceStable(bad, func(i, j int) bool { return bad[i].Line < bad[j].Line })
		return nil, bad
	}
	return p, nil
}

// add adds a change made by one request when it has fields to send.
func (p *Plan) add(ch Change, r request) {
	if len(ch.Fields) == 0 {
		ch.Action = Unchanged
	} else {
		ch.Action = Updated
		ch.send = []request{r}
	}
	p.Changes = append(p.Changes, ch)
}

func indexOfTemplate(f *File, name string, fallback int) int {
	for i, t := range f.ScheduleTemplates {
		if t.Name == name {
			return i
		}
	}
	return fallback
}

func hasField(fields []field, name string) bool {
	for _, f := range fields {
		if f.name == name {
			return true
		}
	}
	return false
}

// withZone gives zoneless working hours the agency's zone, as the API does.
func withZone(fields []field, zone string) []field {
	out := make([]field, len(fields))
	copy(out, fields)
	for i, f := range out {
		if wh, ok := f.value.(store.WorkingHours); ok && wh.Timezone == "" {
			wh.Timezone = zone
			out[i].value = wh
		}
	}
	return out
}

// staffFields are a staff member's managed fields as the API shows them,
// defaults written out.
func staffFields(m *store.CaseManager, zone string) map[string]any {
	lang := m.Language
	if lang == "" {
		lang = "en"
	}
	rules := m.ContactRules
	if rules == nil {
		rules = []store.ContactRule{}
	}
	wh := m.WorkingHours
	if wh.Timezone == "" {
		wh.Timezone = zone
	}
	return map[string]any{"name": m.Name, "phone": m.Phone, "role": staff.Role(m), "language": lang, "working_hours": wh, "contact_rules": rules}
}

func shownChange(name, old, nw string) FieldChange {
	if hidden[name] {
		return FieldChange{Field: name}
	}
	return FieldChange{Field: name, Old: old, New: nw}
}

// policyText shows a policy as "assigned 10m → backup 10m → …, repeat 3".
func policyText(canon string) string {
	if canon == "" || canon == "null" {
		return "(the built-in default)"
	}
	var p store.Policy
	if json.Unmarshal([]byte(canon), &p) != nil {
		return canon
	}
	parts := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		parts[i] = fmt.Sprintf("%s %s", s.Notify, shortDuration(s.Wait))
	}
	return fmt.Sprintf("%s, repeat %d", strings.Join(parts, " → "), p.Repeat)
}

func shortDuration(d store.Duration) string {
	s := fmt.Sprint(timeDuration(d))
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

// Counts tells how many objects are created, updated and unchanged.
func (p *Plan) Counts() (created, updated, unchanged int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Created:
			created++
		case Updated:
			updated++
		case Unchanged:
			unchanged++
		}
	}
	return
}

// Print writes the plan: one line per object, then a line per changed field.
func (p *Plan) Print(w io.Writer) {
	for _, c := range p.Changes {
		if c.Kind == "" {
			continue
		}
		name := c.Kind
		if c.Name != "" {
			name += " " + c.Name
		}
		fmt.Fprintf(w, "%-10s %s (line %d)\n", c.Action, name, c.Line)
		for _, fc := range c.Fields {
			if fc.Old == "" && fc.New == "" {
				fmt.Fprintf(w, "             %s: changed\n", fc.Field)
				continue
			}
			fmt.Fprintf(w, "             %s: %s → %s\n", fc.Field, orNone(fc.Old), orNone(fc.New))
		}
	}
	cr, up, un := p.Counts()
	fmt.Fprintf(w, "%d created, %d updated, %d unchanged\n", cr, up, un)
}

func orNone(s string) string {
	if s == "" || s == "null" || s == `""` {
		return "(none)"
	}
	return s
}

// Execute sends the plan's requests in order. A refusal stops it, named
// by the file's line; what was sent before it stays applied (the file was
// checked whole first, so this is a rule only the service knows, such as
// a phone another agency's person holds).
func (p *Plan) Execute(ctx context.Context, c *apiclient.Client) error {
	ids, sent := p.ids, 0
	for _, ch := range p.Changes {
		for _, r := range ch.send {
			body := r.body
			if r.then != nil {
				b, ok := r.then(ids)
				if !ok {
					continue
				}
				body = b
			}
			path := r.path
			if strings.HasPrefix(r.created, "backup:") {
				path = "/v1/case-managers/" + url.PathEscape(ids[strings.TrimPrefix(r.created, "backup:")])
			}
			var out struct {
				ID string `json:"id"`
			}
			if err := c.Do(ctx, r.method, path, body, &out); err != nil {
				var ae *apiclient.Error
				if errors.As(err, &ae) && ae.Status < 500 {
					return &Refused{Problem: Problem{Line: p.file.lineOfField(ae.Message, r.path2...), Path: pathString(r.path2...), Msg: "the service refused: " + ae.Message}, Sent: sent}
				}
				return err
			}
			sent++
			if r.created != "" && !strings.HasPrefix(r.created, "backup:") {
				ids[r.created] = out.ID
			}
		}
	}
	return nil
}

// Refused is a request the service refused while applying: the file was
// checked whole, so this is a rule only the service knows. Sent requests
// were applied before it.
type Refused struct {
	Problem Problem
	Sent    int
}

func (r *Refused) Error() string { return r.Problem.String() }

// Apply checks the file, plans against the service, prints the plan to out
// and, unless dryRun, applies it. It returns the plan.
func Apply(ctx context.Context, c *apiclient.Client, f *File, dryRun bool, out io.Writer) (*Plan, error) {
	p, err := PlanChanges(ctx, c, f)
	if err != nil {
		return nil, err
	}
	p.Print(out)
	if dryRun {
		fmt.Fprintln(out, "dry run: nothing was changed")
		return p, nil
	}
	return p, p.Execute(ctx, c)
}

func timeDuration(d store.Duration) time.Duration { return time.Duration(d) }
