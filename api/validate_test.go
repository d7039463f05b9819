package api_test

import (
	"strings"
	"testing"
)

// Every free-text field a person types goes through one check: control and
// invisible formatting characters are refused with a 400 naming the field,
// lengths are characters, not bytes, and nothing refused is stored.
func TestFreeTextFieldsRefuseControlAndInvisibleCharacters(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	cm := h.caseManager(key, "Ana", "+13125550101")
	client := h.client(key, cm, "Cara", "+13125550102")

	e200 := strings.Repeat("é", 200) // 400 bytes, 200 characters
	bad := []struct {
		label, value, want string
	}{
		{"NUL", "Ana\x00Lopez", "control character U+0000"},
		{"ESC", "Ana\x1b[31mLopez", "control character U+001B"},
		{"newline", "Ana\nLopez", "control character U+000A"},
		{"right-to-left override", "Ana \u202egnp.exe", "invisible formatting character U+202E"},
		{"zero-width space only", "\u200b\u200b", "invisible formatting character U+200B"},
		{"zero-width joiner at the start", "\u200dAna", "invisible formatting character U+200D"},
		{"Hangul filler only", "\u3164", "invisible formatting character U+3164"},
		{"braille blank only", "\u2800 \u2800", "only invisible or space characters"},
		{"spaces only", " \u00a0\u3000 ", "required"},
		{"201 characters of two-byte text", e200 + "é", "at most 200 characters"},
	}
	type route struct {
		label, method, path, field string
		body                       func(v string) map[string]any
	}
	routes := []route{
		{"agency create", "POST", "/v1/agencies", "name", func(v string) map[string]any {
			return map[string]any{"name": v, "timezone": "America/Chicago"}
		}},
		{"agency patch", "PATCH", "/v1/agency", "name", func(v string) map[string]any { return map[string]any{"name": v} }},
		{"case manager", "POST", "/v1/case-managers", "name", func(v string) map[string]any {
			return map[string]any{"name": v, "phone": "+13125550103"}
		}},
		{"client create", "POST", "/v1/clients", "name", func(v string) map[string]any {
			return map[string]any{"name": v, "phone": "+13125550104", "channel": "sms", "timezone": "America/Chicago", "case_manager_id": cm}
		}},
		{"client patch", "PATCH", "/v1/clients/" + client, "name", func(v string) map[string]any { return map[string]any{"name": v} }},
		{"appointment with", "POST", "/v1/clients/" + client + "/appointments", "with", func(v string) map[string]any {
			return map[string]any{"at": "2099-01-01T10:00:00Z", "with": v}
		}},
		{"appointment location", "POST", "/v1/clients/" + client + "/appointments", "location", func(v string) map[string]any {
			return map[string]any{"at": "2099-01-01T10:00:00Z", "with": "Dr. Ruiz", "location": v}
		}},
		{"agency phrase", "PUT", "/v1/agency/phrases", "phrases[0].text", func(v string) map[string]any {
			return map[string]any{"phrases": []map[string]any{{"text": v, "level": "crisis"}}}
		}},
	}
	for _, rt := range routes {
		for _, tc := range bad {
			if rt.field == "location" && tc.want == "required" {
				continue // an optional field may be left empty
			}
			t.Run(rt.label+"/"+tc.label, func(t *testing.T) {
				tok := key
				if rt.path == "/v1/agencies" {
					tok = operator
				}
				code, out := h.do(rt.method, rt.path, tok, rt.body(tc.value))
				msg, _ := out["error"].(string)
				if code != 400 || !strings.HasPrefix(msg, rt.field+": ") || !strings.Contains(msg, tc.want) {
					t.Errorf("status = %d %q; want 400 %q naming %q", code, msg, tc.want, rt.field)
				}
			})
		}
	}

	// Nothing refused was stored.
	if _, out := h.do("GET", "/v1/case-managers", key, nil); len(out["case_managers"].([]any)) != 1 {
		t.Errorf("case managers after refusals = %v; want only Ana", out["case_managers"])
	}
	if _, out := h.do("GET", "/v1/clients/"+client, key, nil); out["name"] != "Cara" {
		t.Errorf("client name after refused patches = %v; want Cara", out["name"])
	}
	if _, out := h.do("GET", "/v1/agency", key, nil); out["name"] != "A" {
		t.Errorf("agency name after refused patches = %v; want A", out["name"])
	}

	// Longer free text: a note keeps its line breaks but not the rest.
	for _, tc := range []struct{ note, want string }{
		{"called her\x1b", "note: control character U+001B"},
		{"called \u202eher", "note: invisible formatting character U+202E"},
		{strings.Repeat("ñ", 2001), "note: at most 2000 characters"},
	} {
		code, out := h.do("POST", "/v1/escalations/es_0000000000000000000000000a/resolve", key, map[string]any{"note": tc.note})
		if msg, _ := out["error"].(string); code != 400 || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("resolve note %q = %d %q; want 400 %q", tc.note[:8], code, msg, tc.want)
		}
	}
	code, out := h.do("PUT", "/v1/agency/safety-message", key, map[string]any{"es": "Llame o escriba al 988\u200b ahora."})
	if msg, _ := out["error"].(string); code != 400 || !strings.HasPrefix(msg, "es: invisible formatting character U+200B") {
		t.Errorf("safety message with a zero-width space = %d %q; want 400 naming es", code, msg)
	}
	code, out = h.do("POST", "/v1/questionnaires", key, map[string]any{
		"id": "own", "title": map[string]any{"en": "Check-in"},
		"questions": []map[string]any{{"id": "q1", "type": "scale", "min": 0, "max": 10, "text": map[string]any{"en": "How are you\u202e?"}}},
	})
	if msg, _ := out["error"].(string); code != 400 || !strings.HasPrefix(msg, "questions[0].text.en: invisible formatting character U+202E") {
		t.Errorf("questionnaire text with U+202E = %d %q; want 400 naming questions[0].text.en", code, msg)
	}
}

