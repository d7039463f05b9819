package settings

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

func ptr[T any](v T) *T { return &v }

// Each plain setting out of its bounds is refused with the field the API's
// JSON names; the ones in bounds land on the agency.
func TestChangesApply(t *testing.T) {
	refused := []struct {
		name  string
		c     Changes
		field string
	}{
		{"reply window under 10 s", Changes{ReplyWindow: ptr(store.Duration(5 * time.Second))}, "reply_window"},
		{"reply window over 72 h", Changes{ReplyWindow: ptr(store.Duration(73 * time.Hour))}, "reply_window"},
		{"no missed check-ins", Changes{MissedInARow: ptr(0)}, "missed_in_a_row"},
		{"mood threshold 11", Changes{MoodThreshold: ptr(11)}, "mood_threshold"},
		{"retention under 6 years", Changes{Retention: ptr(store.Duration(24 * time.Hour))}, "retention"},
		{"idle timeout of 10 s", Changes{SessionIdle: ptr(store.Duration(10 * time.Second))}, "session_idle"},
		{"idle timeout of a day", Changes{SessionIdle: ptr(store.Duration(24 * time.Hour))}, "session_idle"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			var se *Error
			err := tc.c.Apply(&store.Agency{})
			if !errors.As(err, &se) || se.Field != tc.field || !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Errorf("Apply = %v; want a refusal of %s naming it", err, tc.field)
			}
		})
	}
	for name, c := range map[string]Changes{
		"a zone that does not exist": {Timezone: ptr("America/Gotham")},
		"quiet hours at 25:00":       {QuietStart: ptr("25:00")},
		"an empty name":              {Name: ptr("  ")},
	} {
		var fe *freetext.Error
		if err := c.Apply(&store.Agency{}); !errors.As(err, &fe) {
			t.Errorf("%s: Apply = %v; want a *freetext.Error", name, err)
		}
	}

	ag := &store.Agency{Name: "Northside", Timezone: "America/Chicago", QuietStart: "21:00"}
	c := Changes{QuietEnd: ptr("07:30"), MoodThreshold: ptr(-1), SessionIdle: ptr(store.Duration(30 * time.Minute)), RequireTOTP: ptr(true)}
	if err := c.Apply(ag); err != nil {
		t.Fatal(err)
	}
	if ag.QuietStart != "21:00" || ag.QuietEnd != "07:30" || ag.MoodThreshold != -1 || time.Duration(ag.SessionIdle) != 30*time.Minute || !ag.RequireTOTP || ag.Name != "Northside" {
		t.Errorf("after Apply: %+v; want the four changes and nothing else", ag)
	}
}

// A safety message with a number that is neither a crisis line nor a valid
// phone is refused in its language; a language other than en and es too.
func TestSafetyMessages(t *testing.T) {
	got, err := SafetyMessages(map[string]string{"es": "  Llama o textea al 988 ahora.  "})
	if err != nil || got["es"] != "Llama o textea al 988 ahora." {
		t.Errorf("SafetyMessages = %q, %v; want the Spanish message trimmed", got, err)
	}
	var le *LangError
	var ee *escalation.SettingError
	if _, err := SafetyMessages(map[string]string{"en": "Call 555-0 now"}); !errors.As(err, &le) || le.Lang != "en" || !errors.As(err, &ee) {
		t.Errorf("a message with a broken number = %v; want a LangError for en wrapping the rule's refusal", err)
	}
	var se *Error
	if _, err := SafetyMessages(map[string]string{"fr": "Appelez le 988"}); !errors.As(err, &se) {
		t.Errorf("a French message = %v; want refused", err)
	}
}

// Phrases are cleaned and checked; too many or a bad level is refused.
func TestPhrases(t *testing.T) {
	got, err := Phrases([]store.Phrase{{Text: "  going to the bridge ", Level: "crisis", Lang: "en"}})
	if err != nil || len(got) != 1 || got[0].Text != "going to the bridge" {
		t.Errorf("Phrases = %+v, %v; want one, trimmed", got, err)
	}
	var ee *escalation.SettingError
	if _, err := Phrases([]store.Phrase{{Text: "x marks", Level: "panic", Lang: "en"}}); !errors.As(err, &ee) {
		t.Errorf("a phrase of level panic = %v; want the rule's refusal", err)
	}
	var se *Error
	if _, err := Phrases(make([]store.Phrase, MaxPhrases+1)); !errors.As(err, &se) || se.Field != "phrases" {
		t.Errorf("%d phrases = %v; want refused", MaxPhrases+1, err)
	}
}
