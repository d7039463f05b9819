package store

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Escalation statuses.
const (
	EscOpen         = "open"
	EscAcknowledged = "acknowledged"
	EscResolved     = "resolved"
)

// Escalation is one crisis or concern about a client and what was done about it.
type Escalation struct {
	ID       string   `json:"id"`
	AgencyID string   `json:"agency_id"`
	ClientID string   `json:"client_id"`
	Level    string   `json:"level"` // "crisis" or "concern"
	Status   string   `json:"status"`
	Reasons  []string `json:"reasons"`
	// Signals explain the detector's verdicts (for staff in the console; never in an SMS).
	Signals []string `json:"signals,omitempty"`
	// Policy is a snapshot taken when the escalation opened.
	Policy  Policy `json:"policy"`
	Step    int    `json:"step"`
	Round   int    `json:"round"`
	AckCode string `json:"ack_code,omitempty"`
	// Alerting is set while an alert of the escalation is decided but not
	// yet queued: the id of the step timer that advanced it, or the
	// escalation service's marker for an opening. Empty otherwise.
	Alerting   string       `json:"alerting,omitempty"`
	Alerted    []string     `json:"alerted,omitempty"` // staff ids holding an ack code
	Opened     time.Time    `json:"opened_at"`
	AckedAt    *time.Time   `json:"acknowledged_at,omitempty"`
	AckedBy    string       `json:"acknowledged_by,omitempty"`
	ResolvedAt *time.Time   `json:"resolved_at,omitempty"`
	Audit      []AuditEntry `json:"audit"`
}

// AuditEntry is one thing that happened to an escalation: who, what, when.
type AuditEntry struct {
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"` // "system", "client:<id>", "staff:<id>", "api"
	Action    string    `json:"action"`
	Detail    string    `json:"detail,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Status    string    `json:"delivery_status,omitempty"`
}

func keyEscalation(agency, id string) string { return agencyTag(agency) + ":esc:" + id }
func keyEscalations(agency string) string    { return agencyTag(agency) + ":escs" }
func keyOpenEscalation(client string) string { return clientTag(client) + ":esc-open" }
func keyAckCodes(agency, staff string) string {
	return agencyTag(agency) + ":ack:" + staff
}

// OpenEscalation creates e unless the client already has an open one of the
// same or higher level; it returns the escalation that is open and whether it is new.
//
// Signals racing for one client open one escalation: the record is stored
// and listed first (one MULTI in the agency's slot), then the client's
// pointer is claimed with SETNX; a loser takes its record back and joins the
// winner. A pointer to a closed escalation is replaced only if it still names
// it (compare and set), so two openers cannot both replace it. A crash
// between the two steps leaves a listed open escalation, never a hidden one.
func (s *Store) OpenEscalation(ctx context.Context, e *Escalation) (*Escalation, bool, error) {
	now := s.now().UTC()
	e.ID = NewID("es", now)
	e.Opened = now
	e.Status = EscOpen
	body, err := json.Marshal(e)
	if err != nil {
		return nil, false, err
	}
	key := keyEscalation(e.AgencyID, e.ID)
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, key, body, 0)
	pipe.ZAdd(ctx, keyEscalations(e.AgencyID), redis.Z{Member: e.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, false, fmt.Errorf("store escalation: %w", err)
	}
	takeBack := func() {
		pipe := s.rdb.TxPipeline()
		pipe.Del(ctx, key)
		pipe.ZRem(ctx, keyEscalations(e.AgencyID), e.ID)
		_, _ = pipe.Exec(ctx)
	}
	ptr := keyOpenEscalation(e.ClientID)
	for range 10 {
		ok, err := s.rdb.SetNX(ctx, ptr, e.ID, 0).Result()
		if err != nil {
			return nil, false, fmt.Errorf("open escalation: %w", err)
		}
		if !ok {
			id, err := s.rdb.Get(ctx, ptr).Result()
			if errors.Is(err, redis.Nil) {
				continue // closed meanwhile: claim again
			}
			if err != nil {
				return nil, false, fmt.Errorf("open escalation: %w", err)
			}
			cur, err := s.Escalation(ctx, e.AgencyID, id)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, false, fmt.Errorf("open escalation: %w", err)
			}
			if err == nil && cur.Status == EscOpen {
				takeBack()
				return cur, false, nil
			}
			// A stale pointer (closed escalation): replace it if it still names it.
			swapped, err := scriptSwapIfEquals.Run(ctx, s.rdb, []string{ptr}, id, e.ID).Int()
			if err != nil {
				return nil, false, fmt.Errorf("open escalation: %w", err)
			}
			if swapped == 0 {
				continue
			}
		}
		return e, true, nil
	}
	takeBack()
	return nil, false, fmt.Errorf("open escalation for client %s: too much contention", e.ClientID)
}

var scriptSwapIfEquals = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`)

