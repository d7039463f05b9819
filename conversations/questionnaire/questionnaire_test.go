package questionnaire

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func TestBuiltinLoadsAndValidates(t *testing.T) {
	c := Builtin()
	want := []string{"appointment-confirm", "asq", "daily-mood", "gad2", "gad7", "medication", "phq2", "phq9"}
	var ids []string
	for _, q := range c.List() {
		ids = append(ids, q.ID)
		if err := Validate(q); err != nil {
			t.Errorf("Validate(%s) = %v", q.ID, err)
		}
		if q.Custom {
			t.Errorf("%s is marked custom", q.ID)
		}
		for _, lang := range []string{"en", "es"} {
			if q.Title[lang] == "" {
				t.Errorf("%s: no %s title", q.ID, lang)
			}
			for _, qu := range q.Questions {
				if qu.Text[lang] == "" {
					t.Errorf("%s/%s: no %s text", q.ID, qu.ID, lang)
				}
				for _, o := range qu.Options {
					if o.Text[lang] == "" {
						t.Errorf("%s/%s option %d: no %s text", q.ID, qu.ID, o.Value, lang)
					}
				}
			}
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("List() ids = %v; want %v", ids, want)
	}
	if _, ok := c.Get("cssrs"); ok {
		t.Error("C-SSRS is built in; docs/clinical.md (\"Licensing\") says it must not be")
	}
	if _, ok := c.Get("nope"); ok {
		t.Error("Get(nope) found something")
	}
	wantItems := map[string]int{"phq2": 2, "phq9": 9, "gad2": 2, "gad7": 7, "asq": 5}
	for id, n := range wantItems {
		q := get(t, id)
		if len(q.Questions) != n {
			t.Errorf("%s has %d questions; want %d", id, len(q.Questions), n)
		}
	}
	if c := get(t, "phq2").Continue; c == nil || c.With != "phq9" || c.AtLeast != 3 {
		t.Errorf("phq2 continue = %+v; want phq9 at 3", c)
	}
	if c := get(t, "gad2").Continue; c == nil || c.With != "gad7" || c.AtLeast != 3 {
		t.Errorf("gad2 continue = %+v; want gad7 at 3", c)
	}
}

// TestTitlesAreDiscreet: titles may be shown on a shared phone, so they name
// no diagnosis, programme, instrument or crisis.
func TestTitlesAreDiscreet(t *testing.T) {
	banned := []string{"depress", "anxi", "suicid", "kill", "dead", "muert", "crisis", "phq", "gad", "asq",
		"mental", "mood disorder", "screen", "ansiedad", "deprim", "medic", "psych", "psiq", "therapy", "terapia"}
	for _, q := range Builtin().List() {
		for lang, title := range q.Title {
			for _, b := range banned {
				if strings.Contains(strings.ToLower(title), b) {
					t.Errorf("%s title[%s] = %q holds %q", q.ID, lang, title, b)
				}
			}
		}
	}
}

func TestGetReturnsCopies(t *testing.T) {
	c := Builtin()
	q, _ := c.Get("phq9")
	q.Questions[0].Text["en"] = "changed"
	q.Questions[0].Options[0].Text["en"] = "changed"
	q.Title["en"] = "changed"
	again, _ := c.Get("phq9")
	if again.Questions[0].Text["en"] == "changed" || again.Questions[0].Options[0].Text["en"] == "changed" ||
		again.Title["en"] == "changed" {
		t.Error("a change to Get's result reached the catalogue")
	}
}

func TestCatalogueConcurrentReads(t *testing.T) {
	c := Builtin()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				for _, q := range c.List() {
					got, ok := c.Get(q.ID)
					if !ok {
						t.Errorf("Get(%s) not found", q.ID)
						return
					}
					qu, _ := got.NextQuestion(nil, "")
					qu.Render("es", false)
				}
			}
		})
	}
	wg.Wait()
}

