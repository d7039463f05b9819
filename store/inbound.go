package store

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed scripts/entryid.lua
	entryIDLua string
	//go:embed scripts/receive.lua
	receiveLua    string
	scriptReceive = redis.NewScript(entryIDLua + receiveLua)
	//go:embed scripts/apply.lua
	applyLua    string
	scriptApply = redis.NewScript(entryIDLua + applyLua)
	//go:embed scripts/submitclaim.lua
	submitClaimLua    string
	scriptSubmitClaim = redis.NewScript(luaClaim + submitClaimLua)
)

// RedeliveryWindow is how long a client's provider message ids are kept to
// drop re-deliveries ({c:id}:seen). Twilio retries a failed inbound webhook
// within seconds (connection overrides, a few attempts); Telegram keeps an
// undelivered update at most 24 hours and retries its webhook until then.
// An hour more covers clock differences.
const RedeliveryWindow = 25 * time.Hour

// Per-client keys.
func keySeen(client string) string { return clientTag(client) + ":seen" }

// seenID is how a provider id is kept in a client's seen set: 8 bytes of its
// SHA-256, not the 34 characters of a Twilio MessageSid. Among the handful
// of ids one client sends within RedeliveryWindow a collision (a message
// dropped as a re-delivery) has odds of about 2^-60.
func seenID(providerID string) string {
	sum := sha256.Sum256([]byte(providerID))
	return string(sum[:8])
}
func keyTimeline(client string) string { return clientTag(client) + ":timeline" }
func keyPending(client string) string  { return clientTag(client) + ":pending" }
func keyLock(client string) string     { return clientTag(client) + ":lock" }
func keyConv(client string) string     { return clientTag(client) + ":conv" }

// keyPendingClients lists clients with unprocessed messages, scored by the
// time they were stored, so a sweeper finishes what a crashed process left.
const keyPendingClients = "pending-clients"

// Message is one stored inbound message.
type Message struct {
	ID         string // timeline id
	At         time.Time
	Channel    string
	Kind       string
	ProviderID string // set on receipt; not kept in the timeline ({c:id}:seen holds it for the re-delivery window)
	Text       string
}

// Batch is what processing a client's messages starts from: the messages
// waiting, the client, its agency and its conversation, read in one round
// trip together with the client's processing lock.
type Batch struct {
	Locked       bool   // false: another worker holds the client; it will process these messages
	Lock         string // the lock token to release with
	Stored       bool   // the message was new (false: a provider re-delivery)
	Client       *Client
	Agency       *Agency
	Conversation []byte // raw JSON, nil when there is none
	Pending      []Message
	// Unlocked is set when the last message's apply also released the lock
	// (ApplyAndUnlock); More then tells whether messages arrived meanwhile.
	Unlocked, More bool
	// ClaimFor, when set, names this process's queue consumer: routine work
	// an apply queues is claimed for it, and Claimed holds the items for
	// the caller to hand to its own workers (no stream read in between).
	ClaimFor string
	Claimed  []Item
	// Scores are an instrument's totals read with the lock (LockWithScores).
	Scores []int
}

const lockTTL = 15 * time.Second

