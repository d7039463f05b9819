package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The one mechanism for delayed work (docs/design.md "Time and work"): a sorted
// set of due items keyed by time, a script that atomically moves what is due
// into a stream, and a consumer group that works the stream; XAUTOCLAIM takes
// over what a crashed process left. Urgent work (safety replies, crisis
// alerts) has its own stream, read first.
const (
	keyDue       = "{q}:due"
	keyItems     = "{q}:items"
	keyStream    = "{q}:stream"
	keyUrgent    = "{q}:urgent"
	keyHeartbeat = "{q}:heartbeat"
	groupWorkers = "workers"
)

var (
	//go:embed scripts/due.lua
	dueLua    string
	scriptDue = redis.NewScript(dueLua)
	//go:embed scripts/schedule.lua
	scheduleLua    string
	scriptSchedule = redis.NewScript(scheduleLua)
)

// Item is one piece of work taken from the queue.
type Item struct {
	// ID names the work ("occ:<schedule>:<date>:<slot>", "esc:<id>:step:2").
	ID      string
	Payload []byte
	Urgent  bool
	// Deliveries counts how often the item was handed out (1 the first time).
	Deliveries int64
	// PreClaim, when set, is the send claim taken as the item was queued
	// and claimed for this process (ApplyAndUnlock with Batch.ClaimFor).
	PreClaim *PreClaim
	streamID string
	stream   string
	// acked is set once a write that also acknowledged the item (MarkSent)
	// succeeded: the item is done and must not be acknowledged again.
	acked bool
}

// Acked reports whether a store write already acknowledged the item with
// its own effect (MarkSent with the item): the runner has nothing left to do.
func (it *Item) Acked() bool { return it.acked }

// ErrUndecodable marks work whose payload cannot be read: it will never
// succeed, so it is logged once and acknowledged rather than retried.
var ErrUndecodable = errors.New("undecodable work")

// Schedule plans id to become due at `at`; planning an id again moves it.
func (s *Store) Schedule(ctx context.Context, id string, at time.Time, payload []byte) error {
	return scriptSchedule.Run(ctx, s.rdb, []string{keyDue, keyItems}, id, at.UnixMilli(), payload, "").Err()
}

// Plan is one item to plan (Schedule).
type Plan struct {
	ID      string
	At      time.Time
	Payload []byte
}

// ScheduleAll plans several items in one round trip, each as Schedule does.
func (s *Store) ScheduleAll(ctx context.Context, plans []Plan) error {
	if len(plans) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, p := range plans {
		scriptSchedule.Eval(ctx, pipe, []string{keyDue, keyItems}, p.ID, p.At.UnixMilli(), p.Payload, "")
	}
	_, err := pipe.Exec(ctx)
	return err
}

// ScheduleOnce plans id unless it is already planned (its first plan stands).
func (s *Store) ScheduleOnce(ctx context.Context, id string, at time.Time, payload []byte) error {
	return scriptSchedule.Run(ctx, s.rdb, []string{keyDue, keyItems}, id, at.UnixMilli(), payload, "nx").Err()
}

// Unschedule drops a planned item (a cancelled appointment's reminders).
func (s *Store) Unschedule(ctx context.Context, id string) error {
	pipe := s.rdb.TxPipeline()
	pipe.ZRem(ctx, keyDue, id)
	pipe.HDel(ctx, keyItems, id)
	_, err := pipe.Exec(ctx)
	return err
}

// ScheduledAt reports when id is due, if it is planned.
func (s *Store) ScheduledAt(ctx context.Context, id string) (time.Time, bool, error) {
	ms, err := s.rdb.ZScore(ctx, keyDue, id).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return time.UnixMilli(int64(ms)), true, nil
}

// Enqueue hands work to the workers now, skipping the due set.
func (s *Store) Enqueue(ctx context.Context, id string, urgent bool, payload []byte) error {
	stream := keyStream
	if urgent {
		stream = keyUrgent
	}
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"id", id, "p", payload}}).Err()
}

