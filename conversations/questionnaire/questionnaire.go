package questionnaire

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"sync"
)

// AnswerType says what kind of answer a question takes.
type AnswerType string

// The answer types.
const (
	// Scale is a whole number from Min to Max; Options may label some values.
	Scale AnswerType = "scale"
	// Choice is one of Options, typed as its position (1, 2, …), its letter
	// (a, b, …), its code, its words, or pressed as a button.
	Choice AnswerType = "choice"
	// YesNo is yes (Value 1, Code "yes") or no (Value 0, Code "no").
	YesNo AnswerType = "yesno"
	// Text is any non-empty free text.
	Text AnswerType = "text"
)

// Instruments: how a questionnaire is scored.
const (
	InstrumentPHQ2        = "phq2"
	InstrumentPHQ9        = "phq9"
	InstrumentGAD2        = "gad2"
	InstrumentGAD7        = "gad7"
	InstrumentASQ         = "asq"
	InstrumentCSSRS       = "cssrs"
	InstrumentMood        = "mood"
	InstrumentMedication  = "medication"
	InstrumentAppointment = "appointment"
	InstrumentCustom      = "custom"
)

// Option is one labelled answer of a choice question, or a labelled value of
// a scale question.
type Option struct {
	// Value is the number stored and scored for this option.
	Value int `json:"value"`
	// Code is a short language-neutral name, e.g. "C", "R", "yes", "some".
	// The codes "yes", "no", "some" and the frequency codes "not-at-all",
	// "several-days", "more-than-half", "nearly-every-day" bring their own
	// English and Spanish words to the parser.
	Code string `json:"code,omitempty"`
	// Text is the label by language ("en", "es").
	Text map[string]string `json:"text"`
	// Aliases are further words or phrases accepted for this option, in any
	// language ("ok", "confirmo").
	Aliases []string `json:"aliases,omitempty"`
}

// Question is one question of a questionnaire.
type Question struct {
	// ID is unique within its questionnaire; answers are keyed by it.
	ID string `json:"id"`
	// Text is the question by language ("en", "es").
	Text map[string]string `json:"text"`
	// Type is the kind of answer expected.
	Type AnswerType `json:"type"`
	// Min and Max bound a Scale answer.
	Min int `json:"min,omitempty"`
	Max int `json:"max,omitempty"`
	// Options are the answers of a Choice question, or labels of a Scale.
	Options []Option `json:"options,omitempty"`
	// Optional questions advertise SKIP (any question may be skipped).
	Optional bool `json:"optional,omitempty"`
	// Item is the instrument's item number (PHQ-9 item 9 is 9), 0 if none.
	Item int `json:"item,omitempty"`
	// ShowIf, when set, asks the question only if the condition holds on the
	// answers so far. Grammar: clauses joined by "|" (any one holds), each
	// "<question id>=<v>[,<v>…]" where v is an option code, a whole number or
	// "skipped", or "<question id>>=<n>" / "<question id><=<n>".
	// The ASQ's question 5: "q1=yes,skipped|q2=yes,skipped|…".
	ShowIf string `json:"show_if,omitempty"`
}

// Continuation says which questionnaire follows a screen that is positive.
type Continuation struct {
	// With is the id of the questionnaire that continues (phq2 → "phq9").
	With string `json:"with"`
	// AtLeast is the screen total from which it continues (3).
	AtLeast int `json:"at_least"`
}

// Questionnaire is a list of questions and how to score them.
type Questionnaire struct {
	// ID is the catalogue key: [a-z0-9-], e.g. "phq9", "daily-mood".
	ID string `json:"id"`
	// Name is the staff-facing name ("PHQ-9"); never sent to a client.
	Name string `json:"name,omitempty"`
	// Title is the client-facing title by language. It carries no diagnosis,
	// programme name or crisis word: the phone may be shared.
	Title map[string]string `json:"title"`
	// Instrument says how Score reads the answers (InstrumentPHQ9, …).
	Instrument string `json:"instrument"`
	// Questions are asked in order (skipping those whose ShowIf fails).
	Questions []Question `json:"questions"`
	// Continue, when set, names the questionnaire that follows a positive
	// screen; the continuation asks only what was not answered (see Carry).
	Continue *Continuation `json:"continue,omitempty"`
	// Custom marks an agency-defined questionnaire.
	Custom bool `json:"custom,omitempty"`
}

// Question returns the question with the given id.
func (q *Questionnaire) Question(id string) (Question, bool) {
	for _, qu := range q.Questions {
		if qu.ID == id {
			return qu, true
		}
	}
	return Question{}, false
}

// NextQuestion returns the question to ask after the one with id after ("" for
// the first). Questions already in answers are passed over (so a continuation
// that carries the screen's answers asks only the rest), and so are questions
// whose ShowIf does not hold (the ASQ asks question 5 only when positive). It
// reports false when the questionnaire is finished or after is unknown.
func (q *Questionnaire) NextQuestion(answers map[string]Answer, after string) (Question, bool) {
	start := 0
	if after != "" {
		i := slices.IndexFunc(q.Questions, func(qu Question) bool { return qu.ID == after })
		if i < 0 {
			return Question{}, false
		}
		start = i + 1
	}
	for _, qu := range q.Questions[start:] {
		if _, done := answers[qu.ID]; done {
			continue
		}
		if qu.ShowIf != "" {
			c, err := parseCondition(qu.ShowIf)
			if err != nil || !c.holds(answers) {
				continue
			}
		}
		return qu, true
	}
	return Question{}, false
}

