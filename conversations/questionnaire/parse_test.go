package questionnaire

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// question returns a built-in question, failing the test if it is missing.
func question(t testing.TB, qid, id string) Question {
	t.Helper()
	q, ok := Builtin().Get(qid)
	if !ok {
		t.Fatalf("Builtin().Get(%q) not found", qid)
	}
	qu, ok := q.Question(id)
	if !ok {
		t.Fatalf("%s has no question %q", qid, id)
	}
	return qu
}

// want describes an expected parse: a value, a code, skipped, or an error.
type want struct {
	value   int
	code    string
	skipped bool
	err     error
}

func val(v int) want            { return want{value: v} }
func code(v int, c string) want { return want{value: v, code: c} }

var (
	bad   = want{err: ErrUnparseable}
	later = want{err: ErrLater}
	skip  = want{skipped: true}
)

func checkParse(t *testing.T, q Question, lang, text string, w want) {
	t.Helper()
	got, err := ParseAnswer(q, lang, text)
	if w.err != nil {
		if !errors.Is(err, w.err) {
			t.Errorf("ParseAnswer(%s, %q) = %+v, %v; want error %v", q.ID, text, got, err, w.err)
		}
		return
	}
	if err != nil {
		t.Errorf("ParseAnswer(%s, %q) error %v; want %+v", q.ID, text, err, w)
		return
	}
	if w.skipped {
		if !got.Skipped {
			t.Errorf("ParseAnswer(%s, %q) = %+v; want skipped", q.ID, text, got)
		}
		return
	}
	if got.Skipped || got.Value == nil || *got.Value != w.value || (w.code != "" && got.Code != w.code) {
		gv := "nil"
		if got.Value != nil {
			gv = strconv.Itoa(*got.Value)
		}
		t.Errorf("ParseAnswer(%s, %q) = value %s code %q skipped %t; want value %d code %q",
			q.ID, text, gv, got.Code, got.Skipped, w.value, w.code)
	}
}

func TestParseMood(t *testing.T) {
	q := question(t, "daily-mood", "mood")
	cases := []struct {
		text string
		want want
	}{
		{"7", val(7)}, {" 7 ", val(7)}, {"7/10", val(7)}, {"7 / 10", val(7)}, {"I'd say 7", val(7)},
		{"I’d say 7", val(7)}, {"7.", val(7)}, {"7!!", val(7)}, {"seven", val(7)}, {"SEVEN!!!", val(7)},
		{"Siete", val(7)}, {"siete de 10", val(7)}, {"un 7 de 10", val(7)}, {"7 out of 10", val(7)},
		{"zero", val(0)}, {"cero", val(0)}, {"0", val(0)}, {"00", val(0)}, {"diez", val(10)},
		{"ten", val(10)}, {"10/10", val(10)}, {"10", val(10)}, {"maybe 6", val(6)}, {"6 I guess", val(6)},
		{"7️⃣", val(7)}, {"ans:4", val(4)}, {"ANS:4", val(4)}, {"very good", val(10)}, {"Muy mal", val(0)},
		{"it's a 5 today", val(5)}, {"5 5", val(5)}, {"five 5", val(5)},
		// Garbage, ambiguity, out of range.
		{"11", bad}, {"once", bad}, {"-1", bad}, {"7.5", bad}, {"7,5", bad}, {"6 or 7", bad}, {"6-7", bad},
		{"0-10", bad}, {"good", bad}, {"", bad}, {"   ", bad}, {"ans:11", bad}, {"ans:x", bad},
		{"ans:", bad}, {"99999999999999999999999", bad}, {"!!!", bad}, {"?", bad}, {"not very good", bad},
		{"idk", bad}, {"10:30", bad},
		// Skip and later, any question.
		{"SKIP", skip}, {"skip", skip}, {"saltar", skip}, {"Omitir", skip}, {"skip please", skip},
		{"prefiero no contestar", skip}, {"prefer not to say", skip}, {"ans:skip", skip},
		{"LATER", later}, {"later", later}, {"luego", later}, {"después", later}, {"despues", later},
		{"más tarde", later}, {"not now", later}, {"ans:later", later},
	}
	for _, c := range cases {
		checkParse(t, q, "en", c.text, c.want)
	}
}

