// Package work is the delayed-work runner (docs/design.md "Time and work"). The
// store keeps the work: a due set that a script moves into streams, consumer
// groups that hand each item to one process, XAUTOCLAIM for what a crashed
// process left. The runner drives it in one process: it moves due work,
// reads the streams, hands each item to the handler registered for its kind
// with a deadline, with a bounded number of items at once, reclaims
// abandoned work, and on stop finishes what it holds before returning.
package work

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carecheck/carecheck/store"
)

// Handler does one item. A nil error acknowledges the item (it is done); an
// error leaves it pending, so the reclaimer hands it out again after the
// idle time, until MaxDeliveries. An error wrapping store.ErrUndecodable is
// logged and acknowledged: it can never succeed. A handler whose last write
// also acknowledged the item (store.Item.Acked) has nothing left to the runner.
type Handler func(ctx context.Context, it *store.Item) error

// Chore is periodic upkeep run with the reclaimer (the sweeper of messages
// a crashed process stored but did not process).
type Chore func(ctx context.Context) error

// ErrRunning is Run's answer when the runner already ran: a runner runs once.
var ErrRunning = errors.New("work: the runner already ran")

// ErrDeadline is the cause of an item's context ending when its deadline passed.
var ErrDeadline = errors.New("work: item deadline passed")

// Options tune a runner; zero values take the defaults.
type Options struct {
	// Concurrency is how many routine items are worked at once (sends wait
	// on providers, so many are in flight). Default 64.
	Concurrency int
	// UrgentConcurrency is how many urgent items (safety replies, crisis
	// alerts) are worked at once, by workers of their own: an alert never
	// waits for a worker held by a slow routine send. Default 8.
	UrgentConcurrency int
	// Deadline bounds each item's work. Default 30 s: under the outbox's
	// one-minute send claim, above the provider's 15 s HTTP timeout.
	Deadline time.Duration
	// HandoffWait bounds how long Handoff waits for room when every worker
	// is busy (the caller, often a webhook, waits that long). Default 1 s.
	HandoffWait time.Duration
	// Tick is how often due work is moved into the streams. Default 100 ms.
	Tick time.Duration
	// MaintainEvery is how often abandoned work is reclaimed and the chores
	// run. Default 5 s.
	MaintainEvery time.Duration
	// ReclaimIdle is how long an item stays with a consumer that does not
	// finish it before another takes it over. Default 30 s.
	ReclaimIdle time.Duration
	// MaxDeliveries: an item handed out this often without finishing is
	// dropped, logged loudly, rather than retried forever. Default 10.
	MaxDeliveries int64
	// Consumer names this process in the consumer group; default unique.
	Consumer string
	// Clock is the runner's time; default the wall clock with the store's now.
	Clock Clock
	// Log gets ids and errors, never payloads.
	Log *slog.Logger
	// OnTick, when set, is told each time due work was moved (readiness, metrics).
	OnTick func(time.Time)
	// OnItem, when set, is told how each item went (metrics).
	OnItem func(kind string, err error)
}

func (o *Options) defaults(st *store.Store) {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.UrgentConcurrency <= 0 {
		o.UrgentConcurrency = 8
	}
	def(&o.Deadline, 30*time.Second)
	def(&o.HandoffWait, time.Second)
	def(&o.Tick, 100*time.Millisecond)
	def(&o.MaintainEvery, 5*time.Second)
	def(&o.ReclaimIdle, 30*time.Second)
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = 10
	}
	if o.Clock == nil {
		o.Clock = realClock{now: st.Now}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// handoffBuffer is how many handed-over items wait for a worker, per
// class. Scripts claim for this process only while a buffer is under a
// quarter full (Consumer), so the rest is headroom for claims already in
// flight when it crossed: a Handoff that must wait for room is rare.
const handoffBuffer = 1024

// Runner runs queued work in one process. Several processes may run one
// each on one Redis: the consumer group gives each item to one of them.
type Runner struct {
	store *store.Store
	opt   Options
	clock Clock
	log   *slog.Logger

	mu       sync.Mutex // guards handlers and chores until Run starts
	handlers map[string]Handler
	chores   []Chore
	started  atomic.Bool

	// consumer is this process's consumer name while it claims work for
	// itself (from Run's start until its context ends), else nil.
	consumer atomic.Pointer[string]
	// urgentIn and routineIn carry items this process queued and claimed
	// for its own consumer (Handoff), so they skip a stream read.
	urgentIn, routineIn chan store.Item
	// stopped closes when Run's workers have all returned.
	stopped chan struct{}
}

// New builds a runner over the store's queue; register handlers, then Run.
func New(st *store.Store, opt Options) *Runner {
	opt.defaults(st)
	return &Runner{store: st, opt: opt, clock: opt.Clock, log: opt.Log, handlers: map[string]Handler{},
		urgentIn: make(chan store.Item, handoffBuffer), routineIn: make(chan store.Item, handoffBuffer), stopped: make(chan struct{})}
}

// Handle registers the handler of one kind of work (the payload's "k"
// field). It panics on a kind registered twice or after Run started:
// both are wiring mistakes, found at start.
func (r *Runner) Handle(kind string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started.Load() {
		panic("work: Handle after Run")
	}
	if _, dup := r.handlers[kind]; dup || h == nil || kind == "" {
		panic(fmt.Sprintf("work: handler for kind %q registered twice or nil", kind))
	}
	r.handlers[kind] = h
}

// Every adds a chore run at each maintenance round; its error is logged.
func (r *Runner) Every(c Chore) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started.Load() {
		panic("work: Every after Run")
	}
	r.chores = append(r.chores, c)
}

