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
	// yet recorded as sent: the id of the step timer that advanced it, or
	// the escalation service's marker for an opening. Empty otherwise.
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

// Every escalation key lives in the agency's hash slot: the record, the
// agency's list, the client's open pointer and the staff members' ACK codes,
// so each rule over them is one script on one node and on a Cluster alike.
func keyEscalation(agency, id string) string { return agencyTag(agency) + ":esc:" + id }
func keyEscalations(agency string) string    { return agencyTag(agency) + ":escs" }

// keyUnresolved indexes the agency's escalations not yet resolved (open or
// acknowledged), so the console's inbox reads those alone, not every
// escalation the agency ever had.
func keyUnresolved(agency string) string { return agencyTag(agency) + ":escs:unresolved" }

// keyClientEscalations indexes one client's escalations (lex sorted set of
// ids, time-ordered), for the client's timeline.
func keyClientEscalations(agency, client string) string {
	return agencyTag(agency) + ":escs:client:" + client
}

// keyOpenEscalation names the client's open escalation, and nothing once it closed.
func keyOpenEscalation(agency, client string) string {
	return agencyTag(agency) + ":esc-open:" + client
}
func keyAckCodes(agency, staff string) string { return agencyTag(agency) + ":ack:" + staff }

var (
	//go:embed scripts/ackcode.lua
	ackCodeLua string
	//go:embed scripts/claimcode.lua
	claimCodeLua string
	//go:embed scripts/escopen.lua
	escOpenLua string
	//go:embed scripts/escupdate.lua
	escUpdateLua string

	scriptClaimCode = redis.NewScript(ackCodeLua + claimCodeLua)
	// escOpenSrc runs inside pipelines, by its text: EVAL needs no script cache.
	escOpenSrc      = ackCodeLua + escOpenLua
	scriptEscUpdate = redis.NewScript(escUpdateLua)
)

// Opening is an escalation to open unless its client has one open.
type Opening struct {
	// Esc is the new escalation; OpenOrJoinEscalation sets its ID, Opened
	// and Status.
	Esc *Escalation
	// Staff, when not "", is the case manager the first alert goes to: an
	// ACK code is bound for them with the opening, and their record read.
	Staff string
	// Safety, when not nil, is queued in the same round trip, before the
	// opening and whether or not the escalation is joined (QueueClaimed).
	Safety *Queued
}

// OpenResult is what OpenOrJoinEscalation did: either Esc opened or Joined.
type OpenResult struct {
	// Esc is the escalation opened, as stored; nil when joined.
	Esc *Escalation
	// Joined is the client's open escalation: nothing was written for it.
	Joined string
	// Code is the ACK code bound to Esc for Opening.Staff ("" none).
	Code string
	// CM is Opening.Staff's record (nil: no such case manager).
	CM *CaseManager
	// Safety is what queueing Opening.Safety did.
	Safety QueueResult
}

// OpenOrJoinEscalation opens o.Esc unless its client has an open escalation,
// which it then names: at most one escalation per client is open. The
// record, the agency's list, the client's pointer and the first alert's ACK
// code are written by one script in the agency's hash slot; the safety reply
// and the case manager's record ride the same round trip.
func (s *Store) OpenOrJoinEscalation(ctx context.Context, o Opening) (OpenResult, error) {
	e := *o.Esc
	now := s.now().UTC()
	e.ID, e.Opened, e.Status = NewID("es", now), now, EscOpen
	body, err := json.Marshal(&e)
	if err != nil {
		return OpenResult{}, fmt.Errorf("encode escalation: %w", err)
	}
	pipe := s.rdb.Pipeline()
	var safety *redis.Cmd
	if o.Safety != nil {
		keys, args := o.Safety.script(s.now())
		safety = pipe.Eval(ctx, queueLua, keys, args...)
	}
	keys := []string{keyOpenEscalation(e.AgencyID, e.ClientID), keyEscalation(e.AgencyID, e.ID), keyEscalations(e.AgencyID),
		Outbox{Agency: e.AgencyID}.key(), keyWebhookEndpoints(e.AgencyID), keyUnresolved(e.AgencyID), keyClientEscalations(e.AgencyID, e.ClientID)}
	var cm *redis.StringCmd
	if o.Staff != "" {
		keys = append(keys, keyAckCodes(e.AgencyID, o.Staff))
		cm = pipe.Get(ctx, keyCaseManager(e.AgencyID, o.Staff))
	}
	open := pipe.Eval(ctx, escOpenSrc, keys, e.ID, body)
	_, _ = pipe.Exec(ctx) // each command's answer is read below
	var out OpenResult
	if safety != nil {
		if out.Safety, err = queueResult(safety); err != nil {
			return OpenResult{}, fmt.Errorf("queue safety reply: %w", err)
		}
	}
	res, err := open.Slice()
	if err != nil || len(res) < 2 {
		return OpenResult{}, fmt.Errorf("open escalation for client %s: %v %w", e.ClientID, res, err)
	}
	if res[0] == "joined" {
		out.Joined, _ = res[1].(string)
		return out, nil
	}
	out.Esc = &e
	if len(res) == 3 {
		if id, _ := res[2].(string); id != "" {
			s.observeOutbox(ctx, Outbox{Agency: e.AgencyID}, []OutboxEntry{{ID: id, Fields: []string{"before", "", "esc", string(body)}}})
		}
	}
	if n, _ := res[1].(int64); n > 0 {
		out.Code = strconv.FormatInt(n, 10)
	}
	if cm != nil {
		raw, err := cm.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return OpenResult{}, fmt.Errorf("load case manager %s: %w", o.Staff, err)
		default:
			out.CM = &CaseManager{}
			if err := json.Unmarshal(raw, out.CM); err != nil {
				return OpenResult{}, fmt.Errorf("decode case manager %s: %w", o.Staff, err)
			}
		}
	}
	return out, nil
}

