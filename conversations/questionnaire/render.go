package questionnaire

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/carecheck/carecheck/bot"
)

// maxNumberButtons is the widest scale that gets one button per number.
const maxNumberButtons = 11

// Render returns the question in lang (falling back to its base language,
// then English) with a short reply hint ("Reply 0-10", "Reply YES or NO",
// "Reply 1, 2 or 3: …"). For SMS (sms true) the hint lists what each number
// means, there are no buttons, and the text is folded to the GSM-7 alphabet
// (FoldGSM). For Telegram the buttons carry data ButtonPrefix+value or code
// ("ans:7", "ans:yes", "ans:C"), and an optional question adds a Skip button.
func (q Question) Render(lang string, sms bool) (text string, buttons []bot.Button) {
	l := hintLang(lang)
	text = localized(q.Text, lang)
	if h := q.hint(l, sms, false); h != "" {
		text += "\n" + h
	}
	if sms {
		return FoldGSM(text), nil
	}
	return text, q.buttons(lang)
}

// Hint returns a sentence telling how to answer q, in lang, for asking again
// after a reply that could not be read ("Please reply with a number from 0
// to 10."). It always spells out what each number means.
func (q Question) Hint(lang string) string {
	return q.hint(hintLang(lang), true, true)
}

// hint builds the reply hint: legend spells out numbered answers; please
// makes it a full sentence for asking again.
func (q Question) hint(l string, legend, please bool) string {
	es := l == "es"
	var h string
	switch q.Type {
	case Scale:
		labelled := q.labels(l)
		switch {
		case legend && len(labelled) == q.Max-q.Min+1:
			h = pick(es, "Reply ", "Responda ") + strings.Join(labelled, ", ")
			if please {
				h = pick(es, "Please reply with a number: ", "Por favor responda con un número: ") + strings.Join(labelled, ", ")
			}
		case please:
			h = fmt.Sprintf(pick(es, "Please reply with a number from %d to %d", "Por favor responda con un número del %d al %d"), q.Min, q.Max)
			if len(labelled) > 0 {
				h += " (" + strings.Join(labelled, ", ") + ")"
			}
		default:
			h = fmt.Sprintf(pick(es, "Reply %d-%d", "Responda %d-%d"), q.Min, q.Max)
			if legend && len(labelled) > 0 {
				h += " (" + strings.Join(labelled, ", ") + ")"
			}
		}
	case YesNo:
		h = pick(es, "Reply YES or NO", "Responda SÍ o NO")
		if please {
			h = pick(es, "Please reply YES or NO", "Por favor responda SÍ o NO")
		}
	case Choice:
		h = q.choiceHint(es, legend || please)
		if please {
			h = pick(es, "Please reply", "Por favor responda") + strings.TrimPrefix(strings.TrimPrefix(h, "Reply"), "Responda")
		}
	case Text:
		switch {
		case please:
			h = pick(es, "Please reply with a short message", "Por favor responda con un mensaje corto")
		case q.Optional:
			h = pick(es, "Reply with a message", "Responda con un mensaje")
		}
	}
	if q.Optional && h != "" {
		h += pick(es, ", or SKIP", ", o SALTAR")
	}
	if please && h != "" {
		h += "."
	}
	return h
}

// choiceHint is "Reply C (Confirm) or R (Reschedule)" when every option has
// a one-letter code, else "Reply 1, 2 or 3" with, if legend, what each means.
func (q Question) choiceHint(es, legend bool) string {
	l := pick(es, "en", "es")
	letters := len(q.Options) > 0
	for _, o := range q.Options {
		if len(o.Code) != 1 {
			letters = false
		}
	}
	parts := make([]string, len(q.Options))
	if letters {
		for i, o := range q.Options {
			parts[i] = fmt.Sprintf("%s (%s)", strings.ToUpper(o.Code), localized(o.Text, l))
		}
		return pick(es, "Reply ", "Responda ") + joinOr(parts, es)
	}
	for i := range q.Options {
		parts[i] = strconv.Itoa(i + 1)
	}
	h := pick(es, "Reply ", "Responda ") + joinOr(parts, es)
	if legend {
		for i, o := range q.Options {
			parts[i] = fmt.Sprintf("%d %s", i+1, localized(o.Text, l))
		}
		h += ": " + strings.Join(parts, ", ")
	}
	return h
}

