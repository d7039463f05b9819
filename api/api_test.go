package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// operator is as long as serve requires of CARECHECK_OPERATOR_TOKEN.
const operator = "api-test-operator-token-0123456789"

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t    *testing.T
	url  string
	logs *lockedBuffer
	rdb  redis.UniversalClient // for records written the way an older release wrote them
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	rs := redistest.New(t)
	rdb := rs.Client(t)
	st := store.New(rdb, nil)
	logs := &lockedBuffer{}
	h := newServer(t, api.Deps{
		Store: st, Log: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry(), OperatorToken: operator,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, logs: logs, rdb: rdb}
}

// do sends a request and decodes the JSON answer.
func (h *harness) do(method, path, key string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, h.url+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func (h *harness) agency(name string) (id, key string) {
	h.t.Helper()
	code, out := h.do("POST", "/v1/agencies", operator, map[string]any{"name": name, "timezone": "America/Chicago"})
	if code != 201 {
		h.t.Fatalf("create agency = %d %v; want 201", code, out)
	}
	return out["id"].(string), out["api_key"].(string)
}

func (h *harness) caseManager(key, name, phone string) string {
	h.t.Helper()
	code, out := h.do("POST", "/v1/case-managers", key, map[string]any{"name": name, "phone": phone})
	if code != 201 {
		h.t.Fatalf("create case manager = %d %v; want 201", code, out)
	}
	return out["id"].(string)
}

func (h *harness) client(key, cm, name, phone string) string {
	h.t.Helper()
	code, out := h.do("POST", "/v1/clients", key, map[string]any{
		"name": name, "phone": phone, "channel": "sms", "timezone": "America/Chicago", "case_manager_id": cm, "language": "en",
		"consent": map[string]any{"at": "2026-01-02T15:04:05Z", "method": "written"},
	})
	if code != 201 {
		h.t.Fatalf("create client = %d %v; want 201", code, out)
	}
	return out["id"].(string)
}

func TestAgenciesNeedTheOperatorToken(t *testing.T) {
	h := newHarness(t)
	for _, tok := range []string{"", "wrong"} {
		code, out := h.do("POST", "/v1/agencies", tok, map[string]any{"name": "A", "timezone": "America/Chicago"})
		if code != 401 || out["error"] == "" {
			t.Errorf("token %q: status = %d %v; want 401 with an error", tok, code, out)
		}
	}
	code, out := h.do("POST", "/v1/agencies", operator, map[string]any{"name": "A", "timezone": "Mars/Olympus"})
	if code != 400 || !strings.Contains(out["error"].(string), "timezone") {
		t.Errorf("bad zone: %d %v; want 400 naming timezone", code, out)
	}
	_, key := h.agency("A")
	if len(key) < 40 {
		t.Errorf("api key %q is too short to carry 32 random bytes", key)
	}
}

func TestAgencyCannotSeeAnothersData(t *testing.T) {
	h := newHarness(t)
	_, keyA := h.agency("North")
	_, keyB := h.agency("South")
	cmA := h.caseManager(keyA, "Ana Alvarez", "+13125550101")
	cmB := h.caseManager(keyB, "Bo Brown", "+13125550102")
	clientA := h.client(keyA, cmA, "Cara Client", "+13125550103")

	if code, _ := h.do("GET", "/v1/clients/"+clientA, keyB, nil); code != 404 {
		t.Errorf("other agency GET client = %d; want 404", code)
	}
	if code, _ := h.do("PATCH", "/v1/clients/"+clientA, keyB, map[string]any{"name": "x"}); code != 404 {
		t.Errorf("other agency PATCH client = %d; want 404", code)
	}
	if code, _ := h.do("DELETE", "/v1/clients/"+clientA, keyB, nil); code != 404 {
		t.Errorf("other agency DELETE client = %d; want 404", code)
	}
	code, out := h.do("GET", "/v1/clients", keyB, nil)
	if code != 200 || len(out["clients"].([]any)) != 0 {
		t.Errorf("other agency's client list = %d %v; want 200 and empty", code, out)
	}
	// A client cannot be assigned to another agency's case manager.
	code, out = h.do("POST", "/v1/clients", keyA, map[string]any{"name": "D", "phone": "+13125550104", "channel": "sms",
		"timezone": "America/Chicago", "case_manager_id": cmB})
	if code != 400 {
		t.Errorf("client with another agency's case manager = %d %v; want 400", code, out)
	}
	if code, _ := h.do("GET", "/v1/case-managers/"+cmA, keyB, nil); code != 404 {
		t.Errorf("other agency GET case manager = %d; want 404", code)
	}
	code, out = h.do("GET", "/v1/clients/"+clientA, keyA, nil)
	if code != 200 || out["name"] != "Cara Client" || out["phone"] != "+13125550103" {
		t.Errorf("own client = %d %v", code, out)
	}
}

func TestBadInputGetsAClearErrorAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	cm := h.caseManager(key, "Ana", "+13125550101")
	valid := func() map[string]any {
		return map[string]any{"name": "C", "phone": "+13125550109", "channel": "sms", "timezone": "America/Chicago", "case_manager_id": cm, "language": "en"}
	}
	with := func(k string, v any) map[string]any { m := valid(); m[k] = v; return m }
	cases := []struct {
		label string
		body  any
		code  int
		field string
	}{
		{"malformed JSON", `{"name": "C",`, 400, "JSON"},
		{"not an object", `[1,2]`, 400, "JSON"},
		{"empty body", ``, 400, "empty"},
		{"unknown field", with("diagnosis", "x"), 400, "diagnosis"},
		{"bad phone", with("phone", "+1555"), 400, "phone"},
		{"phone not E.164", with("phone", "3125550109"), 400, "phone"},
		{"unknown zone", with("timezone", "Nowhere/City"), 400, "timezone"},
		{"bad language", with("language", "fr"), 400, "language"},
		{"bad channel", with("channel", "email"), 400, "channel"},
		{"no case manager", with("case_manager_id", "cm_nope"), 400, "case_manager_id"},
		{"wrong type", with("name", 5), 400, "name"},
		{"bad consent", with("consent", map[string]any{"at": "2026-01-01T00:00:00Z", "method": "telepathy"}), 400, "consent"},
		{"oversize", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			code, out := h.do("POST", "/v1/clients", key, tc.body)
			msg, _ := out["error"].(string)
			if code != tc.code || !strings.Contains(msg, tc.field) {
				t.Errorf("status = %d %q; want %d naming %q", code, msg, tc.code, tc.field)
			}
		})
	}
	_, out := h.do("GET", "/v1/clients", key, nil)
	if n := len(out["clients"].([]any)); n != 0 {
		t.Errorf("after bad requests the agency has %d clients; want 0", n)
	}
	if code, _ := h.do("GET", "/v1/clients", "", nil); code != 401 {
		t.Errorf("no key = %d; want 401", code)
	}
	if code, _ := h.do("GET", "/v1/clients", "cc_forged", nil); code != 401 {
		t.Errorf("forged key = %d; want 401", code)
	}
}