// MoveDue moves up to max due items into the work stream; it returns how many.
func (s *Store) MoveDue(ctx context.Context, now time.Time, max int) (int, error) {
	n, err := scriptDue.Run(ctx, s.rdb, []string{keyDue, keyItems, keyStream}, now.UnixMilli(), max).Int()
	if err != nil {
		return 0, fmt.Errorf("move due work: %w", err)
	}
	return n, nil
}

// Heartbeat records that the scheduler ticked.
func (s *Store) Heartbeat(ctx context.Context, now time.Time) error {
	return s.rdb.Set(ctx, keyHeartbeat, now.UnixMilli(), 0).Err()
}

// LastHeartbeat is when any scheduler last ticked.
func (s *Store) LastHeartbeat(ctx context.Context) (time.Time, error) {
	ms, err := s.rdb.Get(ctx, keyHeartbeat).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}

// Worker consumes the work streams as one member of the consumer group.
type Worker struct {
	s        *Store
	name     string
	log      *slog.Logger
	batch    int64
	block    time.Duration
	idle     time.Duration
	ensureMu sync.Mutex
	ensured  bool
}

// NewWorker makes a consumer; name must be unique among live processes.
func (s *Store) NewWorker(name string, log *slog.Logger) *Worker {
	if name == "" {
		host, _ := os.Hostname()
		name = host + "-" + strconv.Itoa(os.Getpid()) + "-" + NewID("w", time.Now())
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{s: s, name: name, log: log, batch: 64, block: 200 * time.Millisecond, idle: 30 * time.Second}
}

// Name is the worker's consumer name in the group.
func (w *Worker) Name() string { return w.name }

func (w *Worker) ensureGroups(ctx context.Context) error {
	w.ensureMu.Lock()
	defer w.ensureMu.Unlock()
	if w.ensured {
		return nil
	}
	for _, st := range []string{keyUrgent, keyStream} {
		err := w.s.rdb.XGroupCreateMkStream(ctx, st, groupWorkers, "0").Err()
		if err != nil && err.Error() != "BUSYGROUP Consumer Group name already exists" {
			return fmt.Errorf("create consumer group on %s: %w", st, err)
		}
	}
	w.ensured = true
	return nil
}

// Read returns the next batch of work, urgent items first; it blocks up to
// the worker's block time when there is none.
func (w *Worker) Read(ctx context.Context) ([]Item, error) {
	if err := w.ensureGroups(ctx); err != nil {
		return nil, err
	}
	return w.read(ctx, []string{keyUrgent, keyStream, ">", ">"})
}

// ReadUrgent reads urgent work only (safety replies, crisis alerts), so that
// it never waits behind routine work.
func (w *Worker) ReadUrgent(ctx context.Context) ([]Item, error) {
	if err := w.ensureGroups(ctx); err != nil {
		return nil, err
	}
	return w.read(ctx, []string{keyUrgent, ">"})
}

func (w *Worker) read(ctx context.Context, streams []string) ([]Item, error) {
	res, err := w.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: groupWorkers, Consumer: w.name, Streams: streams,
		Count: w.batch, Block: w.block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		w.groupLost(err)
		return nil, fmt.Errorf("read work: %w", err)
	}
	var items []Item
	for _, st := range res { // res follows the order of Streams: urgent first
		for _, m := range st.Messages {
			items = append(items, toItem(st.Stream, m, 1))
		}
	}
	return items, nil
}

// groupLost makes the next call create the groups again when Redis lost
// them (restarted without persistence). Read and Reclaim run in different
// goroutines: the flag is only touched under the mutex.
func (w *Worker) groupLost(err error) {
	if isNoGroup(err) {
		w.ensureMu.Lock()
		w.ensured = false
		w.ensureMu.Unlock()
	}
}

func isNoGroup(err error) bool {
	return err != nil && len(err.Error()) >= 7 && err.Error()[:7] == "NOGROUP"
}