// Escalation loads one escalation of an agency.
func (s *Store) Escalation(ctx context.Context, agency, id string) (*Escalation, error) {
	var e Escalation
	if err := s.getJSON(ctx, keyEscalation(agency, id), &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ErrUnchanged is returned by an update function that decided to change nothing.
var ErrUnchanged = errors.New("unchanged")

// UpdateEscalation changes an escalation atomically (optimistic, retried):
// an ACK and a step timer racing each other both see a consistent record.
func (s *Store) UpdateEscalation(ctx context.Context, agency, id string, change func(*Escalation) error) (*Escalation, error) {
	key := keyEscalation(agency, id)
	var out *Escalation
	for attempt := range updateAttempts {
		if attempt > 2 {
			// Many writers on one record (an ACK, step timers, delivery
			// reports, joined signals): spread the retries out.
			if err := pause(ctx, time.Duration(rand.Int64N(int64(attempt)*int64(time.Millisecond)))); err != nil {
				return nil, err
			}
		}
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			raw, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			var e Escalation
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			if err := change(&e); err != nil {
				return err
			}
			body, err := json.Marshal(&e)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, body, 0)
				return nil
			})
			out = &e
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return out, err
		}
		// The client's open pointer lives in the client's hash slot: cleared
		// after the record, so a crash leaves a stale pointer that
		// OpenEscalation recognises, never a lost escalation.
		if out.Status != EscOpen {
			_ = scriptDelIfEquals.Run(ctx, s.rdb, []string{keyOpenEscalation(out.ClientID)}, out.ID).Err()
		}
		return out, nil
	}
	return nil, fmt.Errorf("update escalation %s: too much contention", id)
}

