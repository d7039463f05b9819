package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/webhooks"
)

// receiver is an agency's system: it checks each delivery's signature
// with the endpoint's secret and keeps the events in the order they came.
type receiver struct {
	mu       sync.Mutex
	secrets  map[string]string // path → secret
	failNext map[string]int    // path → how many requests to answer 503
	got      map[string][]string
	seen     map[string]bool
	badSigs  int
	bodies   []string // every body delivered
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.failNext[r.URL.Path] > 0 {
		rc.failNext[r.URL.Path]--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	n, _ := strconv.ParseInt(ts, 10, 64)
	if r.Header.Get("webhook-signature") != webhooks.Sign(rc.secrets[r.URL.Path], id, n, body) {
		rc.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		ID   string
		Type string
		Data map[string]any
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != id {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.bodies = append(rc.bodies, string(body))
	if !rc.seen[r.URL.Path+id] { // at least once: a repeat is told by its id
		rc.seen[r.URL.Path+id] = true
		client, _ := ev.Data["client_id"].(string)
		rc.got[r.URL.Path] = append(rc.got[r.URL.Path], client+" "+ev.Type+scoreOf(ev.Data))
	}
	w.WriteHeader(http.StatusNoContent)
}

func scoreOf(d map[string]any) string {
	if t, ok := d["total"]; ok {
		return fmt.Sprintf(" %v=%v", d["instrument"], t)
	}
	return ""
}

// deliverDue works the due webhook deliveries as the runner would, the
// clock moving a minute at a time, until none is left; other work is left
// alone.
func (h *serviceHarness) deliverDue(rounds int) {
	h.t.Helper()
	ctx := h.t.Context()
	w := h.st.NewWorker("test-webhooks", nil)
	h.hooks.Wait()
	for range rounds {
		if _, err := h.st.MoveDue(ctx, h.clock.Now(), 1000); err != nil {
			h.t.Fatal(err)
		}
		items, err := w.Read(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, it := range items {
			if strings.HasPrefix(it.ID, "wh:") {
				if err := h.hooks.DeliverJob(ctx, &it); err != nil {
					h.t.Fatalf("deliver %s: %v", it.ID, err)
				}
			}
			if err := w.Ack(ctx, it); err != nil {
				h.t.Fatal(err)
			}
		}
		h.clock.Advance(time.Minute)
	}
}

// A scripted day reaches the agency's systems: check-ins answered and
// missed, a crisis acknowledged and resolved, a STOP and a START, each
// delivered signed to two endpoints, in order per client; the endpoint that
// failed twice receives everything later, in the same order, and its log
// shows the failures. Another agency's day never arrives.
func TestWebhooksAfterAScriptedDay(t *testing.T) {
	h := newServiceHarness(t, day(1))
	rc := &receiver{secrets: map[string]string{}, failNext: map[string]int{"/flaky": 2}, got: map[string][]string{}, seen: map[string]bool{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)

	_, key := h.agency("North")
	_, keyB := h.agency("South")
	ana := h.caseManager(key, "Ana Alvarez", "+13125550101")
	c1 := h.client(key, ana, "Cara One", "+13125550201")
	c2 := h.client(key, ana, "Cy Two", "+13125550202")
	oz := h.caseManager(keyB, "Oz Other", "+13125550301")
	cb := h.client(keyB, oz, "Cass B", "+13125550204")

	for _, bad := range []map[string]any{
		{"url": "http://example.org/hook", "events": []string{"checkin.missed"}},
		{"url": "ftp://127.0.0.1/x", "events": []string{"checkin.missed"}},
		{"url": srv.URL + "/x", "events": []string{}},
		{"url": srv.URL + "/x", "events": []string{"checkin.started"}},
	} {
		if code, out := h.do("POST", "/v1/webhook-endpoints", key, bad); code != 400 {
			t.Errorf("POST %v = %d %v; want 400", bad, code, out)
		}
	}
	ids := map[string]string{}
	for _, path := range []string{"/steady", "/flaky"} {
		code, out := h.do("POST", "/v1/webhook-endpoints", key, map[string]any{"url": srv.URL + path, "events": webhooks.Events})
		secret, _ := out["secret"].(string)
		if code != 201 || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("POST endpoint = %d %v", code, out)
		}
		rc.mu.Lock()
		rc.secrets[path] = secret
		rc.mu.Unlock()
		ids[path] = out["id"].(string)
	}
	// Agency B's endpoint gets B's day only.
	code, out := h.do("POST", "/v1/webhook-endpoints", keyB, map[string]any{"url": srv.URL + "/south", "events": webhooks.Events})
	if code != 201 {
		t.Fatalf("POST B endpoint = %d %v", code, out)
	}
	rc.secrets["/south"] = out["secret"].(string)
	_, list := h.do("GET", "/v1/webhook-endpoints", key, nil)
	if eps := list["webhook_endpoints"].([]any); len(eps) != 2 || eps[0].(map[string]any)["secret"] != nil {
		t.Errorf("list = %v; want two endpoints without their secrets", list)
	}

	// The day.
	h.checkin(c1, "daily-mood")
	h.texts("+13125550201", "7", "ok")
	conv := h.checkin(c2, "phq9")
	h.unanswered(c2, agencyFor(h, c2), conv)
	h.checkin(cb, "daily-mood")
	h.texts("+13125550204", "5", "meh")
	h.clock.Advance(time.Hour)
	e1 := h.crisis(agencyFor(h, c1), c1)
	h.clock.Advance(4 * time.Minute)
	if code, out := h.do("POST", "/v1/escalations/"+e1+"/ack", key, map[string]any{"by": ana}); code != 200 {
		t.Fatalf("ack = %d %v", code, out)
	}
	if code, out := h.do("POST", "/v1/escalations/"+e1+"/resolve", key, map[string]any{"note": "called, safe", "by": ana}); code != 200 {
		t.Fatalf("resolve = %d %v", code, out)
	}
	h.texts("+13125550201", "STOP")
	h.texts("+13125550201", "START")
	h.deliverDue(30)

	want := []string{
		c1 + " checkin.completed mood=7",
		c1 + " escalation.opened",
		c1 + " escalation.acknowledged",
		c1 + " escalation.resolved",
		c1 + " client.opted_out",
		c1 + " client.opted_in",
		c2 + " checkin.missed",
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, path := range []string{"/steady", "/flaky"} {
		var perClient []string
		for _, c := range []string{c1, c2} {
			for _, g := range rc.got[path] {
				if strings.HasPrefix(g, c+" ") {
					perClient = append(perClient, g)
				}
			}
		}
		if g, w := strings.Join(perClient, "\n"), strings.Join(want, "\n"); g != w {
			t.Errorf("%s received, per client in order:\n%s\nwant\n%s", path, g, w)
		}
		if len(rc.got[path]) != len(want) {
			t.Errorf("%s received %d events; want %d (%v)", path, len(rc.got[path]), len(want), rc.got[path])
		}
	}
	if rc.badSigs != 0 {
		t.Errorf("%d deliveries had a signature that did not verify", rc.badSigs)
	}
	if g := strings.Join(rc.got["/south"], ","); g != cb+" checkin.completed mood=5" {
		t.Errorf("agency B received %q; want its own client's events only", g)
	}
	for _, g := range rc.got["/south"] {
		if strings.Contains(g, c1) || strings.Contains(g, c2) {
			t.Errorf("agency B received %q", g)
		}
	}

	// The flaky endpoint's log: its first two attempts failed (503), then
	// every event delivered.
	rc.mu.Unlock()
	code, dl := h.do("GET", "/v1/webhook-endpoints/"+ids["/flaky"]+"/deliveries?limit=100", key, nil)
	rc.mu.Lock()
	if code != 200 {
		t.Fatalf("deliveries = %d %v", code, dl)
	}
	var outcomes []string
	for _, d := range dl["deliveries"].([]any) {
		d := d.(map[string]any)
		outcomes = append([]string{fmt.Sprint(d["outcome"], " ", d["status"])}, outcomes...)
	}
	if len(outcomes) != len(want)+2 || outcomes[0] != "failed 503" || outcomes[1] != "failed 503" || outcomes[2] != "delivered 204" {
		t.Errorf("flaky log, oldest first = %v; want two failed 503 then %d delivered", outcomes, len(want))
	}
	rc.mu.Unlock()
	if code, _ := h.do("GET", "/v1/webhook-endpoints/"+ids["/flaky"]+"/deliveries", keyB, nil); code != 404 {
		t.Errorf("another agency reading the log = %d; want 404", code)
	}
	if code, _ := h.do("DELETE", "/v1/webhook-endpoints/"+ids["/flaky"], key, nil); code != 204 {
		t.Errorf("DELETE = %d; want 204", code)
	}
	rc.mu.Lock()
}

// agencyFor is a client's agency id.
func agencyFor(h *serviceHarness, client string) string {
	c, err := h.st.Client(h.t.Context(), client)
	if err != nil {
		h.t.Fatal(err)
	}
	return c.AgencyID
}