// What the check lets through is stored in NFC, trimmed, and may be exactly
// as long as the limit in characters whatever its size in bytes.
func TestFreeTextIsStoredNormalised(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	e200 := strings.Repeat("é", 200)
	for _, tc := range []struct{ label, name, want string }{
		{"decomposed accent", "  Jose\u0301 Nun\u0303ez ", "José Nuñez"},
		{"200 characters of two-byte text", e200, e200},
		{"Persian name with a zero-width non-joiner between letters", "نگار\u200cها", "نگار\u200cها"},
		{"emoji with a variation selector", "Ana \u2764\ufe0f", "Ana \u2764\ufe0f"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			code, out := h.do("POST", "/v1/case-managers", key, map[string]any{"name": tc.name})
			if code != 201 {
				t.Fatalf("create = %d %v; want 201", code, out)
			}
			_, got := h.do("GET", "/v1/case-managers/"+out["id"].(string), key, nil)
			if got["name"] != tc.want {
				t.Errorf("stored name = %q; want %q", got["name"], tc.want)
			}
		})
	}
	code, out := h.do("PATCH", "/v1/agency", key, map[string]any{"name": "Cli\u0301nica del Norte"})
	if code != 200 || out["name"] != "Clínica del Norte" {
		t.Errorf("agency rename = %d %v; want the name in NFC", code, out["name"])
	}
}

// Letters in a phone number are refused, not read as a keypad spelling: a
// typo must not become a stranger's number.
func TestPhoneWithLettersIsRefused(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	cm := h.caseManager(key, "Ana", "+13125550101")
	for _, tc := range []struct {
		label, path string
		body        map[string]any
	}{
		{"case manager", "/v1/case-managers", map[string]any{"name": "B"}},
		{"client", "/v1/clients", map[string]any{"name": "B", "channel": "sms", "timezone": "America/Chicago", "case_manager_id": cm}},
	} {
		for _, phone := range []string{"+1 212 555 CALL", "+1 800 FLOWERS", "+44 20 7946 0O18"} {
			tc.body["phone"] = phone
			code, out := h.do("POST", tc.path, key, tc.body)
			if msg, _ := out["error"].(string); code != 400 || msg != "phone: letters are not allowed" {
				t.Errorf("%s phone %q = %d %q; want 400 \"phone: letters are not allowed\"", tc.label, phone, code, msg)
			}
		}
	}
	if _, out := h.do("GET", "/v1/clients", key, nil); len(out["clients"].([]any)) != 0 {
		t.Errorf("clients after refused phones = %v; want none", out["clients"])
	}
}