// Receive stores a client's inbound message (dropping re-deliveries) and, in
// the same round trip, tries to take the client's processing lock and loads
// what processing needs.
func (s *Store) Receive(ctx context.Context, clientID, agencyID string, m Message) (*Batch, error) {
	now := s.now()
	token := NewID("lk", now)
	pipe := s.hot.Pipeline()
	recv := scriptReceive.Eval(ctx, pipe, []string{keySeen(clientID), keyTimeline(clientID), keyPending(clientID)},
		seenID(m.ProviderID), now.UnixMilli(), m.Channel, m.Kind, m.Text, RedeliveryWindow.Milliseconds())
	pipe.ZAddNX(ctx, keyPendingClients, redis.Z{Score: float64(now.UnixMilli()), Member: clientID})
	b, err := s.lockAndLoad(ctx, pipe, clientID, agencyID, token, func(ids []string) []Message {
		// The usual case: the only pending message is the one just stored,
		// and it is in hand: no second round trip to read it back.
		if id, ok := recv.Val().(string); ok && len(ids) == 1 && ids[0] == id {
			return []Message{{ID: id, At: now, Channel: m.Channel, Kind: m.Kind, ProviderID: m.ProviderID, Text: m.Text}}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := recv.Result(); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store message: %w", err)
	}
	b.Stored = recv.Val() != nil
	return b, nil
}

// Lock takes a client's processing lock and loads the batch (the sweeper and
// a worker that finished one batch and finds more use it).
func (s *Store) Lock(ctx context.Context, clientID, agencyID string) (*Batch, error) {
	return s.lockAndLoad(ctx, s.hot.Pipeline(), clientID, agencyID, NewID("lk", s.now()), nil)
}

// LockWithScores is Lock that also reads, in the same round trip, the
// client's totals of one instrument since a time (Batch.Scores, newest
// first): a mood check-in starting needs them for its drop rule.
func (s *Store) LockWithScores(ctx context.Context, clientID, agencyID, instrument string, since time.Time) (*Batch, error) {
	pipe := s.rdb.Pipeline()
	hist := pipe.XRevRangeN(ctx, keyTimeline(clientID), "+", strconv.FormatInt(since.UnixMilli(), 10), 500)
	b, err := s.lockAndLoad(ctx, pipe, clientID, agencyID, NewID("lk", s.now()), nil)
	if err != nil {
		return nil, err
	}
	if err := hist.Err(); err != nil {
		err = fmt.Errorf("read scores: %w", err)
		if b.Locked {
			if _, uerr := s.Unlock(context.WithoutCancel(ctx), clientID, b.Lock); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
		return nil, err
	}
	b.Scores = scoresOf(hist.Val(), instrument, since)
	return b, nil
}

func (s *Store) lockAndLoad(ctx context.Context, pipe redis.Pipeliner, clientID, agencyID, token string, inHand func([]string) []Message) (*Batch, error) {
	lock := pipe.SetNX(ctx, keyLock(clientID), token, lockTTL)
	client := pipe.Get(ctx, keyClient(clientID))
	conv := pipe.Get(ctx, keyConv(clientID))
	pending := pipe.LRange(ctx, keyPending(clientID), 0, 19)
	var agency *redis.StringCmd
	if agencyID != "" {
		agency = pipe.Get(ctx, keyAgency(agencyID))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load client: %w", err)
	}
	b := &Batch{Locked: lock.Val(), Lock: token}
	if raw, err := client.Bytes(); err == nil {
		if b.Client, err = decodeClient(raw, clientID); err != nil {
			return nil, fmt.Errorf("decode client: %w", err)
		}
	}
	if raw, err := conv.Bytes(); err == nil {
		b.Conversation = raw
	}
	if agency != nil {
		if raw, err := agency.Bytes(); err == nil {
			var a Agency
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("decode agency: %w", err)
			}
			b.Agency = &a
		}
	}
	if b.Locked && inHand != nil {
		b.Pending = inHand(pending.Val())
	}
	if b.Locked && b.Pending == nil && len(pending.Val()) > 0 {
		msgs, err := s.messages(ctx, clientID, pending.Val())
		if err != nil {
			return nil, err
		}
		b.Pending = msgs
	}
	return b, nil
}

// messages loads timeline entries by id in one round trip.
func (s *Store) messages(ctx context.Context, clientID string, ids []string) ([]Message, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.XRangeN(ctx, keyTimeline(clientID), id, id, 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("load messages: %w", err)
	}
	out := make([]Message, 0, len(ids))
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			// The entry is gone (trimmed): still pop it so the queue moves on.
			out = append(out, Message{ID: ids[i]})
			continue
		}
		e := decodeEntry(c.Val()[0])
		out = append(out, Message{ID: ids[i], At: e.At, Channel: e.Fields["ch"], Kind: e.Fields["k"], ProviderID: e.Fields["pid"], Text: e.Fields["x"]})
	}
	return out, nil
}

func str(v any) string { s, _ := v.(string); return s }

// Event is one timeline entry as flat field/value pairs ("t" names its type).
type Event []string

// Apply finishes one message (or, with messageID "", one piece of timed
// work): conversation state and timeline events in one script. conv nil
// keeps the conversation, an empty slice deletes it. It reports false when
// the message had already been processed.
func (s *Store) Apply(ctx context.Context, clientID, messageID string, conv []byte, events []Event) (bool, error) {
	return s.ApplyAndSubmit(ctx, clientID, messageID, conv, events)
}

