package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carecheck/carecheck/apiclient"
	"github.com/carecheck/carecheck/bot/telegram"
	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/cmd/internal/inproc"
	"github.com/carecheck/carecheck/store"
)

// The demo's people. The numbers are in 555-01xx, which no real phone has.
const (
	// SMSClientName is the client who answers by SMS.
	SMSClientName = "Rosa Delgado"
	// SMSClientPhone is her phone.
	SMSClientPhone = "+13125550142"
	// CaseManagerName is both clients' case manager.
	CaseManagerName = "Dana Whitfield"
	// CaseManagerPhone is where her alerts go.
	CaseManagerPhone = "+13125550171"
	// BackupName is the case manager's backup, alerted next.
	BackupName = "Ellis Marchetti"
	// BackupPhone is his phone.
	BackupPhone = "+13125550188"
)

const (
	demoAgencyName = "Riverside Demo CMH"
	demoTimezone   = "America/Chicago"
	demoOurNumber  = "+13125550100"
	demoTGName     = "Sam Okafor"
	demoTGChat     = int64(5550157)
	demoBotToken   = "7000000001:DEMO-not-a-real-token"
)

// Timings are the demo's short clocks, so that a check-in, a nudge, a
// crisis, a climb to the backup and an ACK all fit in a couple of minutes.
type Timings struct {
	ReplyWindow  time.Duration // a check-in question waits this long, then one nudge
	AssignedWait time.Duration // escalation: case manager alerted, then this wait
	BackupWait   time.Duration // then the backup, then this wait
	Repeat       int           // the policy's repeat count
	ReminderIn   time.Duration // the appointment reminder goes out this long after start
}

// DefaultTimings are `carecheck demo`'s.
func DefaultTimings() Timings {
	return Timings{ReplyWindow: 45 * time.Second, AssignedWait: 30 * time.Second, BackupWait: 30 * time.Second, Repeat: 2, ReminderIn: 2 * time.Minute}
}

// Options say where a demo listens, how fast its clocks run and where its
// service logs go.
type Options struct {
	Addr     string // the service; "" tries 127.0.0.1:8080, then a free port
	PageAddr string // the page; "" tries 127.0.0.1:8081, then a free port
	Timings  Timings
	LogTo    io.Writer // the service's JSON logs (redacted); nil discards them
	LogLevel string    // debug, info, warn or error
	// CallsTo gets a line for each call the service places and one for
	// how it ended; nil prints none.
	CallsTo io.Writer
}

// demoPhone is one phone the person plays.
type demoPhone struct {
	ID       string // "client-sms", "client-tg", "cm", "backup"
	Name     string
	Role     string
	Channel  string // "sms" or "telegram"
	Number   string // E.164, SMS phones
	Chat     int64  // Telegram chat
	PersonID string // client or case manager id
	IsClient bool
}

// demoTyped is one thing the person typed (or pressed) on a phone, and what
// the webhook answered.
type demoTyped struct {
	Phone  string
	Text   string
	Button bool
	At     time.Time
	Status int    // the webhook's HTTP status, 0 while in flight
	Err    string // a delivery error
}

