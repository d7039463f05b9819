package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// WebhookEndpoint is where an agency wants its events sent.
type WebhookEndpoint struct {
	ID       string    `json:"id"`
	AgencyID string    `json:"agency_id"`
	URL      string    `json:"url"`
	Events   []string  `json:"events"`
	Secret   string    `json:"secret,omitempty"` // whsec_…; the API shows it once
	Created  time.Time `json:"created_at"`
}

// WebhookDelivery is one attempt to deliver an event, as the delivery log keeps it.
type WebhookDelivery struct {
	EventID  string    `json:"event_id"`
	Type     string    `json:"type"`
	ClientID string    `json:"client_id"`
	Attempt  int       `json:"attempt"`
	At       time.Time `json:"at"`
	Status   int       `json:"status,omitempty"` // the receiver's HTTP status, 0 without an answer
	Outcome  string    `json:"outcome"`          // delivered | failed (retried) | gave_up
	Error    string    `json:"error,omitempty"`
}

// Every webhook key lives in the agency's hash slot.
func keyWebhookEndpoint(agency, id string) string { return agencyTag(agency) + ":whep:" + id }
func keyWebhookEndpoints(agency string) string    { return agencyTag(agency) + ":wheps" }

// keyWebhookQueue holds an endpoint's undelivered events of one client, in
// order; the head is the one in flight.
func keyWebhookQueue(agency, endpoint, client string) string {
	return agencyTag(agency) + ":whq:" + endpoint + ":" + client
}
func keyWebhookLog(agency, endpoint string) string { return agencyTag(agency) + ":whlog:" + endpoint }

// webhookLogLength is about how many delivery attempts an endpoint's log keeps.
const webhookLogLength = 1000

// CreateWebhookEndpoint stores a new endpoint (ID and Created are set).
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error {
	now := s.nowMilli()
	e.ID, e.Created = NewID("we", now), now
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// The sweep's list first (another hash slot): an agency with an
	// endpoint is always on it.
	if err := s.rdb.SAdd(ctx, keyWebhookAgencies(), e.AgencyID).Err(); err != nil {
		return fmt.Errorf("store webhook endpoint: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, keyWebhookEndpoint(e.AgencyID, e.ID), body, 0)
	pipe.ZAdd(ctx, keyWebhookEndpoints(e.AgencyID), redis.Z{Score: float64(now.UnixMilli()), Member: e.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store webhook endpoint: %w", err)
	}
	return nil
}

// WebhookEndpoint loads one of the agency's endpoints.
func (s *Store) WebhookEndpoint(ctx context.Context, agency, id string) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	if err := s.getJSON(ctx, keyWebhookEndpoint(agency, id), &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// WebhookEndpoints lists the agency's endpoints, oldest first (two round
// trips: the list, then every record in one pipeline).
func (s *Store) WebhookEndpoints(ctx context.Context, agency string) ([]*WebhookEndpoint, error) {
	eps, _, err := s.webhookEndpoints(ctx, agency, false)
	return eps, err
}

// WebhookTargets is WebhookEndpoints and, when there are any, the agency's
// record (its settings say what payloads carry), in the same two round trips.
func (s *Store) WebhookTargets(ctx context.Context, agency string) ([]*WebhookEndpoint, *Agency, error) {
	return s.webhookEndpoints(ctx, agency, true)
}

func (s *Store) webhookEndpoints(ctx context.Context, agency string, withAgency bool) ([]*WebhookEndpoint, *Agency, error) {
	ids, err := s.rdb.ZRange(ctx, keyWebhookEndpoints(agency), 0, -1).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out := []*WebhookEndpoint{}
	if len(ids) == 0 {
		return out, nil, nil
	}
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, keyWebhookEndpoint(agency, id))
	}
	var ag *redis.StringCmd
	if withAgency {
		ag = pipe.Get(ctx, keyAgency(agency))
	}
	_, _ = pipe.Exec(ctx) // each answer is read below
	for _, g := range gets {
		raw, err := g.Bytes()
		if errors.Is(err, redis.Nil) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read webhook endpoint: %w", err)
		}
		var e WebhookEndpoint
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, nil, fmt.Errorf("decode webhook endpoint: %w", err)
		}
		out = append(out, &e)
	}
	if ag == nil {
		return out, nil, nil
	}
	raw, err := ag.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("read agency: %w", err)
	}
	var a Agency
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, nil, fmt.Errorf("decode agency: %w", err)
	}
	return out, &a, nil
}

// DeleteWebhookEndpoint removes an endpoint; its queued events are dropped
// as their deliveries come due, and its log expires in a week.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, agency, id string) error {
	pipe := s.rdb.TxPipeline()
	del := pipe.Del(ctx, keyWebhookEndpoint(agency, id))
	pipe.ZRem(ctx, keyWebhookEndpoints(agency), id)
	pipe.Expire(ctx, keyWebhookLog(agency, id), 7*24*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	if del.Val() == 0 {
		return ErrNotFound
	}
	return nil
}

// WebhookHead is the event in flight for an endpoint and client (nil: none).
func (s *Store) WebhookHead(ctx context.Context, agency, endpoint, client string) ([]byte, error) {
	b, err := s.rdb.LIndex(ctx, keyWebhookQueue(agency, endpoint, client), 0).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read webhook queue: %w", err)
	}
	return b, nil
}

// PopWebhookEvent drops the event in flight, if event is still it, and
// returns how many wait behind it (the caller plans the next when there
// are any); -1: the head is another event, so another delivery of this one
// already moved the queue on.
func (s *Store) PopWebhookEvent(ctx context.Context, agency, endpoint, client string, event []byte) (int64, error) {
	n, err := scriptWhPop.Run(ctx, s.rdb, []string{keyWebhookQueue(agency, endpoint, client), keyWebhookQueues(agency)}, event, endpoint+":"+client).Int64()
	if err != nil {
		return 0, fmt.Errorf("pop webhook event: %w", err)
	}
	return n, nil
}

// DropWebhookQueue drops an endpoint's queue for a client (the endpoint is gone).
func (s *Store) DropWebhookQueue(ctx context.Context, agency, endpoint, client string) error {
	return s.rdb.Del(ctx, keyWebhookQueue(agency, endpoint, client)).Err()
}

// LogWebhookDelivery appends an attempt to the endpoint's delivery log.
func (s *Store) LogWebhookDelivery(ctx context.Context, agency, endpoint string, d WebhookDelivery) error {
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: keyWebhookLog(agency, endpoint), MaxLen: webhookLogLength, Approx: true, Values: []string{"d", string(body)}}).Err()
}

// WebhookDeliveries reads an endpoint's delivery log, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, agency, endpoint string, limit int) ([]WebhookDelivery, error) {
	if limit <= 0 || limit > webhookLogLength {
		limit = 100
	}
	msgs, err := s.rdb.XRevRangeN(ctx, keyWebhookLog(agency, endpoint), "+", "-", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("read webhook deliveries: %w", err)
	}
	out := make([]WebhookDelivery, 0, len(msgs))
	for _, m := range msgs {
		var d WebhookDelivery
		if raw, ok := m.Values["d"].(string); ok && json.Unmarshal([]byte(raw), &d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}
