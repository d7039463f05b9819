// Package agencyfile reads an agency's configuration file (agency.yaml:
// settings, safety message, phrases, staff, escalation policy,
// questionnaires, schedule templates) and makes the running service match
// it through the agency API, as `carecheck apply -f agency.yaml` does.
//
// The file is checked whole before anything is sent: YAML syntax, unknown
// fields, and every value by the rules the API applies (the same functions
// where they are exported: freetext, escalation, conversations/schedule,
// conversations/questionnaire), each problem named by its line. Then the
// service's state is read, the difference planned per object and field, and
// only what differs is sent, so a second run sends nothing.
package agencyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is an agency's configuration as written. A section left out is not
// managed: the service keeps what it has. Within a staff member or the
// settings, a field left out is not managed either.
type File struct {
	Settings          *Settings         `yaml:"settings"`
	SafetyMessage     map[string]string `yaml:"safety_message"`
	Phrases           *[]Phrase         `yaml:"phrases"`
	Staff             []Staff           `yaml:"staff"`
	EscalationPolicy  *Policy           `yaml:"escalation_policy"`
	Questionnaires    []yaml.Node       `yaml:"questionnaires"`
	ScheduleTemplates []Template        `yaml:"schedule_templates"`

	root *yaml.Node // the document, for line numbers
}

// Settings are the agency's settings, named as PATCH /v1/agency names them.
type Settings struct {
	Name          *string `yaml:"name" json:"name,omitempty"`
	Timezone      *string `yaml:"timezone" json:"timezone,omitempty"`
	QuietStart    *string `yaml:"quiet_start" json:"quiet_start,omitempty"`
	QuietEnd      *string `yaml:"quiet_end" json:"quiet_end,omitempty"`
	ReplyWindow   *string `yaml:"reply_window" json:"reply_window,omitempty"`
	MissedInARow  *int    `yaml:"missed_in_a_row" json:"missed_in_a_row,omitempty"`
	MoodThreshold *int    `yaml:"mood_threshold" json:"mood_threshold,omitempty"`
	AlertDetail   *bool   `yaml:"alert_detail" json:"alert_detail,omitempty"`
	AlertNames    *bool   `yaml:"alert_names" json:"alert_names,omitempty"`
	ExportWords   *bool   `yaml:"export_words" json:"export_words,omitempty"`
	Retention     *string `yaml:"retention" json:"retention,omitempty"`
	RequireTOTP   *bool   `yaml:"require_totp" json:"require_totp,omitempty"`
	SessionIdle   *string `yaml:"session_idle" json:"session_idle,omitempty"`
}

// Phrase is one of the agency's own crisis or concern phrases.
type Phrase struct {
	Text  string `yaml:"text" json:"text"`
	Level string `yaml:"level" json:"level"`
	Lang  string `yaml:"lang" json:"lang,omitempty"`
}

// Staff is a staff member, known by email.
type Staff struct {
	Email        string         `yaml:"email"`
	Name         *string        `yaml:"name"`
	Phone        *string        `yaml:"phone"`
	Role         *string        `yaml:"role"`
	Language     *string        `yaml:"language"`
	Backup       *string        `yaml:"backup"` // the backup's email; "" for none
	WorkingHours *WorkingHours  `yaml:"working_hours"`
	ContactRules *[]ContactRule `yaml:"contact_rules"`
}

// WorkingHours say when a staff member takes low-urgency concerns.
type WorkingHours struct {
	Start    string `yaml:"start" json:"start"`
	End      string `yaml:"end" json:"end"`
	Days     []int  `yaml:"days" json:"days"`
	Timezone string `yaml:"timezone" json:"timezone"`
}

// ContactRule is one way of reaching a staff member about an alert.
type ContactRule struct {
	After  string `yaml:"after" json:"after"`
	Method string `yaml:"method" json:"method"`
}

// Policy is the escalation policy: steps in order, the last repeats.
type Policy struct {
	Steps  []Step `yaml:"steps"`
	Repeat int    `yaml:"repeat"`
}

// Step notifies "assigned", "backup", "on-call:<rotation id>" or a staff
// member by email, then waits.
type Step struct {
	Notify string `yaml:"notify"`
	Wait   string `yaml:"wait"`
}

// Template is a schedule template: a client's schedule made with
// {"template": name} gets its questionnaire and rule.
type Template struct {
	Name          string `yaml:"name"`
	Questionnaire string `yaml:"questionnaire"`
	RRule         string `yaml:"rrule"`
}