// Carry maps the answers given to from onto the questions of to that have the
// same instrument item number, so that a continuation (PHQ-2 → PHQ-9) does not
// ask again what was answered, and its score uses every item.
func Carry(from *Questionnaire, answers map[string]Answer, to *Questionnaire) map[string]Answer {
	out := make(map[string]Answer)
	for _, fq := range from.Questions {
		a, ok := answers[fq.ID]
		if !ok || fq.Item == 0 {
			continue
		}
		for _, tq := range to.Questions {
			if tq.Item == fq.Item {
				out[tq.ID] = a
			}
		}
	}
	return out
}

// Clone returns a deep copy of q.
func (q *Questionnaire) Clone() *Questionnaire {
	if q == nil {
		return nil
	}
	c := *q
	c.Title = maps.Clone(q.Title)
	if q.Continue != nil {
		cont := *q.Continue
		c.Continue = &cont
	}
	c.Questions = make([]Question, len(q.Questions))
	for i, qu := range q.Questions {
		qu.Text = maps.Clone(qu.Text)
		opts := make([]Option, len(qu.Options))
		for j, o := range qu.Options {
			o.Text = maps.Clone(o.Text)
			o.Aliases = slices.Clone(o.Aliases)
			opts[j] = o
		}
		if qu.Options == nil {
			opts = nil
		}
		qu.Options = opts
		c.Questions[i] = qu
	}
	return &c
}

// Catalogue is a set of questionnaires by id. It never changes once made, so
// it is safe for concurrent use; Get and List hand out copies.
type Catalogue struct {
	byID map[string]*Questionnaire
	ids  []string // sorted
}

// NewCatalogue makes a catalogue of qs after validating each one; ids must be
// unique and every continuation must name a questionnaire of the catalogue.
func NewCatalogue(qs ...*Questionnaire) (*Catalogue, error) {
	c := &Catalogue{byID: make(map[string]*Questionnaire, len(qs))}
	for _, q := range qs {
		if q == nil {
			return nil, fmt.Errorf("new catalogue: nil questionnaire")
		}
		if err := Validate(q); err != nil {
			return nil, fmt.Errorf("questionnaire %q: %w", q.ID, err)
		}
		if _, dup := c.byID[q.ID]; dup {
			return nil, fmt.Errorf("questionnaire %q: id already in the catalogue", q.ID)
		}
		c.byID[q.ID] = q.Clone()
		c.ids = append(c.ids, q.ID)
	}
	sort.Strings(c.ids)
	for _, id := range c.ids {
		if cont := c.byID[id].Continue; cont != nil {
			if _, ok := c.byID[cont.With]; !ok {
				return nil, fmt.Errorf("questionnaire %q: continue.with: no questionnaire %q", id, cont.With)
			}
		}
	}
	return c, nil
}

// With returns a new catalogue holding c's questionnaires and qs (agency-
// defined ones); an id already in c is an error.
func (c *Catalogue) With(qs ...*Questionnaire) (*Catalogue, error) {
	all := make([]*Questionnaire, 0, len(c.ids)+len(qs))
	for _, id := range c.ids {
		all = append(all, c.byID[id])
	}
	return NewCatalogue(append(all, qs...)...)
}

// Lookup returns the catalogue's own questionnaire with this id, shared and
// read-only: the engine's hot path reads it without copying.
func (c *Catalogue) Lookup(id string) (*Questionnaire, bool) {
	q, ok := c.byID[id]
	return q, ok
}

// Get returns a copy of the questionnaire with the given id.
func (c *Catalogue) Get(id string) (*Questionnaire, bool) {
	q, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	return q.Clone(), true
}

// List returns copies of every questionnaire, ordered by id.
func (c *Catalogue) List() []*Questionnaire {
	out := make([]*Questionnaire, 0, len(c.ids))
	for _, id := range c.ids {
		out = append(out, c.byID[id].Clone())
	}
	return out
}

//go:embed builtin/*.json
var builtinFS embed.FS

// builtin parses the embedded definitions once.
var builtin = sync.OnceValues(func() (*Catalogue, error) { return loadBuiltin(builtinFS) })

// Builtin returns the catalogue of built-in questionnaires, parsed from the
// embedded builtin/*.json files on first use. It panics only if those files
// are broken, which the package's tests rule out.
func Builtin() *Catalogue {
	c, err := builtin()
	if err != nil {
		panic(fmt.Sprintf("questionnaire: built-in definitions are broken: %v", err))
	}
	return c
}

func loadBuiltin(fsys fs.FS) (*Catalogue, error) {
	names, err := fs.Glob(fsys, "builtin/*.json")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no built-in definitions")
	}
	var qs []*Questionnaire
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		q, err := decodeStrict(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if q.Custom {
			return nil, fmt.Errorf("%s: built-in marked custom", name)
		}
		qs = append(qs, q)
	}
	return NewCatalogue(qs...)
}

// decodeStrict decodes one questionnaire, refusing unknown fields (a typo in
// a built-in file is an error, not a silently missing setting).
func decodeStrict(b []byte) (*Questionnaire, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var q Questionnaire
	if err := dec.Decode(&q); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode: trailing data")
	}
	return &q, nil
}
