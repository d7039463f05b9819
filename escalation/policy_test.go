package escalation

import (
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
)

func step(notify string, wait time.Duration) store.PolicyStep {
	return store.PolicyStep{Notify: notify, Wait: store.Duration(wait)}
}

func TestValidatePolicy(t *testing.T) {
	known := func(id string) bool { return id == "cm_1" }
	rotation := func(id string) bool { return id == "ro_1" }
	many := make([]store.PolicyStep, 11)
	for i := range many {
		many[i] = step(NotifyAssigned, time.Minute)
	}
	for _, c := range []struct {
		name string
		p    store.Policy
		err  string // "" valid, else a part of the message
	}{
		{"default", DefaultPolicy(), ""},
		{"case manager id", store.Policy{Steps: []store.PolicyStep{step("cm_1", time.Minute)}, Repeat: 20}, ""},
		{"spaces around a target", store.Policy{Steps: []store.PolicyStep{step(" backup ", time.Minute)}}, ""},
		{"on-call rotation", store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, time.Minute), step("on-call:ro_1", time.Minute)}}, ""},
		{"unknown rotation", store.Policy{Steps: []store.PolicyStep{step("on-call:ro_2", time.Minute)}}, "steps[0].notify: no such rotation"},
		{"rotation without id", store.Policy{Steps: []store.PolicyStep{step("on-call:", time.Minute)}}, "steps[0].notify: no such rotation"},
		{"a case manager id is not a rotation", store.Policy{Steps: []store.PolicyStep{step("on-call:cm_1", time.Minute)}}, "no such rotation"},
		{"no steps", store.Policy{}, "steps"},
		{"too many steps", store.Policy{Steps: many}, "at most 10"},
		{"empty target", store.Policy{Steps: []store.PolicyStep{step(" ", time.Minute)}}, "steps[0].notify: required"},
		{"unknown case manager", store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, time.Minute), step("cm_2", time.Minute)}}, "steps[1].notify"},
		{"wait too short", store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, 500*time.Millisecond)}}, "steps[0].wait"},
		{"wait too long", store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, 25*time.Hour)}}, "steps[0].wait"},
		{"negative repeat", store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, time.Minute)}, Repeat: -1}, "repeat"},
		{"repeat too high", store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, time.Minute)}, Repeat: 21}, "repeat"},
	} {
		err := ValidatePolicy(c.p, known, rotation)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v; want valid", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v; want an error about %q", c.name, err, c.err)
		}
	}
}
