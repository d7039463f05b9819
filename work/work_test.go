package work_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
	"github.com/carecheck/carecheck/work"
)

// fakeClock moves only when the test says so; timers and tickers fire
// inside Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	tickers []*fakeTicker
	added   chan struct{} // a ticker was registered
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

type fakeTicker struct {
	every   time.Duration
	next    time.Time
	c       chan time.Time
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), added: make(chan struct{}, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

func (c *fakeClock) Tick(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{every: d, next: c.now.Add(d), c: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	c.added <- struct{}{}
	return t.c, func() { c.mu.Lock(); t.stopped = true; c.mu.Unlock() }
}

// waitTickers waits until n tickers were registered (the runner's loops started).
func (c *fakeClock) waitTickers(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.added:
		case <-t.Context().Done():
			t.Fatal("runner loops never started")
		}
	}
}

// Advance moves the clock by d, firing what comes due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var fire []func()
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(now) {
			t.stopped = true
			fire = append(fire, t.f)
		}
	}
	for _, t := range c.tickers {
		for !t.stopped && !t.next.After(now) {
			select {
			case t.c <- now:
			default: // one pending tick is enough, as time.Ticker
			}
			t.next = t.next.Add(t.every)
		}
	}
	c.mu.Unlock()
	for _, f := range fire {
		f()
	}
}

// rig is a runner over a real Redis with a fake clock.
type rig struct {
	t      *testing.T
	st     *store.Store
	clock  *fakeClock
	runner *work.Runner
	logs   *syncBuffer
	items  chan itemDone // what OnItem saw
}

type itemDone struct {
	kind string
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t *testing.T, opt work.Options) *rig {
	t.Helper()
	rs := redistest.New(t)
	clock := newFakeClock()
	st := store.New(rs.Client(t), clock.Now)
	r := &rig{t: t, st: st, clock: clock, logs: &syncBuffer{}, items: make(chan itemDone, 4096)}
	opt.Clock = clock
	opt.Log = slog.New(slog.NewJSONHandler(r.logs, nil))
	opt.OnItem = func(kind string, err error) { r.items <- itemDone{kind, err} }
	r.runner = work.New(st, opt)
	return r
}

// start runs the runner until the test ends (or stop is called).
func (r *rig) start() (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.runner.Run(ctx) }()
	r.clock.waitTickers(r.t, 2) // mover and maintenance
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	r.t.Cleanup(func() { _ = stop() })
	return stop
}

func (r *rig) enqueue(id string, urgent bool, payload string) {
	r.t.Helper()
	if err := r.st.Enqueue(r.t.Context(), id, urgent, []byte(payload)); err != nil {
		r.t.Fatal(err)
	}
}

// pending is what a probe consumer can take over at once: the items still
// unacknowledged in the streams.
func (r *rig) pending() []string {
	r.t.Helper()
	probe := r.st.NewWorker("probe", nil)
	probe.SetIdle(0) // every pending item, however recent
	items, err := probe.Reclaim(r.t.Context())
	if err != nil {
		r.t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

func (r *rig) next() itemDone {
	r.t.Helper()
	select {
	case d := <-r.items:
		return d
	case <-r.t.Context().Done():
		r.t.Fatal("no item finished")
		return itemDone{}
	}
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-t.Context().Done():
		t.Fatalf("never: %s", what)
		var zero T
		return zero
	}
}

// TestRunnerDispatchesByKind: each item goes to its kind's handler once and
// is acknowledged; undecodable and unknown work is logged once and acked.
func TestRunnerDispatchesByKind(t *testing.T) {
	r := newRig(t, work.Options{})
	got := make(chan string, 8)
	r.runner.Handle("send", func(ctx context.Context, it *store.Item) error { got <- "send " + it.ID; return nil })
	r.runner.Handle("step", func(ctx context.Context, it *store.Item) error { got <- "step " + it.ID; return nil })
	r.runner.Handle("bad", func(ctx context.Context, it *store.Item) error {
		return errors.New("decode bad payload: " + store.ErrUndecodable.Error()) // not wrapped: a real failure
	})
	r.start()
	r.enqueue("send:m1", false, `{"k":"send"}`)
	r.enqueue("esc:e1:0:1", true, `{"k":"step"}`)
	r.enqueue("junk:1", false, `not json`)
	r.enqueue("junk:2", false, `{"k":"from-the-future"}`)
	seen := map[string]bool{}
	for range 2 {
		seen[recv(t, got, "a handler ran")] = true
	}
	if !seen["send send:m1"] || !seen["step esc:e1:0:1"] {
		t.Errorf("handlers saw %v; want send:m1 by send and esc:e1:0:1 by step", seen)
	}
	for range 4 {
		r.next()
	}
	if p := r.pending(); len(p) != 0 {
		t.Errorf("pending after work = %v; want none (all acknowledged)", p)
	}
	logs := r.logs.String()
	for _, id := range []string{"junk:1", "junk:2"} {
		if n := strings.Count(logs, `"item":"`+id+`"`); n != 1 {
			t.Errorf("%s logged %d times; want once\n%s", id, n, logs)
		}
	}
	if strings.Contains(logs, "not json") {
		t.Errorf("logs hold a payload:\n%s", logs)
	}
}

// TestRunnerDeadline: an item's context ends when its deadline passes on
// the runner's clock, not before; the failed item stays pending for a retry.
func TestRunnerDeadline(t *testing.T) {
	for _, tc := range []struct {
		name      string
		advance   time.Duration
		cancelled bool
	}{
		{"before the deadline", 59 * time.Second, false},
		{"at the deadline", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, work.Options{Deadline: time.Minute})
			started := make(chan context.Context, 1)
			release := make(chan struct{})
			r.runner.Handle("slow", func(ctx context.Context, it *store.Item) error {
				started <- ctx
				select {
				case <-ctx.Done():
					return context.Cause(ctx)
				case <-release:
					return nil
				}
			})
			r.start()
			r.enqueue("slow:1", false, `{"k":"slow"}`)
			ctx := recv(t, started, "the handler started")
			r.clock.Advance(tc.advance)
			if cancelled := ctx.Err() != nil; cancelled != tc.cancelled {
				t.Fatalf("after %s, item context cancelled = %v; want %v", tc.advance, cancelled, tc.cancelled)
			}
			if !tc.cancelled {
				close(release)
				if d := r.next(); d.err != nil {
					t.Errorf("item = %v; want done", d.err)
				}
				return
			}
			d := r.next()
			if !errors.Is(d.err, work.ErrDeadline) {
				t.Errorf("item error = %v; want the deadline", d.err)
			}
			if p := r.pending(); len(p) != 1 || p[0] != "slow:1" {
				t.Errorf("pending = %v; want slow:1 left for a retry", p)
			}
		})
	}
}

