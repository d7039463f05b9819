package questionnaire

import (
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
)

// fuzzQuestions are the questions the fuzzer answers, one of each kind, plus
// an agency-style choice without codes.
func fuzzQuestions(t testing.TB) []Question {
	return []Question{
		question(t, "daily-mood", "mood"),
		question(t, "phq9", "item9"),
		question(t, "asq", "q5"),
		question(t, "medication", "taken"),
		question(t, "appointment-confirm", "confirm"),
		question(t, "daily-mood", "note"),
		{ID: "pick", Type: Choice, Text: map[string]string{"en": "Pick"}, Options: []Option{
			{Value: 10, Text: map[string]string{"en": "Ten"}}, {Value: 20, Text: map[string]string{"en": "Twenty"}}}},
	}
}

// FuzzParseAnswer: ParseAnswer never panics, fails only with its sentinel
// errors, and every answer it gives is one the question allows.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{"7", "seven", "ans:2", "Sí", "not every day", "7/10", "-1", "7.5", "SKIP", "luego"} {
		f.Add(uint8(0), s)
	}
	qs := fuzzQuestions(f)
	f.Fuzz(func(t *testing.T, which uint8, text string) {
		q := qs[int(which)%len(qs)]
		for _, lang := range []string{"en", "es"} {
			a, err := ParseAnswer(q, lang, text)
			if err != nil {
				if !errors.Is(err, ErrUnparseable) && !errors.Is(err, ErrLater) {
					t.Fatalf("ParseAnswer(%s, %q) error %v wraps no sentinel", q.ID, text, err)
				}
				if a != (Answer{}) {
					t.Fatalf("ParseAnswer(%s, %q) = %+v with error %v", q.ID, text, a, err)
				}
				continue
			}
			if a.Skipped {
				continue
			}
			switch q.Type {
			case Scale:
				if a.Value == nil || *a.Value < q.Min || *a.Value > q.Max {
					t.Fatalf("ParseAnswer(%s, %q) = %+v; out of %d-%d", q.ID, text, a, q.Min, q.Max)
				}
			case YesNo:
				if a.Value == nil || (*a.Value != 0 && *a.Value != 1) || (a.Code != "yes" && a.Code != "no") {
					t.Fatalf("ParseAnswer(%s, %q) = %+v; not yes or no", q.ID, text, a)
				}
			case Choice:
				if a.Value == nil || !slices.ContainsFunc(q.Options, func(o Option) bool { return o.Value == *a.Value && o.Code == a.Code }) {
					t.Fatalf("ParseAnswer(%s, %q) = %+v; not an option", q.ID, text, a)
				}
			case Text:
				if a.Text == "" {
					t.Fatalf("ParseAnswer(%s, %q) = empty text", q.ID, text)
				}
			}
		}
		if utf8.ValidString(text) {
			q.Render("es", true)
			q.Hint("es")
		}
	})
}