// ApplyAndSubmit is Apply with the work it leads to (replies, a timeout)
// sent in the same round trip. The work goes out even when the message had
// already been applied by another worker: replies carry deterministic ids,
// so the outbox's sent marker stops a second send.
func (s *Store) ApplyAndSubmit(ctx context.Context, clientID, messageID string, conv []byte, events []Event, work ...Work) (bool, error) {
	return s.apply(ctx, nil, clientID, messageID, conv, events, work)
}

// ApplyAndUnlock is ApplyAndSubmit for a batch's last message: the client's
// processing lock is released in the same round trip (one fewer per inbound
// message). It records in b whether messages arrived meanwhile.
func (s *Store) ApplyAndUnlock(ctx context.Context, b *Batch, clientID, messageID string, conv []byte, events []Event, work ...Work) (bool, error) {
	return s.apply(ctx, b, clientID, messageID, conv, events, work)
}

// claim is the consumer b's applies claim routine work for ("" none).
func (b *Batch) claim() string {
	if b == nil {
		return ""
	}
	return b.ClaimFor
}

func (s *Store) apply(ctx context.Context, b *Batch, clientID, messageID string, conv []byte, events []Event, work []Work) (bool, error) {
	applied, outboxed, err := s.applyOnce(ctx, b, clientID, messageID, conv, events, work)
	if err == nil && applied && len(outboxed) > 0 {
		s.observeOutbox(ctx, Outbox{Client: clientID}, outboxed)
	}
	return applied, err
}

func (s *Store) applyOnce(ctx context.Context, b *Batch, clientID, messageID string, conv []byte, events []Event, work []Work) (bool, []OutboxEntry, error) {
	args, outboxed := s.applyArgs(messageID, conv, events)
	keys := []string{keyPending(clientID), keyConv(clientID), keyTimeline(clientID), Outbox{Client: clientID}.key()}
	if len(work) == 0 && b == nil {
		return applyResult(scriptApply.Run(ctx, s.rdb, keys, args...), outboxed)
	}
	pipe := s.hot.Pipeline()
	applied := scriptApply.Eval(ctx, pipe, keys, args...)
	var claimed *redis.Cmd
	var claimedWork []Work
	if consumer := b.claim(); consumer != "" {
		// Routine work for now is queued and claimed for this process in
		// one script; the rest goes the usual way.
		var rest []Work
		keys := []string{keyStream}
		claimArgs := []any{groupWorkers, consumer, SendClaimTTL.Milliseconds(), claimKeep.Milliseconds()}
		for _, w := range work {
			if w.At.IsZero() && !w.Urgent && w.SendClaim != "" {
				claimArgs = append(claimArgs, w.ID, w.Payload)
				claimedWork = append(claimedWork, w)
			} else {
				rest = append(rest, w)
			}
		}
		if !s.isCluster() {
			for _, w := range claimedWork {
				keys = append(keys, keySent(w.SendClaim), keySending(w.SendClaim))
			}
		}
		if len(claimedWork) > 0 {
			claimed = scriptSubmitClaim.Eval(ctx, pipe, keys, claimArgs...)
			work = rest
		}
	}
	cmds := s.addWork(ctx, pipe, work)
	var left *redis.Cmd
	if b != nil {
		left = scriptUnlock.Eval(ctx, pipe, []string{keyLock(clientID), keyPending(clientID)}, b.Lock)
		// A failed ZRem only leaves the client on the sweeper's list: its
		// next round finds nothing pending and takes it off.
		pipe.ZRem(ctx, keyPendingClients, clientID)
	}
	// Each command's answer is read below: the apply's decides, the work's
	// and the unlock's are reported after it.
	_, _ = pipe.Exec(ctx)
	if claimed != nil {
		if err := claimed.Err(); err != nil {
			return false, nil, fmt.Errorf("submit work: %w", err)
		}
		b.Claimed = preClaimed(claimed.Val(), time.Now()) // real time: the claim runs on Redis's clock, not the store's
	}
	ok, written, err := applyResult(applied, outboxed)
	if err != nil {
		return false, nil, err
	}
	if err := workErr(cmds); err != nil {
		return false, nil, err
	}
	if b != nil {
		b.Unlocked = true
		if more, err := left.Int(); err != nil {
			b.Unlocked = false // the caller unlocks again
		} else if more > 0 {
			b.More = true
			if err := s.rdb.ZAddNX(ctx, keyPendingClients, redis.Z{Score: float64(s.now().UnixMilli()), Member: clientID}).Err(); err != nil {
				return false, nil, err
			}
		}
	}
	return ok, written, nil
}

