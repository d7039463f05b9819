package escalation

import (
	"strings"
	"time"

	"github.com/carecheck/carecheck/store"
)

// DefaultPolicy is used by an agency that set none: the assigned case
// manager, then their backup, each with 10 minutes, repeated 3 times.
func DefaultPolicy() store.Policy {
	return store.Policy{
		Steps: []store.PolicyStep{
			{Notify: NotifyAssigned, Wait: store.Duration(10 * time.Minute)},
			{Notify: NotifyBackup, Wait: store.Duration(10 * time.Minute)},
		},
		Repeat: 3,
	}
}

// Policy step targets besides a case manager id.
const (
	NotifyAssigned = "assigned"
	NotifyBackup   = "backup"
	// NotifyOnCall prefixes a rotation id: "on-call:<rotation id>" alerts
	// whoever is on call in that rotation when the step runs.
	NotifyOnCall = "on-call:"
)

// OnCallRotation is the rotation id a step target names ("" and false: it
// names none).
func OnCallRotation(notify string) (string, bool) {
	id, ok := strings.CutPrefix(strings.TrimSpace(notify), NotifyOnCall)
	return strings.TrimSpace(id), ok
}

// ValidatePolicy checks a policy an agency wants to save; caseManager
// reports whether an id names one of the agency's active case managers,
// rotation whether it names one of its rotations.
func ValidatePolicy(p store.Policy, caseManager, rotation func(id string) bool) error {
	if len(p.Steps) == 0 {
		return settingError(CodeStepsNone, 0, "steps: at least one step")
	}
	if len(p.Steps) > 10 {
		return settingError(CodeStepsMany, 0, "steps: at most 10")
	}
	for i, st := range p.Steps {
		switch n := strings.TrimSpace(st.Notify); {
		case n == NotifyAssigned || n == NotifyBackup:
		case n == "":
			return settingError(CodeNotifyRequired, i, "steps[%d].notify: required (\"assigned\", \"backup\", \"on-call:<rotation id>\" or a case manager id)", i)
		case strings.HasPrefix(n, NotifyOnCall):
			if id, _ := OnCallRotation(n); id == "" || !rotation(id) {
				return settingError(CodeNoRotation, i, "steps[%d].notify: no such rotation in this agency", i)
			}
		case !caseManager(n):
			return settingError(CodeNoStaff, i, "steps[%d].notify: no such active case manager in this agency", i)
		}
		w := time.Duration(st.Wait)
		if w < time.Second || w > 24*time.Hour {
			return settingError(CodeWait, i, "steps[%d].wait: between 1s and 24h", i)
		}
	}
	if p.Repeat < 0 || p.Repeat > 20 {
		return settingError(CodeRepeat, 0, "repeat: between 0 and 20")
	}
	return nil
}
