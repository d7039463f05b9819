package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// defaultNumber is the service's own number (TWILIO_FROM_NUMBER) in these tests.
const defaultNumber = "+13125550100"

// newIdentityHarness is the API over a store opened as serve opens it,
// with a default sending number.
func newIdentityHarness(t *testing.T) *harness {
	t.Helper()
	rs := redistest.New(t)
	st, closeStore, err := store.Open(context.Background(), store.Options{URL: rs.URL, SMSNumber: defaultNumber})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeStore() })
	logs := &lockedBuffer{}
	srv := httptest.NewServer(newServer(t, api.Deps{
		Store: st, Log: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry(), OperatorToken: operator,
	}))
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, logs: logs, rdb: st.Redis()}
}

// identityAudits counts the agency's audit entries about its sending identity.
func (h *harness) identityAudits(key string) []map[string]any {
	h.t.Helper()
	code, out := h.do("GET", "/v1/audit", key, nil)
	if code != 200 {
		h.t.Fatalf("audit = %d %v", code, out)
	}
	var list []map[string]any
	for _, e := range out["audit"].([]any) {
		if m := e.(map[string]any); m["kind"] == "sending_identity" {
			list = append(list, m)
		}
	}
	return list
}

// TestSendingIdentityValidation: every bad identity is a 400 naming the
// field, and changes nothing (the agency stays on the default, no audit
// entry); good ones are stored normalised.
func TestSendingIdentityValidation(t *testing.T) {
	h := newIdentityHarness(t)
	hex32 := "0123456789abcdef0123456789abcdef"
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf("+1312555%04d", 3000+i))
	}
	cases := []struct {
		label string
		body  any
		want  string // the error's start; "" for 200
		shown map[string]any
	}{
		{"no body", `{}`, "sms: required", nil},
		{"removing it", map[string]any{"sms": nil}, "sms: required", nil},
		{"empty", map[string]any{"sms": map[string]any{}}, "sms: numbers or messaging_service_sid required", nil},
		{"empty lists", map[string]any{"sms": map[string]any{"numbers": []string{}, "messaging_service_sid": ""}}, "sms: numbers or messaging_service_sid required", nil},
		{"not E.164", map[string]any{"sms": map[string]any{"numbers": []string{"3125550150"}}}, "sms.numbers[0]: must be in E.164 form", nil},
		{"letters", map[string]any{"sms": map[string]any{"numbers": []string{"+13125550150", "+1 312 555 CALL"}}}, "sms.numbers[1]: letters are not allowed", nil},
		{"not a number", map[string]any{"sms": map[string]any{"numbers": []string{"+1999"}}}, "sms.numbers[0]: not a valid phone number", nil},
		{"listed twice", map[string]any{"sms": map[string]any{"numbers": []string{"+13125550150", "+1 (312) 555-0150"}}}, "sms.numbers[1]: listed twice", nil},
		{"too many", map[string]any{"sms": map[string]any{"numbers": many}}, "sms.numbers: at most 20", nil},
		{"service too short", map[string]any{"sms": map[string]any{"messaging_service_sid": "MG0123"}}, "sms.messaging_service_sid: MG followed by 32 hex digits", nil},
		{"service not MG", map[string]any{"sms": map[string]any{"messaging_service_sid": "PN" + hex32}}, "sms.messaging_service_sid:", nil},
		{"service not hex", map[string]any{"sms": map[string]any{"messaging_service_sid": "MG" + strings.Repeat("g", 32)}}, "sms.messaging_service_sid:", nil},
		{"service too long", map[string]any{"sms": map[string]any{"messaging_service_sid": "MG" + hex32 + "0"}}, "sms.messaging_service_sid:", nil},
		{"unknown field", map[string]any{"sms": map[string]any{"numbers": []string{"+13125550150"}, "from": "+13125550151"}}, "", nil},
		{"a number", map[string]any{"sms": map[string]any{"numbers": []string{"+1 (312) 555-0160"}}}, "",
			map[string]any{"numbers": []any{"+13125550160"}}},
		{"a service, upper-case hex", map[string]any{"sms": map[string]any{"messaging_service_sid": "MG" + strings.ToUpper(hex32)}}, "",
			map[string]any{"messaging_service_sid": "MG" + hex32}},
		{"both", map[string]any{"sms": map[string]any{"numbers": []string{"+13125550161", "+13125550162"}, "messaging_service_sid": "MG" + strings.Repeat("a", 32)}}, "",
			map[string]any{"numbers": []any{"+13125550161", "+13125550162"}, "messaging_service_sid": "MG" + strings.Repeat("a", 32)}},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			_, key := h.agency("Agency " + c.label)
			code, out := h.do("PUT", "/v1/agency/sending-identity", key, c.body)
			_, now := h.do("GET", "/v1/agency/sending-identity", key, nil)
			if c.shown == nil {
				msg, _ := out["error"].(string)
				if code != 400 || !strings.HasPrefix(msg, c.want) {
					t.Errorf("PUT = %d %v; want 400 %q…", code, out, c.want)
				}
				if now["default"] != true || now["sms"] != nil {
					t.Errorf("after a refused identity GET = %v; want the default, unchanged", now)
				}
				if n := len(h.identityAudits(key)); n != 0 {
					t.Errorf("a refused identity left %d audit entries", n)
				}
				return
			}
			if code != 200 || fmt.Sprint(out["sms"]) != fmt.Sprint(c.shown) || out["default"] != false {
				t.Errorf("PUT = %d %v; want 200 with sms %v", code, out, c.shown)
			}
			if fmt.Sprint(now) != fmt.Sprint(out) {
				t.Errorf("GET = %v; want what PUT answered, %v", now, out)
			}
		})
	}
}

