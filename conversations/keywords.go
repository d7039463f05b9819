package conversations

import (
	"fmt"
	"strings"

	"github.com/carecheck/carecheck/store"
)

// Keyword is a carrier keyword a whole message can be.
type Keyword int

// The keywords CareCheck honours (CTIA rules, plus Spanish).
const (
	NoKeyword Keyword = iota
	StopKeyword
	StartKeyword
	HelpKeyword
)

var keywords = map[string]Keyword{
	"stop": StopKeyword, "stopall": StopKeyword, "unsubscribe": StopKeyword, "cancel": StopKeyword, "end": StopKeyword, "quit": StopKeyword,
	"revoke": StopKeyword, "optout": StopKeyword, "alto": StopKeyword, "parar": StopKeyword,
	"start": StartKeyword, "unstop": StartKeyword, "yes": StartKeyword,
	"help": HelpKeyword, "info": HelpKeyword, "ayuda": HelpKeyword,
}

// ParseKeyword reads a whole message as a keyword: any case, trimmed, with
// trailing punctuation ignored. "end it all" is not a keyword.
func ParseKeyword(text string) Keyword {
	t := strings.ToLower(strings.TrimSpace(text))
	t = strings.TrimRight(t, ".!¡?¿ ")
	t = strings.TrimLeft(t, "¡¿ ")
	return keywords[t]
}

// StopText confirms an opt-out (carrier rules: one confirmation, then silence).
func StopText(a *store.Agency, lang string) string {
	if lang == "es" {
		return fmt.Sprintf("%s: no recibirás más mensajes. Responde START para volver a recibirlos. Si estás en peligro, llama o envía un texto al 988.", a.Name)
	}
	return fmt.Sprintf("%s: you will get no more messages. Reply START to receive them again. If you are in danger, call or text 988.", a.Name)
}

// StartText confirms an opt-in.
func StartText(a *store.Agency, lang string) string {
	if lang == "es" {
		return fmt.Sprintf("%s: volverás a recibir mensajes. Responde STOP para dejar de recibirlos.", a.Name)
	}
	return fmt.Sprintf("%s: you will receive messages again. Reply STOP to opt out.", a.Name)
}

// HelpText is the CTIA help answer: who we are, how to reach the case
// manager, the crisis line, frequency, rates and how to stop.
func HelpText(a *store.Agency, cm *store.CaseManager, lang string) string {
	reach := "your case manager"
	if cm != nil {
		reach = cm.Name
		if cm.Phone != "" {
			reach += " at " + cm.Phone
		}
	}
	if lang == "es" {
		reach = strings.Replace(reach, " at ", " al ", 1)
		if cm == nil {
			reach = "tu administrador de casos"
		}
		return fmt.Sprintf("%s check-ins. Contacta a %s. En crisis llama o envía un texto al 988. Hasta 1 msj diario más recordatorios. Pueden aplicar tarifas de mensajes y datos. Responde STOP para cancelar.", a.Name, reach)
	}
	return fmt.Sprintf("%s check-ins. Reach %s. In a crisis call or text 988. Up to 1 msg/day plus reminders. Msg & data rates may apply. Reply STOP to opt out.", a.Name, reach)
}

// UnknownText answers a number nobody owns: it reveals nothing about anyone.
const UnknownText = "This number does not recognise you. If you are in danger, call or text 988 or call 911."

// UnlinkedText answers a Telegram chat that is not linked to anyone.
const UnlinkedText = "Hello! To get check-ins here, ask your case manager for a link. If you are in danger, call or text 988 or call 911."

// LinkedText confirms a Telegram link.
func LinkedText(lang string) string {
	if lang == "es" {
		return "¡Listo! Tus mensajes de seguimiento llegarán aquí."
	}
	return "You're connected. Your check-ins will arrive here."
}

// StaffLinkedText confirms a case manager's Telegram link.
const StaffLinkedText = "You're connected. CareCheck alerts will arrive here."

// BadLinkText answers an unknown or used link code.
const BadLinkText = "That link is not valid or has expired. Please ask your case manager for a new one."