// App is a running demo: the service, the fakes and the page.
type App struct {
	ServiceURL string
	PageURL    string
	APIKey     string
	// ConsoleURL is the console's sign-in page; the seeded case manager
	// signs in with CaseManagerEmail and ConsolePassword.
	ConsoleURL      string
	ConsolePassword string

	timings     Timings
	svc         inproc.Service
	twilio      *twiliotest.Server
	tg          *telegramtest.Server
	authToken   string
	tgSecret    string
	phones      []*demoPhone
	names       map[string]string // client and staff ids → "Name (role)"
	smsClientID string
	client      *http.Client
	seq         atomic.Int64 // Telegram update ids, Twilio message SIDs

	mu    sync.Mutex
	typed []*demoTyped

	cancel    context.CancelFunc
	served    chan error // the service's serveOn result
	page      *http.Server
	pageDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start starts the service, built by start, with the fakes, seeds it and
// serves the page. Close stops everything.
func Start(ctx context.Context, start inproc.Start, o Options) (*App, error) {
	svcLn, err := demoListen(o.Addr, "127.0.0.1:8080", "-addr")
	if err != nil {
		return nil, err
	}
	pageLn, err := demoListen(o.PageAddr, "127.0.0.1:8081", "-page")
	if err != nil {
		svcLn.Close()
		return nil, err
	}
	a := &App{
		ServiceURL: "http://" + svcLn.Addr().String(),
		PageURL:    "http://" + pageLn.Addr().String() + "/",
		timings:    o.Timings,
		authToken:  randomHex(16),
		tgSecret:   randomHex(16),
		names:      map[string]string{},
		client:     &http.Client{Timeout: 10 * time.Second},
		served:     make(chan error, 1),
		pageDone:   make(chan struct{}),
	}
	a.seq.Store(1000)
	accountSID := "AC" + randomHex(16)
	operator := randomHex(16)
	a.twilio = twiliotest.NewServer(accountSID, a.authToken)
	a.twilio.AutoStatus = true // delivery reports flow back, signed, as from Twilio
	a.tg = telegramtest.NewServer(demoBotToken)

	env := map[string]string{
		"CARECHECK_ADDR": svcLn.Addr().String(), "CARECHECK_PUBLIC_URL": a.ServiceURL, "CARECHECK_OPERATOR_TOKEN": operator,
		"TWILIO_ACCOUNT_SID": accountSID, "TWILIO_AUTH_TOKEN": a.authToken, "TWILIO_FROM_NUMBER": demoOurNumber,
		"TWILIO_API_URL": a.twilio.URL, "TWILIO_MESSAGES_PER_SECOND": "0",
		"TELEGRAM_BOT_TOKEN": demoBotToken, "TELEGRAM_WEBHOOK_SECRET": a.tgSecret, "TELEGRAM_API_URL": a.tg.URL,
		"TELEGRAM_BOT_USERNAME": "CareCheckDemoBot",
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	// REDIS_URL unset: the embedded store.
	svc, err := start(runCtx, inproc.Options{Env: env, LogTo: o.LogTo, LogLevel: o.LogLevel})
	if err != nil {
		cancel()
		a.closeFakes(svcLn, pageLn)
		return nil, err
	}
	a.svc = svc
	ready := make(chan string, 1)
	go func() { a.served <- svc.Serve(runCtx, svcLn, ready) }()
	select {
	case <-ready:
	case err := <-a.served:
		cancel()
		_ = svc.Close()
		a.closeFakes(nil, pageLn)
		return nil, fmt.Errorf("demo: service: %w", err)
	}

	// The page starts once the demo is seeded (its listener holds early visitors).
	a.page = &http.Server{Handler: page{a}.pageHandler(), ReadHeaderTimeout: 10 * time.Second}
	seedCtx, cancelSeed := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSeed()
	if err := a.seed(seedCtx, operator); err != nil {
		pageLn.Close()
		close(a.pageDone)
		_ = a.Close()
		return nil, fmt.Errorf("demo: seed: %w", err)
	}
	go func() {
		defer close(a.pageDone)
		_ = a.page.Serve(pageLn)
	}()
	if o.CallsTo != nil {
		go a.printCalls(runCtx, o.CallsTo)
	}
	return a, nil
}

// SentSMS is every SMS the fake Twilio accepted, as a phone would receive it.
func (a *App) SentSMS() []twiliotest.Message { return a.twilio.Messages() }

// Close stops the page, the service (draining its workers) and the fakes.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.page.Shutdown(shut)
		<-a.pageDone
		a.cancel()
		if err := <-a.served; err != nil {
			a.closeErr = err
		}
		if err := a.svc.Close(); err != nil && a.closeErr == nil {
			a.closeErr = err
		}
		a.closeFakes(nil, nil)
	})
	return a.closeErr
}

func (a *App) closeFakes(lns ...net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
	a.twilio.Close()
	a.tg.Close()
}

