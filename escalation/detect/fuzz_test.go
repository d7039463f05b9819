package detect

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDetect checks that any input is handled by both stages: no panic,
// the level is the highest signal level, every signal is well formed, the
// combination never goes below the lexicon except crisis to concern (a
// veto), and the same input always gives the same result.
func FuzzDetect(f *testing.F) {
	d := mustNew(f)
	lexOnly := mustLexicon(f)
	for _, s := range []string{
		"i want to kill myself", "no me quiero morir", "💊💊💊", "took 30 tylenol",
		"suicidal thoughts: none", "i don t want to live", "", "\xff\xfe", "sooooo sad",
		"i cant do this anymore, i have the pills ready", "honestly i just want out", "k1ll mys3lf", "😂😂 kms lol",
		"k*ll myself", "su*c*d*e", "m**rir", "a*", "sh*t myself laughing",
	} {
		f.Add(s, "en")
	}
	f.Fuzz(func(t *testing.T, text, lang string) {
		r := d.Detect(text, lang)
		if r.Signals == nil {
			t.Fatalf("Detect(%q).Signals = nil; want a non-nil slice", text)
		}
		top := None
		for _, s := range r.Signals {
			if s.Level != Concern && s.Level != Crisis {
				t.Fatalf("Detect(%q) signal level %v; want concern or crisis", text, s.Level)
			}
			if s.Category == "" || s.Match == "" || !utf8.ValidString(s.Match) {
				t.Fatalf("Detect(%q) signal %+v is incomplete or not UTF-8", text, s)
			}
			switch s.Source {
			case SourceLexicon:
				if s.Person != PersonFirst && s.Person != PersonThird {
					t.Fatalf("Detect(%q) person %q", text, s.Person)
				}
				if s.Tense != TensePresent && s.Tense != TensePast {
					t.Fatalf("Detect(%q) tense %q", text, s.Tense)
				}
			case SourceModel, SourceRule:
				// The model reads no person or tense; a rule signal is a
				// model band or a lexicon phrase the model vetoed.
			default:
				t.Fatalf("Detect(%q) signal source %q; want lexicon, model or rule", text, s.Source)
			}
			top = max(top, s.Level)
		}
		if r.Level != top {
			t.Fatalf("Detect(%q).Level = %v; want %v, the highest signal", text, r.Level, top)
		}
		if r.Ask && r.Level != Concern {
			t.Fatalf("Detect(%q).Ask at level %v; want it only at concern", text, r.Level)
		}
		if lex := lexOnly.Detect(text, lang); r.Level < lex.Level && !(lex.Level == Crisis && r.Level == Concern) {
			t.Fatalf("Detect(%q).Level = %v below the lexicon's %v; only a veto (crisis to concern) may lower it", text, r.Level, lex.Level)
		}
		if again := d.Detect(text, lang); !reflect.DeepEqual(r, again) {
			t.Fatalf("Detect(%q) not deterministic: %+v then %+v", text, r, again)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("json.Marshal(Detect(%q)): %v", text, err)
		}
	})
}