// updateAttempts bounds UpdateEscalation's optimistic retries: each round
// lets at least one writer through, so this many writers at once all land.
const updateAttempts = 100

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Escalations lists an agency's escalations, newest first, optionally by status.
func (s *Store) Escalations(ctx context.Context, agency, status, cursor string, limit int) (Page[*Escalation], error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	max := "+"
	if cursor != "" {
		max = "(" + cursor
	}
	var out []*Escalation
	next := ""
	for len(out) < limit {
		ids, err := s.rdb.ZRevRangeByLex(ctx, keyEscalations(agency), &redis.ZRangeBy{Min: "-", Max: max, Count: int64(limit * 2)}).Result()
		if err != nil {
			return Page[*Escalation]{}, fmt.Errorf("list escalations: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = keyEscalation(agency, id)
		}
		items, err := getMany[Escalation](ctx, s, keys)
		if err != nil {
			return Page[*Escalation]{}, err
		}
		for _, e := range items {
			if status == "" || e.Status == status {
				out = append(out, e)
				if len(out) == limit {
					next = e.ID
					break
				}
			}
		}
		max = "(" + ids[len(ids)-1]
		if len(ids) < limit*2 {
			if len(out) < limit {
				next = ""
			}
			break
		}
	}
	if out == nil {
		out = []*Escalation{}
	}
	return Page[*Escalation]{Items: out, Next: next}, nil
}

// scriptAckCode returns the escalation's code if it holds one, else binds the
// smallest free number: one script, so two alerts of one escalation racing
// (a step timer and its reclaimed copy) cannot take two codes.
var scriptAckCode = redis.NewScript(`
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do
  if held[i + 1] == ARGV[1] then return tonumber(held[i]) end
end
local n = 1
while redis.call('HEXISTS', KEYS[1], tostring(n)) == 1 do n = n + 1 end
redis.call('HSET', KEYS[1], tostring(n), ARGV[1])
return n`)

// scriptReleaseCodes frees the codes bound to one escalation, and only those.
var scriptReleaseCodes = redis.NewScript(`
local held = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #held, 2 do
  if held[i + 1] == ARGV[1] then redis.call('HDEL', KEYS[1], held[i]); n = n + 1 end
end
return n`)

// ClaimAckCode gives a staff member the smallest number not in use by one of
// their open alerts, bound to the escalation (goalert's short SMS codes).
func (s *Store) ClaimAckCode(ctx context.Context, agency, staff, escalation string) (string, error) {
	n, err := scriptAckCode.Run(ctx, s.rdb, []string{keyAckCodes(agency, staff)}, escalation).Int()
	if err != nil {
		return "", fmt.Errorf("claim ack code: %w", err)
	}
	return strconv.Itoa(n), nil
}

// AckCodes returns a staff member's open codes: code → escalation id.
func (s *Store) AckCodes(ctx context.Context, agency, staff string) (map[string]string, error) {
	return s.rdb.HGetAll(ctx, keyAckCodes(agency, staff)).Result()
}

// ReleaseAckCodes frees the codes of an escalation that is no longer open.
func (s *Store) ReleaseAckCodes(ctx context.Context, agency, escalation string, staff []string) error {
	for _, st := range staff {
		// Checked and deleted in one script: a code freed and claimed again
		// by another escalation in between is not taken from it.
		if err := scriptReleaseCodes.Run(ctx, s.rdb, []string{keyAckCodes(agency, st)}, escalation).Err(); err != nil {
			return fmt.Errorf("release ack codes: %w", err)
		}
	}
	return nil
}

// The crisis path (DESIGN: a crisis message → the alert handed to the
// provider in as few round trips as possible). Each round trip waits in the
// client pool and the scheduler under load, so the path is: one round trip
// that queues the safety reply and reads the first alert's case manager
// with the ACK codes they hold, and one that opens the escalation, binds the
// ACK code and queues the alert and the next step's timer (scripts/crisis.lua).
// On a Cluster the same promises hold with one script per hash slot.

var (
	//go:embed scripts/crisis.lua
	crisisLua    string
	scriptCrisis = redis.NewScript(crisisLua)
)

// isCluster reports whether keys of different hash slots must be written
// in separate commands.
func (s *Store) isCluster() bool {
	_, ok := s.rdb.(*redis.ClusterClient)
	return ok
}

// Guarded is work done at most once within Every (the safety reply's
// spacing), guarded by the Once marker Key (the same marker as Once).
type Guarded struct {
	Key   string
	Every time.Duration
	Work  []Work
}

// CrisisStart is the first round trip of a crisis.
type CrisisStart struct {
	Agency string
	// Staff is the case manager whose record and ACK codes to read ("" none).
	Staff string
	// Safety, when not nil, is queued unless its marker says it went out
	// within its spacing.
	Safety *Guarded
	// Consumer, when not "", is this process's queue consumer: the urgent
	// work queued is claimed for it at once (see Worker.Name).
	Consumer string
}

// CrisisStarted is what the first round trip found and did.
type CrisisStarted struct {
	CM     *CaseManager      // nil: no such case manager
	Codes  map[string]string // the case manager's ACK codes: code → escalation id
	Queued bool              // the safety work was queued (false: within its spacing)
	// Claimed is urgent work now pending for Consumer: the caller hands it
	// to its workers (a crash leaves it for another process's reclaimer).
	Claimed []Item
}

// StartCrisis queues the safety reply (unless one went out within its
// spacing) and reads the case manager to alert with their ACK codes, in
// one round trip on one Redis node.
func (s *Store) StartCrisis(ctx context.Context, r CrisisStart) (*CrisisStarted, error) {
	out := &CrisisStarted{}
	pipe := s.rdb.Pipeline()
	var cm *redis.StringCmd
	var codes *redis.MapStringStringCmd
	if r.Staff != "" {
		cm = pipe.Get(ctx, keyCaseManager(r.Agency, r.Staff))
		codes = pipe.HGetAll(ctx, keyAckCodes(r.Agency, r.Staff))
	}
	var safety *redis.Cmd
	var once *redis.Cmd
	now := s.now().UnixMilli()
	if g := r.Safety; g != nil {
		if s.isCluster() {
			// The marker and the queue live in different slots: check the
			// marker here, queue below.
			once = scriptOnce.EvalSha(ctx, pipe, []string{"once:" + g.Key}, now, now+g.Every.Milliseconds(), g.Every.Milliseconds())
		} else {
			args := append([]any{"safety", now, now + g.Every.Milliseconds(), g.Every.Milliseconds()}, workArgs(r.Consumer, g.Work)...)
			safety = scriptCrisis.EvalSha(ctx, pipe, []string{"once:" + g.Key, keyUrgent, keyStream, keyDue, keyItems}, args...)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !isNoScript(err) {
		return nil, fmt.Errorf("start crisis: %w", err)
	}
	if cm != nil {
		raw, err := cm.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fmt.Errorf("load case manager: %w", err)
		default:
			out.CM = &CaseManager{}
			if err := json.Unmarshal(raw, out.CM); err != nil {
				return nil, fmt.Errorf("decode case manager: %w", err)
			}
		}
		if out.Codes, err = codes.Result(); err != nil {
			return nil, fmt.Errorf("load ack codes: %w", err)
		}
	}
	g := r.Safety
	switch {
	case safety != nil:
		if isNoScript(safety.Err()) {
			// Redis lost its script cache: Run loads it (nothing was done).
			args := append([]any{"safety", now, now + g.Every.Milliseconds(), g.Every.Milliseconds()}, workArgs(r.Consumer, g.Work)...)
			safety = scriptCrisis.Run(ctx, s.rdb, []string{"once:" + g.Key, keyUrgent, keyStream, keyDue, keyItems}, args...)
		}
		res, err := safety.Slice()
		if err != nil || len(res) != 2 {
			return nil, fmt.Errorf("queue safety reply: %v %w", res, err)
		}
		n, _ := res[0].(int64)
		out.Queued, out.Claimed = n == 1, claimedItems(res[1])
	case once != nil:
		if isNoScript(once.Err()) {
			once = scriptOnce.Run(ctx, s.rdb, []string{"once:" + g.Key}, now, now+g.Every.Milliseconds(), g.Every.Milliseconds())
		}
		n, err := once.Int()
		if err != nil {
			return nil, fmt.Errorf("safety marker: %w", err)
		}
		if n == 1 {
			claimed, err := s.queueClaimed(ctx, r.Consumer, g.Work)
			if err != nil {
				// Not queued: let the reprocessed message try again.
				_ = s.Forget(context.WithoutCancel(ctx), g.Key)
				return nil, fmt.Errorf("queue safety reply: %w", err)
			}
			out.Queued, out.Claimed = true, claimed
		}
	}
	return out, nil
}

// queueClaimed queues work in one script on the queue's slot and claims the
// urgent entries for consumer ("" none).
func (s *Store) queueClaimed(ctx context.Context, consumer string, work []Work) ([]Item, error) {
	res, err := scriptCrisis.Run(ctx, s.rdb, []string{keyUrgent, keyStream, keyDue, keyItems}, append([]any{"queue"}, workArgs(consumer, work)...)...).Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("queue: unexpected answer %v", res)
	}
	return claimedItems(res[1]), nil
}

// workArgs encodes work for crisis.lua's queue.
func workArgs(consumer string, work []Work) []any {
	args := []any{groupWorkers, consumer, len(work)}
	for _, w := range work {
		kind, at := "s", int64(0)
		switch {
		case !w.At.IsZero():
			kind, at = "d", w.At.UnixMilli()
		case w.Urgent:
			kind = "u"
		}
		args = append(args, kind, w.ID, at, w.Payload)
	}
	return args
}

// claimedItems reads the urgent entries crisis.lua claimed (XREADGROUP's
// entry list).
func claimedItems(v any) []Item { return claimedFrom(v, keyUrgent) }

// claimedFrom reads the entries of stream an XREADGROUP in a script
// returned as items claimed once.
func claimedFrom(v any, stream string) []Item {
	list, _ := v.([]any)
	var out []Item
	for _, e := range list {
		pair, _ := e.([]any)
		if len(pair) != 2 {
			continue
		}
		sid, _ := pair[0].(string)
		fields, _ := pair[1].([]any)
		it := Item{Urgent: stream == keyUrgent, Deliveries: 1, streamID: sid, stream: stream}
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			v, _ := fields[i+1].(string)
			switch k {
			case "id":
				it.ID = v
			case "p":
				it.Payload = []byte(v)
			}
		}
		out = append(out, it)
	}
	return out
}

