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
	"sync/atomic"
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
	// agencies remembers each client's agency (agencyOf).
	agencies   sync.Map
	remembered atomic.Int64
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

// SweepEvery is how often Run sweeps for what a crash left (Sweep).
var SweepEvery = time.Minute

// Run queues the events the store told of, one after another (so a
// client's events keep the order they were recorded in), and sweeps at
// start and every SweepEvery, until ctx ends; then it queues what is left,
// for up to 5 seconds.
func (s *Service) Run(ctx context.Context) {
	sweep := time.NewTicker(SweepEvery)
	defer sweep.Stop()
	if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("webhook sweep failed", "err", err)
	}
	for {
		select {
		case <-sweep.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("webhook sweep failed", "err", err)
			}
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

// timelineTypes are the timeline events that make webhook events.
var timelineTypes = map[string]bool{"score": true, "missed": true, "opted-out": true, "opted-in": true}

// Outboxed tells the store which timeline events go to a client's outbox.
func (s *Service) Outboxed(eventType string) bool { return timelineTypes[eventType] }

// Outbox is told of events the store just wrote to an outbox with their
// records: Run moves them to the endpoints' queues (the sweep moves what a
// crash left).
func (s *Service) Outbox(_ context.Context, box store.Outbox, entries []store.OutboxEntry) {
	s.later(func(ctx context.Context) {
		if err := s.relay(ctx, box, entries); err != nil {
			s.log.Error("webhook events not queued (the sweep retries)", "outbox", box.String(), "err", err)
		}
	})
}

// eventOf turns an outbox entry into the event the endpoints receive (ok
// false: nothing to send). Its id is the entry's, so an event moved twice
// (a crash between queueing it and dropping the entry) reaches a receiver
// under the same webhook-id.
func eventOf(box store.Outbox, en store.OutboxEntry) (boxed, bool) {
	ev, client, esc, ok := eventOfEntry(box, en)
	return boxed{ev: ev, client: client, entry: en.ID, esc: esc}, ok
}

func eventOfEntry(box store.Outbox, en store.OutboxEntry) (ev Event, client string, esc *store.Escalation, ok bool) {
	f := fields(en.Fields)
	ev.ID = "msg_" + box.String() + "_" + en.ID
	ev.Timestamp = entryTime(en.ID)
	if box.Client != "" {
		client = box.Client
		switch f["t"] {
		case "score":
			d := map[string]any{"client_id": client, "conversation_id": f["conv"], "questionnaire": f["q"], "instrument": f["instrument"], "valid": f["valid"] == "true"}
			if n, err := strconv.Atoi(f["total"]); err == nil {
				d["total"] = n
			}
			if f["band"] != "" {
				d["band"] = f["band"]
			}
			if f["risk"] != "" {
				d["risk"] = f["risk"]
			}
			ev.Type, ev.Data = CheckinCompleted, d
		case "missed":
			ev.Type, ev.Data = CheckinMissed, map[string]any{"client_id": client, "conversation_id": f["conv"], "questionnaire": f["q"], "missed_in_a_row": f["in_a_row"]}
		case "opted-out":
			ev.Type, ev.Data = ClientOptedOut, map[string]any{"client_id": client}
		case "opted-in":
			ev.Type, ev.Data = ClientOptedIn, map[string]any{"client_id": client}
		default:
			return ev, "", nil, false
		}
		return ev, client, nil, true
	}
	var e store.Escalation
	if err := json.Unmarshal([]byte(f["esc"]), &e); err != nil {
		return ev, "", nil, false
	}
	// The event's time is the record's (the store's clock), not the
	// outbox entry's.
	switch {
	case f["before"] == "":
		ev.Type, ev.Timestamp = EscalationOpened, e.Opened
	case e.Status == store.EscAcknowledged && e.AckedAt != nil:
		ev.Type, ev.Timestamp = EscalationAcknowledged, *e.AckedAt
	case e.Status == store.EscResolved && e.ResolvedAt != nil:
		ev.Type, ev.Timestamp = EscalationResolved, *e.ResolvedAt
	default:
		return ev, "", nil, false
	}
	ev.Timestamp = ev.Timestamp.UTC()
	d := map[string]any{"escalation_id": e.ID, "client_id": e.ClientID, "level": e.Level, "reasons": e.Reasons, "status": e.Status, "opened_at": e.Opened}
	if e.AckedAt != nil {
		d["acknowledged_at"], d["acknowledged_by"] = *e.AckedAt, e.AckedBy
	}
	if e.ResolvedAt != nil {
		d["resolved_at"] = *e.ResolvedAt
	}
	ev.Data = d
	return ev, e.ClientID, &e, true
}

// entryTime is when a stream entry was written (its id's milliseconds).
func entryTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// fields reads an event's field, value pairs.
func fields(e []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(e); i += 2 {
		m[e[i]] = e[i+1]
	}
	return m
}

// relay moves entries of an outbox into the queues of the agency's
// endpoints that asked for their types, drops them from the outbox, and
// plans a delivery where nothing was in flight.
func (s *Service) relay(ctx context.Context, box store.Outbox, entries []store.OutboxEntry) error {
	agency := box.Agency
	if agency == "" {
		var err error
		if agency, err = s.agencyOf(ctx, box.Client); err != nil {
			return err
		}
	}
	ids := make([]string, len(entries))
	var evs []boxed
	for i, en := range entries {
		ids[i] = en.ID
		if b, ok := eventOf(box, en); ok {
			evs = append(evs, b)
		}
	}
	return s.queue(ctx, agency, evs, []store.OutboxDrop{{Box: box, IDs: ids}})
}

// agencyOf is a client's agency, remembered (a client never changes
// agency): a client's second event costs no read.
func (s *Service) agencyOf(ctx context.Context, client string) (string, error) {
	if a, ok := s.agencies.Load(client); ok {
		return a.(string), nil
	}
	c, err := s.st.Client(ctx, client)
	if err != nil {
		return "", err
	}
	if s.remembered.Add(1) > maxRemembered {
		s.agencies.Clear()
		s.remembered.Store(0)
	}
	s.agencies.Store(client, c.AgencyID)
	return c.AgencyID, nil
}

// maxRemembered bounds agencyOf's memory (about 100 bytes a client).
const maxRemembered = 100_000

// boxed is an event read from an outbox, the client it is about, and
// where the client's words are, should the agency send them.
type boxed struct {
	ev     Event
	client string
	entry  string            // the outbox entry's id (a client's: the timeline entry's)
	esc    *store.Escalation // an escalation's record
}

// queue pushes events to the queues of the endpoints that asked for them,
// in the order given, drops their outbox entries and plans deliveries.
func (s *Service) queue(ctx context.Context, agency string, evs []boxed, drops []store.OutboxDrop) error {
	eps, ag, err := s.st.WebhookTargets(ctx, agency)
	if err != nil {
		return err
	}
	var pushes []store.WebhookPush
	for _, b := range evs {
		if ag != nil && ag.ExportWords && wanted(eps, b.ev.Type) {
			if err := s.addWords(ctx, &b); err != nil {
				return err
			}
		}
		for _, ep := range eps {
			if slices.Contains(ep.Events, b.ev.Type) {
				raw, _ := json.Marshal(queued{Event: b.ev})
				pushes = append(pushes, store.WebhookPush{Endpoint: ep.ID, Client: b.client, Event: raw})
			}
		}
	}
	lens, err := s.st.PushWebhookEvents(ctx, agency, pushes, drops...)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	var plans []store.Plan
	for i, n := range lens {
		if n == 1 {
			j := job{Kind: Kind, Agency: agency, Endpoint: pushes[i].Endpoint, Client: pushes[i].Client}
			raw, _ := json.Marshal(j)
			plans = append(plans, store.Plan{ID: jobID(agency, j.Endpoint, j.Client), At: now, Payload: raw})
		}
	}
	if err := s.st.ScheduleAll(ctx, plans); err != nil {
		s.log.Error("webhook deliveries not planned (the sweep retries)", "agency_id", agency, "err", err)
	}
	return nil
}

// wanted reports whether any endpoint asked for the event type.
func wanted(eps []*store.WebhookEndpoint, typ string) bool {
	for _, ep := range eps {
		if slices.Contains(ep.Events, typ) {
			return true
		}
	}
	return false
}

// addWords puts the client's own words in an event, for an agency whose
// export_words is on: a completed check-in's free-text answers
// ("answers": [{"question","text"}]), the message that opened an
// escalation ("message"). One timeline read per such event; none for the
// others, nor with export_words off (the default).
func (s *Service) addWords(ctx context.Context, b *boxed) error {
	switch b.ev.Type {
	case CheckinCompleted:
		entries, err := s.st.EntriesBefore(ctx, b.client, b.entry, 100)
		if err != nil {
			return err
		}
		conv, _ := b.ev.Data["conversation_id"].(string)
		answers := []map[string]string{}
		for _, e := range entries {
			f := e.Fields
			if e.Type != "answer" || f["conv"] != conv || f["value"] != "" || f["skipped"] != "" || f["text"] == "" {
				continue
			}
			answers = append([]map[string]string{{"question": f["question"], "text": f["text"]}}, answers...)
		}
		b.ev.Data = withWords(b.ev.Data, "answers", answers)
	case EscalationOpened:
		// Words only when a client's message opened it (not a missed
		// check-in): the client's last message at the opening.
		if b.esc == nil || !openedByClient(b.esc) {
			return nil
		}
		// A second of slack: an entry's id may run a little ahead of its time.
		entries, err := s.st.EntriesBefore(ctx, b.client, strconv.FormatInt(b.esc.Opened.Add(time.Second).UnixMilli(), 10), 20)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type == "in" && e.Fields["x"] != "" {
				b.ev.Data = withWords(b.ev.Data, "message", strings.TrimSpace(e.Fields["x"]))
				break
			}
		}
	}
	return nil
}

