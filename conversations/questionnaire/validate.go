package questionnaire

import (
	"fmt"
	"slices"
	"strings"
)

// MaxQuestions is the most questions a questionnaire may have.
const MaxQuestions = 30

// Further limits on a definition.
const (
	maxIDLen        = 40
	maxQuestionID   = 32
	maxTitleLen     = 80
	maxTextLen      = 320
	maxOptions      = 10
	maxCodeLen      = 16
	maxAliases      = 40
	maxAliasLen     = 60
	maxScaleMax     = 100
	maxOptionText   = 60
	maxContinueFrom = 100
)

// FieldError is one problem with one field of a definition.
type FieldError struct {
	// Field is the JSON path of the field: "questions[2].text.en".
	Field string `json:"field"`
	// Problem says what is wrong with it.
	Problem string `json:"problem"`
}

// Error implements error.
func (e FieldError) Error() string { return e.Field + ": " + e.Problem }

// ValidationError lists every problem found in a definition.
type ValidationError []FieldError

// Error implements error: the problems joined by "; ".
func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return "invalid questionnaire: " + strings.Join(parts, "; ")
}

// instruments are the known instruments.
var instruments = []string{InstrumentPHQ2, InstrumentPHQ9, InstrumentGAD2, InstrumentGAD7, InstrumentASQ,
	InstrumentCSSRS, InstrumentMood, InstrumentMedication, InstrumentAppointment, InstrumentCustom}