func TestParseFrequency(t *testing.T) {
	q := question(t, "phq9", "item9")
	cases := []struct {
		text string
		want want
	}{
		{"0", code(0, "not-at-all")}, {"not at all", val(0)}, {"Not at all.", val(0)}, {"para nada", val(0)},
		{"nunca", val(0)}, {"ningún día", val(0)}, {"ningun dia", val(0)}, {"NO", val(0)}, {"never", val(0)},
		{"nope", val(0)}, {"no, never", val(0)},
		{"1", val(1)}, {"several days", code(1, "several-days")}, {"varios días", val(1)},
		{"Several days I guess", val(1)}, {"a veces", val(1)}, {"sometimes", val(1)}, {"uno", val(1)},
		{"2", val(2)}, {"more than half the days", val(2)}, {"más de la mitad de los días", val(2)},
		{"mas de la mitad", val(2)}, {"over half the days", val(2)}, {"most days", val(2)},
		{"3", val(3)}, {"nearly every day", val(3)}, {"Nearly every day!!", val(3)},
		{"casi todos los días", val(3)}, {"every day", val(3)}, {"todos los dias", val(3)},
		{"3 nearly every day", val(3)}, {"3 - nearly every day", val(3)}, {"casi a diario", val(3)},
		{"ans:2", val(2)}, {"ans:nearly-every-day", val(3)},
		{"4", bad}, {"not every day", bad}, {"several days, 2", bad}, {"almost never", bad},
		{"often", bad}, {"every day? not sure", bad}, {"2 days", bad}, {"3 días", bad}, {"two times", bad},
		{"0 days", val(0)}, {"one or two", bad}, {"yes", bad}, {"ans:4", bad},
		{"skip", skip}, {"luego", later},
	}
	for _, c := range cases {
		checkParse(t, q, "es", c.text, c.want)
	}
}

func TestParseYesNo(t *testing.T) {
	q := question(t, "asq", "q1")
	y, n := code(1, "yes"), code(0, "no")
	cases := []struct {
		text string
		want want
	}{
		{"y", y}, {"Y", y}, {"yes", y}, {"YES", y}, {"Yesss", y}, {"yeah", y}, {"yep", y}, {"yup", y},
		{"sure", y}, {"Sí", y}, {"si", y}, {"SIII", y}, {"sí.", y}, {"claro", y}, {"claro que sí", y},
		{"👍", y}, {"👍🏽", y}, {"yes I have", y}, {"I did", y}, {"ans:yes", y}, {"ans:1", y},
		{"n", n}, {"N", n}, {"no", n}, {"No.", n}, {"nope", n}, {"nah", n}, {"Noooo", n}, {"no, never", n},
		{"I did not", n}, {"not really", n}, {"nunca", n}, {"para nada", n}, {"👎", n}, {"ans:no", n},
		{"ans:0", n},
		{"ok", bad}, {"okay", bad}, {"not sure", bad}, {"maybe", bad}, {"yes no", bad}, {"si no", bad},
		{"1", bad}, {"idk", bad}, {"no sé", bad}, {"hello", bad}, {"ans:maybe", bad},
		{"skip", skip}, {"omitir", skip}, {"later", later},
	}
	for _, c := range cases {
		checkParse(t, q, "en", c.text, c.want)
	}
}

