package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outbound bookkeeping:
//
//	sent:<message id>      provider id of a message already handed to the provider (the sent marker)
//	pid:<provider id>      "<message id> <status>" for delivery reports
//	job:<message id>       the job, so that a "failed" delivery report can retry it
//
// How long they are kept. The sent marker must outlive every way the same
// message id can be handed to a worker again:
//   - its own queue item: MarkSent sets the marker and acknowledges the item
//     in one script on one node or Sentinel, so a sent item is never left
//     pending there, however long an outage. On a Cluster (two slots, no
//     MULTI) an item can be left pending after its marker; it is taken over
//     after the worker idle time (30 s) while any process runs, or when one
//     starts again after an outage of every process;
//   - another worker's copy of a reply: the send claim (1 minute) and the
//     client lock (15 s) bound it to seconds;
//   - work re-run after a crash: a check-in's first question is re-asked only
//     while the occurrence is not late (conversations.LateLimit, 1 h); a
//     nudge is recorded before it is queued, so a re-run counts the check-in
//     missed instead; reclaim windows are minutes (30 s × 10 deliveries);
//   - retries after a failed send carry no marker: the send failed.
//
// So a routine client message keeps its marker 6 h on one node or Sentinel
// (the longest window above is the hour of LateLimit; the rest is margin),
// and 72 h on a Cluster, where an outage of every process must be outlived.
// Alerts, safety replies and staff messages keep 72 h everywhere: the
// escalation API shows each alert's delivery status from these keys, and
// they are few.
//
// The delivery-report record (pid) and the job of a routine message are
// kept 1 h: they exist to retry a send the provider reports failed (Twilio
// reports "failed" at once and "undelivered" within minutes of the carrier's
// receipt), no one reads a routine message's status, and a retry later than
// that would re-ask a question already timing out. A report that finds no
// record changes nothing (a status never moves backwards).
const (
	sentTTL        = 3 * 24 * time.Hour
	routineSentTTL = 6 * time.Hour
	jobTTL         = 6 * time.Hour
	routineJobTTL  = time.Hour
)

//go:embed scripts/marksent.lua
var markSentLua string

var scriptMarkSent = redis.NewScript(markSentLua)

func keySent(id string) string { return "sent:" + id }
func keyJob(id string) string  { return "job:" + id }

// Send claim outcomes.
const (
	SendClaimed   = iota // go ahead
	SendDone             // already sent (the sent marker exists)
	SendBusy             // another worker is sending it now
	SendUncertain        // an earlier attempt died after claiming it: it may have reached the provider
)

// The send claim, sending:<message id>, holds "<start ms> <deadline ms>" on
// Redis's own clock (TIME inside the script, the clock PX used to measure).
// The claim itself ends at the deadline; the key is kept far longer, until
// MarkSent or ReleaseSend deletes it, so that an attempt that died between the
// provider call and the sent marker stays visible to the next one.
func keySending(id string) string { return "sending:" + id }

// claimKeep is how long a send claim's record outlives its deadline: as
// long as a sent marker is kept, so a crashed attempt is never forgotten
// before the marker it failed to write would have been.
const claimKeep = sentTTL

// scriptClaim takes the claim on KEYS[1] (the sent marker is checked by the
// caller or by scriptClaimSend). It returns {0} claimed, {2} busy, or {3,
// start} taken over from an attempt whose deadline passed; a takeover keeps
// the earliest start, the time from which the provider must be searched.
// A value without a deadline (a claim written by an older version, with a
// real PX) counts as busy until it expires.
const luaClaim = `
local function claim(key, ms, keep)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local cur = redis.call('GET', key)
  if not cur then
    redis.call('SET', key, string.format('%.0f %.0f', now, now + ms), 'PX', keep)
    return {0}
  end
  local sp = string.find(cur, ' ')
  if not sp then return {2} end
  local start, deadline = tonumber(string.sub(cur, 1, sp - 1)), tonumber(string.sub(cur, sp + 1))
  if not start or not deadline or deadline > now then return {2} end
  redis.call('SET', key, string.format('%.0f %.0f', start, now + ms), 'PX', keep)
  return {3, string.format('%.0f', start)}
end
`

var scriptClaim = redis.NewScript(luaClaim + `
return claim(KEYS[1], tonumber(ARGV[1]), ARGV[2])`)

var scriptClaimSend = redis.NewScript(luaClaim + `
if redis.call('EXISTS', KEYS[1]) == 1 then return {1} end
return claim(KEYS[2], tonumber(ARGV[1]), ARGV[2])`)

