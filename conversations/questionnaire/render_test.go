package questionnaire

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/carecheck/carecheck/bot"
)

func TestRenderSMS(t *testing.T) {
	cases := []struct {
		qid, id, lang, want string
	}{
		{"daily-mood", "mood", "en", "How is your mood today?\nReply 0-10 (0 very bad, 10 very good)"},
		{"daily-mood", "mood", "es", "¿Como esta su animo hoy?\nResponda 0-10 (0 muy mal, 10 muy bien)"},
		{"daily-mood", "mood", "es-MX", "¿Como esta su animo hoy?\nResponda 0-10 (0 muy mal, 10 muy bien)"},
		{"daily-mood", "mood", "fr", "How is your mood today?\nReply 0-10 (0 very bad, 10 very good)"},
		{"daily-mood", "mood", "", "How is your mood today?\nReply 0-10 (0 very bad, 10 very good)"},
		{"daily-mood", "note", "en", "Anything you'd like your case manager to know?\nReply with a message, or SKIP"},
		{"asq", "q4", "en", "Have you ever tried to kill yourself?\nReply YES or NO"},
		{"asq", "q4", "es", "¿Alguna vez ha intentado suicidarse?\nResponda SI o NO"},
		{"medication", "taken", "en", "Did you take your medication as planned?\nReply 1, 2 or 3: 1 Yes, 2 No, 3 Only some"},
		{"medication", "taken", "es", "¿Tomo sus medicamentos como estaba previsto?\nResponda 1, 2 o 3: 1 Si, 2 No, 3 Solo algunos"},
		{"appointment-confirm", "confirm", "en", "Can you come to your appointment?\nReply C (Confirm) or R (Reschedule)"},
		{"appointment-confirm", "confirm", "es", "¿Puede venir a su cita?\nResponda C (Confirmar) o R (Cambiar la cita)"},
		{"phq9", "item1", "en", "Last 2 weeks, how often: little interest or pleasure in doing things?\n" +
			"Reply 0 not at all, 1 several days, 2 over half the days, 3 nearly every day"},
		{"phq9", "item4", "es", "Ultimas 2 semanas, ¿cuantos dias se sintio cansado(a) o con poca energia?\n" +
			"Responda 0 ningun dia, 1 varios dias, 2 mas de la mitad, 3 casi a diario"},
	}
	for _, c := range cases {
		text, buttons := question(t, c.qid, c.id).Render(c.lang, true)
		if text != c.want {
			t.Errorf("%s/%s Render(%q, sms) =\n%q\nwant\n%q", c.qid, c.id, c.lang, text, c.want)
		}
		if buttons != nil {
			t.Errorf("%s/%s Render(%q, sms) buttons = %v; want none", c.qid, c.id, c.lang, buttons)
		}
	}
}

func TestRenderTelegram(t *testing.T) {
	mood := question(t, "daily-mood", "mood")
	text, buttons := mood.Render("es", false)
	if text != "¿Cómo está su ánimo hoy?\nResponda 0-10" {
		t.Errorf("mood telegram text = %q", text)
	}
	if len(buttons) != 11 || buttons[0] != (bot.Button{Label: "0", Data: "ans:0"}) || buttons[10] != (bot.Button{Label: "10", Data: "ans:10"}) {
		t.Errorf("mood buttons = %v; want 0..10", buttons)
	}
	cases := []struct {
		qid, id, lang string
		text          string
		buttons       []bot.Button
	}{
		{"asq", "q1", "es", "En las últimas semanas, ¿ha deseado estar muerto(a)?\nResponda SÍ o NO",
			[]bot.Button{{Label: "Sí", Data: "ans:yes"}, {Label: "No", Data: "ans:no"}}},
		{"appointment-confirm", "confirm", "en", "Can you come to your appointment?\nReply C (Confirm) or R (Reschedule)",
			[]bot.Button{{Label: "Confirm", Data: "ans:C"}, {Label: "Reschedule", Data: "ans:R"}}},
		{"medication", "taken", "en", "Did you take your medication as planned?\nReply 1, 2 or 3",
			[]bot.Button{{Label: "Yes", Data: "ans:yes"}, {Label: "No", Data: "ans:no"}, {Label: "Only some", Data: "ans:some"}}},
		{"phq2", "item1", "en", "Last 2 weeks, how often: little interest or pleasure in doing things?\nReply 0-3",
			[]bot.Button{{Label: "Not at all", Data: "ans:0"}, {Label: "Several days", Data: "ans:1"},
				{Label: "Over half the days", Data: "ans:2"}, {Label: "Nearly every day", Data: "ans:3"}}},
		{"daily-mood", "note", "es", "¿Algo que quiera que sepa su administrador(a) de casos?\nResponda con un mensaje, o SALTAR",
			[]bot.Button{{Label: "Saltar", Data: "ans:skip"}}},
	}
	for _, c := range cases {
		text, buttons := question(t, c.qid, c.id).Render(c.lang, false)
		if text != c.text {
			t.Errorf("%s/%s telegram text = %q; want %q", c.qid, c.id, text, c.text)
		}
		if !slices.Equal(buttons, c.buttons) {
			t.Errorf("%s/%s buttons = %v; want %v", c.qid, c.id, buttons, c.buttons)
		}
	}
}

