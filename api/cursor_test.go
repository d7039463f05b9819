package api_test

import (
	"net/url"
	"testing"
)

// Every list answers a cursor it never handed out with 400
// {"error":"cursor: malformed"}: not a 500 from Redis, not the first page again.
func TestMalformedCursorIs400OnEveryList(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	cm := h.caseManager(key, "Ana", "+13125550101")
	client := h.client(key, cm, "Cara", "+13125550102")

	lists := []struct {
		path, items, good string
	}{
		{"/v1/clients", "clients", client},
		{"/v1/case-managers", "case_managers", cm},
		{"/v1/escalations", "escalations", "es_06h0q590v7hj08804gjsyyzmz0"},
		{"/v1/escalations?status=open&", "escalations", "es_06h0q590v7hj08804gjsyyzmz0"},
		{"/v1/clients/" + client + "/responses", "responses", "1764000000000-0"},
		{"/v1/clients/" + client + "/schedules", "schedules", ""},
		{"/v1/clients/" + client + "/appointments", "appointments", ""},
		{"/v1/questionnaires", "questionnaires", ""},
	}
	garbage := []string{
		"garbage", "zzz", "(", "-", "+", "1-", "-1", "1-0-0", "18446744073709551616-0", "not-a-stream-id",
		"cl_", "cl_zzz", "es_06h0q590v7hj08804gjsyyzmz0x", "CL_06H0Q590V7HJ08804GJSYYZMZ0", "\x00", "' OR 1=1",
		cm, // a real id, of another list
	}
	for _, l := range lists {
		sep := "?"
		if l.path[len(l.path)-1] == '&' {
			sep = ""
		}
		for _, c := range garbage {
			if c == l.good {
				continue
			}
			code, out := h.do("GET", l.path+sep+"cursor="+url.QueryEscape(c), key, nil)
			if code != 400 || out["error"] != "cursor: malformed" || len(out) != 1 {
				t.Errorf("GET %s cursor %q = %d %v; want 400 {\"error\":\"cursor: malformed\"}", l.path, c, code, out)
			}
		}
		if l.good == "" {
			continue
		}
		code, out := h.do("GET", l.path+sep+"cursor="+url.QueryEscape(l.good), key, nil)
		if _, listed := out[l.items]; code != 200 || !listed {
			t.Errorf("GET %s with a well-formed cursor = %d %v; want 200 with %q", l.path, code, out, l.items)
		}
	}
}
