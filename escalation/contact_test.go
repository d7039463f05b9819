package escalation

import (
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
)

func rule(after time.Duration, method string) store.ContactRule {
	return store.ContactRule{After: store.Duration(after), Method: method}
}

func TestValidateContactRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		rules []store.ContactRule
		phone bool
		err   string
	}{
		{"none: the default", nil, false, ""},
		{"text then call", []store.ContactRule{rule(0, "sms"), rule(2*time.Minute, "voice")}, true, ""},
		{"telegram needs no phone", []store.ContactRule{rule(0, "telegram")}, false, ""},
		{"first not at once", []store.ContactRule{rule(time.Minute, "sms")}, true, "contact_rules[0].after"},
		{"unknown method", []store.ContactRule{rule(0, "pager")}, true, "contact_rules[0].method"},
		{"out of order", []store.ContactRule{rule(0, "sms"), rule(5*time.Minute, "voice"), rule(time.Minute, "sms")}, true, "contact_rules[2].after: not before"},
		{"over an hour", []store.ContactRule{rule(0, "sms"), rule(2*time.Hour, "voice")}, true, "contact_rules[1].after: between"},
		{"voice without a phone", []store.ContactRule{rule(0, "telegram"), rule(time.Minute, "voice")}, false, "voice needs a phone number"},
	} {
		err := ValidateContactRules(c.rules, c.phone)
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v; want %q", c.name, err, c.err)
		}
	}
}

func TestVoiceAlertText(t *testing.T) {
	e := &store.Escalation{ID: "es_01abcdefxyz123", Level: Crisis}
	en, es := VoiceAlertText("en", e), VoiceAlertText("es", e)
	if !strings.Contains(en, "x y z 1 2 3") || !strings.Contains(en, "Press 1") || !strings.Contains(es, "Oprima 1") {
		t.Errorf("voice texts = %q, %q; want the spelled short id and the key to press in each language", en, es)
	}
	if got := VoiceAlertText("fr", e); got != en {
		t.Errorf("an unknown language = %q; want English", got)
	}
	e.Level = Concern
	if got := VoiceAlertText("en", e); strings.Contains(got, "crisis") {
		t.Errorf("concern call = %q; says crisis", got)
	}
}
