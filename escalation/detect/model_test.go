package detect

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestCombined covers what issue 13 asks of the two stages together: the
// model catches what the lexicon misses, ambiguous risk is concern with the
// safety question, and the lexicon's idioms keep ordinary replies at none.
func TestCombined(t *testing.T) {
	d := mustNew(t)
	for _, c := range []struct {
		text, lang string
		want       Level
		ask        bool
		source     string // if set, the top signal's source
	}{
		{text: "i cant do this anymore, i have the pills ready", lang: "en", want: Crisis},
		{text: "honestly i just want out", lang: "en", want: Concern, ask: true},
		{text: "whats the point anymore", lang: "en", want: Concern, ask: true},
		{text: "stopped my meds", lang: "en", want: Concern},
		{text: "my friend says she wants to die", lang: "en", want: Concern},
		{text: "this traffic is killing me", lang: "en", want: None},
		{text: "dying to see the game", lang: "en", want: None},
		{text: "killed it at work today", lang: "en", want: None},
		{text: "me muero de risa", lang: "es", want: None},
		{text: "took my meds this morning", lang: "en", want: None},
		{text: "7", lang: "en", want: None},
		{text: "i want to kill myself", lang: "en", want: Crisis, source: SourceLexicon},
		// A joke the model is sure of: the lexicon's crisis is vetoed to
		// concern, never none.
		{text: "if my wifi dies one more time imma kms lol", lang: "en", want: Concern, source: SourceRule},
	} {
		r := d.Detect(c.text, c.lang)
		if r.Level != c.want || r.Ask != c.ask {
			t.Errorf("Detect(%q) = %v ask %v; want %v ask %v (signals %+v)", c.text, r.Level, r.Ask, c.want, c.ask, r.Signals)
			continue
		}
		if c.source != "" && r.Signals[0].Source != c.source {
			t.Errorf("Detect(%q) top source = %s; want %s (signals %+v)", c.text, r.Signals[0].Source, c.source, r.Signals)
		}
	}
}

// TestModelSignalExplains: a preparatory act in everyday words, which no
// lexicon phrase names, is crisis from the model, and the signal names the
// words of the message that weighed most, so a case manager sees why.
func TestModelSignalExplains(t *testing.T) {
	d := mustNew(t)
	const text = "put the dog's food and leash by the door for my neighbor, she's keeping him from now on. thanks for everything"
	lex := mustLexicon(t)
	if got := lex.Detect(text, "en").Level; got != None {
		t.Fatalf("lexicon alone = %v; this test needs a message only the model catches", got)
	}
	r := d.Detect(text, "en")
	if r.Level != Crisis || len(r.Signals) == 0 || r.Signals[0].Source != SourceModel {
		t.Fatalf("Detect(%q) = %v %+v; want crisis from a model signal", text, r.Level, r.Signals)
	}
	sg := r.Signals[0]
	if sg.Category != "preparatory-act" {
		t.Errorf("model signal category = %q; want preparatory-act", sg.Category)
	}
	plain := strings.ReplaceAll(strings.ToLower(text), "'", "")
	for _, part := range strings.Split(sg.Match, ", ") {
		if part == "" || !strings.Contains(plain, part) {
			t.Errorf("model signal match %q: %q is not words of the message", sg.Match, part)
		}
	}
	// The words that make it a preparatory act, not the dog's food (given
	// away for good, a goodbye): which of them weighs most moves with every
	// retraining.
	if !slices.ContainsFunc([]string{"keeping", "from now", "him from", "everything"}, func(w string) bool { return strings.Contains(sg.Match, w) }) {
		t.Errorf("model signal match %q; want it to name \"keeping\", \"from now\", \"him from\" or \"everything\"", sg.Match)
	}
	if got, want := sg.Explain(), "model, words that weighed most: '"+sg.Match+"'"; got != want {
		t.Errorf("Explain() = %q; want %q", got, want)
	}
}