// applyResult reads apply.lua's answer: 0, 1, or {1, outbox ids…} (one per
// event outboxed, in order).
func applyResult(cmd *redis.Cmd, outboxed []OutboxEntry) (bool, []OutboxEntry, error) {
	v, err := cmd.Result()
	if err != nil {
		return false, nil, fmt.Errorf("apply: %w", err)
	}
	switch r := v.(type) {
	case int64:
		return r == 1, nil, nil
	case []any:
		if len(r)-1 != len(outboxed) {
			return true, nil, fmt.Errorf("apply: %d outbox ids for %d events", len(r)-1, len(outboxed))
		}
		for i := range outboxed {
			outboxed[i].ID, _ = r[i+1].(string)
		}
		return true, outboxed, nil
	}
	return false, nil, fmt.Errorf("apply: unexpected answer %v", v)
}

func (s *Store) applyArgs(messageID string, conv []byte, events []Event) ([]any, []OutboxEntry) {
	now := strconv.FormatInt(s.now().UnixMilli(), 10)
	args := []any{messageID, convArg(conv), now, ""}
	var outboxed []OutboxEntry
	selector := make([]any, len(events))
	for i, e := range events {
		selector[i] = 0
		if s.observer != nil && s.observer.Outboxed(eventType(e)) {
			raw, _ := json.Marshal([]string(e))
			selector[i] = string(raw)
			outboxed = append(outboxed, OutboxEntry{Fields: e})
		}
		if head, tail, ok := packEvent(e); ok {
			args = append(args, head+tail)
			continue
		}
		fields := append([]string{"at", now}, e...)
		raw, _ := json.Marshal(fields)
		args = append(args, raw)
	}
	if len(outboxed) > 0 {
		raw, _ := json.Marshal(selector)
		args[3] = string(raw)
	}
	return args, outboxed
}

func convArg(conv []byte) string {
	switch {
	case conv == nil:
		return ""
	case len(conv) == 0:
		return "-"
	}
	return string(conv)
}

// Unlock releases a client's processing lock and, when nothing is pending,
// takes the client off the sweeper's list. It reports whether messages
// arrived meanwhile (the caller processes them).
func (s *Store) Unlock(ctx context.Context, clientID, token string) (more bool, err error) {
	// One round trip: release, count what is left, and take the client off
	// the sweeper's list (put back below in the rare case more arrived).
	pipe := s.rdb.Pipeline()
	left := scriptUnlock.Eval(ctx, pipe, []string{keyLock(clientID), keyPending(clientID)}, token)
	// A failed ZRem only leaves the client on the sweeper's list: its next
	// round finds nothing pending and takes it off.
	pipe.ZRem(ctx, keyPendingClients, clientID)
	// The unlock's own answer is read below.
	_, _ = pipe.Exec(ctx)
	n, err := left.Int()
	if err != nil {
		return false, fmt.Errorf("unlock: %w", err)
	}
	if n > 0 {
		if err := s.rdb.ZAddNX(ctx, keyPendingClients, redis.Z{Score: float64(s.now().UnixMilli()), Member: clientID}).Err(); err != nil {
			return true, fmt.Errorf("unlock: put the client back on the sweeper's list: %w", err)
		}
		return true, nil
	}
	return false, nil
}

var scriptUnlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return redis.call('LLEN', KEYS[2])`)

// StalePending lists clients whose messages have waited longer than age
// (their worker crashed); the sweeper processes them.
func (s *Store) StalePending(ctx context.Context, now time.Time, age time.Duration, max int64) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, keyPendingClients, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.Add(-age).UnixMilli(), 10), Count: max}).Result()
}
