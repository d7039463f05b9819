package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Workers run the delayed-work mechanism in one process: the mover that
// turns due items into work, the consumers that do it, the reclaimer that
// takes over a crashed process's work, and the sweeper that finishes
// messages a crashed process stored but did not process. Several processes
// may run Workers on one Redis.
type Workers struct {
	store  *store.Store
	rooms  *Rooms
	esc    *escalation.Service
	outbox *bot.Outbox
	log    *slog.Logger
	now    func() time.Time
	// Concurrency is how many items are worked at once (sends wait on providers).
	Concurrency int
	// Tick is how often due items are moved.
	Tick time.Duration
	// OnTick, when set, is told each time the mover ran (metrics).
	OnTick func(time.Time)
	// OnItem, when set, is told how each item went (metrics).
	OnItem func(kind string, err error)

	// handoff carries urgent work this process queued and claimed for its
	// own consumer (escalation.Handoff): no stream read in between;
	// routineHandoff the same for routine work (replies).
	handoff        chan store.Item
	routineHandoff chan store.Item
	stopped        chan struct{}
	hmu            sync.Mutex
	consumer       string // "" unless Run is running
}

// Worker pool sizes. Sends wait on the provider (Twilio answers in ~150 ms), so
// many are in flight; each in-flight send is also one that a crash leaves
// uncertain (the provider call and the sent marker cannot be one step): the
// next attempt asks Twilio before sending again, Telegram cannot be asked.
const (
	DefaultConcurrency = 64
	UrgentConcurrency  = 8
)

// NewWorkers builds the workers of one process.
func NewWorkers(st *store.Store, r *Rooms, esc *escalation.Service, ob *bot.Outbox, log *slog.Logger) *Workers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Workers{store: st, rooms: r, esc: esc, outbox: ob, log: log, now: st.Now, Concurrency: DefaultConcurrency, Tick: 100 * time.Millisecond,
		handoff: make(chan store.Item, 256), routineHandoff: make(chan store.Item, 256), stopped: make(chan struct{})}
}

// Consumer names this process's queue consumer while Run runs, else "".
func (w *Workers) Consumer() string {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	return w.consumer
}

// Handoff gives the workers items this process queued and claimed for
// Consumer, urgent ones to the urgent workers. It never blocks: with the
// buffer full a goroutine waits for room. Items handed after Run stopped stay pending in the stream, where
// another process's reclaimer takes them, as after a crash.
func (w *Workers) Handoff(items []store.Item) {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	if w.consumer == "" {
		return
	}
	for _, it := range items {
		to := w.routineHandoff
		if it.Urgent {
			to = w.handoff
		}
		select {
		case to <- it:
		default:
			go func() {
				select {
				case to <- it:
				case <-w.stopped:
				}
			}()
		}
	}
}

// Run works until ctx ends, then waits for items in hand to finish.
func (w *Workers) Run(ctx context.Context) error {
	worker := w.store.NewWorker("", w.log)
	w.hmu.Lock()
	w.consumer = worker.Name()
	w.hmu.Unlock()
	defer func() {
		w.hmu.Lock()
		w.consumer = ""
		close(w.stopped)
		w.hmu.Unlock()
	}()
	items := make(chan store.Item)
	var wg sync.WaitGroup
	for range w.Concurrency {
		wg.Add(1)
		go func() { defer wg.Done(); w.workLoop(ctx, worker, items, w.routineHandoff) }()
	}
	// Urgent work has its own reader and workers: an alert never waits for
	// a worker held by a slow routine send.
	urgent := make(chan store.Item)
	for range UrgentConcurrency {
		wg.Add(1)
		go func() { defer wg.Done(); w.workLoop(ctx, worker, urgent, w.handoff) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(urgent)
		w.readLoop(ctx, "read urgent work", worker.ReadUrgent, urgent)
	}()
	// The mover and the maintenance loop end before items closes: the
	// maintenance loop hands reclaimed work to it.
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); w.moveLoop(ctx) }()
	go func() { defer bg.Done(); w.maintenanceLoop(ctx, worker, items) }()
	w.readLoop(ctx, "read work", worker.Read, items)
	bg.Wait()
	close(items)
	wg.Wait()
	return nil
}

// readLoop hands what read returns to out until ctx ends.
func (w *Workers) readLoop(ctx context.Context, what string, read func(context.Context) ([]store.Item, error), out chan<- store.Item) {
	for ctx.Err() == nil {
		batch, err := read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error(what, "err", err)
				sleep(ctx, time.Second)
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

// workLoop works items the reader hands over and items this process queued
// and claimed itself (handed), until the reader's channel closes; what was
// handed over by then is worked before it returns (a graceful stop; after a
// crash the items wait in the stream for XAUTOCLAIM).
func (w *Workers) workLoop(ctx context.Context, worker *store.Worker, read <-chan store.Item, handed <-chan store.Item) {
	ctx = context.WithoutCancel(ctx)
	for {
		select {
		case it := <-handed:
			w.work(ctx, worker, it)
		case it, ok := <-read:
			if !ok {
				for {
					select {
					case it := <-handed:
						w.work(ctx, worker, it)
					default:
						return
					}
				}
			}
			w.work(ctx, worker, it)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// moveLoop moves due items into the work stream and beats the heartbeat.
func (w *Workers) moveLoop(ctx context.Context) {
	t := time.NewTicker(w.Tick)
	defer t.Stop()
	lastBeat := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := w.now()
		for {
			n, err := w.store.MoveDue(ctx, now, 500)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Error("move due work", "err", err)
				}
				break
			}
			if n < 500 {
				break
			}
		}
		if now.Sub(lastBeat) >= time.Second {
			if err := w.store.Heartbeat(ctx, now); err == nil {
				lastBeat = now
			}
		}
		if w.OnTick != nil {
			w.OnTick(now)
		}
	}
}

// maintenanceLoop reclaims abandoned work and sweeps unprocessed messages.
func (w *Workers) maintenanceLoop(ctx context.Context, worker *store.Worker, items chan<- store.Item) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.Maintain(ctx, worker, items)
	}
}

