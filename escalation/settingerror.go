package escalation

import "fmt"

// SettingError is an agency setting refused by a rule of this package (the
// policy, the safety message, the phrases). Error() is the API's English
// text; Code and Index let the console word it in the reader's language.
type SettingError struct {
	// Code says why (the Code… constants).
	Code string
	// Index is the step's or phrase's position, from 0, where Code is about one.
	Index int
	// Value is the refused value where the message shows it.
	Value string
	msg   string
}

func (e *SettingError) Error() string { return e.msg }

// Why a setting is refused (SettingError.Code).
const (
	CodeStepsNone      = "steps_none"       // a policy without steps
	CodeStepsMany      = "steps_many"       // over 10 steps
	CodeNotifyRequired = "notify_required"  // a step naming nobody
	CodeNoRotation     = "no_rotation"      // an on-call step naming no rotation of the agency
	CodeNoStaff        = "no_staff"         // a step naming no active staff member of the agency
	CodeWait           = "wait"             // a wait outside 1s–24h
	CodeRepeat         = "repeat"           // repeat outside 0–20
	CodeSafetyShort    = "safety_short"     // too short to be a safety message
	CodeSafetyLong     = "safety_long"      // over 640 characters
	CodeSafetyNoNumber = "safety_no_number" // no crisis line or phone number
	CodeSafetyBadPhone = "safety_bad_phone" // a number that is neither (Value)
	CodePhraseLevel    = "phrase_level"     // a phrase neither concern nor crisis
	CodePhraseLang     = "phrase_lang"      // a phrase's language neither en nor es
	CodePhraseInvalid  = "phrase_invalid"   // the detector refused the phrases
)

func settingError(code string, index int, format string, args ...any) *SettingError {
	return &SettingError{Code: code, Index: index, msg: fmt.Sprintf(format, args...)}
}