// TestSendingIdentityClaims: a number or service another agency holds, or
// the default number, is 409 naming nobody and changes nothing; the change
// is audited with old and new; two agencies with their own identities
// register the same phone, where agencies on the default still cannot.
func TestSendingIdentityClaims(t *testing.T) {
	h := newIdentityHarness(t)
	idA, keyA := h.agency("Alder")
	_, keyB := h.agency("Birch")
	_, keyC := h.agency("Cedar")
	_, keyD := h.agency("Dogwood")
	service := "MG" + strings.Repeat("b", 32)
	if code, out := h.do("PUT", "/v1/agency/sending-identity", keyA, map[string]any{"sms": map[string]any{"numbers": []string{"+13125550171"}, "messaging_service_sid": service}}); code != 200 {
		t.Fatalf("A's identity = %d %v", code, out)
	}
	for _, body := range []map[string]any{
		{"numbers": []string{"+13125550171"}},
		{"numbers": []string{"+13125550172", "+13125550171"}},
		{"messaging_service_sid": service},
		{"numbers": []string{defaultNumber}},
	} {
		code, out := h.do("PUT", "/v1/agency/sending-identity", keyB, map[string]any{"sms": body})
		msg := fmt.Sprint(out)
		if code != 409 || strings.Contains(msg, idA) || strings.Contains(msg, "Alder") {
			t.Errorf("B claiming %v = %d %v; want 409 naming nobody", body, code, out)
		}
	}
	if _, now := h.do("GET", "/v1/agency/sending-identity", keyB, nil); now["default"] != true {
		t.Errorf("B after refused claims = %v; want the default", now)
	}
	// The number B tried first and let go is free.
	if code, out := h.do("PUT", "/v1/agency/sending-identity", keyB, map[string]any{"sms": map[string]any{"numbers": []string{"+13125550172"}}}); code != 200 {
		t.Fatalf("B's identity = %d %v", code, out)
	}
	entries := h.identityAudits(keyB)
	if len(entries) != 1 || entries[0]["action"] != "changed" {
		t.Fatalf("B's identity audit = %v; want one change", entries)
	}
	changes := fmt.Sprint(entries[0]["changes"])
	for _, want := range []string{"default", "+13125550172"} {
		if !strings.Contains(changes, want) {
			t.Errorf("audit changes %s lack %q", changes, want)
		}
	}

	// The same person and the same staff phone in A and B: 201 each.
	cmA := h.caseManager(keyA, "Ana", "+13125550181")
	cmB := h.caseManager(keyB, "Bo", "+13125550181")
	h.client(keyA, cmA, "Morgan", "+13125550190")
	h.client(keyB, cmB, "Morgan", "+13125550190")
	// Within A, still one active person per phone.
	if code, _ := h.do("POST", "/v1/case-managers", keyA, map[string]any{"name": "Eve", "phone": "+13125550190"}); code != 409 {
		t.Errorf("A's second active person on a phone = %d; want 409", code)
	}
	// C and D share the default number: the rule of a shared number holds.
	cmC := h.caseManager(keyC, "Cy", "+13125550182")
	cmD := h.caseManager(keyD, "Di", "+13125550183")
	h.client(keyC, cmC, "Riley", "+13125550191")
	if code, _ := h.do("POST", "/v1/clients", keyD, map[string]any{"name": "Riley", "phone": "+13125550191", "channel": "sms",
		"timezone": "America/Chicago", "case_manager_id": cmD}); code != 409 {
		t.Errorf("a phone held on the default number, from another default agency = %d; want 409", code)
	}
	// C takes its own number: its client moves out of the shared space,
	// and D may register the phone.
	if code, out := h.do("PUT", "/v1/agency/sending-identity", keyC, map[string]any{"sms": map[string]any{"numbers": []string{"+13125550173"}}}); code != 200 {
		t.Fatalf("C's identity = %d %v", code, out)
	}
	h.client(keyD, cmD, "Riley", "+13125550191")
	// A replaces its identity: the number it let go can be claimed.
	if code, out := h.do("PUT", "/v1/agency/sending-identity", keyA, map[string]any{"sms": map[string]any{"numbers": []string{"+13125550174"}}}); code != 200 {
		t.Fatalf("A's new identity = %d %v", code, out)
	}
	if code, out := h.do("PUT", "/v1/agency/sending-identity", keyD, map[string]any{"sms": map[string]any{"numbers": []string{"+13125550171"}, "messaging_service_sid": service}}); code != 200 {
		t.Errorf("D claiming what A let go = %d %v; want 200", code, out)
	}
	// PATCH /v1/agency does not touch the identity.
	if code, out := h.do("PATCH", "/v1/agency", keyA, map[string]any{"quiet_start": "22:30"}); code != 200 {
		t.Fatalf("patch = %d %v", code, out)
	}
	if _, now := h.do("GET", "/v1/agency/sending-identity", keyA, nil); fmt.Sprint(now["sms"]) != "map[numbers:[+13125550174]]" {
		t.Errorf("A's identity after a settings change = %v", now)
	}
	for _, leak := range []string{"+13125550190", "3125550190", "Morgan"} {
		if strings.Contains(h.logs.String(), leak) {
			t.Errorf("logs hold %q", leak)
		}
	}
}