func toItem(stream string, m redis.XMessage, deliveries int64) Item {
	id, _ := m.Values["id"].(string)
	p, _ := m.Values["p"].(string)
	return Item{ID: id, Payload: []byte(p), Urgent: stream == keyUrgent, streamID: m.ID, stream: stream, Deliveries: deliveries}
}

// Ack marks items done and removes them from their stream.
func (w *Worker) Ack(ctx context.Context, items ...Item) error {
	if len(items) == 0 {
		return nil
	}
	pipe := w.s.rdb.Pipeline()
	n := 0
	for _, it := range items {
		if it.streamID == "" {
			continue // never read from a stream: nothing pending to acknowledge
		}
		pipe.XAck(ctx, it.stream, groupWorkers, it.streamID)
		pipe.XDel(ctx, it.stream, it.streamID)
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ack work: %w", err)
	}
	return nil
}

// Reclaim takes over items another consumer took and did not finish within
// the idle time (it crashed), with their delivery counts.
func (w *Worker) Reclaim(ctx context.Context) ([]Item, error) {
	if err := w.ensureGroups(ctx); err != nil {
		return nil, err
	}
	var items []Item
	for _, st := range []string{keyUrgent, keyStream} {
		msgs, _, err := w.s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: st, Group: groupWorkers, Consumer: w.name, MinIdle: w.idle, Start: "0-0", Count: w.batch,
		}).Result()
		if err != nil {
			w.groupLost(err)
			return nil, fmt.Errorf("reclaim work: %w", err)
		}
		if len(msgs) == 0 {
			continue
		}
		counts := map[string]int64{}
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		pend, err := w.s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: st, Group: groupWorkers, Start: ids[0], End: ids[len(ids)-1], Count: int64(len(ids)) + 100}).Result()
		if err == nil {
			for _, p := range pend {
				counts[p.ID] = p.RetryCount
			}
		}
		for _, m := range msgs {
			items = append(items, toItem(st, m, max(counts[m.ID], 2)))
		}
	}
	return items, nil
}

// SetIdle changes how long an unfinished item waits before another worker
// takes it over (tests).
func (w *Worker) SetIdle(d time.Duration) { w.idle = d }

// SetBlock changes how long Read waits for work.
func (w *Worker) SetBlock(d time.Duration) { w.block = d }

// Work is one piece of work to hand out now (Enqueue) or at a time (Schedule).
type Work struct {
	ID     string
	Urgent bool
	At     time.Time // zero: now
	// Once keeps an item already planned at its first time (At, with QueueClaimed).
	Once    bool
	Payload []byte
	// SendClaim, when set, names the outbound message this work sends:
	// when the work is queued and claimed for this process in one step
	// (Batch.ClaimFor), that message's send claim is taken there too.
	SendClaim string
}

// Submit queues several pieces of work in one round trip (a reply and its
// timeout, say).
func (s *Store) Submit(ctx context.Context, work ...Work) error {
	if len(work) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	cmds := s.addWork(ctx, pipe, work)
	if _, err := pipe.Exec(ctx); err == nil {
		return nil
	}
	return workErr(cmds)
}

// workErr is the first failure among the commands addWork queued.
func workErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return fmt.Errorf("submit work: %w", err)
		}
	}
	return nil
}

// addWork adds the commands that queue work to a pipeline.
func (s *Store) addWork(ctx context.Context, pipe redis.Pipeliner, work []Work) []redis.Cmder {
	cmds := make([]redis.Cmder, len(work))
	for i, w := range work {
		if w.At.IsZero() {
			stream := keyStream
			if w.Urgent {
				stream = keyUrgent
			}
			cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"id", w.ID, "p", w.Payload}})
		} else {
			cmds[i] = scriptSchedule.Eval(ctx, pipe, []string{keyDue, keyItems}, w.ID, w.At.UnixMilli(), w.Payload, "")
		}
	}
	return cmds
}
