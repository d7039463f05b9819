package store

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// An event the agency's webhooks report is written to an outbox by the
// same script as the record it describes, in the record's hash slot: a
// client's timeline events (check-in scored, missed, STOP, START) to the
// client's outbox, an escalation's opening and changes of status to the
// agency's (only while the agency has endpoints). A crash after the record
// cannot lose its event: the webhooks move what an outbox holds into the
// endpoints' queues, and their sweep finds what a crashed process left.

// Outbox names one outbox: a client's (Client set) or an agency's.
type Outbox struct {
	Agency string
	Client string
}

func (b Outbox) key() string {
	if b.Client != "" {
		return clientTag(b.Client) + ":whout"
	}
	return agencyTag(b.Agency) + ":whout"
}

// String names the outbox in event ids and logs ("c:<id>", "a:<id>").
func (b Outbox) String() string {
	if b.Client != "" {
		return "c:" + b.Client
	}
	return "a:" + b.Agency
}

// OutboxEntry is one event waiting in an outbox, as written with its record.
type OutboxEntry struct {
	// ID is the stream entry's id; a client's is its timeline entry's.
	ID string
	// Fields are a timeline event's field/value pairs, or an escalation's:
	// "before" (its status before; "" when it opened), "esc" (the record).
	Fields []string
}

// outboxLength bounds an outbox (entries the webhooks have not moved on).
const outboxLength = 10000

// keyWebhookAgencies is the set of agencies that have had endpoints: where
// the webhooks' sweep looks.
func keyWebhookAgencies() string { return "webhook-agencies" }

// keyWebhookQueues is the set of an agency's endpoint queues ("<endpoint>:<client>")
// that may hold events.
func keyWebhookQueues(agency string) string { return agencyTag(agency) + ":whqs" }

var (
	//go:embed scripts/whpop.lua
	whPopLua    string
	scriptWhPop = redis.NewScript(whPopLua)
	//go:embed scripts/outboxdrop.lua
	outboxDropLua    string
	scriptOutboxDrop = redis.NewScript(outboxDropLua)
)

// OutboxEntries reads up to n of an outbox's entries, oldest first.
func (s *Store) OutboxEntries(ctx context.Context, b Outbox, n int64) ([]OutboxEntry, error) {
	msgs, err := s.rdb.XRangeN(ctx, b.key(), "-", "+", n).Result()
	if err != nil {
		return nil, fmt.Errorf("read outbox %s: %w", b, err)
	}
	out := make([]OutboxEntry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, OutboxEntry{ID: m.ID, Fields: outboxFields(m.Values)})
	}
	return out, nil
}

// outboxFields reads an entry's "f" (the fields as JSON) or, for an
// escalation's, its own field/value pairs.
func outboxFields(v map[string]any) []string {
	if raw, ok := v["f"].(string); ok {
		var f []string
		if err := json.Unmarshal([]byte(raw), &f); err == nil {
			return f
		}
	}
	var out []string
	for _, k := range []string{"before", "esc"} {
		if x, ok := v[k].(string); ok {
			out = append(out, k, x)
		}
	}
	return out
}

// WebhookPush is one event for one endpoint's queue of one client.
type WebhookPush struct {
	Endpoint, Client string
	Event            []byte
}

// OutboxDrop names entries of an outbox to drop once their events are queued.
type OutboxDrop struct {
	Box Outbox
	IDs []string
}

