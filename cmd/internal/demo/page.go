package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/carecheck/carecheck/store"
)

// demoAssets is the page: plain HTML, CSS and JS, no build step.
//
//go:embed assets
var demoAssets embed.FS

// page is the demo's web page over its App: the phones, the escalations
// and the forms a person plays with.
type page struct{ *App }

// pageHandler serves the page and its small JSON API: the state of every
// phone and escalation (polled), and what the person types or presses.
func (a page) pageHandler() http.Handler {
	static, err := fs.Sub(demoAssets, "assets")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/state", a.handleState)
	mux.HandleFunc("POST /api/send", a.handleSend)
	mux.HandleFunc("POST /api/press", a.handlePress)
	mux.HandleFunc("POST /api/checkin", a.handleCheckin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

type demoStateView struct {
	Agency      string            `json:"agency"`
	ServiceURL  string            `json:"service_url"`
	APIKey      string            `json:"api_key"`
	SMSClientID string            `json:"sms_client_id"`
	Timings     map[string]string `json:"timings"`
	Phones      []demoPhoneView   `json:"phones"`
	Escalations []demoEscView     `json:"escalations"`
	EscError    string            `json:"escalations_error,omitempty"`
	Now         time.Time         `json:"now"`
}

type demoPhoneView struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Role     string       `json:"role"`
	Channel  string       `json:"channel"`
	Address  string       `json:"address"`
	PersonID string       `json:"person_id"`
	Client   bool         `json:"client"`
	Messages []demoBubble `json:"messages"`
}

// demoBubble is one message on a phone: received from CareCheck, or typed
// (Mine) by the person playing it.
type demoBubble struct {
	Mine    bool         `json:"mine"`
	Text    string       `json:"text"`
	At      time.Time    `json:"at"`
	Buttons []demoButton `json:"buttons,omitempty"`
	Pressed bool         `json:"pressed,omitempty"`
	Problem string       `json:"problem,omitempty"`
}

type demoButton struct {
	Label string `json:"label"`
	Data  string `json:"data"`
}

type demoEscView struct {
	ID       string          `json:"id"`
	Client   string          `json:"client"`
	Level    string          `json:"level"`
	Status   string          `json:"status"`
	Reasons  []string        `json:"reasons"`
	Where    string          `json:"where"`
	NextAt   *time.Time      `json:"next_at,omitempty"`
	NextWho  string          `json:"next_who,omitempty"`
	Opened   time.Time       `json:"opened_at"`
	AckedBy  string          `json:"acknowledged_by,omitempty"`
	AckedAt  *time.Time      `json:"acknowledged_at,omitempty"`
	AckCode  string          `json:"ack_code,omitempty"`
	Audit    []demoAuditView `json:"audit"`
	Resolved *time.Time      `json:"resolved_at,omitempty"`
}

type demoAuditView struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

func (a page) handleState(w http.ResponseWriter, r *http.Request) {
	t := a.timings
	st := demoStateView{
		Agency: demoAgencyName, ServiceURL: a.ServiceURL, APIKey: a.APIKey, SMSClientID: a.smsClientID, Now: time.Now().UTC(),
		Timings: map[string]string{
			"reply_window": short(t.ReplyWindow), "assigned_wait": short(t.AssignedWait), "backup_wait": short(t.BackupWait),
			"repeat": fmt.Sprint(t.Repeat), "reminder_in": short(t.ReminderIn),
		},
		Phones: a.phoneViews(),
	}
	escs, err := a.escalationViews(r.Context())
	if err != nil {
		st.EscError = err.Error()
	}
	st.Escalations = escs
	demoJSON(w, http.StatusOK, st)
}

// phoneViews merges what the fakes recorded with what the person typed, in time order.
func (a page) phoneViews() []demoPhoneView {
	sms := a.twilio.Messages()
	tg := a.tg.Sent()
	a.mu.Lock()
	typed := make([]demoTyped, len(a.typed))
	for i, t := range a.typed {
		typed[i] = *t
	}
	a.mu.Unlock()

	out := make([]demoPhoneView, 0, len(a.phones))
	for _, p := range a.phones {
		v := demoPhoneView{ID: p.ID, Name: p.Name, Role: p.Role, Channel: p.Channel, PersonID: p.PersonID, Client: p.IsClient, Messages: []demoBubble{}}
		if p.Channel == "sms" {
			v.Address = demoPrettyPhone(p.Number)
			for _, m := range sms {
				if m.To == p.Number {
					v.Messages = append(v.Messages, demoBubble{Text: m.Body, At: m.At})
				}
			}
		} else {
			v.Address = fmt.Sprintf("Telegram chat %d", p.Chat)
			for _, m := range tg {
				if m.ChatID != p.Chat {
					continue
				}
				b := demoBubble{Text: m.Text, At: m.At}
				for _, btn := range m.Buttons {
					b.Buttons = append(b.Buttons, demoButton{Label: btn.Label, Data: btn.Data})
				}
				v.Messages = append(v.Messages, b)
			}
		}
		for _, t := range typed {
			if t.Phone != p.ID {
				continue
			}
			b := demoBubble{Mine: true, Text: t.Text, At: t.At, Pressed: t.Button}
			switch {
			case t.Err != "":
				b.Problem = "not delivered: " + t.Err
			case t.Status != 0 && t.Status/100 != 2:
				b.Problem = fmt.Sprintf("webhook answered %d", t.Status)
			}
			v.Messages = append(v.Messages, b)
		}
		slices.SortStableFunc(v.Messages, func(x, y demoBubble) int { return x.At.Compare(y.At) })
		out = append(out, v)
	}
	return out
}

// demoPrettyPhone writes +13125550142 as +1 312-555-0142.
func demoPrettyPhone(e164 string) string {
	if len(e164) == 12 && strings.HasPrefix(e164, "+1") {
		return "+1 " + e164[2:5] + "-" + e164[5:8] + "-" + e164[8:]
	}
	return e164
}

// escalationViews reads GET /v1/escalations, as an agency's console would,
// and puts names on the ids.
func (a page) escalationViews(ctx context.Context) ([]demoEscView, error) {
	var list struct {
		Escalations []store.Escalation `json:"escalations"`
	}
	if err := a.call(ctx, "GET", "/v1/escalations", a.APIKey, nil, &list); err != nil {
		return []demoEscView{}, err
	}
	out := make([]demoEscView, 0, len(list.Escalations))
	for _, e := range list.Escalations {
		v := demoEscView{ID: e.ID, Client: a.who(e.ClientID), Level: e.Level, Status: e.Status, Reasons: e.Reasons,
			Opened: e.Opened, AckedAt: e.AckedAt, AckCode: e.AckCode, Resolved: e.ResolvedAt, Audit: []demoAuditView{}}
		if v.Reasons == nil {
			v.Reasons = []string{}
		}
		if e.AckedBy != "" {
			v.AckedBy = a.who(e.AckedBy)
		}
		var last time.Time
		for _, x := range e.Audit {
			v.Audit = append(v.Audit, demoAuditView{At: x.At, Who: a.who(x.Actor), Action: x.Action, Detail: a.named(x.Detail)})
			if x.Action == "alert sent" || x.Action == "step skipped" {
				last = x.At
			}
		}
		steps := e.Policy.Steps
		rounds := e.Policy.Repeat + 1
		switch {
		case e.Step >= len(steps):
			v.Where = "every step alerted; waiting for a human"
		default:
			v.Where = fmt.Sprintf("step %d of %d (%s), round %d of %d", e.Step+1, len(steps), demoNotify(steps[e.Step].Notify), e.Round+1, rounds)
			lastStep := e.Step == len(steps)-1
			final := lastStep && (e.Round+1 >= rounds || e.Level != "crisis")
			if e.Status == store.EscOpen && !last.IsZero() && !final {
				next := last.Add(time.Duration(steps[e.Step].Wait))
				v.NextAt = &next
				if lastStep {
					v.NextWho = demoNotify(steps[len(steps)-1].Notify) + " again"
				} else {
					v.NextWho = demoNotify(steps[e.Step+1].Notify)
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func demoNotify(n string) string {
	switch n {
	case "assigned":
		return "case manager"
	case "backup":
		return "backup"
	}
	return n
}

// who names an actor ("system", "client:<id>", "staff:<id>", "api", or a bare id).
func (a page) who(actor string) string {
	switch actor {
	case "system":
		return "CareCheck"
	case "api":
		return "agency API"
	}
	_, id, ok := strings.Cut(actor, ":")
	if !ok {
		id = actor
	}
	if n, ok := a.names[id]; ok {
		name, _, _ := strings.Cut(n, " (")
		return name
	}
	return actor
}

// named replaces the people's ids in an audit detail with their names.
func (a page) named(s string) string {
	for id, n := range a.names {
		name, _, _ := strings.Cut(n, " (")
		s = strings.ReplaceAll(s, id, name)
	}
	return s
}

func (a page) handleSend(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone string `json:"phone"`
		Text  string `json:"text"`
	}
	if !demoDecode(w, r, &req) {
		return
	}
	req.Text = strings.TrimSpace(req.Text)
	if req.Text == "" || len(req.Text) > 1600 {
		demoJSON(w, http.StatusBadRequest, map[string]string{"error": "text: 1 to 1600 characters"})
		return
	}
	typed, err := a.send(r.Context(), req.Phone, req.Text)
	a.answerDelivery(w, typed, err)
}

func (a page) handlePress(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone string `json:"phone"`
		Label string `json:"label"`
		Data  string `json:"data"`
	}
	if !demoDecode(w, r, &req) {
		return
	}
	if req.Data == "" || len(req.Data) > 64 || len(req.Label) > 200 {
		demoJSON(w, http.StatusBadRequest, map[string]string{"error": "data: 1 to 64 bytes"})
		return
	}
	typed, err := a.press(r.Context(), req.Phone, req.Label, req.Data)
	a.answerDelivery(w, typed, err)
}

func (a page) answerDelivery(w http.ResponseWriter, typed *demoTyped, err error) {
	switch {
	case errors.Is(err, errNoPhone):
		demoJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case typed == nil:
		demoJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case err != nil:
		demoJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error(), "webhook_status": typed.Status})
	default:
		demoJSON(w, http.StatusOK, map[string]any{"webhook_status": typed.Status})
	}
}

// handleCheckin starts a check-in now through the agency API.
func (a page) handleCheckin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone         string `json:"phone"`
		Questionnaire string `json:"questionnaire"`
	}
	if !demoDecode(w, r, &req) {
		return
	}
	p := a.phone(req.Phone)
	if p == nil || !p.IsClient {
		demoJSON(w, http.StatusNotFound, map[string]string{"error": "no such client phone"})
		return
	}
	if req.Questionnaire == "" {
		req.Questionnaire = "daily-mood"
	}
	err := a.call(r.Context(), "POST", "/v1/clients/"+p.PersonID+"/checkins", a.APIKey, map[string]string{"questionnaire": req.Questionnaire}, nil)
	if err != nil {
		demoJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	demoJSON(w, http.StatusAccepted, map[string]string{"questionnaire": req.Questionnaire})
}

// demoDecode reads a small JSON body. JSON only: a form posted from another
// site cannot reach these handlers without a CORS preflight, which fails.
func demoDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		demoJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		demoJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return false
	}
	return true
}

func demoJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