// labels returns "0 not at all"-style labels of a scale's options.
func (q Question) labels(l string) []string {
	var out []string
	for _, o := range q.Options {
		out = append(out, fmt.Sprintf("%d %s", o.Value, lowerFirst(localized(o.Text, l))))
	}
	return out
}

// buttons returns the Telegram buttons of q.
func (q Question) buttons(lang string) []bot.Button {
	es := hintLang(lang) == "es"
	var bs []bot.Button
	switch q.Type {
	case Scale:
		if len(q.Options) == q.Max-q.Min+1 {
			for _, o := range q.Options {
				bs = append(bs, bot.Button{Label: localized(o.Text, lang), Data: ButtonPrefix + strconv.Itoa(o.Value)})
			}
		} else if q.Max-q.Min+1 <= maxNumberButtons {
			for v := q.Min; v <= q.Max; v++ {
				bs = append(bs, bot.Button{Label: strconv.Itoa(v), Data: ButtonPrefix + strconv.Itoa(v)})
			}
		}
	case YesNo:
		bs = append(bs,
			bot.Button{Label: pick(es, "Yes", "Sí"), Data: ButtonPrefix + "yes"},
			bot.Button{Label: "No", Data: ButtonPrefix + "no"})
	case Choice:
		for _, o := range q.Options {
			data := o.Code
			if data == "" {
				data = strconv.Itoa(o.Value)
			}
			bs = append(bs, bot.Button{Label: localized(o.Text, lang), Data: ButtonPrefix + data})
		}
	}
	if q.Optional {
		bs = append(bs, bot.Button{Label: pick(es, "Skip", "Saltar"), Data: SkipData})
	}
	return bs
}

// localized returns texts[lang], else the base language's, else English.
func localized(texts map[string]string, lang string) string {
	if t := texts[lang]; t != "" {
		return t
	}
	if base, _, ok := strings.Cut(strings.ReplaceAll(lang, "_", "-"), "-"); ok {
		if t := texts[strings.ToLower(base)]; t != "" {
			return t
		}
	}
	if t := texts[strings.ToLower(lang)]; t != "" {
		return t
	}
	return texts["en"]
}

// hintLang is the language of the built-in hint words: "es" or "en".
func hintLang(lang string) string {
	base, _, _ := strings.Cut(strings.ReplaceAll(strings.ToLower(lang), "_", "-"), "-")
	if base == "es" {
		return "es"
	}
	return "en"
}

func pick(es bool, en, spanish string) string {
	if es {
		return spanish
	}
	return en
}

// joinOr joins "1", "2", "3" as "1, 2 or 3" ("1, 2 o 3").
func joinOr(parts []string, es bool) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + pick(es, " or ", " o ") + parts[len(parts)-1]
}

func lowerFirst(s string) string {
	for i, r := range s {
		return string(unicode.ToLower(r)) + s[i+len(string(r)):]
	}
	return s
}

// FoldGSM replaces characters outside the GSM-7 SMS alphabet by their
// nearest GSM-7 letter where there is one (á → a, Í → I, ’ → ', “ → ",
// – → -), so that a message is sent in 160-character segments rather than
// 70-character UCS-2 ones. Characters with no near letter (emoji) are kept.
func FoldGSM(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case isGSM(r):
			b.WriteRune(r)
		case r == '‘' || r == '’' || r == 'ʼ' || r == '´' || r == '`':
			b.WriteByte('\'')
		case r == '“' || r == '”' || r == '«' || r == '»':
			b.WriteByte('"')
		case r == '–' || r == '—' || r == '‐':
			b.WriteByte('-')
		case r == '…':
			b.WriteString("...")
		case r == '\u00a0':
			b.WriteByte(' ')
		default:
			f := foldRune(unicode.ToLower(r))
			if unicode.IsUpper(r) {
				f = unicode.ToUpper(f)
			}
			if f != r && isGSM(f) {
				b.WriteRune(f)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// gsmChars is the GSM 03.38 basic alphabet and its extension table.
const gsmChars = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà" + "^{}\\[~]|€\f"

// isGSM reports whether r is in the GSM-7 alphabet.
func isGSM(r rune) bool { return strings.ContainsRune(gsmChars, r) }

// IsGSM reports whether every character of s is in the GSM-7 alphabet.
func IsGSM(s string) bool {
	for _, r := range s {
		if !isGSM(r) {
			return false
		}
	}
	return true
}
