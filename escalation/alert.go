package escalation

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/carecheck/carecheck/store"
)

// Every message a person receives on a risk path is a fixed template here,
// reviewable by the agency's clinical lead; nothing is generated.

// SafetyMessage is the US default safety reply (docs/clinical.md, "What the
// client is told"), by language.
var SafetyMessage = map[string]string{
	"en": "If you are in danger right now, call 911. You can call or text 988 any time, day or night " +
		"(Suicide & Crisis Lifeline; press 1 for Veterans, 2 for Spanish). " +
		"We have alerted your case manager, who usually answers within the hour during working hours. You are not alone.",
	"es": "Si estás en peligro ahora mismo, llama al 911. Puedes llamar o enviar un mensaje de texto al 988 a cualquier hora " +
		"(Línea 988 de Prevención del Suicidio y Crisis; marca 2 para español). " +
		"Hemos avisado a tu administrador de casos, que suele responder en menos de una hora en horario laboral. No estás solo/a.",
}

// Safety returns the agency's safety message in the client's language. An
// agency that set its own message (its country's lines) but not in this
// language gets its own message in English rather than the built-in US one:
// the right numbers in another language beat numbers that do not work there
// (a Spanish-speaking client of a UK agency is never told to call 911).
func Safety(a *store.Agency, lang string) string {
	if a != nil {
		if m := a.SafetyMessage[lang]; m != "" {
			return m
		}
		if m := a.SafetyMessage["en"]; m != "" {
			return m
		}
		if m := a.SafetyMessage["es"]; m != "" {
			return m
		}
	}
	if m := SafetyMessage[lang]; m != "" {
		return m
	}
	return SafetyMessage["en"]
}

// Who names a client in an alert: initials unless the agency opted into names.
func Who(a *store.Agency, c *store.Client) string {
	if a != nil && a.AlertNames {
		return c.Name + " (" + c.ID + ")"
	}
	return initials(c.Name) + " (" + c.ID + ")"
}

func initials(name string) string {
	var b strings.Builder
	for _, f := range strings.Fields(name) {
		for _, r := range f {
			if unicode.IsLetter(r) {
				b.WriteRune(unicode.ToUpper(r))
				b.WriteByte('.')
				break
			}
		}
	}
	if b.Len() == 0 {
		return "Client"
	}
	return b.String()
}

// AlertText is the SMS or Telegram text a case manager gets: who, how
// urgent, why in category words, and how to take it. It never quotes the
// client. It fits one 160-character segment when the reasons allow.
func AlertText(who string, e *store.Escalation, code string) string {
	why := strings.Join(e.Reasons, ", ")
	build := func(who, why string) string {
		if e.Level == "crisis" {
			return "CareCheck URGENT: " + who + " may be in crisis: " + why + fmt.Sprintf(". Reply ACK %s to take it.", code)
		}
		return "CareCheck: please check on " + who + " today: " + why + fmt.Sprintf(". Reply ACK %s when seen.", code)
	}
	text := build(who, why)
	// Counted in characters, cut on characters: the reasons first (keeping
	// a few words of them), then — a long full name, for agencies that
	// alert by name — the name, never the client id or the ACK.
	if over := utf8.RuneCountInString(text) - maxAlert; over > 0 {
		why = clip(why, max(utf8.RuneCountInString(why)-over, 12))
		text = build(who, why)
	}
	if over := utf8.RuneCountInString(text) - maxAlert; over > 0 {
		name, id := who, ""
		if i := strings.LastIndex(who, " ("); i > 0 {
			name, id = who[:i], who[i:]
		}
		name = clip(name, max(utf8.RuneCountInString(name)-over, 4))
		text = build(name+id, why)
	}
	return text
}

// maxAlert is one SMS segment.
const maxAlert = 160

// clip shortens s to at most n characters, cutting at the last word
// boundary that fits and ending with "..." when it cuts; a first word
// longer than n is cut inside it rather than dropped. The ellipsis is three
// dots, not "…": one character outside GSM-7 turns a whole SMS into UCS-2,
// 70 characters a segment instead of 160.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 3 {
		return string(r[:max(n, 0)])
	}
	head := r[:n-3] // room for the ellipsis
	cut := len(head)
	if next := r[n-3]; !unicode.IsSpace(next) && next != ',' && next != ';' {
		// The cut falls inside a word: back up to the space before it.
		for cut > 0 && !unicode.IsSpace(head[cut-1]) {
			cut--
		}
		if cut == 0 {
			cut = len(head)
		}
	}
	return strings.TrimRightFunc(string(head[:cut]), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }) + "..."
}

