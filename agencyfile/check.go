package agencyfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/conversations/schedule"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// wanted is the file's configuration checked and in the API's own form
// (names NFC, phones E.164, durations as the API writes them): what the
// service's state is compared with.
type wanted struct {
	settings     []field // in the file's order
	safety       map[string]string
	safetySet    bool
	phrases      []Phrase
	phrasesSet   bool
	staff        []staffWant
	policy       *Policy
	questionnair []questionnaireWant
	templates    []Template
}

// field is one managed field: its API name and value.
type field struct {
	name  string
	value any
}

type staffWant struct {
	index  int
	email  string
	fields []field
	backup *string // email
	// zoneless: working hours without a zone take the agency's.
	zoneless bool
}

type questionnaireWant struct {
	index int
	id    string
	body  json.RawMessage // what POST /v1/questionnaires is sent
	canon string          // compared with the service's
}

var (
	clockPattern  = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)
	templateNamed = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// Check checks every value of the file by the API's rules, collecting
// every problem with its line; nothing is sent. What needs the service's
// state (a backup's email, a questionnaire a template names) is checked
// when planning.
func (f *File) Check() (*wanted, error) {
	var bad Invalid
	w := &wanted{}
	add := func(msg string, path ...any) {
		bad = append(bad, Problem{Line: f.lineOfField(msg, path...), Path: pathString(path...), Msg: msg})
	}
	f.checkSettings(w, add)
	if f.SafetyMessage != nil {
		w.safetySet, w.safety = true, map[string]string{}
		for lang, msg := range f.SafetyMessage {
			if lang != "en" && lang != "es" {
				add(`languages are "en" and "es"`, "safety_message", lang)
				continue
			}
			v, err := freetext.Check(lang, msg, freetext.Safety)
			if err == nil {
				err = escalation.ValidateSafetyMessage(v)
			}
			if err != nil {
				add(strings.TrimPrefix(err.Error(), lang+": "), "safety_message", lang)
				continue
			}
			w.safety[lang] = v
		}
	}
	if f.Phrases != nil {
		w.phrasesSet, w.phrases = true, []Phrase{}
		if len(*f.Phrases) > 200 {
			add("at most 200", "phrases")
		}
		for i, p := range *f.Phrases {
			t, err := freetext.Check("text", p.Text, freetext.Name)
			switch {
			case err != nil:
				add(err.Error(), "phrases", i)
			case p.Level != "crisis" && p.Level != "concern":
				add(`level: "concern" or "crisis"`, "phrases", i)
			case p.Lang != "" && p.Lang != "en" && p.Lang != "es":
				add(`lang: "en", "es" or left out for both`, "phrases", i)
			default:
				w.phrases = append(w.phrases, Phrase{Text: t, Level: p.Level, Lang: p.Lang})
			}
		}
	}
	emails := map[string]int{}
	for i := range f.Staff {
		s, ok := f.checkStaff(i, add)
		if !ok {
			continue
		}
		if j, dup := emails[s.email]; dup {
			add(fmt.Sprintf("email: given twice (also staff[%d])", j), "staff", i)
			continue
		}
		emails[s.email] = i
		w.staff = append(w.staff, s)
	}
	if p := f.EscalationPolicy; p != nil {
		f.checkPolicy(p, add)
		w.policy = p
	}
	ids := map[string]bool{}
	for i := range f.Questionnaires {
		qw, ok := f.checkQuestionnaire(i, add)
		if !ok {
			continue
		}
		if ids[qw.id] {
			add("id: given twice", "questionnaires", i)
			continue
		}
		ids[qw.id] = true
		w.questionnair = append(w.questionnair, qw)
	}
	names := map[string]bool{}
	for i, t := range f.ScheduleTemplates {
		switch {
		case !templateNamed.MatchString(t.Name):
			add("name: 1-64 of a-z 0-9 . _ - starting with a letter or digit", "schedule_templates", i)
			continue
		case names[t.Name]:
			add("name: given twice", "schedule_templates", i)
			continue
		case t.Questionnaire == "":
			add("questionnaire: required", "schedule_templates", i)
			continue
		}
		names[t.Name] = true
		// The API reads a template's rule from the next whole minute; any
		// zone shows whether the rule itself is sound.
		rule, err := schedule.Parse(t.RRule, time.Now().UTC().Truncate(time.Minute).Add(time.Minute), nil, "UTC")
		if err != nil {
			add(err.Error(), "schedule_templates", i)
			continue
		}
		t.RRule = rule.RRule
		w.templates = append(w.templates, t)
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return w, nil
}

// checkSettings checks the settings by PATCH /v1/agency's rules.
func (f *File) checkSettings(w *wanted, add func(string, ...any)) {
	s := f.Settings
	if s == nil {
		return
	}
	at := func(name string) []any { return []any{"settings", name} }
	dur := func(name string, v *string, lo, hi time.Duration, rng string) {
		if v == nil {
			return
		}
		d, err := time.ParseDuration(*v)
		if err != nil || d < lo || d > hi {
			add(fmt.Sprintf("a duration %s", rng), at(name)...)
			return
		}
		w.settings = append(w.settings, field{name, store.Duration(d)})
	}
	str := func(name string, v *string, check func(string) (string, error)) {
		if v == nil {
			return
		}
		c, err := check(*v)
		if err != nil {
			add(err.Error(), at(name)...)
			return
		}
		w.settings = append(w.settings, field{name, c})
	}
	integer := func(name string, v *int, lo, hi int, rng string) {
		if v == nil {
			return
		}
		if *v < lo || *v > hi {
			add(rng, at(name)...)
			return
		}
		w.settings = append(w.settings, field{name, *v})
	}
	boolean := func(name string, v *bool) {
		if v != nil {
			w.settings = append(w.settings, field{name, *v})
		}
	}
	str("name", s.Name, func(v string) (string, error) { return freetext.Check("name", v, freetext.Name) })
	str("timezone", s.Timezone, func(v string) (string, error) { _, err := schedule.LoadZone(v); return v, err })
	str("quiet_start", s.QuietStart, clockCheck("quiet_start"))
	str("quiet_end", s.QuietEnd, clockCheck("quiet_end"))
	dur("reply_window", s.ReplyWindow, 10*time.Second, 72*time.Hour, "between 10s and 72h")
	integer("missed_in_a_row", s.MissedInARow, 1, 30, "between 1 and 30")
	integer("mood_threshold", s.MoodThreshold, -1, 10, "between 0 and 10, or -1 to turn the rule off")
	boolean("alert_detail", s.AlertDetail)
	boolean("alert_names", s.AlertNames)
	boolean("export_words", s.ExportWords)
	dur("retention", s.Retention, time.Duration(store.DefaultRetention), 5*time.Duration(store.DefaultRetention), "from 52596h (6 years) to 262980h (30 years)")
	boolean("require_totp", s.RequireTOTP)
	dur("session_idle", s.SessionIdle, time.Minute, 12*time.Hour, "between 1m and 12h")
}

func clockCheck(name string) func(string) (string, error) {
	return func(v string) (string, error) {
		if !clockPattern.MatchString(v) {
			return "", fmt.Errorf("%s: a time of day HH:MM (21:00)", name)
		}
		return v, nil
	}
}

// checkStaff checks one staff member by the case-manager routes' rules.
func (f *File) checkStaff(i int, add func(string, ...any)) (staffWant, bool) {
	s := f.Staff[i]
	at := []any{"staff", i}
	good := true
	fail := func(msg string) { add(msg, at...); good = false }
	w := staffWant{index: i}
	email, err := checkEmail(s.Email)
	if err != nil {
		fail(err.Error())
	}
	w.email = email
	if s.Name != nil {
		if v, err := freetext.Check("name", *s.Name, freetext.Name); err != nil {
			fail(err.Error())
		} else {
			w.fields = append(w.fields, field{"name", v})
		}
	}
	phone := ""
	if s.Phone != nil {
		if v, err := checkPhone(*s.Phone); err != nil {
			fail(err.Error())
		} else {
			phone = v
			w.fields = append(w.fields, field{"phone", v})
		}
	}
	if s.Role != nil {
		if !staff.ValidRole(*s.Role) {
			fail(`role: "case_manager", "supervisor" or "admin"`)
		} else {
			w.fields = append(w.fields, field{"role", *s.Role})
		}
	}
	if s.Language != nil {
		if *s.Language != "en" && *s.Language != "es" {
			fail(`language: "en" or "es"`)
		} else {
			w.fields = append(w.fields, field{"language", *s.Language})
		}
	}
	if wh := s.WorkingHours; wh != nil {
		ok := true
		for _, c := range []struct{ name, v string }{{"start", wh.Start}, {"end", wh.End}} {
			if !clockPattern.MatchString(c.v) {
				fail("working_hours." + c.name + ": a time of day HH:MM (09:00)")
				ok = false
			}
		}
		if wh.Timezone != "" {
			if _, err := schedule.LoadZone(wh.Timezone); err != nil {
				fail("working_hours." + err.Error())
				ok = false
			}
		}
		for _, d := range wh.Days {
			if d < 1 || d > 7 {
				fail("working_hours.days: 1 (Monday) to 7 (Sunday)")
				ok = false
				break
			}
		}
		if ok {
			w.zoneless = wh.Timezone == ""
			w.fields = append(w.fields, field{"working_hours", store.WorkingHours{Start: wh.Start, End: wh.End, Days: wh.Days, Timezone: wh.Timezone}})
		}
	}
	if s.ContactRules != nil {
		rules := make([]store.ContactRule, 0, len(*s.ContactRules))
		ok := true
		for j, r := range *s.ContactRules {
			d, err := time.ParseDuration(r.After)
			if err != nil {
				fail(fmt.Sprintf("contact_rules[%d].after: a duration (0s, 2m)", j))
				ok = false
				continue
			}
			rules = append(rules, store.ContactRule{After: store.Duration(d), Method: r.Method})
		}
		// A phone not managed by the file is checked by the service.
		if ok {
			if err := escalation.ValidateContactRules(rules, phone != "" || s.Phone == nil); err != nil {
				fail(err.Error())
			} else {
				w.fields = append(w.fields, field{"contact_rules", rules})
			}
		}
	}
	if s.Backup != nil {
		b := strings.ToLower(strings.TrimSpace(*s.Backup))
		if b == email && b != "" {
			fail("backup: a staff member cannot be their own backup")
		}
		w.backup = &b
	}
	return w, good
}

// checkEmail is the API's staff email rule; the file requires one, as it
// is how the file knows a staff member.
func checkEmail(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("email: required (staff are known by email)")
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || len(v) > 254 || !strings.Contains(v[strings.LastIndex(v, "@"):], ".") {
		return "", fmt.Errorf("email: not an email address (name@example.org)")
	}
	return strings.ToLower(v), nil
}

// checkPhone is the API's phone rule: E.164, no letters, a valid number.
func checkPhone(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if strings.IndexFunc(raw, unicode.IsLetter) >= 0 {
		return "", fmt.Errorf("phone: letters are not allowed")
	}
	if !strings.HasPrefix(raw, "+") {
		return "", fmt.Errorf("phone: must be in E.164 form, e.g. +13125550100")
	}
	n, err := phonenumbers.Parse(raw, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("phone: not a valid phone number")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// checkPolicy checks the policy's shape; who each step names is checked
// when planning (escalation.ValidatePolicy, with the staff known then).
func (f *File) checkPolicy(p *Policy, add func(string, ...any)) {
	waits := true
	for i, st := range p.Steps {
		if _, err := time.ParseDuration(st.Wait); err != nil {
			add(fmt.Sprintf("steps[%d].wait: a duration (10m)", i), "escalation_policy")
			waits = false
		}
	}
	if !waits {
		return
	}
	// Everyone named is taken to exist here: planning knows who does.
	yes := func(string) bool { return true }
	if err := escalation.ValidatePolicy(policyOf(p, func(s string) string { return s }), yes, yes); err != nil {
		add(err.Error(), "escalation_policy")
	}
}

// policyOf is the policy as the API takes it, each step's staff email
// turned into an id by idOf (keywords and on-call steps stay as they are).
func policyOf(p *Policy, idOf func(email string) string) store.Policy {
	out := store.Policy{Repeat: p.Repeat, Steps: []store.PolicyStep{}}
	for _, st := range p.Steps {
		d, _ := time.ParseDuration(st.Wait)
		n := strings.TrimSpace(st.Notify)
		if strings.Contains(n, "@") {
			n = idOf(strings.ToLower(n))
		}
		out.Steps = append(out.Steps, store.PolicyStep{Notify: n, Wait: store.Duration(d)})
	}
	return out
}

// checkQuestionnaire checks one questionnaire as POST /v1/questionnaires
// does: its shape (no unknown fields), its texts, an id no built-in has,
// and questionnaire.Validate.
func (f *File) checkQuestionnaire(i int, add func(string, ...any)) (questionnaireWant, bool) {
	at := []any{"questionnaires", i}
	var tree any
	if err := f.Questionnaires[i].Decode(&tree); err != nil {
		add(err.Error(), at...)
		return questionnaireWant{}, false
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		add("not a questionnaire (keys must be text)", at...)
		return questionnaireWant{}, false
	}
	if tree, err = freetext.Tree("", tree, freetext.Form); err != nil {
		add(err.Error(), at...)
		return questionnaireWant{}, false
	}
	raw, _ = json.Marshal(tree)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var qn q.Questionnaire
	if err := dec.Decode(&qn); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if strings.HasPrefix(msg, "cannot unmarshal") {
			msg = "a value of the wrong type: " + msg
		}
		add(msg, at...)
		return questionnaireWant{}, false
	}
	if qn.ID == "" {
		add("id: required", at...)
		return questionnaireWant{}, false
	}
	if _, builtin := q.Builtin().Get(qn.ID); builtin {
		add("id: a built-in questionnaire has this id", at...)
		return questionnaireWant{}, false
	}
	body := raw
	qn.Custom = true
	if qn.Instrument == "" {
		qn.Instrument = q.InstrumentCustom
	}
	if err := q.Validate(&qn); err != nil {
		add(err.Error(), at...)
		return questionnaireWant{}, false
	}
	canon, _ := json.Marshal(&qn)
	return questionnaireWant{index: i, id: qn.ID, body: body, canon: canonical(canon)}, true
}

// canonical is JSON with object keys in order, for comparing values that
// were written by different encoders.
func canonical(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// canonicalOf is canonical of a value's JSON.
func canonicalOf(v any) string {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return "null"
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return canonical(raw)
}
