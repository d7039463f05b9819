package console

import (
	"errors"
	"fmt"

	"github.com/carecheck/carecheck/freetext"
)

// checkText checks a form's free-text field by freetext.Check, the rule
// the API uses. It returns the value to store, or a message for the page in
// the reader's language naming the field by its label (a key of the string
// table) and saying why; nothing may be saved then.
func checkText(lang, label, v string, rule freetext.Rule) (string, string) {
	clean, err := freetext.Check(label, v, rule)
	if err == nil {
		return clean, ""
	}
	return "", textProblem(lang, label, err)
}

// textProblem words a freetext refusal for the page.
func textProblem(lang, label string, err error) string {
	T := texts[lang]
	var fe *freetext.Error
	if !errors.As(err, &fe) {
		return T["error"]
	}
	field := T[label]
	if field == "" {
		field = label
	}
	switch fe.Code {
	case freetext.CodeControl, freetext.CodeInvisible:
		return fmt.Sprintf(T["text_"+fe.Code], field, fe.Char)
	case freetext.CodeLong:
		return fmt.Sprintf(T["text_long"], field, fe.Max, fe.Got)
	}
	return fmt.Sprintf(T["text_"+fe.Code], field)
}
