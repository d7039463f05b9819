package questionnaire

// The words the parser knows, in English and Spanish. Entries are written
// plainly; they are normalised like answers (lower case, no accents, repeated
// letters collapsed), so "sí", "Si" and "siii" are one entry.

// skipWords skip the question (any question may be skipped); refusals count.
var skipWords = phrases(
	"skip", "skip it", "skip this", "skip this one", "skip that", "skip question", "skip the question",
	"pass", "next", "next question", "no answer",
	"prefer not to say", "prefer not to answer", "i prefer not to say", "i prefer not to answer",
	"id prefer not to say", "id prefer not to answer", "rather not say", "rather not answer",
	"id rather not say", "id rather not answer", "i dont want to answer", "i dont want to say",
	"dont want to answer", "i wont answer that",
	"saltar", "salta", "saltala", "saltar pregunta", "omitir", "omite", "omitela", "paso", "siguiente",
	"prefiero no decir", "prefiero no decirlo", "prefiero no contestar", "prefiero no responder",
	"no quiero contestar", "no quiero responder", "no quiero decir", "no quiero decirlo",
	"no contesto", "sin respuesta",
)

// laterWords pause the conversation (ErrLater).
var laterWords = phrases(
	"later", "not now", "not right now", "in a bit", "in a while", "remind me later", "ask me later",
	"text me later", "talk later", "busy", "im busy", "i am busy", "after",
	"luego", "despues", "mas tarde", "ahora no", "al rato", "en un rato", "ahorita no",
	"ocupado", "ocupada", "estoy ocupado", "estoy ocupada", "recuerdame luego", "recuerdame mas tarde",
	"preguntame luego", "preguntame despues", "luego te contesto", "hablamos luego",
)

// politeWords are dropped from both ends before looking for skip and later.
var politeWords = set("please", "pls", "plz", "porfa", "porfavor", "por", "favor", "thanks", "thx",
	"thank", "you", "gracias", "ok", "okay", "sorry", "perdon", "lo", "siento")

// declineWords answer an optional free-text question with "nothing".
var declineWords = phrases(
	"no", "n", "nope", "nah", "nothing", "nothing else", "none", "no thanks", "no thank you",
	"not really", "n a", "na", "thats all", "thats it", "im good", "nope thanks",
	"nada", "nada mas", "no gracias", "ninguno", "ninguna", "eso es todo", "es todo",
)

// codeWords are the words brought by an option's well-known code.
var codeWords = map[string][][]string{
	"yes": phrases(
		"yes", "y", "yeah", "yea", "ya", "yah", "yep", "yup", "sure", "of course", "definitely",
		"correct", "affirmative", "i did", "i have", "i do", "yes i did", "i took them", "i took it",
		"took them", "took it", "uh huh", "si", "sip", "claro", "claro que si", "por supuesto",
		"desde luego", "asi es", "correcto", "afirmativo", "si lo hice", "las tome", "lo tome",
	),
	"no": phrases(
		"no", "n", "nope", "nah", "nay", "not really", "no thanks", "no thank you", "negative", "never",
		"not at all", "i didnt", "i did not", "i havent", "i have not", "i dont", "i do not",
		"didnt", "did not", "havent", "have not", "nunca", "para nada", "de ninguna manera",
		"no gracias", "tampoco", "nel", "no lo hice", "no las tome", "no lo tome",
	),
	"some": phrases(
		"some", "some of them", "only some", "not all", "not all of them", "partly", "partially", "half",
		"a few", "missed some", "missed one", "missed a dose", "sometimes",
		"algunas", "algunos", "solo algunas", "solo algunos", "no todas", "no todos", "a veces",
		"algunas veces", "la mitad", "en parte", "me falto una", "se me olvido una", "olvide una",
	),
	"not-at-all": phrases(
		"not at all", "never", "none", "no", "nope", "nah", "no days", "zero days", "para nada",
		"nunca", "ningun dia", "ninguno", "nada", "en absoluto",
	),
	"several-days": phrases(
		"several days", "some days", "a few days", "few days", "sometimes", "occasionally",
		"varios dias", "algunos dias", "unos dias", "pocos dias", "a veces", "algunas veces",
	),
	"more-than-half": phrases(
		"more than half the days", "more than half of the days", "more than half", "over half the days",
		"over half", "most days", "mas de la mitad de los dias", "mas de la mitad",
		"la mayoria de los dias", "la mayoria",
	),
	"nearly-every-day": phrases(
		"nearly every day", "almost every day", "every day", "everyday", "all the time", "always",
		"daily", "nearly everyday", "almost everyday", "casi todos los dias", "todos los dias",
		"casi diario", "casi a diario", "a diario", "diario", "siempre", "casi siempre", "todo el tiempo",
	),
}

// frequencyCodes are the PHQ/GAD answer codes (values 0–3).
var frequencyCodes = map[string]bool{"not-at-all": true, "several-days": true, "more-than-half": true, "nearly-every-day": true}

// unsureWords make a worded answer unreadable: ask again.
var unsureWords = phrases(
	"maybe", "perhaps", "not sure", "unsure", "idk", "i dont know", "dont know", "dunno", "no idea",
	"no se", "no lo se", "tal vez", "quizas", "quiza", "a lo mejor", "ni idea",
)

// unsureFrequency are worded frequencies that fit no PHQ/GAD answer cleanly.
var unsureFrequency = phrases(
	"almost never", "hardly ever", "rarely", "not much", "a little", "a bit", "casi nunca", "rara vez",
	"un poco", "poco", "not every day", "not always", "once or twice", "often", "a lot", "a menudo",
	"seguido", "frecuentemente", "muchos dias", "mucho",
)

// dayWords after a number make it a count of days or times.
var dayWords = set("day", "days", "dia", "dias", "time", "times", "vez", "veces", "night", "nights",
	"noche", "noches", "week", "weeks", "semana", "semanas")

// negationWords left over outside a matched phrase spoil a positive answer
// ("not every day").
var negationWords = set("not", "no", "never", "nunca", "dont", "didnt", "doesnt", "isnt", "wasnt",
	"havent", "hasnt", "cant", "wont", "ni", "nor", "tampoco", "sin", "without")

// choiceFillers may surround an option number ("option 2", "#2").
var choiceFillers = set("option", "opcion", "number", "numero", "num", "choice", "answer",
	"respuesta", "la", "el", "the", "i", "pick", "choose", "elijo", "say")

// denominatorWords before a number make it a denominator ("7 out of 10").
var denominatorWords = set("of", "de", "sobre", "outof")

// numberWords are the number words up to twenty.
var numberWords = func() map[string]int {
	en := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
		"nineteen", "twenty"}
	es := []string{"cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve",
		"diez", "once", "doce", "trece", "catorce", "quince", "dieciseis", "diecisiete", "dieciocho",
		"diecinueve", "veinte"}
	m := make(map[string]int, 2*len(en))
	for i := range en {
		m[phrase(en[i])[0]] = i
		m[phrase(es[i])[0]] = i
	}
	return m
}()

// set makes a lookup set of normalised single words.
func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		for _, p := range phrase(w) {
			m[p] = true
		}
	}
	return m
}
