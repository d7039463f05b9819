// Package webhooks sends an agency's events to its own systems, signed as
// the Standard Webhooks convention says (webhook-id, webhook-timestamp,
// webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">).
//
// Events are taken from what the store records (Service is its Observer):
// an escalation opened, acknowledged or resolved; a questionnaire scored
// (checkin.completed) or a check-in missed; a client's STOP or START. Each
// endpoint has a queue per client in Redis; its head is the one event in
// flight, so a client's events arrive in order, and those behind it wait.
// A delivery is one item of the delayed-work queue (Kind), retried with
// backoff for 24 hours (at least once: a receiver may see an event twice
// and tells by webhook-id).
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carecheck/carecheck/store"
)

// Kind marks webhook deliveries on the shared work queue.
const Kind = "webhook"

// The events an endpoint may ask for.
const (
	EscalationOpened       = "escalation.opened"
	EscalationAcknowledged = "escalation.acknowledged"
	EscalationResolved     = "escalation.resolved"
	CheckinCompleted       = "checkin.completed"
	CheckinMissed          = "checkin.missed"
	ClientOptedOut         = "client.opted_out"
	ClientOptedIn          = "client.opted_in"
)

// Events lists every event type.
var Events = []string{EscalationOpened, EscalationAcknowledged, EscalationResolved, CheckinCompleted, CheckinMissed, ClientOptedOut, ClientOptedIn}

// GiveUpAfter is how long an event is retried before it is dropped (and
// logged as gave_up).
const GiveUpAfter = 24 * time.Hour

// Backoff is the wait after each failed attempt; the last repeats until
// GiveUpAfter.
var Backoff = []time.Duration{5 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour}

// Service queues and delivers the events.
type Service struct {
	st   *store.Store
	now  func() time.Time
	http *http.Client
	log  *slog.Logger
	// pending are events told by the store, queued by Run on its own
	// context: finding the agency's endpoints costs the writer (a crisis
	// webhook, say) no round trip. busy counts those not yet queued.
	pending chan func(context.Context)
	busy    sync.WaitGroup
}

var _ store.Observer = (*Service)(nil)

// New makes the service; client sends the requests (nil: a client with a
// 10 s timeout).
func New(st *store.Store, client *http.Client, log *slog.Logger) *Service {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, now: st.Now, http: client, log: log, pending: make(chan func(context.Context), 4096)}
}

// Run queues the events the store told of, one after another (so a
// client's events keep the order they were recorded in), until ctx ends;
// then it queues what is left, for up to 5 seconds.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case f := <-s.pending:
			f(ctx)
			s.busy.Done()
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case f := <-s.pending:
					f(drain)
					s.busy.Done()
				default:
					return
				}
			}
		}
	}
}

// Wait returns once every event told so far is queued (tests).
func (s *Service) Wait() { s.busy.Wait() }

// later hands work to Run; a full buffer makes the writer wait rather
// than lose an event.
func (s *Service) later(f func(context.Context)) {
	s.busy.Add(1)
	s.pending <- f
}

// NewSecret makes an endpoint's signing secret: "whsec_" and 32 random
// bytes in base64.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Sign is the webhook-signature header of a body: "v1," and the base64
// HMAC-SHA256, keyed by the secret's bytes, of "<id>.<timestamp>.<body>".
func Sign(secret, id string, ts int64, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		key = []byte(secret)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Event is what an endpoint receives.
type Event struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// queued is an event as its queue holds it.
type queued struct {
	Event Event `json:"event"`
}

// job is a delivery's work payload.
type job struct {
	Kind     string `json:"k"`
	Agency   string `json:"agency"`
	Endpoint string `json:"endpoint"`
	Client   string `json:"client"`
	Attempt  int    `json:"attempt"`
}

func jobID(agency, endpoint, client string) string {
	return "wh:" + agency + ":" + endpoint + ":" + client
}

// Entries turns timeline events into webhook events (queued by Run).
func (s *Service) Entries(_ context.Context, clientID string, events []store.Event) {
	var out []Event
	for _, e := range events {
		f := fields(e)
		switch f["t"] {
		case "score":
			d := map[string]any{"client_id": clientID, "conversation_id": f["conv"], "questionnaire": f["q"], "instrument": f["instrument"], "valid": f["valid"] == "true"}
			if n, err := strconv.Atoi(f["total"]); err == nil {
				d["total"] = n
			}
			if f["band"] != "" {
				d["band"] = f["band"]
			}
			if f["risk"] != "" {
				d["risk"] = f["risk"]
			}
			out = append(out, Event{Type: CheckinCompleted, Data: d})
		case "missed":
			out = append(out, Event{Type: CheckinMissed, Data: map[string]any{"client_id": clientID, "conversation_id": f["conv"], "questionnaire": f["q"], "missed_in_a_row": f["in_a_row"]}})
		case "opted-out":
			out = append(out, Event{Type: ClientOptedOut, Data: map[string]any{"client_id": clientID}})
		case "opted-in":
			out = append(out, Event{Type: ClientOptedIn, Data: map[string]any{"client_id": clientID}})
		}
	}
	if len(out) == 0 {
		return
	}
	s.later(func(ctx context.Context) {
		c, err := s.st.Client(ctx, clientID)
		if err != nil {
			s.log.Error("webhook events not queued", "client_id", clientID, "err", err)
			return
		}
		for _, ev := range out {
			s.publish(ctx, c.AgencyID, clientID, ev)
		}
	})
}

// Escalation turns an escalation's opening or change of status into an
// event (queued by Run).
func (s *Service) Escalation(_ context.Context, before string, e *store.Escalation) {
	typ := ""
	switch {
	case before == "":
		typ = EscalationOpened
	case e.Status == store.EscAcknowledged:
		typ = EscalationAcknowledged
	case e.Status == store.EscResolved:
		typ = EscalationResolved
	default:
		return
	}
	d := map[string]any{"escalation_id": e.ID, "client_id": e.ClientID, "level": e.Level, "reasons": e.Reasons, "status": e.Status, "opened_at": e.Opened}
	if e.AckedAt != nil {
		d["acknowledged_at"], d["acknowledged_by"] = *e.AckedAt, e.AckedBy
	}
	if e.ResolvedAt != nil {
		d["resolved_at"] = *e.ResolvedAt
	}
	agency, client := e.AgencyID, e.ClientID
	s.later(func(ctx context.Context) { s.publish(ctx, agency, client, Event{Type: typ, Data: d}) })
}

// fields reads an event's field, value pairs.
func fields(e store.Event) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(e); i += 2 {
		m[e[i]] = e[i+1]
	}
	return m
}