// Maintain runs one round of reclaiming and sweeping (tests call it directly).
func (w *Workers) Maintain(ctx context.Context, worker *store.Worker, items chan<- store.Item) {
	reclaimed, err := worker.Reclaim(ctx)
	if err != nil && ctx.Err() == nil {
		w.log.Error("reclaim work", "err", err)
	}
	for _, it := range reclaimed {
		w.log.Warn("took over abandoned work", "item", it.ID, "deliveries", it.Deliveries)
		select {
		case items <- it:
		case <-ctx.Done():
			return
		}
	}
	if err := w.rooms.Inbox.Sweep(ctx, 10*time.Second); err != nil && ctx.Err() == nil {
		w.log.Error("sweep pending messages", "err", err)
	}
}

// maxDeliveries: work handed out this often without finishing is dropped
// (logged loudly) rather than retried forever.
const maxDeliveries = 10

// work does one item and acknowledges it unless it must be retried.
func (w *Workers) work(ctx context.Context, worker *store.Worker, it store.Item) {
	kind, acked, err := w.do(ctx, &it)
	for try := 0; errors.Is(err, ErrBusy) && try < 40; try++ {
		// The client is locked by a message in progress, for milliseconds:
		// wait in real time (the due set runs on the service clock).
		sleep(ctx, 25*time.Millisecond)
		kind, acked, err = w.do(ctx, &it)
	}
	if acked {
		return // acknowledged with the work's own last write
	}
	if w.OnItem != nil {
		w.OnItem(kind, err)
	}
	if errors.Is(err, ErrBusy) {
		// The client is locked by a message in progress: try again shortly.
		if err := w.store.Schedule(ctx, it.ID, w.now().Add(300*time.Millisecond), it.Payload); err != nil {
			w.log.Error("re-plan busy work", "item", it.ID, "err", err)
			return
		}
		err = nil
	}
	if err != nil && it.Deliveries < maxDeliveries {
		// Left unacknowledged: another worker reclaims it after the idle time.
		w.log.Error("work failed", "item", it.ID, "kind", kind, "err", err)
		return
	}
	if err != nil {
		w.log.Error("work dropped after repeated failures", "item", it.ID, "kind", kind, "err", err)
	}
	if err := worker.Ack(ctx, it); err != nil {
		w.log.Error("ack work", "item", it.ID, "err", err)
	}
}

// Do dispatches one item to its handler by kind.
func (w *Workers) Do(ctx context.Context, it store.Item) (string, error) {
	kind, _, err := w.do(ctx, &it)
	return kind, err
}

// do dispatches one item; acked reports that the handler acknowledged it.
func (w *Workers) do(ctx context.Context, it *store.Item) (string, bool, error) {
	kind, err := w.dispatch(ctx, it)
	if a, ok := err.(ackedErr); ok {
		return kind, true, a.err
	}
	return kind, false, err
}

// ackedErr carries "the handler acknowledged the item" out of dispatch.
type ackedErr struct{ err error }

func (a ackedErr) Error() string { return "acked" }

func (w *Workers) dispatch(ctx context.Context, it *store.Item) (string, error) {
	var head struct {
		Kind string `json:"k"`
	}
	if err := json.Unmarshal(it.Payload, &head); err != nil {
		return "invalid", nil
	}
	switch head.Kind {
	case bot.JobKind:
		job, ok := bot.DecodeJob(it.Payload)
		if !ok {
			return head.Kind, nil
		}
		acked, err := w.outbox.Handle(ctx, job, it)
		if acked {
			return head.Kind, ackedErr{err}
		}
		return head.Kind, err
	case escalation.StepKind:
		var s escalation.StepWork
		if err := json.Unmarshal(it.Payload, &s); err != nil {
			return head.Kind, nil
		}
		return head.Kind, w.esc.HandleStep(ctx, s)
	}
	cw, ok := DecodeWork(it.Payload)
	if !ok {
		w.log.Error("unknown work", "item", it.ID, "kind", head.Kind)
		return "unknown", nil
	}
	switch cw.Kind {
	case WorkCheckin:
		return cw.Kind, w.rooms.Checkins.HandleCheckin(ctx, cw)
	case WorkTimeout:
		return cw.Kind, w.rooms.Checkins.HandleTimeout(ctx, cw)
	case WorkReminder:
		return cw.Kind, w.rooms.Appointments.HandleReminder(ctx, cw)
	case WorkSafetyQuestion:
		return cw.Kind, w.rooms.Inbox.HandleSafetyQuestion(ctx, cw)
	}
	return cw.Kind, nil
}