func TestLoadBuiltinRejectsBrokenFiles(t *testing.T) {
	good := `{"id":"x","title":{"en":"X"},"instrument":"custom","questions":[{"id":"a","type":"text","text":{"en":"A?"}}]}`
	cases := map[string]string{
		"bad json":      `{"id":`,
		"unknown field": strings.Replace(good, `"instrument"`, `"instrumnet":"custom","instrument"`, 1),
		"invalid":       strings.Replace(good, `"id":"x"`, `"id":"X!"`, 1),
		"custom":        strings.Replace(good, `"id":"x"`, `"id":"x","custom":true`, 1),
		"bad continue":  strings.Replace(good, `"id":"x"`, `"id":"x","continue":{"with":"y","at_least":3}`, 1),
	}
	for name, body := range cases {
		fsys := fstest.MapFS{"builtin/x.json": {Data: []byte(body)}}
		if _, err := loadBuiltin(fsys); err == nil {
			t.Errorf("%s: loadBuiltin accepted it", name)
		}
	}
	if _, err := loadBuiltin(fstest.MapFS{"builtin/x.json": {Data: []byte(good)}}); err != nil {
		t.Errorf("good file: %v", err)
	}
	if _, err := loadBuiltin(fstest.MapFS{}); err == nil {
		t.Error("no files: accepted")
	}
}

// agency returns a valid agency-defined questionnaire to break in tests.
func agency() *Questionnaire {
	return &Questionnaire{
		ID: "sleep-check", Title: map[string]string{"en": "Sleep", "es": "Sueño"}, Instrument: InstrumentCustom, Custom: true,
		Questions: []Question{
			{ID: "hours", Type: Scale, Min: 0, Max: 14, Text: map[string]string{"en": "How many hours did you sleep?"}},
			{ID: "rested", Type: YesNo, Text: map[string]string{"en": "Do you feel rested?"}},
			{ID: "where", Type: Choice, Text: map[string]string{"en": "Where did you sleep?"}, Options: []Option{
				{Value: 1, Code: "home", Text: map[string]string{"en": "Home"}},
				{Value: 2, Code: "shelter", Text: map[string]string{"en": "Shelter"}},
			}},
			{ID: "why", Type: Text, Optional: true, ShowIf: "rested=no", Text: map[string]string{"en": "Why not?"}},
		},
	}
}

