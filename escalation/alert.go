package escalation

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/carecheck/carecheck/store"
)

// Every message a person receives on a risk path is a fixed template here,
// reviewable by the agency's clinical lead; nothing is generated.

// SafetyMessage is the US default safety reply (CLINICAL.md), by language.
var SafetyMessage = map[string]string{
	"en": "If you are in danger right now, call 911. You can call or text 988 any time, day or night " +
		"(Suicide & Crisis Lifeline; press 1 for Veterans, 2 for Spanish). " +
		"We have alerted your case manager, who usually answers within the hour during working hours. You are not alone.",
	"es": "Si estás en peligro ahora mismo, llama al 911. Puedes llamar o enviar un mensaje de texto al 988 a cualquier hora " +
		"(Línea 988 de Prevención del Suicidio y Crisis; marca 2 para español). " +
		"Hemos avisado a tu administrador de casos, que suele responder en menos de una hora en horario laboral. No estás solo/a.",
}

// Safety returns the agency's safety message in the client's language.
func Safety(a *store.Agency, lang string) string {
	if a != nil {
		if m := a.SafetyMessage[lang]; m != "" {
			return m
		}
		if m := a.SafetyMessage["en"]; m != "" && SafetyMessage[lang] == "" {
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
	var head, tail string
	if e.Level == "crisis" {
		head = "CareCheck URGENT: " + who + " may be in crisis: "
		tail = fmt.Sprintf(". Reply ACK %s to take it.", code)
	} else {
		head = "CareCheck: please check on " + who + " today: "
		tail = fmt.Sprintf(". Reply ACK %s when seen.", code)
	}
	if room := 160 - len(head) - len(tail); len(why) > room && room > 10 {
		why = why[:room-3] + "..."
	}
	return head + why + tail
}

// AckReply confirms an acknowledgement to the person who sent it.
func AckReply(who string, code string) string {
	return fmt.Sprintf("CareCheck: alert %s for %s acknowledged. Thank you.", code, who)
}

// StaffHelp answers a staff message CareCheck could not read.
const StaffHelp = "CareCheck: reply ACK <code> to take an alert (e.g. ACK 1). No open alert matches that."

// ValidateSafetyMessage checks an agency's own safety message: present,
// short enough, and every number in it a crisis line or a valid phone
// number (a dead number in a safety message is a known harm).
func ValidateSafetyMessage(msg string) error {
	msg = strings.TrimSpace(msg)
	if len(msg) < 20 {
		return fmt.Errorf("too short to be a safety message")
	}
	if len(msg) > 640 {
		return fmt.Errorf("at most 640 characters (4 SMS segments)")
	}
	numbers := crisisNumber.FindAllString(msg, -1)
	if len(numbers) == 0 {
		return fmt.Errorf("must contain a crisis line or phone number")
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
			return fmt.Errorf("%q is not a valid phone number or known crisis line", strings.TrimSpace(n))
		}
	}
	return nil
}

var crisisNumber = regexp.MustCompile(`\+?\d[\d\s().-]{1,18}\d`)

// knownLines are short crisis and emergency numbers accepted as they are.
var knownLines = map[string]bool{"988": true, "911": true, "112": true, "999": true, "000": true, "116123": true, "131114": true, "741741": true}
