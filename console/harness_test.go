package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/console"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/detect"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

const operator = "operator-token-for-console-tests-0123456789"

// clock is the tests' injected clock: it moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer collects the service's logs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// harness is the API and the console over one real Redis, as run wires
// them, on an httptest server.
type harness struct {
	t     *testing.T
	url   string
	clock *clock
	store *store.Store
	esc   *escalation.Service
	rooms *conversations.Rooms
	logs  *lockedBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	rs := redistest.New(t)
	clk := &clock{t: time.Now().UTC()}
	st := store.New(rs.Client(t), clk.Now)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	det, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	ob := bot.NewOutbox(st, nil, bot.Pacing{}, conversations.NewStops(st, nil), nil)
	esc := escalation.NewService(st, ob, nil, log)
	rooms := conversations.New(conversations.Deps{Store: st, Screen: escalation.NewScreener(det), Escalations: esc, Outbox: ob})
	con, err := console.New(console.Deps{Store: st, Escalations: esc, Schedules: rooms.Checkins, Log: log, Now: clk.Now, LivePoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewServer(api.Deps{Store: st, Log: log, OperatorToken: operator, Now: clk.Now, Console: con,
		Services: api.Services{Checkins: rooms.Checkins, Appointments: rooms.Appointments, Escalations: esc}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, clock: clk, store: st, esc: esc, rooms: rooms, logs: logs}
}

// api calls the agency API as JSON.
func (h *harness) api(method, path, key string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, h.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// agency creates an agency and returns its id and key.
func (h *harness) agency(name string) (string, string) {
	h.t.Helper()
	code, out := h.api("POST", "/v1/agencies", operator, map[string]any{"name": name, "timezone": "America/Chicago"})
	if code != 201 {
		h.t.Fatalf("create agency = %d %v", code, out)
	}
	return out["id"].(string), out["api_key"].(string)
}

// staffMember creates a staff member through the API.
func (h *harness) staffMember(key, name, email, role string) string {
	h.t.Helper()
	code, out := h.api("POST", "/v1/case-managers", key, map[string]any{"name": name, "email": email, "role": role})
	if code != 201 {
		h.t.Fatalf("create staff %s = %d %v", role, code, out)
	}
	if out["email"] != strings.ToLower(email) || out["role"] != role {
		h.t.Fatalf("created staff = %v; want email %s role %s", out, email, role)
	}
	return out["id"].(string)
}

// invite asks the API for an invitation link.
func (h *harness) invite(key, id string) string {
	h.t.Helper()
	code, out := h.api("POST", "/v1/case-managers/"+id+"/invite", key, nil)
	u, _ := out["url"].(string)
	if code != 201 || !strings.HasPrefix(u, h.url+"/console/invite/") {
		h.t.Fatalf("invite = %d %v; want 201 with a /console/invite/ url", code, out)
	}
	return u
}

// client creates a client of a case manager through the API.
func (h *harness) client(key, cm, name, phone string) string {
	h.t.Helper()
	code, out := h.api("POST", "/v1/clients", key, map[string]any{
		"name": name, "phone": phone, "channel": "sms", "timezone": "America/Chicago", "case_manager_id": cm, "language": "en",
		"consent": map[string]any{"at": "2026-01-02T15:04:05Z", "method": "written"},
	})
	if code != 201 {
		h.t.Fatalf("create client = %d %v", code, out)
	}
	return out["id"].(string)
}

// crisis opens a crisis escalation for a client through the escalation service.
func (h *harness) crisis(agencyID, clientID string) string {
	h.t.Helper()
	ctx := h.t.Context()
	a, err := h.store.Agency(ctx, agencyID)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := h.store.Client(ctx, clientID)
	if err != nil {
		h.t.Fatal(err)
	}
	e, err := h.esc.Raise(ctx, a, c, escalation.Signal{Level: escalation.Crisis, Reasons: []string{"crisis language: suicidal ideation"}}, "client:"+clientID)
	if err != nil {
		h.t.Fatal(err)
	}
	return e.ID
}

// browser is one person's browser: a cookie jar, redirects not followed.
type browser struct {
	t    *testing.T
	h    *harness
	http *http.Client
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: h.t, h: h, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer: status, Location, body.
type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body), Header: resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.abs(path), nil)
	return b.do(req)
}

// post sends a form as a browser on the console's own pages would
// (Sec-Fetch-Site: same-origin); extra headers replace those.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.h.url)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

func (b *browser) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.h.url + path
}

// signIn signs in with email and password, expecting to land on want.
func (b *browser) signIn(email, password, want string) {
	b.t.Helper()
	p := b.post("/console/login", url.Values{"email": {email}, "password": {password}})
	if p.Status != http.StatusSeeOther || p.Location != want {
		b.t.Fatalf("sign in as %s = %d → %q; want 303 → %s\n%s", email, p.Status, p.Location, want, flash(p.Body))
	}
}

const goodPassword = "river lantern oboe 42"

// newStaff creates a staff member through the API, invites them, and
// has them set a password; it returns their id and a signed-in browser.
func (h *harness) newStaff(key, name, email, role string) (string, *browser) {
	h.t.Helper()
	return h.newStaffLang(key, name, email, role, "en")
}

// newStaffLang is newStaff with the staff member's console language.
func (h *harness) newStaffLang(key, name, email, role, lang string) (string, *browser) {
	h.t.Helper()
	code, out := h.api("POST", "/v1/case-managers", key, map[string]any{"name": name, "email": email, "role": role, "language": lang})
	if code != 201 {
		h.t.Fatalf("create staff %s = %d %v", role, code, out)
	}
	id := out["id"].(string)
	b := h.browser()
	p := b.post(h.invite(key, id), url.Values{"password": {goodPassword}, "confirm": {goodPassword}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/account/totp?new=1" {
		h.t.Fatalf("set password = %d → %q\n%s", p.Status, p.Location, flash(p.Body))
	}
	return id, b
}

var flashRE = regexp.MustCompile(`(?s)<p class="flash[^"]*"[^>]*>(.*?)</p>`)

// flash is a page's one-line message.
func flash(body string) string {
	if m := flashRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}