// PushWebhookEvents appends events to endpoints' queues of an agency, in
// order, and drops the outbox entries they came from: the agency's outbox
// in the same MULTI, a client's right after (another hash slot: a crash
// between them sends an event a second time, under the same webhook-id).
// It returns each queue's length after its push (1: nothing was in
// flight; the caller plans the delivery).
func (s *Store) PushWebhookEvents(ctx context.Context, agency string, pushes []WebhookPush, drops ...OutboxDrop) ([]int64, error) {
	pipe := s.rdb.TxPipeline()
	lens := make([]*redis.IntCmd, len(pushes))
	for i, p := range pushes {
		lens[i] = pipe.RPush(ctx, keyWebhookQueue(agency, p.Endpoint, p.Client), p.Event)
		pipe.SAdd(ctx, keyWebhookQueues(agency), p.Endpoint+":"+p.Client)
	}
	var later []OutboxDrop
	queued := len(pushes)
	for _, d := range drops {
		switch {
		case len(d.IDs) == 0:
		case d.Box.Client == "" && d.Box.Agency == agency:
			d.drop(ctx, pipe)
			queued++
		default:
			later = append(later, d)
		}
	}
	if queued > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("queue webhook events: %w", err)
		}
	}
	if len(later) > 0 {
		p := s.rdb.Pipeline()
		for _, d := range later {
			d.drop(ctx, p)
		}
		if _, err := p.Exec(ctx); err != nil {
			return nil, fmt.Errorf("drop outbox entries: %w", err)
		}
	}
	out := make([]int64, len(lens))
	for i, l := range lens {
		out[i] = l.Val()
	}
	return out, nil
}

// drop adds the dropping of d's entries to a pipeline. A client's outbox
// goes once empty (outboxdrop.lua): its entries' ids are its timeline's.
// An agency's stays, empty: its ids are XADD's own, and the events'
// webhook-ids are made of them; a stream made anew numbers from Redis's
// clock again, so an escalation's next change in the millisecond of the
// one just moved would repeat its id, and a receiver, telling repeats by
// webhook-id, would drop it. One empty stream per agency.
func (d OutboxDrop) drop(ctx context.Context, pipe redis.Pipeliner) {
	if d.Box.Client == "" {
		pipe.XDel(ctx, d.Box.key(), d.IDs...)
		return
	}
	scriptOutboxDrop.Eval(ctx, pipe, []string{d.Box.key()}, strs(d.IDs)...)
}

// strs makes ids a script's arguments.
func strs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// WebhookAgencies lists the agencies that have had webhook endpoints.
func (s *Store) WebhookAgencies(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, keyWebhookAgencies()).Result()
}

// ClientsWithOutbox lists the agency's clients whose outbox holds events
// (the sweep's finding after a crash).
func (s *Store) ClientsWithOutbox(ctx context.Context, agency string) ([]string, error) {
	var out []string
	for start := int64(0); ; start += 500 {
		ids, err := s.rdb.ZRange(ctx, keyClients(agency), start, start+499).Result()
		if err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		if len(ids) == 0 {
			return out, nil
		}
		pipe := s.rdb.Pipeline()
		lens := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			lens[i] = pipe.XLen(ctx, Outbox{Client: id}.key())
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read outboxes: %w", err)
		}
		for i, l := range lens {
			if l.Val() > 0 {
				out = append(out, ids[i])
			}
		}
	}
}

// WebhookQueue is one endpoint's queue of one client.
type WebhookQueue struct{ Endpoint, Client string }

// WebhookQueues lists the agency's endpoint queues that hold events (a
// queue leaves the list when its last event is delivered, whpop.lua).
func (s *Store) WebhookQueues(ctx context.Context, agency string) ([]WebhookQueue, error) {
	names, err := s.rdb.SMembers(ctx, keyWebhookQueues(agency)).Result()
	if err != nil {
		return nil, fmt.Errorf("list webhook queues: %w", err)
	}
	pipe := s.rdb.Pipeline()
	lens := make([]*redis.IntCmd, len(names))
	qs := make([]WebhookQueue, len(names))
	for i, n := range names {
		ep, client, _ := strings.Cut(n, ":")
		qs[i] = WebhookQueue{Endpoint: ep, Client: client}
		lens[i] = pipe.LLen(ctx, keyWebhookQueue(agency, ep, client))
	}
	if len(names) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read webhook queues: %w", err)
		}
	}
	var out []WebhookQueue
	for i, l := range lens {
		if l.Val() > 0 {
			out = append(out, qs[i])
		}
	}
	return out, nil
}