// NewAlerted is a new escalation whose first alert is decided.
type NewAlerted struct {
	// Esc is complete: ID and Opened set by the caller (the alert's id and
	// text depend on them), its ACK code, who is alerted and the audit.
	Esc *Escalation
	// Staff holds Esc.AckCode ("" when the alert carries no code).
	Staff string
	// Work alerts and plans the next step.
	Work []Work
	// Consumer, when not "", gets the urgent work claimed (as CrisisStart).
	Consumer string
}

// Opened is what OpenAlerted did: exactly one of Opened, Joined and Code is set.
type Opened struct {
	Opened bool
	// Joined is the client's open escalation: nothing was written.
	Joined string
	// Code is the smallest free ACK code now, when it is not Esc.AckCode any
	// more (another alert took it meanwhile): nothing was written, rebuild
	// the alert with it and call again.
	Code    string
	Claimed []Item
}

// OpenAlerted opens an escalation with its first alert in one atomic script
// on one Redis node: unless the client has an open escalation (then it is
// joined and nothing is written), the record is stored and listed, the
// client's pointer set, the ACK code bound and the alert and next step
// queued. On a Cluster the steps run one hash slot at a time, as
// OpenEscalation's: a crash between them leaves a listed open escalation,
// never a hidden one.
func (s *Store) OpenAlerted(ctx context.Context, n *NewAlerted) (Opened, error) {
	e := n.Esc
	body, err := json.Marshal(e)
	if err != nil {
		return Opened{}, err
	}
	ptr, rec, list, ack := keyOpenEscalation(e.ClientID), keyEscalation(e.AgencyID, e.ID), keyEscalations(e.AgencyID), keyAckCodes(e.AgencyID, n.Staff)
	if !s.isCluster() {
		args := append([]any{"open", keyEscalation(e.AgencyID, ""), e.ID, body, e.AckCode}, workArgs(n.Consumer, n.Work)...)
		res, err := scriptCrisis.Run(ctx, s.rdb, []string{ptr, rec, list, ack, keyUrgent, keyStream, keyDue, keyItems}, args...).Slice()
		if err != nil {
			return Opened{}, fmt.Errorf("open escalation: %w", err)
		}
		return openedOf(res)
	}
	// Record first, then the pointer (as OpenEscalation): a pointer only
	// ever names a stored record, so a racing opener that finds the pointer
	// taken reads the winner's record and joins it. The ACK code is bound
	// only once the pointer is ours: a loser never holds a code, even for a
	// moment, so the winner's is the smallest free one.
	if _, err := scriptCrisis.Run(ctx, s.rdb, []string{rec, list, ack}, "record", e.ID, body, "").Slice(); err != nil {
		return Opened{}, fmt.Errorf("open escalation: %w", err)
	}
	takeBack := func(pointer bool) {
		ctx := context.WithoutCancel(ctx)
		pipe := s.rdb.TxPipeline()
		pipe.Del(ctx, rec)
		pipe.ZRem(ctx, list, e.ID)
		_, _ = pipe.Exec(ctx)
		if pointer {
			_ = scriptReleaseCodes.Run(ctx, s.rdb, []string{ack}, e.ID).Err()
			_ = scriptDelIfEquals.Run(ctx, s.rdb, []string{ptr}, e.ID).Err()
		}
	}
	stale := ""
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			takeBack(false)
			return Opened{}, fmt.Errorf("open escalation for client %s: too much contention", e.ClientID)
		}
		res, err := scriptCrisis.Run(ctx, s.rdb, []string{ptr}, "pointer", e.ID, stale).Slice()
		if err != nil {
			takeBack(false)
			return Opened{}, fmt.Errorf("open escalation: %w", err)
		}
		if res[0] == "ok" {
			break
		}
		cur, _ := res[1].(string)
		held, err := s.Escalation(ctx, e.AgencyID, cur)
		if err == nil && held.Status == EscOpen {
			takeBack(false)
			return Opened{Joined: cur}, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			takeBack(false)
			return Opened{}, fmt.Errorf("open escalation: %w", err)
		}
		stale = cur // closed: replace it if it still names it
	}
	if e.AckCode != "" && n.Staff != "" {
		res, err := scriptCrisis.Run(ctx, s.rdb, []string{rec, list, ack}, "record", e.ID, body, e.AckCode).Slice()
		if err != nil {
			takeBack(true)
			return Opened{}, fmt.Errorf("open escalation: %w", err)
		}
		if res[0] == "code" {
			takeBack(true) // nothing written, as on one node
			return openedOf(res)
		}
	}
	claimed, err := s.queueClaimed(ctx, n.Consumer, n.Work)
	if err != nil {
		// Undone, so that the message, processed again, opens and alerts
		// rather than joining an escalation whose alert never left.
		takeBack(true)
		return Opened{}, fmt.Errorf("queue alert: %w", err)
	}
	return Opened{Opened: true, Claimed: claimed}, nil
}

func openedOf(res []any) (Opened, error) {
	if len(res) != 2 {
		return Opened{}, fmt.Errorf("open escalation: unexpected answer %v", res)
	}
	switch res[0] {
	case "opened":
		return Opened{Opened: true, Claimed: claimedItems(res[1])}, nil
	case "joined":
		id, _ := res[1].(string)
		return Opened{Joined: id}, nil
	case "code":
		n, _ := res[1].(int64)
		return Opened{Code: strconv.FormatInt(n, 10)}, nil
	}
	return Opened{}, fmt.Errorf("open escalation: unexpected answer %v", res)
}