// TestButtonsParse: every button's data parses back to its own answer.
func TestButtonsParse(t *testing.T) {
	for _, q := range Builtin().List() {
		for _, qu := range q.Questions {
			for _, lang := range []string{"en", "es"} {
				_, buttons := qu.Render(lang, false)
				for _, b := range buttons {
					a, err := ParseAnswer(qu, lang, b.Data)
					if err != nil {
						t.Errorf("%s/%s button %q: %v", q.ID, qu.ID, b.Data, err)
						continue
					}
					if b.Data == SkipData {
						if !a.Skipped {
							t.Errorf("%s/%s skip button: %+v", q.ID, qu.ID, a)
						}
						continue
					}
					// The label typed as text means the same as the button.
					typed, err := ParseAnswer(qu, lang, b.Label)
					if err != nil || typed.Value == nil || a.Value == nil || *typed.Value != *a.Value {
						t.Errorf("%s/%s label %q typed = %+v, %v; button gave %+v", q.ID, qu.ID, b.Label, typed, err, a)
					}
				}
			}
		}
	}
}

// TestSMSLength: every built-in question goes out in GSM-7 and fits one SMS
// (160 characters), except the two long PHQ-9 items, which fit two.
func TestSMSLength(t *testing.T) {
	twoSegments := map[string]bool{"phq9/item6": true, "phq9/item8": true}
	for _, q := range Builtin().List() {
		for _, qu := range q.Questions {
			for _, lang := range []string{"en", "es"} {
				text, _ := qu.Render(lang, true)
				n := utf8.RuneCountInString(text)
				key := q.ID + "/" + qu.ID
				if !IsGSM(text) {
					t.Errorf("%s %s: not GSM-7: %q", key, lang, text)
				}
				limit := 160
				if twoSegments[key] {
					limit = 2 * 153
				}
				if n > limit {
					t.Errorf("%s %s: %d characters; want at most %d", key, lang, n, limit)
				}
			}
		}
	}
}

func TestHint(t *testing.T) {
	cases := []struct {
		qid, id, lang, want string
	}{
		{"daily-mood", "mood", "en", "Please reply with a number from 0 to 10 (0 very bad, 10 very good)."},
		{"daily-mood", "mood", "es", "Por favor responda con un número del 0 al 10 (0 muy mal, 10 muy bien)."},
		{"phq9", "item9", "en", "Please reply with a number: 0 not at all, 1 several days, 2 over half the days, 3 nearly every day."},
		{"asq", "q1", "en", "Please reply YES or NO."},
		{"asq", "q1", "es", "Por favor responda SÍ o NO."},
		{"medication", "taken", "en", "Please reply 1, 2 or 3: 1 Yes, 2 No, 3 Only some."},
		{"appointment-confirm", "confirm", "es", "Por favor responda C (Confirmar) o R (Cambiar la cita)."},
		{"daily-mood", "note", "en", "Please reply with a short message, or SKIP."},
	}
	for _, c := range cases {
		if got := question(t, c.qid, c.id).Hint(c.lang); got != c.want {
			t.Errorf("%s/%s Hint(%q) = %q; want %q", c.qid, c.id, c.lang, got, c.want)
		}
	}
	wide := Question{ID: "n", Type: Scale, Min: 0, Max: 50, Text: map[string]string{"en": "How many?"}}
	if _, b := wide.Render("en", false); b != nil {
		t.Errorf("0-50 scale buttons = %v; want none", b)
	}
	if got := wide.Hint("en"); got != "Please reply with a number from 0 to 50." {
		t.Errorf("wide Hint = %q", got)
	}
}

func TestFoldGSM(t *testing.T) {
	cases := []struct{ in, want string }{
		{"¿Cómo está? Sí, ñandú", "¿Como esta? Si, ñandu"},
		{"ÁÍÓÚ éÉ ü Ü ç", "AIOU éÉ ü Ü c"},
		{"It’s “fine” – ok…", "It's \"fine\" - ok..."},
		{"emoji 🙂 stays", "emoji 🙂 stays"},
	}
	for _, c := range cases {
		if got := FoldGSM(c.in); got != c.want {
			t.Errorf("FoldGSM(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}