// demoListen listens on addr; with addr empty it tries def, then a free
// loopback port.
func demoListen(addr, def, flagName string) (net.Listener, error) {
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, inproc.UsageError{Msg: fmt.Sprintf("demo: %s %q: %v", flagName, addr, err)}
		}
		return ln, nil
	}
	if ln, err := net.Listen("tcp", def); err == nil {
		return ln, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seed sets up the agency through the agency API, as an agency would, with
// the demo's short timings, links the Telegram client through the fake and
// starts a check-in for both clients.
func (a *App) seed(ctx context.Context, operator string) error {
	t := a.timings
	var ag struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if err := a.call(ctx, "POST", "/v1/agencies", operator, map[string]any{"name": demoAgencyName, "timezone": demoTimezone}, &ag); err != nil {
		return err
	}
	a.APIKey = ag.APIKey
	// Settings the API does not expose (yet): a short reply window, quiet hours off.
	rec, err := a.svc.Store().Agency(ctx, ag.ID)
	if err != nil {
		return err
	}
	rec.ReplyWindow = store.Duration(t.ReplyWindow)
	rec.QuietStart, rec.QuietEnd = "00:00", "00:00"
	if err := a.svc.Store().SaveAgency(ctx, rec); err != nil {
		return err
	}
	backup, err := a.create(ctx, "/v1/case-managers", map[string]any{"name": BackupName, "phone": BackupPhone})
	if err != nil {
		return err
	}
	cm, err := a.create(ctx, "/v1/case-managers", map[string]any{"name": CaseManagerName, "phone": CaseManagerPhone, "backup_id": backup,
		"email": CaseManagerEmail, "role": "case_manager"})
	if err != nil {
		return err
	}
	if err := a.consoleSignIn(ctx, cm); err != nil {
		return err
	}
	rot, err := a.seedOnCall(ctx)
	if err != nil {
		return err
	}
	policy := map[string]any{"steps": []map[string]any{
		{"notify": "assigned", "wait": t.AssignedWait.String()},
		{"notify": "backup", "wait": t.BackupWait.String()},
		{"notify": "on-call:" + rot, "wait": t.BackupWait.String()},
	}, "repeat": t.Repeat}
	if err := a.call(ctx, "PUT", "/v1/agency/escalation-policy", a.APIKey, policy, nil); err != nil {
		return err
	}
	consent := map[string]any{"at": time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339), "method": "written"}
	rosa, err := a.create(ctx, "/v1/clients", map[string]any{"name": SMSClientName, "phone": SMSClientPhone, "channel": "sms",
		"timezone": demoTimezone, "case_manager_id": cm, "language": "en", "consent": consent})
	if err != nil {
		return err
	}
	sam, err := a.create(ctx, "/v1/clients", map[string]any{"name": demoTGName, "channel": "telegram",
		"timezone": demoTimezone, "case_manager_id": cm, "language": "en", "consent": consent})
	if err != nil {
		return err
	}
	a.smsClientID = rosa
	a.phones = []*demoPhone{
		{ID: "client-sms", Name: SMSClientName, Role: "client", Channel: "sms", Number: SMSClientPhone, PersonID: rosa, IsClient: true},
		{ID: "client-tg", Name: demoTGName, Role: "client", Channel: "telegram", Chat: demoTGChat, PersonID: sam, IsClient: true},
		{ID: "cm", Name: CaseManagerName, Role: "case manager", Channel: "sms", Number: CaseManagerPhone, PersonID: cm},
		{ID: "backup", Name: BackupName, Role: "backup case manager", Channel: "sms", Number: BackupPhone, PersonID: backup},
	}
	for _, p := range a.phones {
		a.names[p.PersonID] = p.Name + " (" + p.Role + ")"
	}

	// Sam links Telegram the way a person does: /start <code> from t.me/<bot>?start=<code>.
	var link struct {
		Code string `json:"code"`
	}
	if err := a.call(ctx, "POST", "/v1/clients/"+sam+"/telegram-link", a.APIKey, nil, &link); err != nil {
		return err
	}
	if _, err := a.send(ctx, "client-tg", "/start "+link.Code); err != nil {
		return err
	}
	if _, err := a.tg.WaitFor(ctx, func(m telegramtest.Message) bool { return m.ChatID == demoTGChat }); err != nil {
		return fmt.Errorf("telegram link not confirmed: %w", err)
	}

	now := time.Now().UTC().Truncate(time.Minute)
	for _, id := range []string{rosa, sam} {
		if err := a.call(ctx, "POST", "/v1/clients/"+id+"/schedules", a.APIKey, map[string]any{
			"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "start": now.Format(time.RFC3339), "timezone": demoTimezone,
		}, nil); err != nil {
			return err
		}
	}
	// The "2h" reminder goes out ReminderIn from now (up to a minute later: appointments are on whole minutes).
	apptAt := time.Now().UTC().Add(2*time.Hour + t.ReminderIn + time.Minute - 1).Truncate(time.Minute)
	if err := a.call(ctx, "POST", "/v1/clients/"+sam+"/appointments", a.APIKey, map[string]any{
		"at": apptAt.Format(time.RFC3339), "with": CaseManagerName, "location": "Riverside clinic, room 4", "reminders": []string{"2h"},
	}, nil); err != nil {
		return err
	}
	for _, id := range []string{rosa, sam} {
		if err := a.call(ctx, "POST", "/v1/clients/"+id+"/checkins", a.APIKey, map[string]any{"questionnaire": "daily-mood"}, nil); err != nil {
			return err
		}
	}
	return nil
}

