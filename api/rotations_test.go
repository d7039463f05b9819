package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A rotation answers who is on call, across a DST change, and an override
// takes over its stretch; a policy step may name it; bad input changes
// nothing; another agency sees none of it; every change is audited.
func TestRotations(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("Northside")
	a := h.caseManager(key, "Ana Alvarez", "+13125550201")
	b := h.caseManager(key, "Ben Brooks", "+13125550202")
	sam := h.caseManager(key, "Sam Sato", "+13125550203")

	code, rot := h.do("POST", "/v1/rotations", key, map[string]any{"name": "Nights", "staff": []string{a, b}, "handoff": "daily", "at": "09:00", "start": "2026-10-30"})
	if code != 201 {
		t.Fatalf("create rotation = %d %v", code, rot)
	}
	id := rot["id"].(string)

	onCall := func(at string) (string, []string) {
		t.Helper()
		code, out := h.do("GET", "/v1/rotations/"+id+"/on-call?n=3&at="+at, key, nil)
		if code != 200 {
			t.Fatalf("on-call = %d %v", code, out)
		}
		var next []string
		for _, s := range out["next"].([]any) {
			m := s.(map[string]any)
			next = append(next, fmt.Sprint(m["staff_id"], " ", m["from"]))
		}
		return out["on_call"].(map[string]any)["staff_id"].(string), next
	}
	// DST ends in Chicago on 1 November 2026: the hand-off stays at 09:00 local.
	who, next := onCall("2026-10-31T16:00:00Z")
	if who != b || len(next) != 3 || next[0] != a+" 2026-11-01T09:00:00-06:00" || next[1] != b+" 2026-11-02T09:00:00-06:00" {
		t.Errorf("on call at 2026-10-31 11:00 CDT = %s, next %v; want %s, then %s at 09:00 CST on 1 Nov", who, next, b, a)
	}
	if who, _ := onCall("2026-11-01T14:59:00Z"); who != b {
		t.Errorf("on call at 08:59 CST on the DST day = %s; want %s (the hand-off is at 09:00 local, 15:00Z)", who, b)
	}

	// An override ("Sam covers tomorrow night").
	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Hour)
	end := start.Add(12 * time.Hour)
	code, ov := h.do("POST", "/v1/rotations/"+id+"/overrides", key, map[string]any{"staff_id": sam, "start": start, "end": end})
	if code != 201 {
		t.Fatalf("override = %d %v", code, ov)
	}
	if who, _ := onCall(start.Add(time.Hour).Format(time.RFC3339)); who != sam {
		t.Errorf("on call inside the override = %s; want %s", who, sam)
	}
	if who, _ := onCall(end.Format(time.RFC3339)); who == sam {
		t.Errorf("on call at the override's end = %s; want the rotation's", who)
	}

	// Bad input: a clear error, nothing changed.
	for _, c := range []struct {
		method, path string
		body         any
		want         int
		msg          string
	}{
		{"POST", "/v1/rotations", map[string]any{"name": "X", "staff": []string{"cm_nobody"}, "handoff": "daily", "at": "09:00", "start": "2026-10-30"}, 400, "staff[0]: no such active case manager"},
		{"POST", "/v1/rotations", map[string]any{"name": "X", "staff": []string{a, a}, "handoff": "daily", "at": "09:00", "start": "2026-10-30"}, 400, "already in the rotation"},
		{"POST", "/v1/rotations", map[string]any{"name": "X", "staff": []string{a}, "handoff": "hourly", "at": "09:00", "start": "2026-10-30"}, 400, "handoff"},
		{"POST", "/v1/rotations", map[string]any{"name": "X", "staff": []string{a}, "handoff": "daily", "at": "9", "start": "2026-10-30"}, 400, "at: a local time"},
		{"POST", "/v1/rotations", map[string]any{"name": "X", "staff": []string{a}, "handoff": "daily", "at": "09:00", "start": "tomorrow"}, 400, "start: a date"},
		{"PATCH", "/v1/rotations/" + id, map[string]any{"staff": []string{}}, 400, "staff: at least one"},
		{"POST", "/v1/rotations/" + id + "/overrides", map[string]any{"staff_id": sam, "start": end, "end": start}, 400, "end: must be after start"},
		{"POST", "/v1/rotations/" + id + "/overrides", map[string]any{"staff_id": "cm_x", "start": start, "end": end}, 400, "staff_id"},
		{"GET", "/v1/rotations/" + id + "/on-call?at=yesterday", nil, 400, "at: an RFC 3339 time"},
	} {
		code, out := h.do(c.method, c.path, key, c.body)
		if code != c.want || !strings.Contains(fmt.Sprint(out["error"]), c.msg) {
			t.Errorf("%s %s %v = %d %v; want %d about %q", c.method, c.path, c.body, code, out, c.want, c.msg)
		}
	}
	if code, got := h.do("GET", "/v1/rotations/"+id, key, nil); code != 200 || len(got["staff"].([]any)) != 2 || len(got["overrides"].([]any)) != 1 {
		t.Errorf("rotation after refused changes = %d %v; want as it was", code, got)
	}

	// A policy step names it; a rotation that does not exist is refused.
	policy := func(notify string) (int, map[string]any) {
		return h.do("PUT", "/v1/agency/escalation-policy", key, map[string]any{"steps": []map[string]any{{"notify": "assigned", "wait": "5m"}, {"notify": notify, "wait": "10m"}}})
	}
	if code, out := policy("on-call:ro_nothere"); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "steps[1].notify: no such rotation") {
		t.Errorf("policy naming no rotation = %d %v; want 400", code, out)
	}
	if code, out := policy("on-call:" + id); code != 200 {
		t.Errorf("policy naming the rotation = %d %v; want 200", code, out)
	}
	if code, out := h.do("DELETE", "/v1/rotations/"+id, key, nil); code != 409 || !strings.Contains(fmt.Sprint(out["error"]), "steps 2") {
		t.Errorf("deleting a rotation the policy names = %d %v; want 409", code, out)
	}

	// Another agency sees nothing of it, and cannot name it.
	_, other := h.agency("Elsewhere")
	for _, p := range []string{"/v1/rotations/" + id, "/v1/rotations/" + id + "/on-call"} {
		if code, _ := h.do("GET", p, other, nil); code != 404 {
			t.Errorf("another agency GET %s = %d; want 404", p, code)
		}
	}
	if code, out := h.do("GET", "/v1/rotations", other, nil); code != 200 || len(out["rotations"].([]any)) != 0 {
		t.Errorf("another agency's list = %d %v; want empty", code, out)
	}
	if code, _ := h.do("PUT", "/v1/agency/escalation-policy", other, map[string]any{"steps": []map[string]any{{"notify": "on-call:" + id, "wait": "5m"}}}); code != 400 {
		t.Errorf("another agency's policy naming the rotation = %d; want 400", code)
	}

	// Audited: created, override added (as a count), never a name of a person.
	_, log := h.do("GET", "/v1/audit", key, nil)
	var kinds []string
	for _, e := range log["audit"].([]any) {
		m := e.(map[string]any)
		if m["kind"] == "rotation" {
			kinds = append(kinds, fmt.Sprint(m["action"]))
		}
	}
	if fmt.Sprint(kinds) != "[changed created]" {
		t.Errorf("rotation audit = %v; want created then changed (the override), newest first", kinds)
	}

	// Policy changed away: the rotation can go.
	h.do("PUT", "/v1/agency/escalation-policy", key, map[string]any{"steps": []map[string]any{{"notify": "assigned", "wait": "5m"}}})
	if code, _ := h.do("DELETE", "/v1/rotations/"+id, key, nil); code != 204 {
		t.Errorf("delete = %d; want 204", code)
	}
	if code, _ := h.do("GET", "/v1/rotations/"+id, key, nil); code != 404 {
		t.Errorf("deleted rotation GET = %d; want 404", code)
	}
}