// publish queues an event for each of the agency's endpoints that asked
// for its type, and plans the delivery where nothing was in flight.
func (s *Service) publish(ctx context.Context, agency, client string, ev Event) {
	eps, err := s.st.WebhookEndpoints(ctx, agency)
	if err != nil {
		s.log.Error("webhook event not queued", "agency_id", agency, "type", ev.Type, "err", err)
		return
	}
	now := s.now().UTC()
	for _, ep := range eps {
		if !slices.Contains(ep.Events, ev.Type) {
			continue
		}
		e := ev
		e.ID = store.NewID("msg", now)
		e.Timestamp = now
		raw, _ := json.Marshal(queued{Event: e})
		n, err := s.st.PushWebhookEvent(ctx, agency, ep.ID, client, raw)
		if err != nil {
			s.log.Error("webhook event not queued", "agency_id", agency, "endpoint_id", ep.ID, "type", ev.Type, "err", err)
			continue
		}
		if n == 1 {
			s.plan(ctx, job{Kind: Kind, Agency: agency, Endpoint: ep.ID, Client: client}, now)
		}
	}
}

func (s *Service) plan(ctx context.Context, j job, at time.Time) {
	raw, _ := json.Marshal(j)
	if err := s.st.Schedule(ctx, jobID(j.Agency, j.Endpoint, j.Client), at, raw); err != nil {
		s.log.Error("webhook delivery not planned", "agency_id", j.Agency, "endpoint_id", j.Endpoint, "client_id", j.Client, "err", err)
	}
}

// DeliverJob is the work handler of Kind: it sends the event in flight of
// one endpoint and client; delivered, it plans the next one; failed, it
// plans a retry (or, past GiveUpAfter, logs gave_up and moves on).
func (s *Service) DeliverJob(ctx context.Context, it *store.Item) error {
	var j job
	if err := json.Unmarshal(it.Payload, &j); err != nil {
		return fmt.Errorf("read webhook job: %w", store.ErrUndecodable)
	}
	return s.Deliver(ctx, j.Agency, j.Endpoint, j.Client, j.Attempt)
}

// Deliver sends the event in flight of an endpoint and client (attempt
// counts the failures before this one).
func (s *Service) Deliver(ctx context.Context, agency, endpoint, client string, attempt int) error {
	raw, err := s.st.WebhookHead(ctx, agency, endpoint, client)
	if err != nil || raw == nil {
		return err
	}
	ep, err := s.st.WebhookEndpoint(ctx, agency, endpoint)
	if errors.Is(err, store.ErrNotFound) {
		return s.st.DropWebhookQueue(ctx, agency, endpoint, client)
	}
	if err != nil {
		return err
	}
	var q queued
	if err := json.Unmarshal(raw, &q); err != nil {
		s.log.Error("webhook event unreadable: dropped", "agency_id", agency, "endpoint_id", endpoint, "client_id", client)
		_, err := s.st.PopWebhookEvent(ctx, agency, endpoint, client)
		return err
	}
	now := s.now().UTC()
	status, sendErr := s.send(ctx, ep, q.Event, now)
	d := store.WebhookDelivery{EventID: q.Event.ID, Type: q.Event.Type, ClientID: client, Attempt: attempt + 1, At: now, Status: status}
	next := job{Kind: Kind, Agency: agency, Endpoint: endpoint, Client: client}
	switch {
	case sendErr == nil:
		d.Outcome = "delivered"
	case now.Sub(q.Event.Timestamp) >= GiveUpAfter:
		d.Outcome, d.Error = "gave_up", sendErr.Error()
	default:
		d.Outcome, d.Error = "failed", sendErr.Error()
	}
	if err := s.st.LogWebhookDelivery(ctx, agency, endpoint, d); err != nil {
		s.log.Error("webhook delivery not logged", "agency_id", agency, "endpoint_id", endpoint, "err", err)
	}
	if d.Outcome == "failed" {
		s.log.Warn("webhook delivery failed", "agency_id", agency, "endpoint_id", endpoint, "event_id", q.Event.ID, "attempt", attempt+1, "status", status)
		next.Attempt = attempt + 1
		s.plan(ctx, next, now.Add(Backoff[min(attempt, len(Backoff)-1)]))
		return nil
	}
	left, err := s.st.PopWebhookEvent(ctx, agency, endpoint, client)
	if err != nil {
		return err
	}
	if left > 0 {
		s.plan(ctx, next, now)
	}
	return nil
}

// send posts one event, signed; a 2xx answer is a delivery.
func (s *Service) send(ctx context.Context, ep *store.WebhookEndpoint, ev Event, now time.Time) (int, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "CareCheck-Webhooks/1")
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(ep.Secret, ev.ID, ts, body))
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, errors.New("no answer from the endpoint")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("endpoint answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