// TestRunnerBoundsConcurrency: never more items at once than Concurrency,
// from the stream and from the handoff alike; everything gets done.
func TestRunnerBoundsConcurrency(t *testing.T) {
	r := newRig(t, work.Options{Concurrency: 2, UrgentConcurrency: 1})
	var inFlight, most atomic.Int32
	started := make(chan string, 16)
	release := make(chan struct{})
	r.runner.Handle("job", func(ctx context.Context, it *store.Item) error {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		started <- it.ID
		<-release
		inFlight.Add(-1)
		return nil
	})
	r.start()
	for i := range 6 {
		r.enqueue("job:"+string(rune('a'+i)), false, `{"k":"job"}`)
	}
	var handed []store.Item
	for i := range 4 {
		handed = append(handed, store.Item{ID: "handed:" + string(rune('a'+i)), Payload: []byte(`{"k":"job"}`)})
	}
	r.runner.Handoff(handed) // room in the buffer: returns at once
	// Two start (the bound); each finish lets one more start.
	recv(t, started, "an item started")
	for range 9 {
		recv(t, started, "an item started")
		release <- struct{}{}
	}
	release <- struct{}{}
	for range 10 {
		r.next()
	}
	if m := most.Load(); m != 2 {
		t.Errorf("most items at once = %d; want 2 (the bound)", m)
	}
}

// TestHandoffBounded: with every worker busy and the buffer full, Handoff
// waits for room up to HandoffWait on the runner's clock and then leaves
// the item in its stream; no goroutine is left behind per item.
func TestHandoffBounded(t *testing.T) {
	r := newRig(t, work.Options{Concurrency: 1, UrgentConcurrency: 1, HandoffWait: 2 * time.Second})
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	r.runner.Handle("job", func(ctx context.Context, it *store.Item) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		return nil
	})
	r.start()
	if r.runner.Consumer() == "" {
		t.Fatal("Consumer() = \"\" while running with room; want the consumer name")
	}
	job := func(id string) store.Item { return store.Item{ID: id, Payload: []byte(`{"k":"job"}`)} }
	r.runner.Handoff([]store.Item{job("first")})
	recv(t, started, "the one worker took the first item")
	var fill []store.Item
	for i := range 1024 {
		fill = append(fill, job("fill:"+string(rune(i))))
	}
	r.runner.Handoff(fill) // the buffer holds them: returns at once
	if c := r.runner.Consumer(); c != "" {
		t.Errorf("Consumer() = %q with the buffer full; want \"\" (claim nothing more)", c)
	}
	done := make(chan struct{})
	go func() { r.runner.Handoff([]store.Item{job("overflow")}); close(done) }()
	select {
	case <-done:
		t.Fatal("Handoff returned with the buffer full before its wait passed")
	default:
	}
	// Advance until the waiting Handoff has registered its timer and gone.
	for {
		r.clock.Advance(2 * time.Second)
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	if !strings.Contains(r.logs.String(), `"item":"overflow"`) {
		t.Errorf("overflow not logged as left to the reclaimer:\n%s", r.logs.String())
	}
	close(release)
}

