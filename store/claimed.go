package store

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed scripts/queue.lua
	queueLua    string
	scriptQueue = redis.NewScript(queueLua)
)

// Queued is work to queue now and hand to this process's own workers: the
// urgent entries are claimed for Consumer as they are queued.
type Queued struct {
	Work []Work
	// Consumer, when not "", is this process's queue consumer (see
	// Worker.Name); "" leaves the urgent entries to the first reader.
	Consumer string
	// Once, when not nil, holds the work back while an earlier queueing
	// under the same guard is within its spacing (by the store's clock).
	Once *Guard
}

// Guard spaces work queued under it (Queued.Once).
type Guard struct {
	key   string
	every time.Duration
}

// SafetyGuard spaces a client's safety replies: at most one per every.
func SafetyGuard(client string, every time.Duration) *Guard {
	return &Guard{key: keyGuard("safety:" + client), every: every}
}

// StrangerSafetyGuard spaces the safety messages to an address nobody
// owns on a channel: at most one per every, as for a client.
func StrangerSafetyGuard(channel, addr string, every time.Duration) *Guard {
	return &Guard{key: keyGuard("safety:" + channel + ":" + addr), every: every}
}

// AlertGuard queues one alert of an escalation (its level, round, step and
// staff member) once: a repeated alert finds it queued.
func AlertGuard(escalation, level string, round, step int, staff string) *Guard {
	return &Guard{key: keyGuard(fmt.Sprintf("alert:%s:%s:%d:%d:%s", escalation, level, round, step, staff)), every: alertGuardSpacing}
}

// alertGuardSpacing outlasts any repeat of an alert: a reclaimed step timer
// or a message processed again comes within minutes.
const alertGuardSpacing = 24 * time.Hour

// QueueResult is what QueueClaimed did.
type QueueResult struct {
	// Queued is false when Once's guard held the work back.
	Queued bool
	// Claimed is urgent work now pending for Consumer: the caller hands it
	// to its workers (a crash leaves it for another process's reclaimer).
	Claimed []Item
}

// QueueClaimed queues q in one script in the queue's hash slot.
func (s *Store) QueueClaimed(ctx context.Context, q Queued) (QueueResult, error) {
	keys, args := q.script(s.now())
	res, err := queueResult(scriptQueue.Run(ctx, s.rdb, keys, args...))
	if err != nil {
		return QueueResult{}, fmt.Errorf("queue work: %w", err)
	}
	return res, nil
}

func keyGuard(name string) string { return "{q}:guard:" + name }

// script is the keys and arguments of scripts/queue.lua.
func (q Queued) script(now time.Time) ([]string, []any) {
	keys := []string{keyUrgent, keyStream, keyDue, keyItems}
	every := int64(0)
	if q.Once != nil {
		keys = append(keys, q.Once.key)
		every = q.Once.every.Milliseconds()
	}
	args := []any{now.UnixMilli(), every, groupWorkers, q.Consumer, len(q.Work)}
	for _, w := range q.Work {
		kind, at := "s", int64(0)
		switch {
		case !w.At.IsZero() && w.Once:
			kind, at = "o", w.At.UnixMilli()
		case !w.At.IsZero():
			kind, at = "d", w.At.UnixMilli()
		case w.Urgent:
			kind = "u"
		}
		args = append(args, kind, w.ID, at, w.Payload)
	}
	return keys, args
}

func queueResult(cmd *redis.Cmd) (QueueResult, error) {
	res, err := cmd.Slice()
	if err != nil {
		return QueueResult{}, err
	}
	if len(res) != 2 {
		return QueueResult{}, fmt.Errorf("unexpected answer %v", res)
	}
	n, _ := res[0].(int64)
	return QueueResult{Queued: n == 1, Claimed: claimedFrom(res[1], keyUrgent)}, nil
}

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

// isCluster reports whether keys of different hash slots must be written
// in separate commands.
func (s *Store) isCluster() bool {
	_, ok := s.rdb.(*redis.ClusterClient)
	return ok
}