// Consumer names this process's queue consumer while scripts may claim
// work for it, else "": before Run, after its context ended, and while a
// handoff buffer is more than a quarter full (new work then goes through
// the streams, which every worker reads, rather than waiting in memory).
func (r *Runner) Consumer() string {
	name := r.consumer.Load()
	if name == nil || 4*len(r.routineIn) > cap(r.routineIn) || 4*len(r.urgentIn) > cap(r.urgentIn) {
		return ""
	}
	return *name
}

// Handoff gives this process's workers items queued and claimed for
// Consumer, urgent ones to the urgent workers, with no stream read in
// between. It is bounded: with the buffer full it waits for a worker up to
// HandoffWait, and an item not taken by then (or handed after the runner
// stopped) stays pending in its stream, which is its durable record: the
// reclaimer takes it over after ReclaimIdle, as after a crash. Waiting
// rather than dropping at once: a full buffer means every worker is busy,
// and the caller (a webhook, a worker) slowing down is the backpressure.
func (r *Runner) Handoff(items []store.Item) {
	if r.consumer.Load() == nil {
		return
	}
	for _, it := range items {
		to := r.routineIn
		if it.Urgent {
			to = r.urgentIn
		}
		select {
		case to <- it:
			continue
		default:
		}
		if !r.waitHand(to, it) {
			r.log.Warn("handoff full: item left to the reclaimer", "item", it.ID)
		}
	}
}

func (r *Runner) waitHand(to chan<- store.Item, it store.Item) bool {
	expired := make(chan struct{})
	stop := r.clock.AfterFunc(r.opt.HandoffWait, func() { close(expired) })
	defer stop()
	select {
	case to <- it:
		return true
	case <-r.stopped:
	case <-expired:
	}
	return false
}

// Run works until ctx ends, then stops claiming, finishes the items in hand
// (each within its deadline) and returns nil. A runner runs once: a second
// Run returns ErrRunning.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if !r.started.CompareAndSwap(false, true) {
		r.mu.Unlock()
		return ErrRunning
	}
	handlers, chores := r.handlers, r.chores
	r.mu.Unlock()
	defer close(r.stopped)

	worker := r.store.NewWorker(r.opt.Consumer, r.log)
	worker.SetIdle(r.opt.ReclaimIdle)
	name := worker.Name()
	r.consumer.Store(&name)
	stopClaiming := context.AfterFunc(ctx, func() { r.consumer.Store(nil) })
	defer stopClaiming()
	defer r.consumer.Store(nil)

	// In-flight items finish after ctx ends (a graceful stop): they run on
	// a context that only their deadline ends.
	workCtx := context.WithoutCancel(ctx)
	items := make(chan store.Item)
	urgent := make(chan store.Item)
	var wg sync.WaitGroup
	for range r.opt.Concurrency {
		wg.Go(func() { r.workLoop(workCtx, worker, handlers, items, r.routineIn) })
	}
	for range r.opt.UrgentConcurrency {
		wg.Go(func() { r.workLoop(workCtx, worker, handlers, urgent, r.urgentIn) })
	}
	wg.Go(func() {
		defer close(urgent)
		r.readLoop(ctx, "read urgent work", worker.ReadUrgent, urgent)
	})
	// The mover and the maintenance loop end before items closes: the
	// maintenance loop hands reclaimed work to it.
	var bg sync.WaitGroup
	bg.Go(func() { r.moveLoop(ctx) })
	bg.Go(func() { r.maintainLoop(ctx, worker, chores, items) })
	r.readLoop(ctx, "read work", worker.Read, items)
	bg.Wait()
	close(items)
	wg.Wait()
	return nil
}

