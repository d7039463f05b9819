package escalation

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/carecheck/carecheck/store"
)

func TestAlertTextSaysWhoWhyHowAndFits(t *testing.T) {
	a := &store.Agency{ID: "ag_1", Name: "Northside CMH"}
	c := &store.Client{ID: "cl_06h0w4h5g3gpkjw7fjs0kcmp04", Name: "Rosalind Okonkwo"}
	who := Who(a, c)
	if who != "R.O. (cl_06h0w4h5g3gpkjw7fjs0kcmp04)" {
		t.Errorf("Who = %q; want initials and id", who)
	}
	for _, c := range []struct {
		name    string
		esc     store.Escalation
		code    string
		want    []string
		notWant []string
	}{
		{"crisis", store.Escalation{Level: Crisis, Reasons: []string{"crisis language: overdose"}}, "3",
			[]string{"URGENT", who, "crisis language: overdose", "ACK 3"}, []string{"Rosalind", "check on"}},
		{"concern", store.Escalation{Level: Concern, Reasons: []string{"2 missed check-ins"}}, "12",
			[]string{"please check on", who, "2 missed check-ins", "ACK 12"}, []string{"URGENT"}},
		{"long reasons", store.Escalation{Level: Crisis, Reasons: []string{
			"crisis language: suicidal intent", "crisis language: overdose", "crisis language: preparatory act",
			"crisis language: self-harm now", "PHQ-9 item 9 = 3"}}, "1",
			[]string{"URGENT", who, "crisis language: suicidal", "...", "Reply ACK 1 to take it."}, nil},
		{"many reasons, big code", store.Escalation{Level: Concern, Reasons: []string{strings.Repeat("x", 400)}}, "999",
			[]string{"please check on", who, "Reply ACK 999 when seen."}, nil},
	} {
		got := AlertText(who, &c.esc, c.code)
		if n := utf8.RuneCountInString(got); n > 160 {
			t.Errorf("%s: %d characters: %q", c.name, n, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: lacks %q: %q", c.name, w, got)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: carries %q: %q", c.name, w, got)
			}
		}
	}
}

// An agency that alerts by full name can have a client whose name alone
// overflows the segment: the name is shortened, the id and the ACK stay.
func TestAlertTextLongNameStillFits(t *testing.T) {
	a := &store.Agency{AlertNames: true}
	c := &store.Client{ID: "cl_06h0w4h5g3gpkjw7fjs0kcmp04", Name: strings.Repeat("Maximiliana Esperanza ", 8) + "Villalobos"}
	who := Who(a, c)
	if !strings.HasPrefix(who, "Maximiliana") {
		t.Fatalf("Who with names = %q", who)
	}
	for _, level := range []string{Crisis, Concern} {
		got := AlertText(who, &store.Escalation{Level: level, Reasons: []string{"crisis language: overdose"}}, "7")
		if n := utf8.RuneCountInString(got); n > 160 {
			t.Errorf("%s: %d characters: %q", level, n, got)
		}
		for _, w := range []string{c.ID, "ACK 7", "Maximiliana"} {
			if !strings.Contains(got, w) {
				t.Errorf("%s: lacks %q: %q", level, w, got)
			}
		}
	}
}

// Truncation never splits a character.
func TestAlertTextTruncatesByCharacter(t *testing.T) {
	got := AlertText("J.P. (cl_1)", &store.Escalation{Level: Crisis, Reasons: []string{strings.Repeat("señal ñ ", 40)}}, "1")
	if !utf8.ValidString(got) {
		t.Errorf("invalid UTF-8: %q", got)
	}
	if n := utf8.RuneCountInString(got); n > 160 {
		t.Errorf("%d characters", n)
	}
}

// Unless the agency asks for clinical detail, alerts carry the flag, not
// the score or its band (docs/clinical.md, "What a case manager is told":
// no scores beyond the flag).
func TestAlertReasonsMinimumNecessary(t *testing.T) {
	reasons := []string{"PHQ-9 item 9 = 2", "PHQ-9 = 17 (moderately severe)", "GAD-7 = 14 (moderate)",
		"mood 1", "mood 2, down 5 from 7-day median 7", "2 missed check-ins", "crisis language: overdose"}
	got := strings.Join(alertReasons(&store.Agency{}, reasons), ", ")
	for _, bad := range []string{"17", "14", "moderate", "severe", "median", "mood 1", "mood 2"} {
		if strings.Contains(got, bad) {
			t.Errorf("minimum-necessary reasons carry %q: %q", bad, got)
		}
	}
	for _, w := range []string{"PHQ-9 item 9 = 2", "PHQ-9", "GAD-7", "low mood", "mood drop", "2 missed check-ins", "crisis language: overdose"} {
		if !strings.Contains(got, w) {
			t.Errorf("reasons lack %q: %q", w, got)
		}
	}
	full := alertReasons(&store.Agency{AlertDetail: true}, reasons)
	if strings.Join(full, "|") != strings.Join(reasons, "|") {
		t.Errorf("with AlertDetail the reasons changed: %q", full)
	}
}