// moveOpenPointers moves the clients' open-escalation pointers of schema 1
// ({c:<client>}:esc-open) into their agencies' hash slots; it can be run again.
func (s *Store) moveOpenPointers(ctx context.Context) error {
	agencies, err := s.rdb.ZRange(ctx, keyAgencies(), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("list agencies: %w", err)
	}
	for _, agency := range agencies {
		cursor := ""
		for {
			page, err := s.Escalations(ctx, agency, "", cursor, 200)
			if err != nil {
				return err
			}
			for _, e := range page.Items {
				if e.Status == EscOpen {
					if err := s.rdb.SetNX(ctx, keyOpenEscalation(agency, e.ClientID), e.ID, 0).Err(); err != nil {
						return fmt.Errorf("move open pointer of client %s: %w", e.ClientID, err)
					}
				}
				if err := s.rdb.Del(ctx, clientTag(e.ClientID)+":esc-open").Err(); err != nil {
					return fmt.Errorf("drop schema 1 pointer of client %s: %w", e.ClientID, err)
				}
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
	}
	return nil
}

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

// UpdateEscalation changes an escalation atomically: change runs on the
// stored record and the result is written only if the record did not change
// meanwhile, else change runs again on the new one. An ACK and a step timer
// racing each other both see a consistent record. An escalation leaving
// "open" frees its client's pointer in the same write.
func (s *Store) UpdateEscalation(ctx context.Context, agency, id string, change func(*Escalation) error) (*Escalation, error) {
	raw, err := s.rdb.Get(ctx, keyEscalation(agency, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load escalation %s: %w", id, err)
	}
	return s.updateEscalation(ctx, agency, id, raw, change)
}

// ChangeEscalation is UpdateEscalation from e as the caller last read or
// wrote it: while the stored record is still e, it takes one round trip.
func (s *Store) ChangeEscalation(ctx context.Context, e *Escalation, change func(*Escalation) error) (*Escalation, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode escalation %s: %w", e.ID, err)
	}
	return s.updateEscalation(ctx, e.AgencyID, e.ID, raw, change)
}

func (s *Store) updateEscalation(ctx context.Context, agency, id string, raw []byte, change func(*Escalation) error) (*Escalation, error) {
	for attempt := range updateAttempts {
		if attempt > 2 {
			// Many writers on one record (an ACK, step timers, delivery
			// reports, joined signals): spread the retries out.
			if err := pause(ctx, time.Duration(rand.Int64N(int64(attempt)*int64(time.Millisecond)))); err != nil {
				return nil, err
			}
		}
		var e Escalation
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("decode escalation %s: %w", id, err)
		}
		before := e.Status
		if err := change(&e); err != nil {
			return nil, err
		}
		body, err := json.Marshal(&e)
		if err != nil {
			return nil, fmt.Errorf("encode escalation %s: %w", id, err)
		}
		closed, resolved := "0", "0"
		if e.Status != EscOpen {
			closed = "1"
		}
		if e.Status == EscResolved {
			resolved = "1"
		}
		changed := ""
		if e.Status != before {
			changed = before
		}
		res, err := scriptEscUpdate.Run(ctx, s.rdb, []string{keyEscalation(agency, id), keyOpenEscalation(agency, e.ClientID), Outbox{Agency: agency}.key(), keyWebhookEndpoints(agency),
			keyUnresolved(agency)}, raw, body, id, closed, changed, resolved).Slice()
		if err != nil {
			return nil, fmt.Errorf("save escalation %s: %w", id, err)
		}
		switch n, _ := res[0].(int64); {
		case n == 1:
			if out, _ := res[len(res)-1].(string); len(res) == 2 && out != "" {
				s.observeOutbox(ctx, Outbox{Agency: agency}, []OutboxEntry{{ID: out, Fields: []string{"before", before, "esc", string(body)}}})
			}
			return &e, nil
		case n == -1:
			return nil, ErrNotFound
		case len(res) == 2:
			cur, _ := res[1].(string)
			raw = []byte(cur) // changed meanwhile: change again
		default:
			return nil, fmt.Errorf("save escalation %s: unexpected answer %v", id, res)
		}
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

// Escalations lists an agency's escalations, newest first, optionally by
// status.
func (s *Store) Escalations(ctx context.Context, agency, status, cursor string, limit int) (Page[*Escalation], error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	max := "+"
	if cursor != "" {
		max = "(" + cursor
	}
	// Open and acknowledged ones are read from their own index, not from
	// every escalation the agency had.
	list := keyEscalations(agency)
	if status == EscOpen || status == EscAcknowledged {
		list = keyUnresolved(agency)
	}
	var out []*Escalation
	next := ""
	for len(out) < limit {
		ids, err := s.rdb.ZRevRangeByLex(ctx, list, &redis.ZRangeBy{Min: "-", Max: max, Count: int64(limit * 2)}).Result()
		if err != nil {
			return Page[*Escalation]{}, fmt.Errorf("list escalations: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		items, err := s.escalationsByID(ctx, agency, ids)
		if err != nil {
			return Page[*Escalation]{}, fmt.Errorf("list escalations: %w", err)
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

// escalationsByID loads the agency's escalations of ids in one round trip,
// in that order, leaving out ids of no record.
func (s *Store) escalationsByID(ctx context.Context, agency string, ids []string) ([]*Escalation, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = keyEscalation(agency, id)
	}
	return getMany[Escalation](ctx, s, keys)
}

// UnresolvedEscalations returns the agency's escalations that are open or
// acknowledged, from their index (keyUnresolved), in no particular order.
func (s *Store) UnresolvedEscalations(ctx context.Context, agency string) ([]*Escalation, error) {
	ids, err := s.rdb.ZRange(ctx, keyUnresolved(agency), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list unresolved escalations: %w", err)
	}
	items, err := s.escalationsByID(ctx, agency, ids)
	if err != nil {
		return nil, fmt.Errorf("list unresolved escalations: %w", err)
	}
	// The record decides: an escalation resolved by a binary older than
	// the index is still in it, and leaves it now.
	out := make([]*Escalation, 0, len(items))
	listed := map[string]bool{}
	for _, e := range items {
		listed[e.ID] = true
		if e.Status != EscResolved {
			out = append(out, e)
		}
	}
	var stale []any
	for _, id := range ids {
		if !listed[id] {
			stale = append(stale, id) // no record
		}
	}
	for _, e := range items {
		if e.Status == EscResolved {
			stale = append(stale, e.ID)
		}
	}
	if len(stale) > 0 {
		if err := s.rdb.ZRem(ctx, keyUnresolved(agency), stale...).Err(); err != nil {
			return nil, fmt.Errorf("list unresolved escalations: %w", err)
		}
	}
	return out, nil
}

// ClientEscalations returns a client's escalations opened at since or
// later, newest first, from the client's index.
func (s *Store) ClientEscalations(ctx context.Context, agency, client string, since time.Time) ([]*Escalation, error) {
	ids, err := s.rdb.ZRevRangeByLex(ctx, keyClientEscalations(agency, client), &redis.ZRangeBy{Min: "[" + idFloor("es", since), Max: "+"}).Result()
	if err != nil {
		return nil, fmt.Errorf("list client escalations: %w", err)
	}
	items, err := s.escalationsByID(ctx, agency, ids)
	if err != nil {
		return nil, fmt.Errorf("list client escalations: %w", err)
	}
	return items, nil
}

// keyIndexed is the newest escalation id IndexEscalations has read of the
// agency's list.
func keyIndexed(agency string) string { return agencyTag(agency) + ":escs:indexed" }

// indexBatch is how many escalation ids IndexEscalations reads at a time.
const indexBatch = 500

// IndexEscalations adds to each agency's unresolved index the unresolved
// escalations opened since it last ran (all of them, the first time), and
// each to its client's index. The scripts that open and resolve
// escalations keep the indexes themselves;
// this catches what a binary older than the index (schema 3) opened while
// both ran during a rolling upgrade. It runs at the upgrade and then as a
// chore of the work runner: three round trips when nothing is new.
func (s *Store) IndexEscalations(ctx context.Context) error {
	agencies, err := s.rdb.ZRange(ctx, keyAgencies(), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("list agencies: %w", err)
	}
	marks := make([]*redis.StringCmd, len(agencies))
	pipe := s.rdb.Pipeline()
	for i, a := range agencies {
		marks[i] = pipe.Get(ctx, keyIndexed(a))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read escalation index marks: %w", err)
	}
	from := make([]string, len(agencies))
	news := make([]*redis.StringSliceCmd, len(agencies))
	pipe = s.rdb.Pipeline()
	for i, a := range agencies {
		from[i] = "-"
		if m := marks[i].Val(); m != "" {
			from[i] = "(" + m
		}
		news[i] = pipe.ZRangeByLex(ctx, keyEscalations(a), &redis.ZRangeBy{Min: from[i], Max: "+", Count: indexBatch})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read new escalations: %w", err)
	}
	for i, a := range agencies {
		for ids := news[i].Val(); len(ids) > 0; {
			if err := s.indexIDs(ctx, a, ids); err != nil {
				return err
			}
			if len(ids) < indexBatch {
				break
			}
			if ids, err = s.rdb.ZRangeByLex(ctx, keyEscalations(a), &redis.ZRangeBy{Min: "(" + ids[len(ids)-1], Max: "+", Count: indexBatch}).Result(); err != nil {
				return fmt.Errorf("read new escalations: %w", err)
			}
		}
	}
	return nil
}

// indexIDs indexes the unresolved escalations among ids (in list order)
// and moves the agency's mark past them.
func (s *Store) indexIDs(ctx context.Context, agency string, ids []string) error {
	items, err := s.escalationsByID(ctx, agency, ids)
	if err != nil {
		return fmt.Errorf("index escalations: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	for _, e := range items {
		if e.Status != EscResolved {
			pipe.ZAdd(ctx, keyUnresolved(agency), redis.Z{Member: e.ID})
		}
		pipe.ZAdd(ctx, keyClientEscalations(agency, e.ClientID), redis.Z{Member: e.ID})
	}
	pipe.Set(ctx, keyIndexed(agency), ids[len(ids)-1], 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("index escalations: %w", err)
	}
	return nil
}

// scriptReleaseCodes frees the codes bound to one escalation, and only
// those, in every codes hash given (all in the agency's slot): a code freed
// and claimed again by another escalation meanwhile is not taken from it.
var scriptReleaseCodes = redis.NewScript(`
local n = 0
for _, key in ipairs(KEYS) do
  local held = redis.call('HGETALL', key)
  for i = 1, #held, 2 do
    if held[i + 1] == ARGV[1] then redis.call('HDEL', key, held[i]); n = n + 1 end
  end
end
return n`)

// ClaimAckCode returns the code the staff member holds for the escalation,
// else binds the smallest number none of their alerts holds (scripts/ackcode.lua).
func (s *Store) ClaimAckCode(ctx context.Context, agency, staff, escalation string) (string, error) {
	n, err := scriptClaimCode.Run(ctx, s.rdb, []string{keyAckCodes(agency, staff)}, escalation).Int()
	if err != nil {
		return "", fmt.Errorf("claim ack code of %s for %s: %w", staff, escalation, err)
	}
	return strconv.Itoa(n), nil
}

// AckCodes returns a staff member's codes: code → escalation id.
func (s *Store) AckCodes(ctx context.Context, agency, staff string) (map[string]string, error) {
	codes, err := s.rdb.HGetAll(ctx, keyAckCodes(agency, staff)).Result()
	if err != nil {
		return nil, fmt.Errorf("load ack codes of %s: %w", staff, err)
	}
	return codes, nil
}

// ReleaseAckCodes frees the codes an escalation holds with these staff
// members, and only those, in one script.
func (s *Store) ReleaseAckCodes(ctx context.Context, agency, escalation string, staff []string) error {
	if len(staff) == 0 {
		return nil
	}
	keys := make([]string, len(staff))
	for i, st := range staff {
		keys[i] = keyAckCodes(agency, st)
	}
	if err := scriptReleaseCodes.Run(ctx, s.rdb, keys, escalation).Err(); err != nil {
		return fmt.Errorf("release ack codes of %s: %w", escalation, err)
	}
	return nil
}