// create POSTs to the agency API and returns the new record's id.
func (a *App) create(ctx context.Context, path string, body any) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := a.call(ctx, "POST", path, a.APIKey, body, &out)
	return out.ID, err
}

// call makes one API call with key (the operator's or the agency's) and
// decodes the answer into out (when not nil).
func (a *App) call(ctx context.Context, method, path, key string, body, out any) error {
	c, err := apiclient.New(a.ServiceURL, key, a.client)
	if err != nil {
		return err
	}
	return c.Do(ctx, method, path, body, out)
}

func (a *App) phone(id string) *demoPhone {
	for _, p := range a.phones {
		if p.ID == id {
			return p
		}
	}
	return nil
}

var errNoPhone = errors.New("no such phone")

// send delivers what the person typed on a phone as the provider would: a
// signed Twilio webhook for SMS, an update with the secret token for Telegram.
func (a *App) send(ctx context.Context, phoneID, text string) (*demoTyped, error) {
	return a.deliver(ctx, phoneID, text, "", false)
}

// press delivers a press on an inline button (Telegram).
func (a *App) press(ctx context.Context, phoneID, label, data string) (*demoTyped, error) {
	return a.deliver(ctx, phoneID, label, data, true)
}

func (a *App) deliver(ctx context.Context, phoneID, text, data string, button bool) (*demoTyped, error) {
	p := a.phone(phoneID)
	if p == nil {
		return nil, errNoPhone
	}
	if button && p.Channel != "telegram" {
		return nil, errors.New("buttons are Telegram's")
	}
	typed := &demoTyped{Phone: p.ID, Text: text, Button: button, At: time.Now()}
	a.mu.Lock()
	a.typed = append(a.typed, typed)
	a.mu.Unlock()

	var resp *http.Response
	var err error
	n := a.seq.Add(1)
	switch {
	case p.Channel == "sms":
		sid := fmt.Sprintf("SM%032x", n)
		form := twiliotest.SMSForm(sid, p.Number, demoOurNumber, text)
		resp, err = a.twilio.DeliverSMS(ctx, a.ServiceURL+twilio.SMSPath, a.ServiceURL+twilio.SMSPath, form)
	case button:
		resp, err = a.tg.Deliver(ctx, a.ServiceURL+telegram.WebhookPath, a.tgSecret, telegramtest.CallbackUpdate(n, p.Chat, data))
	default:
		first, _, _ := strings.Cut(p.Name, " ")
		resp, err = a.tg.Deliver(ctx, a.ServiceURL+telegram.WebhookPath, a.tgSecret, telegramtest.TextUpdate(n, p.Chat, first, text))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		typed.Err = err.Error()
		return typed, err
	}
	resp.Body.Close()
	typed.Status = resp.StatusCode
	if resp.StatusCode/100 != 2 {
		return typed, fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return typed, nil
}