func TestPhoneBelongsToOneActivePerson(t *testing.T) {
	h := newHarness(t)
	_, keyA := h.agency("A")
	_, keyB := h.agency("B")
	cmA := h.caseManager(keyA, "Ana", "+13125550101")
	cmB := h.caseManager(keyB, "Bo", "+13125550102")
	first := h.client(keyA, cmA, "C", "+13125550120")
	code, out := h.do("POST", "/v1/clients", keyB, map[string]any{"name": "D", "phone": "+13125550120", "channel": "sms",
		"timezone": "America/Chicago", "case_manager_id": cmB})
	if code != 409 {
		t.Fatalf("second active person on a number = %d %v; want 409", code, out)
	}
	if code, _ := h.do("POST", "/v1/case-managers", keyB, map[string]any{"name": "E", "phone": "+13125550101"}); code != 409 {
		t.Errorf("case manager on a client's... staff number = %d; want 409", code)
	}
	// After a discharge the number is free for someone active.
	if code, out := h.do("DELETE", "/v1/clients/"+first, keyA, nil); code != 200 || out["status"] != "discharged" {
		t.Fatalf("discharge = %d %v", code, out)
	}
	h.client(keyB, cmB, "D", "+13125550120")
	// The discharged record is kept.
	if code, out := h.do("GET", "/v1/clients/"+first, keyA, nil); code != 200 || out["status"] != "discharged" {
		t.Errorf("discharged client = %d %v; want kept and discharged", code, out)
	}
}

func TestPatchClient(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	cm := h.caseManager(key, "Ana", "+13125550101")
	id := h.client(key, cm, "C", "+13125550130")
	code, out := h.do("PATCH", "/v1/clients/"+id, key, map[string]any{"language": "es", "status": "paused", "phone": "+13125550131"})
	if code != 200 || out["language"] != "es" || out["status"] != "paused" || out["phone"] != "+13125550131" {
		t.Fatalf("patch = %d %v", code, out)
	}
	if code, out := h.do("PATCH", "/v1/clients/"+id, key, map[string]any{"timezone": "Bad/Zone"}); code != 400 {
		t.Errorf("bad patch = %d %v; want 400", code, out)
	}
	_, out = h.do("GET", "/v1/clients/"+id, key, nil)
	if out["timezone"] != "America/Chicago" {
		t.Errorf("a refused patch changed the timezone to %v", out["timezone"])
	}
	// The old number is released and can be used by someone else.
	h.client(key, cm, "D", "+13125550130")
}