// openedByClient reports whether a client's message opened the escalation.
func openedByClient(e *store.Escalation) bool {
	for _, a := range e.Audit {
		if a.Action == "opened" {
			return strings.HasPrefix(a.Actor, "client:")
		}
	}
	return false
}

// withWords copies an event's data with one more field (the data may be
// shared by the events of several endpoints).
func withWords(d map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(d)+1)
	for key, val := range d {
		out[key] = val
	}
	out[k] = v
	return out
}

// Sweep finds what a crash left behind, for every agency that has had
// endpoints: events still in an outbox (the process died after the record,
// before moving them) are moved, a client's in the order they were recorded
// across the agency's outbox and the client's; a queue holding events with
// no delivery planned (it died between queueing and planning) gets one.
// Run sweeps at start and every SweepEvery.
func (s *Service) Sweep(ctx context.Context) error {
	agencies, err := s.st.WebhookAgencies(ctx)
	if err != nil {
		return err
	}
	for _, agency := range agencies {
		clients, err := s.st.ClientsWithOutbox(ctx, agency)
		if err != nil {
			return err
		}
		boxes := []store.Outbox{{Agency: agency}}
		for _, c := range clients {
			boxes = append(boxes, store.Outbox{Client: c})
		}
		for {
			var evs []boxed
			var drops []store.OutboxDrop
			for _, box := range boxes {
				entries, err := s.st.OutboxEntries(ctx, box, 100)
				if err != nil {
					return err
				}
				if len(entries) == 0 {
					continue
				}
				d := store.OutboxDrop{Box: box}
				for _, en := range entries {
					d.IDs = append(d.IDs, en.ID)
					if b, ok := eventOf(box, en); ok {
						evs = append(evs, b)
					}
				}
				drops = append(drops, d)
			}
			if len(drops) == 0 {
				break
			}
			slices.SortStableFunc(evs, func(a, b boxed) int { return a.ev.Timestamp.Compare(b.ev.Timestamp) })
			if err := s.queue(ctx, agency, evs, drops); err != nil {
				return err
			}
		}
		queues, err := s.st.WebhookQueues(ctx, agency)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		for _, q := range queues {
			raw, _ := json.Marshal(job{Kind: Kind, Agency: agency, Endpoint: q.Endpoint, Client: q.Client})
			// A delivery already planned (a retry's backoff) stands.
			if err := s.st.ScheduleOnce(ctx, jobID(agency, q.Endpoint, q.Client), now, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) plan(ctx context.Context, j job, at time.Time) {
	raw, _ := json.Marshal(j)
	if err := s.st.Schedule(ctx, jobID(j.Agency, j.Endpoint, j.Client), at, raw); err != nil {
		s.log.Error("webhook delivery not planned (the sweep retries)", "agency_id", j.Agency, "endpoint_id", j.Endpoint, "client_id", j.Client, "err", err)
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
		_, err := s.st.PopWebhookEvent(ctx, agency, endpoint, client, raw)
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
		// The last retry is at GiveUpAfter, not a backoff past it.
		at := now.Add(Backoff[min(attempt, len(Backoff)-1)])
		if deadline := q.Event.Timestamp.Add(GiveUpAfter); at.After(deadline) {
			at = deadline
		}
		s.plan(ctx, next, at)
		return nil
	}
	left, err := s.st.PopWebhookEvent(ctx, agency, endpoint, client, raw)
	if err != nil {
		return err
	}
	// left -1: another delivery of this event moved the queue on and
	// planned what follows.
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