func TestParseMedication(t *testing.T) {
	q := question(t, "medication", "taken")
	yes, no, some := code(2, "yes"), code(0, "no"), code(1, "some")
	cases := []struct {
		text string
		want want
	}{
		{"yes", yes}, {"Sí", yes}, {"1", yes}, {"a", yes}, {"option 1", yes}, {"#1", yes}, {"ans:yes", yes},
		{"no", no}, {"nope", no}, {"2", no}, {"b", no}, {"ans:no", no}, {"ans:0", no},
		{"some", some}, {"Some of them", some}, {"algunas", some}, {"algunos", some}, {"a veces", some},
		{"solo algunos", some}, {"Only some", some}, {"not all", some}, {"3", some}, {"c", some},
		{"ans:some", some}, {"ans:1", some},
		{"4", bad}, {"0", bad}, {"d", bad}, {"yes but not all", bad}, {"maybe", bad}, {"ok", bad},
		{"I missed 2", bad},
	}
	for _, c := range cases {
		checkParse(t, q, "en", c.text, c.want)
	}
}

func TestParseAppointment(t *testing.T) {
	q := question(t, "appointment-confirm", "confirm")
	c, r := code(1, "C"), code(2, "R")
	cases := []struct {
		text string
		want want
	}{
		{"C", c}, {"c", c}, {" C ", c}, {"c.", c}, {"confirm", c}, {"Confirmo", c}, {"ok", c}, {"yes", c},
		{"sí", c}, {"I'll be there", c}, {"ans:C", c}, {"ans:c", c}, {"1", c}, {"👍", c},
		{"R", r}, {"r!", r}, {"reschedule", r}, {"can't make it", r}, {"no puedo", r}, {"no, I can't", r},
		{"Cambiar la cita", r}, {"ans:R", r}, {"2", r},
		{"a", bad}, {"x", bad}, {"3", bad}, {"yes no", bad}, {"maybe", bad}, {"C R", bad},
	}
	for _, cs := range cases {
		checkParse(t, q, "en", cs.text, cs.want)
	}
}

func TestParseText(t *testing.T) {
	q := question(t, "daily-mood", "note")
	for _, text := range []string{"I've been sleeping badly", "7", "yes", "ok", "no puedo dormir", "ans:hello"} {
		a, err := ParseAnswer(q, "en", text)
		if err != nil || a.Skipped || a.Text != text {
			t.Errorf("ParseAnswer(note, %q) = %+v, %v; want the text", text, a, err)
		}
	}
	if a, _ := ParseAnswer(q, "en", "  spaced out  "); a.Text != "spaced out" {
		t.Errorf("text = %q; want trimmed", a.Text)
	}
	for _, text := range []string{"no", "Nope", "nothing", "nada", "no gracias", "no thanks", "SKIP", "saltar", "ans:skip"} {
		checkParse(t, q, "es", text, skip)
	}
	for _, text := range []string{"", "  \n"} {
		checkParse(t, q, "en", text, bad)
	}
	checkParse(t, q, "en", "later", later)

	required := Question{ID: "why", Type: Text, Text: map[string]string{"en": "Why?"}}
	if a, err := ParseAnswer(required, "en", "no"); err != nil || a.Skipped || a.Text != "no" {
		t.Errorf("required text %q = %+v, %v; want the text (only optional questions read no as nothing)", "no", a, err)
	}
}

func TestParseErrorsCarryNoText(t *testing.T) {
	q := question(t, "daily-mood", "mood")
	secret := "my secret words 55"
	_, err := ParseAnswer(q, "en", secret)
	if err == nil {
		t.Fatal("ParseAnswer accepted 55 for 0-10")
	}
	for _, w := range []string{"secret", "words"} {
		if strings.Contains(err.Error(), w) {
			t.Errorf("error %q repeats the message text", err)
		}
	}
}

func TestTokenize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Sííí", "si"}, {"YESSS!!", "yes"}, {"más   tarde", "mas tarde"}, {"I’d say", "id say"},
		{"Ningún día", "ningun dia"}, {"si\u0301", "si"}, {"007", "7"}, {"three", "thre"},
	}
	for _, c := range cases {
		got := ""
		for i, w := range words(tokenize(c.in)) {
			if i > 0 {
				got += " "
			}
			got += w
		}
		if got != c.want {
			t.Errorf("words(tokenize(%q)) = %q; want %q", c.in, got, c.want)
		}
	}
}