// alertReasons is what an alert may say about why (docs/clinical.md, "What a
// case manager is told": category
// words and the flag, no scores beyond it, unless the agency turned
// clinical detail on): "GAD-7 = 14 (moderate)" becomes "GAD-7 10 or more",
// "mood 1" becomes "low mood". PHQ-9 item 9 is itself the flag and stays.
//
// Substance use never reaches an alert, detail or not (42 CFR Part 2: such
// records stay out of SMS and Telegram): "concern language: relapse" becomes
// "concern language".
func alertReasons(a *store.Agency, reasons []string) []string {
	detail := a != nil && a.AlertDetail
	out := make([]string, 0, len(reasons))
	for _, r := range reasons {
		switch {
		case strings.HasSuffix(r, " language: relapse"):
			r = strings.TrimSuffix(r, ": relapse")
		case detail:
			// The agency asked for scores and bands: kept as they are.
		case strings.HasPrefix(r, "PHQ-9 = "):
			r = "PHQ-9 15 or more"
		case strings.HasPrefix(r, "GAD-7 = "):
			r = "GAD-7 10 or more"
		case strings.HasPrefix(r, "mood ") && strings.Contains(r, "median"):
			r = "mood drop"
		case moodScore.MatchString(r):
			r = "low mood"
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

var moodScore = regexp.MustCompile(`^mood \d+$`)

// AckReply confirms an acknowledgement to the person who sent it.
func AckReply(who string, code string) string {
	return fmt.Sprintf("CareCheck: alert %s for %s acknowledged. Thank you.", code, who)
}

// StaffHelp answers a staff message CareCheck could not read.
const StaffHelp = "CareCheck: reply ACK <code> to take an alert (e.g. ACK 1). No open alert matches that."

// StaffDeactivated answers a message from a deactivated staff member: they
// take no alerts, so their ACK acknowledges nothing.
const StaffDeactivated = "CareCheck: your account is deactivated; you no longer receive or take alerts. Ask your agency's admin."

// ValidateSafetyMessage checks an agency's own safety message: present,
// short enough, and every number in it a crisis line or a valid phone
// number (a dead number in a safety message is a known harm).
func ValidateSafetyMessage(msg string) error {
	msg = strings.TrimSpace(msg)
	// Lengths in characters: a Spanish message's accents are one each.
	if utf8.RuneCountInString(msg) < 20 {
		return settingError(CodeSafetyShort, 0, "too short to be a safety message")
	}
	if utf8.RuneCountInString(msg) > 640 {
		return settingError(CodeSafetyLong, 0, "at most 640 characters (4 SMS segments)")
	}
	numbers := crisisNumber.FindAllString(msg, -1)
	if len(numbers) == 0 {
		return settingError(CodeSafetyNoNumber, 0, "must contain a crisis line or phone number")
	}
	for _, n := range numbers {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, n)
		if knownLines[digits] {
			continue
		}
		p, err := phonenumbers.Parse(strings.TrimSpace(n), "US")
		if err != nil || !phonenumbers.IsValidNumber(p) {
			e := settingError(CodeSafetyBadPhone, 0, "%q is not a valid phone number or known crisis line", strings.TrimSpace(n))
			e.Value = strings.TrimSpace(n)
			return e
		}
	}
	return nil
}

var crisisNumber = regexp.MustCompile(`\+?\d[\d\s().-]{1,18}\d`)

// knownLines are short crisis and emergency numbers accepted as they are.
var knownLines = map[string]bool{"988": true, "911": true, "112": true, "999": true, "000": true, "116123": true, "131114": true, "741741": true}

// Voice alert texts, read by a call (bot/twilio's TwiML <Say>) in the staff
// member's language. A call may be heard by anyone near the phone, so it
// says less than the SMS: no initials, no reasons, only the urgency and the
// alert's short id, spelled out.
var (
	voiceCrisis = map[string]string{
		"en": "This is CareCheck with an urgent alert. A client may be in crisis. Alert %s. Press 1 to take this alert. Press 2 to hear this again.",
		"es": "Le llama CareCheck con una alerta urgente. Un cliente puede estar en crisis. Alerta %s. Oprima 1 para aceptar esta alerta. Oprima 2 para escucharla de nuevo.",
	}
	voiceConcern = map[string]string{
		"en": "This is CareCheck. A client needs a check today. Alert %s. Press 1 to take this alert. Press 2 to hear this again.",
		"es": "Le llama CareCheck. Un cliente necesita seguimiento hoy. Alerta %s. Oprima 1 para aceptar esta alerta. Oprima 2 para escucharla de nuevo.",
	}
	voiceAcked = map[string]string{
		"en": "Thank you. The alert is yours. The details are in CareCheck. Goodbye.",
		"es": "Gracias. La alerta es suya. Los detalles están en CareCheck. Adiós.",
	}
	voiceTaken = map[string]string{
		"en": "This alert is already taken or closed. Nothing more to do. Goodbye.",
		"es": "Esta alerta ya fue aceptada o cerrada. No hay nada más que hacer. Adiós.",
	}
)

// voiceLang is the language a call speaks to a staff member: theirs when
// there is a text in it, else English.
func voiceLang(lang string) string {
	if _, ok := voiceCrisis[lang]; ok {
		return lang
	}
	return "en"
}

// VoiceAlertText is what a call says about escalation e to a staff member
// speaking lang: its urgency and its short id, one character at a time.
func VoiceAlertText(lang string, e *store.Escalation) string {
	lang = voiceLang(lang)
	t := voiceCrisis[lang]
	if e.Level == "concern" {
		t = voiceConcern[lang]
	}
	return fmt.Sprintf(t, strings.Join(strings.Split(ShortID(e.ID), ""), " "))
}

// VoiceAcked thanks a staff member who took an alert by pressing 1.
func VoiceAcked(lang string) string { return voiceAcked[voiceLang(lang)] }

// VoiceTaken tells a staff member the alert is no longer open.
func VoiceTaken(lang string) string { return voiceTaken[voiceLang(lang)] }