func TestListsPageWithACursor(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	cm := h.caseManager(key, "Ana", "+13125550101")
	want := map[string]bool{}
	for i := range 7 {
		want[h.client(key, cm, "C", "+1312555014"+string(rune('0'+i)))] = true
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		code, out := h.do("GET", "/v1/clients?limit=3&cursor="+cursor, key, nil)
		if code != 200 {
			t.Fatalf("list = %d %v", code, out)
		}
		pages++
		for _, c := range out["clients"].([]any) {
			seen[c.(map[string]any)["id"].(string)] = true
		}
		cursor, _ = out["next"].(string)
		if cursor == "" || pages > 5 {
			break
		}
	}
	if pages != 3 || len(seen) != 7 {
		t.Errorf("paging saw %d clients in %d pages; want 7 in 3", len(seen), pages)
	}
	if code, _ := h.do("GET", "/v1/clients?limit=0", key, nil); code != 400 {
		t.Errorf("limit=0 = %d; want 400", code)
	}
}

func TestLogsCarryNoPhoneOrName(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	cm := h.caseManager(key, "Marisol Quintanilla", "+13125550199")
	h.client(key, cm, "Theodora Vasquez", "+13125550198")
	h.do("POST", "/v1/clients", key, map[string]any{"name": "Theodora Vasquez", "phone": "+13125550198", "channel": "sms", "timezone": "America/Chicago", "case_manager_id": cm})
	logs := h.logs.String()
	for _, secret := range []string{"Marisol", "Quintanilla", "Theodora", "Vasquez", "3125550199", "3125550198"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if !strings.Contains(logs, "client created") {
		t.Errorf("logs lack the client-created line: %s", logs)
	}
}

// Health and readiness are public; metrics and the profiler are only on the
// admin surface (its own listener), and the public one answers 404 for them.
func TestHealthReadyMetrics(t *testing.T) {
	rs := redistest.New(t)
	reg := prometheus.NewRegistry()
	pub := httptest.NewServer(newServer(t, api.Deps{Store: store.New(rs.Client(t), nil), Registry: reg, OperatorToken: operator}))
	defer pub.Close()
	admin := httptest.NewServer(api.NewAdmin(reg))
	defer admin.Close()
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(pub.URL + p); code != 200 {
			t.Errorf("public %s = %d; want 200", p, code)
		}
	}
	for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if code, _ := get(pub.URL + p); code != 404 {
			t.Errorf("public %s = %d; want 404", p, code)
		}
	}
	code, body := get(admin.URL + "/metrics")
	if code != 200 || !strings.Contains(body, `carecheck_http_requests_total{method="GET",route="/readyz",status="200"} 1`) {
		t.Errorf("admin /metrics = %d, lacking the readyz request count:\n%s", code, body)
	}
	if code, body := get(admin.URL + "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("admin /debug/pprof/ = %d; want 200 with the profile index", code)
	}
	if code, body := get(admin.URL + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("admin goroutine profile = %d; want 200", code)
	}
}

func TestReadyzFailsWhenRedisIsDown(t *testing.T) {
	rs := redistest.New(t)
	if rs.Kind != "redis-server" {
		t.Skip("needs a redis-server this test owns")
	}
	st := store.New(rs.Client(t), nil)
	srv := httptest.NewServer(newServer(t, api.Deps{Store: st, Registry: prometheus.NewRegistry()}))
	defer srv.Close()
	rs.Stop()
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("readyz with Redis down = %d; want 503", resp.StatusCode)
	}
}

func TestAgencySettings(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("A")
	code, out := h.do("PATCH", "/v1/agency", key, map[string]any{"quiet_start": "22:00", "quiet_end": "07:30", "reply_window": "2h", "alert_names": true})
	if code != 200 || out["quiet_start"] != "22:00" || out["reply_window"] != "2h0m0s" || out["alert_names"] != true {
		t.Fatalf("patch agency = %d %v", code, out)
	}
	for _, bad := range []map[string]any{{"quiet_start": "25:00"}, {"reply_window": "1s"}, {"missed_in_a_row": 0}, {"mood_threshold": 11}, {"colour": "red"}} {
		if code, out := h.do("PATCH", "/v1/agency", key, bad); code != 400 {
			t.Errorf("patch %v = %d %v; want 400", bad, code, out)
		}
	}
	_, out = h.do("GET", "/v1/agency", key, nil)
	if out["quiet_end"] != "07:30" || out["missed_in_a_row"] != float64(2) {
		t.Errorf("a refused patch changed settings: %v", out)
	}
}