// TestTrainingDeterministic trains again from the embedded corpus and
// compares every weight and threshold with the process's shared model.
func TestTrainingDeterministic(t *testing.T) {
	lex := mustLexicon(t)
	a, err := buildModel(lex, defaultTrain)
	if err != nil {
		t.Fatal(err)
	}
	if b := mustNew(t).m; !reflect.DeepEqual(a, b) {
		t.Fatalf("two trainings differ (thresholds %+v and %+v)", a.th, b.th)
	}
}

// TestAgencyPhraseNotVetoed: a client's known warning words stay crisis
// whatever the model thinks of them.
func TestAgencyPhraseNotVetoed(t *testing.T) {
	d := mustNew(t, Phrase{Text: "going to see grandpa", Level: Crisis, Lang: "en"})
	if r := d.Detect("tonight im going to see grandpa", "en"); r.Level != Crisis {
		t.Errorf("agency crisis phrase = %v; want crisis (signals %+v)", r.Level, r.Signals)
	}
}

func TestReadExamples(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []Example
	}{
		{"triage form", "text,label,lang\ni want to die,crisis,en\nok,none,\n", []Example{
			{Text: "i want to die", Lang: "en", Level: Crisis}, {Text: "ok", Level: None}}},
		{"corpus form", "text,lang,level,category,style,why\n\"hola, bien\",es,none,ordinary,plain,greeting\n", []Example{
			{Text: "hola, bien", Lang: "es", Level: None, Category: "ordinary"}}},
		{"public form", "text,label\nbye world,crisis\nnice day,not_crisis\n", []Example{
			{Text: "bye world", Level: Crisis}, {Text: "nice day", Level: None}}},
	} {
		got, err := ReadExamples(strings.NewReader(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ReadExamples = %+v; want %+v", c.name, got, c.want)
		}
	}
	for _, bad := range []string{"", "words,label\nx,none\n", "text,lang\nx,en\n", "text,label\nx,urgent\n"} {
		if _, err := ReadExamples(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadExamples(%q) = nil error; want an error", bad)
		}
	}
}

func TestEvaluate(t *testing.T) {
	d := mustNew(t)
	exs := []Example{
		{Text: "i want to kill myself", Lang: "en", Level: Crisis, Category: "suicidal-ideation"},
		{Text: "me quiero morir", Lang: "es", Level: Crisis, Category: "suicidal-ideation"},
		{Text: "stopped my meds", Lang: "en", Level: Concern, Category: "stopped-medication"},
		{Text: "feeling ok today", Lang: "en", Level: None, Category: "ordinary"},
		{Text: "i want to die", Lang: "en", Level: None, Category: "ordinary"}, // a wrong gold label: a false crisis
	}
	r := Evaluate(d, exs)
	if r.N != 5 {
		t.Errorf("N = %d; want 5", r.N)
	}
	want := [3][3]int{{1, 0, 1}, {0, 1, 0}, {0, 0, 2}}
	if r.Confusion != want {
		t.Errorf("confusion = %v; want %v", r.Confusion, want)
	}
	if got := r.Levels[Crisis].Precision(); got != 2.0/3 {
		t.Errorf("crisis precision = %.3f; want 0.667", got)
	}
	if got := r.Levels[Crisis].Recall(); got != 1 {
		t.Errorf("crisis recall = %.3f; want 1", got)
	}
	if got := r.All().NoneCrisis(); got != 0.5 {
		t.Errorf("none flagged crisis = %.3f; want 0.5", got)
	}
	if got := r.ByLang["es"].CrisisRecall(); got != 1 {
		t.Errorf("es crisis recall = %.3f; want 1", got)
	}
	if c := r.ByCat["ordinary"]; c.N != 2 || c.TP != 1 || c.Alerted != 1 {
		t.Errorf("ordinary = %+v; want 2 rows, 1 at its level, 1 alerted", c)
	}
	var out bytes.Buffer
	if _, err := r.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"crisis recall 1.000", "none flagged crisis 0.500", "confusion", "stopped-medication", "es "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