// scriptExpireSend ends a claim now but keeps its record and start.
var scriptExpireSend = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local sp = string.find(cur, ' ')
if not sp then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], string.sub(cur, 1, sp) .. '0', 'KEEPTTL')
return 1`)

// ClaimSend checks the sent marker and claims the message for a send for
// ttl, in one round trip: two copies of one job (a taken-over item racing
// its original) never both reach the provider.
//
// SendUncertain means an earlier claim ran out without a sent marker (its
// process died, or gave up with ExpireSend): the claim is taken over as for
// SendClaimed, and since is when the earliest such attempt began (Redis's
// clock), from which the caller should ask the provider whether the message
// went out before sending it again.
func (s *Store) ClaimSend(ctx context.Context, messageID string, ttl time.Duration) (outcome int, since time.Time, err error) {
	args := []any{ttl.Milliseconds(), claimKeep.Milliseconds()}
	var res []any
	if _, ok := s.rdb.(*redis.ClusterClient); ok {
		// The two keys hash to different slots, perhaps on two nodes: the
		// check and the claim are two commands, and the marker is looked at
		// again after claiming. What remains is MarkSent's own window: its
		// pipeline writes the marker and drops the claim on two nodes in no
		// fixed order, so a claim made just then can still miss the marker
		// (and, for an uncertain claim, the provider search finds the send).
		n, err := s.rdb.Exists(ctx, keySent(messageID)).Result()
		if err != nil || n == 1 {
			return SendDone, time.Time{}, err
		}
		res, err = scriptClaim.Run(ctx, s.rdb, []string{keySending(messageID)}, args...).Slice()
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("claim send: %w", err)
		}
		if code, _ := res[0].(int64); code != SendBusy {
			if n, err := s.rdb.Exists(ctx, keySent(messageID)).Result(); err != nil || n == 1 {
				if err == nil {
					err = s.ReleaseSend(ctx, messageID)
				}
				return SendDone, time.Time{}, err
			}
		}
	} else {
		res, err = scriptClaimSend.Run(ctx, s.rdb, []string{keySent(messageID), keySending(messageID)}, args...).Slice()
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("claim send: %w", err)
		}
	}
	code, _ := res[0].(int64)
	if code == SendUncertain && len(res) > 1 {
		str, _ := res[1].(string)
		ms, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("claim send: start %q: %w", str, err)
		}
		since = time.UnixMilli(ms)
	}
	return int(code), since, nil
}

// SendClaimTTL is how long a send claim keeps other workers off a message.
const SendClaimTTL = time.Minute

// PreClaim is a send claim taken when the item was queued (the apply that
// queued a reply claimed it for this process): ClaimSend's outcome, when
// the start of an earlier attempt for SendUncertain, and when it was taken
// on this process's clock.
type PreClaim struct {
	Outcome int
	Since   time.Time
	At      time.Time
}

// preClaimed reads the submit-and-claim script's answer: the entries this
// process claimed, each with the send claim taken for it (nil when the
// entry was not one it queued, or on a Cluster).
func preClaimed(v any, now time.Time) []Item {
	pair, _ := v.([]any)
	if len(pair) != 2 {
		return nil
	}
	items := claimedFrom(pair[0], keyStream)
	claims, _ := pair[1].([]any)
	for i := range items {
		if i >= len(claims) {
			break
		}
		c, _ := claims[i].([]any)
		if len(c) == 0 {
			continue
		}
		code, _ := c[0].(int64)
		if code < 0 {
			continue
		}
		pc := &PreClaim{Outcome: int(code), At: now}
		if code == SendUncertain && len(c) > 1 {
			str, _ := c[1].(string)
			if ms, err := strconv.ParseInt(str, 10, 64); err == nil {
				pc.Since = time.UnixMilli(ms)
			} else {
				continue // unreadable: the worker claims as usual
			}
		}
		items[i].PreClaim = pc
	}
	return items
}

// ReleaseSend drops the claim after a failed send, so a retry can go.
func (s *Store) ReleaseSend(ctx context.Context, messageID string) error {
	return s.rdb.Del(ctx, keySending(messageID)).Err()
}

// ExpireSend ends the claim at once but keeps its record: the next
// ClaimSend answers SendUncertain with the same start. For an attempt whose
// outcome is unknown (the provider could not be asked).
func (s *Store) ExpireSend(ctx context.Context, messageID string) error {
	return scriptExpireSend.Run(ctx, s.rdb, []string{keySending(messageID)}).Err()
}

// SentWith returns the message a provider id was recorded for by MarkSent,
// or "" (none, or expired).
func (s *Store) SentWith(ctx context.Context, providerID string) (string, error) {
	v, err := s.rdb.Get(ctx, keyPID(providerID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	id, _, _ := cutSpace(v)
	return id, nil
}

// SentJob returns the job a sent message was made from ("" if expired).
func (s *Store) SentJob(ctx context.Context, messageID string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, keyJob(messageID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

// Unsend drops a message's sent marker so that it can be sent again (the
// provider reported it failed).
func (s *Store) Unsend(ctx context.Context, messageID string) error {
	return s.rdb.Del(ctx, keySent(messageID)).Err()
}
func keyPID(pid string) string { return "pid:" + pid }

// SentMarker returns the provider id a message was sent with, or "".
func (s *Store) SentMarker(ctx context.Context, messageID string) (string, error) {
	v, err := s.rdb.Get(ctx, keySent(messageID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// MarkSent records that a message was handed to the provider with this id,
// keeps the job for a while so a "failed" delivery report can retry it, drops
// the send claim and, when ack is not nil, acknowledges the queue item that
// carried it: one round trip, one script except on a Cluster. routine marks a
// client's routine message (not urgent, not to staff): its bookkeeping is
// kept for less time (see the constants above).
func (s *Store) MarkSent(ctx context.Context, messageID, providerID string, job []byte, ack *Item, routine bool) error {
	_, cluster := s.rdb.(*redis.ClusterClient)
	keep, keepPID, keepJob := sentTTL, sentTTL, jobTTL
	if routine {
		keep, keepPID, keepJob = routineSentTTL, routineJobTTL, routineJobTTL
		if cluster {
			keep = sentTTL
		}
	}
	if !cluster {
		// The marker and the acknowledgement land together or not at all:
		// a sent item is never left pending to be re-delivered.
		keys := []string{keySent(messageID), keyPID(providerID), keyJob(messageID), keySending(messageID)}
		args := []any{providerID, keep.Milliseconds(), messageID + " queued", keepPID.Milliseconds(), job, keepJob.Milliseconds()}
		if ack != nil && ack.streamID != "" {
			keys = append(keys, ack.stream)
			args = append(args, groupWorkers, ack.streamID)
		}
		if err := scriptMarkSent.Run(ctx, s.hot, keys, args...).Err(); err != nil {
			return fmt.Errorf("mark sent: %w", err)
		}
		if ack != nil && ack.streamID != "" {
			ack.acked = true
		}
		return nil
	}
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, keySent(messageID), providerID, keep)
	pipe.Set(ctx, keyPID(providerID), messageID+" queued", keepPID)
	pipe.Set(ctx, keyJob(messageID), job, keepJob)
	pipe.Del(ctx, keySending(messageID))
	if ack != nil && ack.streamID != "" {
		pipe.XAck(ctx, ack.stream, groupWorkers, ack.streamID)
		pipe.XDel(ctx, ack.stream, ack.streamID)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("mark sent: %w", err)
	}
	if ack != nil && ack.streamID != "" {
		ack.acked = true
	}
	return nil
}

// statusRank orders delivery statuses; a status never moves backwards.
var scriptStatus = redis.NewScript(`
local rank = {accepted=0, queued=1, sending=2, sent=3, failed=4, undelivered=4, delivered=4, read=5}
local cur = redis.call('GET', KEYS[1])
if not cur then return false end
local sp = string.find(cur, ' ')
local id, old = string.sub(cur, 1, sp - 1), string.sub(cur, sp + 1)
if (rank[ARGV[1]] or -1) <= (rank[old] or -1) then return {id, old, 0} end
redis.call('SET', KEYS[1], id .. ' ' .. ARGV[1], 'KEEPTTL')
return {id, ARGV[1], 1}`)

// UpdateStatus applies a delivery report. It returns the message id and
// whether the status moved forward (re-deliveries and late reports do not).
func (s *Store) UpdateStatus(ctx context.Context, providerID, status string) (messageID string, moved bool, err error) {
	res, err := scriptStatus.Run(ctx, s.rdb, []string{keyPID(providerID)}, status).Slice()
	if errors.Is(err, redis.Nil) {
		return "", false, ErrNotFound
	}
	if err != nil {
		return "", false, fmt.Errorf("update status: %w", err)
	}
	id, _ := res[0].(string)
	n, _ := res[2].(int64)
	return id, n == 1, nil
}

// Status returns the last delivery status of a provider message.
func (s *Store) Status(ctx context.Context, providerID string) (string, error) {
	v, err := s.rdb.Get(ctx, keyPID(providerID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	_, st, _ := cutSpace(v)
	return st, nil
}
