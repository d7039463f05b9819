// Package settings holds the rules of an agency's own settings, shared by
// the agency API (PATCH /v1/agency, PUT /v1/agency/escalation-policy,
// …/safety-message, …/phrases) and the console's settings pages, so each
// rule has one implementation. Refusals are a *freetext.Error (names,
// zones, times of day), an *Error (the bounds here) or an
// *escalation.SettingError (the policy, safety message and phrase rules).
package settings

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

// Error is a setting out of its bounds: Field names it as the API's JSON
// does; Error() is the API's English text.
type Error struct {
	Field string
	msg   string
}

func (e *Error) Error() string { return e.msg }

// Changes are the agency's plain settings to change: nil fields stay.
type Changes struct {
	Name          *string         `json:"name"`
	Timezone      *string         `json:"timezone"`
	QuietStart    *string         `json:"quiet_start"`
	QuietEnd      *string         `json:"quiet_end"`
	ReplyWindow   *store.Duration `json:"reply_window"`
	MissedInARow  *int            `json:"missed_in_a_row"`
	MoodThreshold *int            `json:"mood_threshold"`
	AlertDetail   *bool           `json:"alert_detail"`
	AlertNames    *bool           `json:"alert_names"`
	ExportWords   *bool           `json:"export_words"`
	Retention     *store.Duration `json:"retention"`
	RequireTOTP   *bool           `json:"require_totp"`
	SessionIdle   *store.Duration `json:"session_idle"`
}

// Apply checks every change and writes them onto ag; on a refusal ag may
// be half changed, so callers apply to a copy they then drop.
func (c Changes) Apply(ag *store.Agency) error {
	if c.Name != nil {
		name, err := freetext.Check("name", *c.Name, freetext.Name)
		if err != nil {
			return err
		}
		ag.Name = name
	}
	if c.Timezone != nil {
		if err := freetext.Zone("timezone", *c.Timezone); err != nil {
			return err
		}
		ag.Timezone = *c.Timezone
	}
	if c.QuietStart != nil {
		if err := freetext.Clock("quiet_start", *c.QuietStart); err != nil {
			return err
		}
		ag.QuietStart = *c.QuietStart
	}
	if c.QuietEnd != nil {
		if err := freetext.Clock("quiet_end", *c.QuietEnd); err != nil {
			return err
		}
		ag.QuietEnd = *c.QuietEnd
	}
	if c.ReplyWindow != nil {
		if w := time.Duration(*c.ReplyWindow); w < 10*time.Second || w > 72*time.Hour {
			return &Error{"reply_window", "reply_window: between 10s and 72h"}
		}
		ag.ReplyWindow = *c.ReplyWindow
	}
	if c.MissedInARow != nil {
		if *c.MissedInARow < 1 || *c.MissedInARow > 30 {
			return &Error{"missed_in_a_row", "missed_in_a_row: between 1 and 30"}
		}
		ag.MissedInARow = *c.MissedInARow
	}
	if c.MoodThreshold != nil {
		if *c.MoodThreshold < -1 || *c.MoodThreshold > 10 {
			return &Error{"mood_threshold", "mood_threshold: between 0 and 10, or -1 to turn the rule off"}
		}
		ag.MoodThreshold = *c.MoodThreshold
	}
	if c.AlertDetail != nil {
		ag.AlertDetail = *c.AlertDetail
	}
	if c.AlertNames != nil {
		ag.AlertNames = *c.AlertNames
	}
	if c.ExportWords != nil {
		ag.ExportWords = *c.ExportWords
	}
	if c.Retention != nil {
		// docs/clinical.md, "Retention and audit": configuration changes are kept 6 years (HIPAA).
		if v := *c.Retention; v < store.DefaultRetention || v > 5*store.DefaultRetention {
			return &Error{"retention", "retention: from 52596h (6 years) to 262980h (30 years)"}
		}
		ag.Retention = *c.Retention
	}
	if c.RequireTOTP != nil {
		ag.RequireTOTP = *c.RequireTOTP
	}
	if c.SessionIdle != nil {
		if v := time.Duration(*c.SessionIdle); v < MinSessionIdle || v > MaxSessionIdle {
			return &Error{"session_idle", "session_idle: between 1m and 12h"}
		}
		ag.SessionIdle = *c.SessionIdle
	}
	return nil
}

// The bounds of the console's idle timeout: the absolute limit of a
// console session is 12 h.
const (
	MinSessionIdle = time.Minute
	MaxSessionIdle = 12 * time.Hour
)

// CheckPolicy checks an escalation policy for the agency
// (escalation.ValidatePolicy): each step names "assigned", "backup", an
// active staff member or one of the agency's rotations ("on-call:<id>").
// A store failure while looking them up is returned as it is.
func CheckPolicy(ctx context.Context, st *store.Store, agencyID string, p store.Policy) error {
	var lookupErr error
	err := escalation.ValidatePolicy(p, func(id string) bool {
		m, err := st.CaseManager(ctx, agencyID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			lookupErr = err
		}
		return err == nil && m.Active
	}, func(id string) bool {
		_, err := st.Rotation(ctx, agencyID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			lookupErr = err
		}
		return err == nil
	})
	if lookupErr != nil {
		return lookupErr
	}
	return err
}

// SafetyMessages checks the agency's own safety messages by language ("en",
// "es"): free text by freetext.Safety, then escalation.ValidateSafetyMessage
// (every number in them a crisis line or a valid phone number). It returns
// them cleaned; a refusal's text starts with the language.
func SafetyMessages(msgs map[string]string) (map[string]string, error) {
	if msgs == nil {
		return nil, nil
	}
	out := make(map[string]string, len(msgs))
	for lang, msg := range msgs {
		if lang != "en" && lang != "es" {
			return nil, &Error{lang, fmt.Sprintf(`%s: languages are "en" and "es"`, lang)}
		}
		msg, err := freetext.Check(lang, msg, freetext.Safety)
		if err != nil {
			return nil, err
		}
		if err := escalation.ValidateSafetyMessage(msg); err != nil {
			return nil, &LangError{Lang: lang, Err: err}
		}
		out[lang] = msg
	}
	return out, nil
}

// LangError is a safety message refused in one language.
type LangError struct {
	Lang string
	// Err is the *escalation.SettingError.
	Err error
}

func (e *LangError) Error() string { return e.Lang + ": " + e.Err.Error() }
func (e *LangError) Unwrap() error { return e.Err }

// MaxPhrases bounds an agency's own phrases.
const MaxPhrases = 200

// Phrases checks the agency's own crisis and concern phrases (each free
// text by freetext.Name, then escalation.Phrases) and returns them cleaned.
func Phrases(list []store.Phrase) ([]store.Phrase, error) {
	if len(list) > MaxPhrases {
		return nil, &Error{"phrases", "phrases: at most 200"}
	}
	if list == nil {
		return nil, nil
	}
	out := make([]store.Phrase, len(list))
	for i, p := range list {
		text, err := freetext.Check(fmt.Sprintf("phrases[%d].text", i), p.Text, freetext.Name)
		if err != nil {
			return nil, err
		}
		p.Text = text
		out[i] = p
	}
	if _, err := escalation.Phrases(out); err != nil {
		return nil, err
	}
	return out, nil
}