// readLoop hands what read returns to out until ctx ends. An item read but
// not handed out (ctx ended) stays pending for the reclaimer.
func (r *Runner) readLoop(ctx context.Context, what string, read func(context.Context) ([]store.Item, error), out chan<- store.Item) {
	for ctx.Err() == nil {
		batch, err := read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error(what, "err", err)
				r.wait(ctx, time.Second)
			}
			continue
		}
		for _, it := range batch {
			select {
			case out <- it:
			case <-ctx.Done():
			}
		}
	}
}

// workLoop works items the reader hands over and items handed over in
// memory, until the reader's channel closes; what was handed over by then is
// worked before it returns.
func (r *Runner) workLoop(ctx context.Context, worker *store.Worker, handlers map[string]Handler, read <-chan store.Item, handed <-chan store.Item) {
	for {
		select {
		case it := <-handed:
			r.work(ctx, worker, handlers, it)
		case it, ok := <-read:
			if !ok {
				for {
					select {
					case it := <-handed:
						r.work(ctx, worker, handlers, it)
					default:
						return
					}
				}
			}
			r.work(ctx, worker, handlers, it)
		}
	}
}

// wait waits d on the runner's clock, or until ctx ends.
func (r *Runner) wait(ctx context.Context, d time.Duration) {
	done := make(chan struct{})
	stop := r.clock.AfterFunc(d, func() { close(done) })
	defer stop()
	select {
	case <-ctx.Done():
	case <-done:
	}
}

// moveLoop moves due items into the streams and beats the heartbeat.
func (r *Runner) moveLoop(ctx context.Context) {
	tick, stop := r.clock.Tick(r.opt.Tick)
	defer stop()
	var lastBeat time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		now := r.clock.Now()
		for {
			n, err := r.store.MoveDue(ctx, now, 500)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("move due work", "err", err)
				}
				break
			}
			if n < 500 {
				break
			}
		}
		if now.Sub(lastBeat) >= time.Second {
			if err := r.store.Heartbeat(ctx, now); err != nil {
				if ctx.Err() == nil {
					r.log.Error("scheduler heartbeat", "err", err)
				}
			} else {
				lastBeat = now
			}
		}
		if r.opt.OnTick != nil {
			r.opt.OnTick(now)
		}
	}
}

// maintainLoop reclaims abandoned work and runs the chores.
func (r *Runner) maintainLoop(ctx context.Context, worker *store.Worker, chores []Chore, items chan<- store.Item) {
	tick, stop := r.clock.Tick(r.opt.MaintainEvery)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		reclaimed, err := worker.Reclaim(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("reclaim work", "err", err)
		}
		for _, it := range reclaimed {
			r.log.Warn("took over abandoned work", "item", it.ID, "deliveries", it.Deliveries)
			select {
			case items <- it:
			case <-ctx.Done():
				return // left pending: reclaimed again by whoever runs next
			}
		}
		for _, c := range chores {
			if err := c(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("maintenance", "err", err)
			}
		}
	}
}

// work does one item and acknowledges it unless it must be retried.
func (r *Runner) work(ctx context.Context, worker *store.Worker, handlers map[string]Handler, it store.Item) {
	kind, err := r.do(ctx, handlers, &it)
	if r.opt.OnItem != nil {
		defer r.opt.OnItem(kind, err) // once the item is settled
	}
	if it.Acked() {
		return // acknowledged with the work's own last write
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrUndecodable):
		r.log.Error("undecodable work dropped", "item", it.ID, "kind", kind, "err", err)
	case it.Deliveries < r.opt.MaxDeliveries:
		// Left pending: the reclaimer hands it out again after the idle time.
		r.log.Error("work failed", "item", it.ID, "kind", kind, "deliveries", it.Deliveries, "err", err)
		return
	default:
		r.log.Error("work dropped after repeated failures", "item", it.ID, "kind", kind, "deliveries", it.Deliveries, "err", err)
	}
	if err := worker.Ack(ctx, it); err != nil {
		r.log.Error("ack work", "item", it.ID, "err", err)
	}
}

// do runs the item's handler within the item's deadline.
func (r *Runner) do(ctx context.Context, handlers map[string]Handler, it *store.Item) (string, error) {
	var head struct {
		Kind string `json:"k"`
	}
	if err := json.Unmarshal(it.Payload, &head); err != nil {
		return "", fmt.Errorf("read work kind: %w", store.ErrUndecodable)
	}
	h, ok := handlers[head.Kind]
	if !ok {
		return head.Kind, fmt.Errorf("no handler for this kind: %w", store.ErrUndecodable)
	}
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := r.clock.AfterFunc(r.opt.Deadline, func() { cancel(ErrDeadline) })
	defer stop()
	err := h(ictx, it)
	if err != nil && errors.Is(context.Cause(ictx), ErrDeadline) {
		err = fmt.Errorf("%w (%s): %w", ErrDeadline, r.opt.Deadline, err)
	}
	return head.Kind, err
}