// TestRunnerStopsGracefully: on stop, the item in hand finishes and is
// acknowledged before Run returns; a second Run is an error, not a panic.
func TestRunnerStopsGracefully(t *testing.T) {
	r := newRig(t, work.Options{})
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var ctxErr atomic.Value
	r.runner.Handle("job", func(ctx context.Context, it *store.Item) error {
		started <- struct{}{}
		<-release
		if ctx.Err() != nil {
			ctxErr.Store(ctx.Err())
		}
		return nil
	})
	stop := r.start()
	if err := r.runner.Run(t.Context()); !errors.Is(err, work.ErrRunning) {
		t.Errorf("second Run while running = %v; want ErrRunning", err)
	}
	r.enqueue("job:1", false, `{"k":"job"}`)
	recv(t, started, "the item started")
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case <-stopped:
		t.Fatal("Run returned with an item in hand")
	default:
	}
	close(release)
	if err := recv(t, stopped, "Run returned after the item finished"); err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	if v := ctxErr.Load(); v != nil {
		t.Errorf("item context ended on stop (%v); want it to finish", v)
	}
	if p := r.pending(); len(p) != 0 {
		t.Errorf("pending after stop = %v; want the item acknowledged", p)
	}
	if err := r.runner.Run(t.Context()); !errors.Is(err, work.ErrRunning) {
		t.Errorf("Run after stop = %v; want ErrRunning", err)
	}
	if c := r.runner.Consumer(); c != "" {
		t.Errorf("Consumer() after stop = %q; want \"\"", c)
	}
}

// TestRunnerReclaimsAfterCrash: an item a crashed process read and never
// finished is taken over at a maintenance round and done, with its
// delivery count.
func TestRunnerReclaimsAfterCrash(t *testing.T) {
	r := newRig(t, work.Options{ReclaimIdle: time.Millisecond})
	r.enqueue("occ:s1:2026-03-01:0", false, `{"k":"checkin"}`)
	dead := r.st.NewWorker("crashed", nil)
	if got, err := dead.Read(t.Context()); err != nil || len(got) != 1 {
		t.Fatalf("crashed process read %v, %v; want the item", got, err)
	}
	// The idle time is short, so the item may be taken over more than once
	// while the test spins the clock: the handler never blocks on telling.
	deliveries := make(chan int64, 1)
	r.runner.Handle("checkin", func(ctx context.Context, it *store.Item) error {
		select {
		case deliveries <- it.Deliveries:
		default:
		}
		return nil
	})
	r.start()
	// A maintenance round per 5 s of runner time; the item's idle time runs
	// on Redis's clock, so rounds repeat until it counts as abandoned.
	for {
		r.clock.Advance(5 * time.Second)
		select {
		case n := <-deliveries:
			if n < 2 {
				t.Errorf("deliveries = %d; want at least 2 (a takeover)", n)
			}
		case <-t.Context().Done():
			t.Fatal("abandoned item never reclaimed")
		default:
			continue
		}
		break
	}
	if d := r.next(); d.err != nil {
		t.Errorf("reclaimed item = %v; want done", d.err)
	}
	if !strings.Contains(r.logs.String(), "took over abandoned work") {
		t.Errorf("takeover not logged:\n%s", r.logs.String())
	}
}

// TestRunnerMovesDueWork: work planned for later is done once the runner's
// clock reaches it, not before.
func TestRunnerMovesDueWork(t *testing.T) {
	ticked := make(chan time.Time, 1)
	r := newRig(t, work.Options{OnTick: func(now time.Time) {
		select {
		case ticked <- now:
		default:
		}
	}})
	got := make(chan string, 1)
	r.runner.Handle("reminder", func(ctx context.Context, it *store.Item) error { got <- it.ID; return nil })
	r.start()
	due := r.clock.Now().Add(time.Hour)
	if err := r.st.Schedule(t.Context(), "rem:a1:24h", due, []byte(`{"k":"reminder"}`)); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(59 * time.Minute)
	for recv(t, ticked, "the mover ran").Before(due.Add(-time.Minute)) {
	}
	if _, planned, err := r.st.ScheduledAt(t.Context(), "rem:a1:24h"); err != nil || !planned {
		t.Errorf("a minute early, still planned = %v (%v); want true (not moved yet)", planned, err)
	}
	r.clock.Advance(time.Minute)
	if id := recv(t, got, "the due reminder ran"); id != "rem:a1:24h" {
		t.Errorf("ran %s; want rem:a1:24h", id)
	}
}