func TestValidateSafetyMessage(t *testing.T) {
	for lang, msg := range SafetyMessage {
		if err := ValidateSafetyMessage(msg); err != nil {
			t.Errorf("built-in %s safety message refused: %v", lang, err)
		}
	}
	for _, c := range []struct {
		msg string
		ok  bool
	}{
		{"In Canada call or text 9-8-8 any time, or 911 in an emergency.", true},
		{"UK: call Samaritans free on 116 123, or 999 in an emergency.", true},
		{"Australia: Lifeline 13 11 14, emergency 000.", true},
		{"Text HOME to 741741 to reach a crisis counselor, or call 988.", true},
		{"Call our crisis team at +1 312-996-3000 or call 911.", true},
		{"Call our crisis team at (312) 996-3000, any time.", true},
		{"Call 988.", false}, // too short to be a safety message
		{"Please reach out to someone you trust today.", false}, // no number at all
		{"Call our crisis line at 123-4567 any time of day.", false},
		{"Call our crisis line at +1 555 000 0000 any time.", false},
		{strings.Repeat("Call or text 988 any time. ", 30), false}, // over 640
	} {
		err := ValidateSafetyMessage(c.msg)
		if (err == nil) != c.ok {
			t.Errorf("ValidateSafetyMessage(%q) = %v; want ok=%v", c.msg, err, c.ok)
		}
	}
}

func TestSafetyFallsBackByLanguage(t *testing.T) {
	if got := Safety(nil, "es"); got != SafetyMessage["es"] {
		t.Errorf("Spanish default = %q", got)
	}
	if got := Safety(nil, "fr"); got != SafetyMessage["en"] {
		t.Errorf("unknown language = %q; want English", got)
	}
	uk := &store.Agency{SafetyMessage: map[string]string{"en": "Call Samaritans free on 116 123, any time, or 999 if you are in danger now."}}
	if got := Safety(uk, "en"); got != uk.SafetyMessage["en"] {
		t.Errorf("agency message not used: %q", got)
	}
	// A Spanish speaker of an agency abroad gets the agency's lines (in
	// English), never the US 911/988 that do not work there.
	if got := Safety(uk, "es"); got != uk.SafetyMessage["en"] {
		t.Errorf("Spanish client of a UK agency got %q", got)
	}
	both := &store.Agency{SafetyMessage: map[string]string{"en": uk.SafetyMessage["en"], "es": "Llama gratis a Samaritans al 116 123, o al 999 si estás en peligro."}}
	if got := Safety(both, "es"); got != both.SafetyMessage["es"] {
		t.Errorf("agency Spanish message not used: %q", got)
	}
}

// Substance use stays out of every alert, even with clinical detail on
// (docs/clinical.md, "What a case manager is told": 42 CFR Part 2).
func TestAlertReasonsNeverNameSubstanceUse(t *testing.T) {
	reasons := []string{"concern language: relapse", "concern language: hopelessness"}
	for _, a := range []*store.Agency{{}, {AlertDetail: true}} {
		got := strings.Join(alertReasons(a, reasons), ", ")
		if strings.Contains(got, "relapse") || !strings.Contains(got, "concern language") || !strings.Contains(got, "hopelessness") {
			t.Errorf("alert detail %v: reasons %q; want relapse left out, the flag and other categories kept", a.AlertDetail, got)
		}
	}
}

// The safety message's limit counts characters, not bytes: 640 accented
// characters fit, 641 do not.
func TestSafetyMessageLimitCountsCharacters(t *testing.T) {
	head := "Llama al 988 o al 911. "
	fill := func(n int) string { return head + strings.Repeat("é", n-utf8.RuneCountInString(head)) }
	if err := ValidateSafetyMessage(fill(640)); err != nil {
		t.Errorf("640 characters (%d bytes) refused: %v", len(fill(640)), err)
	}
	if err := ValidateSafetyMessage(fill(641)); err == nil {
		t.Error("641 characters accepted")
	}
}