// Problem is one thing wrong with the file, or refused by the service,
// placed at its line (0: the file as a whole).
type Problem struct {
	Line int
	Path string // staff[1].backup
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Invalid is a file with problems; nothing was changed.
type Invalid []Problem

// In writes the problems as "agency.yaml:12: staff[1].backup: …", one a line.
func (v Invalid) In(file string) string {
	lines := make([]string, len(v))
	for i, p := range v {
		at := file
		if p.Line > 0 {
			at = fmt.Sprintf("%s:%d", file, p.Line)
		}
		p.Line = 0
		lines[i] = at + ": " + p.String()
	}
	return strings.Join(lines, "\n")
}

func (v Invalid) Error() string {
	lines := make([]string, len(v))
	for i, p := range v {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// maxFile bounds what Parse reads: an agency's file is a few kilobytes.
const maxFile = 1 << 20

// Parse reads an agency file strictly: a syntax error, a field the format
// does not have, a value of the wrong type, a key given twice or more than
// one document is an Invalid naming the line. Values are checked by Check.
func Parse(src []byte) (*File, error) {
	if len(src) > maxFile {
		return nil, Invalid{{Msg: fmt.Sprintf("the file is over %d bytes", maxFile)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, yamlProblems(err)
	}
	if len(root.Content) == 0 {
		return nil, Invalid{{Msg: "the file is empty"}}
	}
	if root.Content[0].Kind != yaml.MappingNode {
		return nil, Invalid{{Line: root.Content[0].Line, Msg: "the file must be a mapping (settings:, staff:, …)"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, yamlProblems(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := more.Line
		if err != nil {
			line = 0
		}
		return nil, Invalid{{Line: line, Msg: "one YAML document only"}}
	}
	f.root = root.Content[0]
	return &f, nil
}

var (
	yamlLine    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownType = regexp.MustCompile(`field (\S+) not found in type \S+`)
	goType      = regexp.MustCompile(` into (?:\*?\[\]|\*|map\[string\])?[\w.]+$`)
)

// yamlKinds name YAML's tags in words.
var yamlKinds = map[string]string{"!!seq": "a list", "!!map": "a mapping", "!!str": "the text", "!!int": "the number", "!!bool": "the boolean", "!!float": "the number", "!!null": "nothing"}

// yamlProblems turns yaml.v3's errors into problems by line, in the file's
// words rather than Go's.
func yamlProblems(err error) Invalid {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out Invalid
	for _, m := range msgs {
		p := Problem{Msg: strings.TrimPrefix(m, "yaml: ")}
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			p.Line, _ = strconv.Atoi(sub[1])
			p.Msg = sub[2]
		}
		p.Msg = unknownType.ReplaceAllString(p.Msg, "unknown field $1")
		if strings.HasPrefix(p.Msg, "cannot unmarshal") {
			v := goType.ReplaceAllString(strings.TrimPrefix(p.Msg, "cannot unmarshal "), "")
			for tag, words := range yamlKinds {
				if strings.HasPrefix(v, tag) {
					v = words + strings.TrimPrefix(v, tag)
				}
			}
			p.Msg = strings.TrimSpace(v) + ": not a value this field takes"
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// Line finds the line of a path in the file ("staff", 1, "backup"): the
// line of its key (or item), or of the deepest part of it that is there.
func (f *File) Line(path ...any) int {
	n, line := f.root, 0
	if n != nil {
		line = n.Line
	}
	for _, step := range path {
		if n == nil {
			break
		}
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return line
			}
			n = n.Content[s]
			line = n.Line
		}
	}
	return line
}

// lineOfField finds the line of a "field: problem" message's field within
// the object at path: the API and the shared checks name fields as
// "working_hours.start", "contact_rules[1].method" or "steps[0].wait".
func (f *File) lineOfField(msg string, path ...any) int {
	field, _, ok := strings.Cut(msg, ":")
	if !ok || strings.ContainsAny(field, " \"") {
		return f.Line(path...)
	}
	full := append([]any{}, path...)
	for _, part := range strings.Split(field, ".") {
		name, idx, _ := strings.Cut(part, "[")
		full = append(full, name)
		if idx != "" {
			if i, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); err == nil {
				full = append(full, i)
			}
		}
	}
	return f.Line(full...)
}

// pathString writes a path as staff[1].backup.
func pathString(path ...any) string {
	var b strings.Builder
	for _, s := range path {
		switch s := s.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}