func TestValidateAgencyDefinitions(t *testing.T) {
	if err := Validate(agency()); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	cases := []struct {
		name   string
		break_ func(q *Questionnaire)
		field  string
	}{
		{"no id", func(q *Questionnaire) { q.ID = "" }, "id: required"},
		{"upper-case id", func(q *Questionnaire) { q.ID = "Sleep" }, "id: use only a-z"},
		{"id with space", func(q *Questionnaire) { q.ID = "sleep check" }, "id: use only a-z"},
		{"id ends with -", func(q *Questionnaire) { q.ID = "sleep-" }, "id: use only a-z"},
		{"long id", func(q *Questionnaire) { q.ID = strings.Repeat("a", 41) }, "id: longer than 40"},
		{"no English title", func(q *Questionnaire) { q.Title = map[string]string{"es": "Sueño"} }, "title.en: required"},
		{"bad language", func(q *Questionnaire) { q.Title["english"] = "x" }, `title: bad language "english"`},
		{"unknown instrument", func(q *Questionnaire) { q.Instrument = "bdi" }, `instrument: unknown "bdi"`},
		{"no instrument", func(q *Questionnaire) { q.Instrument = "" }, "instrument: required"},
		{"no questions", func(q *Questionnaire) { q.Questions = nil }, "questions: at least one"},
		{"31 questions", func(q *Questionnaire) {
			for i := len(q.Questions); i < 31; i++ {
				q.Questions = append(q.Questions, Question{ID: fmt.Sprintf("x%d", i), Type: Text, Text: map[string]string{"en": "?"}})
			}
		}, "questions: 31 questions; at most 30"},
		{"no question id", func(q *Questionnaire) { q.Questions[1].ID = "" }, "questions[1].id: required"},
		{"bad question id", func(q *Questionnaire) { q.Questions[1].ID = "Q 1" }, "questions[1].id: use"},
		{"duplicate question id", func(q *Questionnaire) { q.Questions[1].ID = "hours" }, `questions[1].id: duplicate "hours"`},
		{"no English text", func(q *Questionnaire) { q.Questions[2].Text = map[string]string{"es": "¿Dónde?"} }, "questions[2].text.en: required"},
		{"long text", func(q *Questionnaire) { q.Questions[0].Text["en"] = strings.Repeat("x", 321) }, "questions[0].text.en: longer than 320"},
		{"no type", func(q *Questionnaire) { q.Questions[0].Type = "" }, "questions[0].type: required"},
		{"unknown type", func(q *Questionnaire) { q.Questions[0].Type = "slider" }, `questions[0].type: unknown "slider"`},
		{"scale max <= min", func(q *Questionnaire) { q.Questions[0].Max = 0 }, "questions[0].max: must be more than min"},
		{"scale negative min", func(q *Questionnaire) { q.Questions[0].Min = -3 }, "questions[0].min: must be 0 or more"},
		{"scale too wide", func(q *Questionnaire) { q.Questions[0].Max = 1000 }, "questions[0].max: at most 100"},
		{"scale label out of range", func(q *Questionnaire) {
			q.Questions[0].Options = []Option{{Value: 20, Text: map[string]string{"en": "lots"}}}
		}, "questions[0].options[0].value: 20 is outside 0-14"},
		{"choice with one option", func(q *Questionnaire) { q.Questions[2].Options = q.Questions[2].Options[:1] }, "questions[2].options: a choice needs 2-10"},
		{"duplicate option value", func(q *Questionnaire) { q.Questions[2].Options[1].Value = 1 }, "questions[2].options[1].value: duplicate 1"},
		{"duplicate option code", func(q *Questionnaire) { q.Questions[2].Options[1].Code = "HOME" }, `questions[2].options[1].code: duplicate "HOME"`},
		{"bad option code", func(q *Questionnaire) { q.Questions[2].Options[1].Code = "a b" }, "questions[2].options[1].code: use"},
		{"reserved option code", func(q *Questionnaire) { q.Questions[2].Options[1].Code = "skip" }, `questions[2].options[1].code: "skip" is reserved`},
		{"option without English", func(q *Questionnaire) { q.Questions[2].Options[1].Text = map[string]string{"es": "Refugio"} }, "questions[2].options[1].text.en: required"},
		{"empty alias", func(q *Questionnaire) { q.Questions[2].Options[1].Aliases = []string{"!!"} }, "questions[2].options[1].aliases[0]"},
		{"yesno with options", func(q *Questionnaire) { q.Questions[1].Options = q.Questions[2].Options }, "questions[1].options: not used by yesno"},
		{"min on text", func(q *Questionnaire) { q.Questions[3].Max = 3 }, "questions[3].min: min and max are for scale"},
		{"bad show_if", func(q *Questionnaire) { q.Questions[3].ShowIf = "rested" }, "questions[3].show_if: clause"},
		{"show_if on a later question", func(q *Questionnaire) { q.Questions[0].ShowIf = "rested=yes" }, `questions[0].show_if: refers to "rested"`},
		{"negative item", func(q *Questionnaire) { q.Questions[0].Item = -1 }, "questions[0].item: must not be negative"},
		{"duplicate item", func(q *Questionnaire) { q.Questions[0].Item = 1; q.Questions[1].Item = 1 }, "questions[1].item: item 1 already used"},
		{"continue with itself", func(q *Questionnaire) { q.Continue = &Continuation{With: q.ID, AtLeast: 3} }, "continue.with: cannot continue with itself"},
		{"continue at 0", func(q *Questionnaire) { q.Continue = &Continuation{With: "phq9"} }, "continue.at_least: must be 1-100"},
		{"phq9 without its items", func(q *Questionnaire) { q.Instrument = InstrumentPHQ9 }, "questions: phq9 needs a question with item 1"},
		{"asq with a scale item", func(q *Questionnaire) {
			q.Instrument = InstrumentASQ
			for i := range q.Questions {
				q.Questions[i].Item = i + 1
			}
		}, `questions: asq item 1 ("hours") must be type yesno`},
		{"mood 0-14", func(q *Questionnaire) { q.Instrument = InstrumentMood }, "questions: mood needs a scale question 0-10"},
		{"appointment without C and R", func(q *Questionnaire) { q.Instrument = InstrumentAppointment }, `questions[2].options: appointment needs options with codes "C" and "R"`},
	}
	for _, c := range cases {
		q := agency()
		c.break_(q)
		err := Validate(q)
		var ve ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: Validate = %v; want a ValidationError", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: Validate = %q; want it to say %q", c.name, err, c.field)
		}
	}
	if err := Validate(nil); err == nil {
		t.Error("Validate(nil) = nil")
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	q := agency()
	q.ID = ""
	q.Questions[0].Type = "slider"
	q.Questions[2].Text = nil
	var ve ValidationError
	if !errors.As(Validate(q), &ve) || len(ve) != 3 {
		t.Fatalf("Validate = %v; want 3 problems", ve)
	}
	want := []string{"id", "questions[0].type", "questions[2].text.en"}
	for i, f := range ve {
		if f.Field != want[i] {
			t.Errorf("problem %d field %q; want %q", i, f.Field, want[i])
		}
	}
}