// Validate checks a definition: ids ([a-z0-9-] for the questionnaire,
// [a-z0-9_-] for questions, unique), answer types, ranges, options, texts in
// English at least, at most MaxQuestions questions, ShowIf conditions, and
// the items an instrument's scoring needs (a "phq9" has scale 0–3 items 1–9).
// It returns nil or a ValidationError naming every bad field. A clash with a
// built-in id is for the caller to check (Builtin().Get).
func Validate(q *Questionnaire) error {
	if q == nil {
		return ValidationError{{Field: "questionnaire", Problem: "missing"}}
	}
	var v ValidationError
	bad := func(field, format string, args ...any) {
		v = append(v, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	switch {
	case q.ID == "":
		bad("id", "required")
	case len(q.ID) > maxIDLen:
		bad("id", "longer than %d characters", maxIDLen)
	case !validID(q.ID):
		bad("id", "use only a-z, 0-9 and '-' (not at either end)")
	}
	if len(q.Name) > maxTitleLen {
		bad("name", "longer than %d characters", maxTitleLen)
	}
	checkTexts(bad, "title", q.Title, maxTitleLen)
	if q.Instrument == "" {
		bad("instrument", "required")
	} else if !slices.Contains(instruments, q.Instrument) {
		bad("instrument", "unknown %q; want one of %s", q.Instrument, strings.Join(instruments, ", "))
	}
	switch {
	case len(q.Questions) == 0:
		bad("questions", "at least one question is required")
	case len(q.Questions) > MaxQuestions:
		bad("questions", "%d questions; at most %d", len(q.Questions), MaxQuestions)
	}
	seen := map[string]bool{}
	items := map[int]string{}
	for i, qu := range q.Questions {
		f := fmt.Sprintf("questions[%d]", i)
		switch {
		case qu.ID == "":
			bad(f+".id", "required")
		case !validQuestionID(qu.ID):
			bad(f+".id", "use 1-%d characters a-z, 0-9, '_' and '-'", maxQuestionID)
		case seen[qu.ID]:
			bad(f+".id", "duplicate %q", qu.ID)
		}
		checkTexts(bad, f+".text", qu.Text, maxTextLen)
		checkQuestion(bad, f, qu)
		if qu.Item < 0 {
			bad(f+".item", "must not be negative")
		} else if qu.Item > 0 {
			if other, dup := items[qu.Item]; dup {
				bad(f+".item", "item %d already used by %q", qu.Item, other)
			}
			items[qu.Item] = qu.ID
		}
		if qu.ShowIf != "" {
			c, err := parseCondition(qu.ShowIf)
			if err != nil {
				bad(f+".show_if", "%v", err)
			} else {
				for _, id := range c.ids() {
					if !seen[id] {
						bad(f+".show_if", "refers to %q, which is not an earlier question", id)
					}
				}
			}
		}
		seen[qu.ID] = true
	}
	if c := q.Continue; c != nil {
		switch {
		case c.With == "" || !validID(c.With):
			bad("continue.with", "a questionnaire id is required")
		case c.With == q.ID:
			bad("continue.with", "cannot continue with itself")
		}
		if c.AtLeast < 1 || c.AtLeast > maxContinueFrom {
			bad("continue.at_least", "must be 1-%d", maxContinueFrom)
		}
	}
	checkInstrument(bad, q)
	if len(v) > 0 {
		return v
	}
	return nil
}

// checkQuestion checks a question's type, range and options.
func checkQuestion(bad func(string, string, ...any), f string, qu Question) {
	switch qu.Type {
	case Scale:
		if qu.Min < 0 {
			bad(f+".min", "must be 0 or more")
		}
		if qu.Max <= qu.Min {
			bad(f+".max", "must be more than min (%d)", qu.Min)
		} else if qu.Max > maxScaleMax {
			bad(f+".max", "at most %d", maxScaleMax)
		}
		checkOptions(bad, f, qu)
		for j, o := range qu.Options {
			if o.Value < qu.Min || o.Value > qu.Max {
				bad(fmt.Sprintf("%s.options[%d].value", f, j), "%d is outside %d-%d", o.Value, qu.Min, qu.Max)
			}
		}
	case Choice:
		if qu.Min != 0 || qu.Max != 0 {
			bad(f+".min", "min and max are for scale questions")
		}
		if len(qu.Options) < 2 {
			bad(f+".options", "a choice needs 2-%d options", maxOptions)
		}
		checkOptions(bad, f, qu)
	case YesNo, Text:
		if qu.Min != 0 || qu.Max != 0 {
			bad(f+".min", "min and max are for scale questions")
		}
		if len(qu.Options) > 0 {
			bad(f+".options", "not used by %s questions", qu.Type)
		}
	case "":
		bad(f+".type", "required")
	default:
		bad(f+".type", "unknown %q; want scale, choice, yesno or text", qu.Type)
	}
}

// checkOptions checks option values, codes, texts and aliases.
func checkOptions(bad func(string, string, ...any), f string, qu Question) {
	if len(qu.Options) > maxOptions {
		bad(f+".options", "at most %d options", maxOptions)
	}
	values := map[int]bool{}
	codes := map[string]bool{}
	for j, o := range qu.Options {
		of := fmt.Sprintf("%s.options[%d]", f, j)
		if values[o.Value] {
			bad(of+".value", "duplicate %d", o.Value)
		}
		values[o.Value] = true
		if o.Code != "" {
			lc := strings.ToLower(o.Code)
			switch {
			case !validCode(o.Code):
				bad(of+".code", "use 1-%d characters A-Z, a-z, 0-9, '_' and '-'", maxCodeLen)
			case lc == "skip" || lc == "later":
				bad(of+".code", "%q is reserved", o.Code)
			case codes[lc]:
				bad(of+".code", "duplicate %q", o.Code)
			}
			codes[lc] = true
		}
		checkTexts(bad, of+".text", o.Text, maxOptionText)
		if len(o.Aliases) > maxAliases {
			bad(of+".aliases", "at most %d", maxAliases)
		}
		for k, a := range o.Aliases {
			if len(phrase(a)) == 0 || len(a) > maxAliasLen {
				bad(fmt.Sprintf("%s.aliases[%d]", of, k), "needs 1-%d characters with a letter or digit", maxAliasLen)
			}
		}
	}
}

// checkTexts checks a text-by-language map: English required, sizes, keys.
func checkTexts(bad func(string, string, ...any), f string, texts map[string]string, max int) {
	if strings.TrimSpace(texts["en"]) == "" {
		bad(f+".en", "required")
	}
	for lang, t := range texts {
		if !validLang(lang) {
			bad(f, "bad language %q; want a code like \"en\" or \"es\"", lang)
			continue
		}
		if len([]rune(t)) > max {
			bad(f+"."+lang, "longer than %d characters", max)
		}
	}
}

// checkInstrument checks that the questions an instrument scores are there.
func checkInstrument(bad func(string, string, ...any), q *Questionnaire) {
	byItem := map[int]Question{}
	for _, qu := range q.Questions {
		if qu.Item > 0 {
			byItem[qu.Item] = qu
		}
	}
	needItems := func(n int, typ AnswerType, min, max int) {
		for i := 1; i <= n; i++ {
			qu, ok := byItem[i]
			switch {
			case !ok:
				bad("questions", "%s needs a question with item %d", q.Instrument, i)
			case qu.Type != typ:
				bad("questions", "%s item %d (%q) must be type %s", q.Instrument, i, qu.ID, typ)
			case typ == Scale && (qu.Min != min || qu.Max != max):
				bad("questions", "%s item %d (%q) must be a scale %d-%d", q.Instrument, i, qu.ID, min, max)
			}
		}
	}
	switch q.Instrument {
	case InstrumentPHQ2, InstrumentGAD2:
		needItems(2, Scale, 0, 3)
	case InstrumentPHQ9:
		needItems(9, Scale, 0, 3)
	case InstrumentGAD7:
		needItems(7, Scale, 0, 3)
	case InstrumentASQ:
		needItems(5, YesNo, 0, 0)
	case InstrumentCSSRS:
		needItems(6, YesNo, 0, 0)
		if qu, ok := byItem[7]; ok && qu.Type != YesNo {
			bad("questions", "cssrs item 7 (%q, past 3 months?) must be type yesno", qu.ID)
		}
	case InstrumentMood:
		qu, ok := moodQuestion(q)
		if !ok || qu.Min != 0 || qu.Max != 10 {
			bad("questions", "mood needs a scale question 0-10")
		}
	case InstrumentMedication:
		i := slices.IndexFunc(q.Questions, func(qu Question) bool { return qu.Type == Choice || qu.Type == YesNo })
		if i < 0 {
			bad("questions", "medication needs a choice or yesno question")
		} else if qu := q.Questions[i]; qu.Type == Choice && !hasCode(qu, "no") {
			bad(fmt.Sprintf("questions[%d].options", i), "medication needs an option with code \"no\"")
		}
	case InstrumentAppointment:
		i := slices.IndexFunc(q.Questions, func(qu Question) bool { return qu.Type == Choice })
		if i < 0 {
			bad("questions", "appointment needs a choice question")
		} else if qu := q.Questions[i]; !hasCode(qu, "C") || !hasCode(qu, "R") {
			bad(fmt.Sprintf("questions[%d].options", i), "appointment needs options with codes \"C\" and \"R\"")
		}
	}
}

func hasCode(qu Question, code string) bool {
	return slices.ContainsFunc(qu.Options, func(o Option) bool { return strings.EqualFold(o.Code, code) })
}

// validID reports whether s is a questionnaire id: [a-z0-9-], not starting
// or ending with '-'.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// validQuestionID reports whether s is a question id: [a-z0-9_-]{1,32}.
func validQuestionID(s string) bool {
	if s == "" || len(s) > maxQuestionID {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validCode reports whether s is an option code: [A-Za-z0-9_-]{1,16}.
func validCode(s string) bool {
	if s == "" || len(s) > maxCodeLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validLang reports whether s looks like a language tag: "en", "es", "es-MX".
func validLang(s string) bool {
	base, region, hasRegion := strings.Cut(s, "-")
	if len(base) < 2 || len(base) > 3 {
		return false
	}
	for _, r := range base {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	if hasRegion {
		if len(region) < 2 || len(region) > 4 {
			return false
		}
		for _, r := range region {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}
