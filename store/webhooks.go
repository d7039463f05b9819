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

// WebhookEndpoints lists the agency's endpoints, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context, agency string) ([]*WebhookEndpoint, error) {
	ids, err := s.rdb.ZRange(ctx, keyWebhookEndpoints(agency), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out := []*WebhookEndpoint{}
	for _, id := range ids {
		e, err := s.WebhookEndpoint(ctx, agency, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
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

// PushWebhookEvent appends an event to an endpoint's queue for a client
// and returns the queue's length: 1 means nothing was in flight, and the
// caller plans the delivery.
func (s *Store) PushWebhookEvent(ctx context.Context, agency, endpoint, client string, event []byte) (int64, error) {
	n, err := s.rdb.RPush(ctx, keyWebhookQueue(agency, endpoint, client), event).Result()
	if err != nil {
		return 0, fmt.Errorf("queue webhook event: %w", err)
	}
	return n, nil
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

// PopWebhookEvent drops the event in flight and returns how many wait
// behind it (the caller plans the next when there are any).
func (s *Store) PopWebhookEvent(ctx context.Context, agency, endpoint, client string) (int64, error) {
	pipe := s.rdb.TxPipeline()
	pipe.LPop(ctx, keyWebhookQueue(agency, endpoint, client))
	left := pipe.LLen(ctx, keyWebhookQueue(agency, endpoint, client))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("pop webhook event: %w", err)
	}
	return left.Val(), nil
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