func TestAgencyJSON(t *testing.T) {
	body := `{"id":"housing","title":{"en":"Housing"},"instrument":"custom","custom":true,"questions":[
		{"id":"stable","type":"yesno","text":{"en":"Do you have a stable place to stay?","es":"¿Tiene un lugar estable?"}},
		{"id":"nights","type":"scale","min":0,"max":7,"text":{"en":"Nights outside this week?"},"show_if":"stable=no"}]}`
	var q Questionnaire
	if err := json.Unmarshal([]byte(body), &q); err != nil {
		t.Fatal(err)
	}
	if err := Validate(&q); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	if _, clash := Builtin().Get(q.ID); clash {
		t.Fatalf("%s clashes with a built-in", q.ID)
	}
	c, err := Builtin().With(&q)
	if err != nil {
		t.Fatalf("With = %v", err)
	}
	if _, ok := c.Get("housing"); !ok {
		t.Error("With: housing not found")
	}
	if _, ok := Builtin().Get("housing"); ok {
		t.Error("With changed the built-in catalogue")
	}
	if next, ok := q.NextQuestion(map[string]Answer{"stable": ansYes}, "stable"); ok {
		t.Errorf("after stable=yes: %q; want the end (show_if)", next.ID)
	}
	if next, ok := q.NextQuestion(map[string]Answer{"stable": ansNo}, "stable"); !ok || next.ID != "nights" {
		t.Errorf("after stable=no: %q, %t; want nights", next.ID, ok)
	}

	clash := agency()
	clash.ID = "phq9"
	if _, err := Builtin().With(clash); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("With(phq9 clash) = %v; want an id clash", err)
	}
	broken := agency()
	broken.Questions[0].Type = "slider"
	if _, err := Builtin().With(broken); err == nil {
		t.Error("With(invalid) accepted it")
	}
	dangling := agency()
	dangling.Continue = &Continuation{With: "nowhere", AtLeast: 2}
	if _, err := Builtin().With(dangling); err == nil || !strings.Contains(err.Error(), "continue.with") {
		t.Errorf("With(dangling continuation) = %v; want continue.with error", err)
	}
}

func TestConditions(t *testing.T) {
	answers := map[string]Answer{"a": num(3), "b": ansYes, "c": skipped}
	cases := []struct {
		cond string
		want bool
	}{
		{"a=3", true}, {"a=2", false}, {"a>=3", true}, {"a>=4", false}, {"a<=3", true}, {"a<=2", false},
		{"b=yes", true}, {"b=YES", true}, {"b=no", false}, {"c=skipped", true}, {"c=yes", false},
		{"b=skipped", false}, {"z=yes", false}, {"a=2|b=yes", true}, {"a=2|b=no", false}, {"a=1,2,3", true},
		{"c>=0", false},
	}
	for _, c := range cases {
		cond, err := parseCondition(c.cond)
		if err != nil {
			t.Errorf("parseCondition(%q) = %v", c.cond, err)
			continue
		}
		if got := cond.holds(answers); got != c.want {
			t.Errorf("%q holds = %t; want %t", c.cond, got, c.want)
		}
	}
	for _, bad := range []string{"", "a", "=yes", "a=", "a>=x", "A=1", "a=1|"} {
		if _, err := parseCondition(bad); err == nil {
			t.Errorf("parseCondition(%q) accepted it", bad)
		}
	}
}
