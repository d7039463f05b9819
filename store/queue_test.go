package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store/redistest"
)

func queueScenarios() []scenario {
	return []scenario{
		{"queue/due items move exactly once with racing movers", testMoveDueOnce},
		{"queue/re-planning moves an item", testReplan},
		{"queue/schedule once keeps the first plan", testScheduleOnce},
		{"queue/unschedule drops an item", testUnschedule},
		{"queue/urgent is read before normal", testUrgentFirst},
		{"queue/each item goes to one of several workers", testWorkersShare},
		{"queue/unacked work is reclaimed after the idle time", testReclaim},
	}
}

// streamIDs reads every entry of the work stream and counts them by item id.
func streamIDs(t *testing.T, s *Store, stream string) map[string]int {
	t.Helper()
	msgs, err := s.rdb.XRange(t.Context(), stream, "-", "+").Result()
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	out := map[string]int{}
	for _, m := range msgs {
		id, _ := m.Values["id"].(string)
		out[id]++
	}
	return out
}

func testMoveDueOnce(t *testing.T, s *Store) {
	ctx := t.Context()
	const items, movers = 600, 8
	now := time.Now()
	for i := range items {
		// Spread over the last minute so every mover's batch overlaps the others'.
		at := now.Add(-time.Duration(i%60) * time.Second)
		if err := s.Schedule(ctx, fmt.Sprintf("occ:%d", i), at, []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	// One item not due yet: no mover may take it.
	if err := s.Schedule(ctx, "occ:later", now.Add(time.Hour), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	var moved atomic.Int64
	var errs sync.Map
	parallel(movers, func(i int) {
		for {
			n, err := s.MoveDue(ctx, now, 7)
			if err != nil {
				errs.Store(i, err)
				return
			}
			moved.Add(int64(n))
			if n == 0 {
				return
			}
		}
	})
	errs.Range(func(k, v any) bool { t.Errorf("mover %v: %v", k, v); return true })
	if got := moved.Load(); got != items {
		t.Errorf("movers reported %d moved; want %d", got, items)
	}
	ids := streamIDs(t, s, keyStream)
	if len(ids) != items {
		t.Errorf("distinct items in the stream = %d; want %d", len(ids), items)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("item %s is in the stream %d times; want once", id, n)
		}
	}
	if ids["occ:later"] != 0 {
		t.Error("an item due in an hour was moved")
	}
	if _, ok, _ := s.ScheduledAt(ctx, "occ:later"); !ok {
		t.Error("the item due in an hour is no longer planned")
	}
	if n, _ := s.rdb.HLen(ctx, keyItems).Result(); n != 1 {
		t.Errorf("payloads left = %d; want 1 (the later item)", n)
	}
}

func testReplan(t *testing.T, s *Store) {
	ctx := t.Context()
	now := time.Now()
	// Planned for later, re-planned to now: it moves, with the new payload.
	if err := s.Schedule(ctx, "remind:a", now.Add(time.Hour), []byte("old")); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.MoveDue(ctx, now, 10); n != 0 {
		t.Fatalf("moved %d before the item was due", n)
	}
	if err := s.Schedule(ctx, "remind:a", now.Add(-time.Second), []byte("new")); err != nil {
		t.Fatal(err)
	}
	// Planned for now, re-planned to later: it stays.
	if err := s.Schedule(ctx, "remind:b", now.Add(-time.Second), []byte("b")); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Hour).Truncate(time.Millisecond)
	if err := s.Schedule(ctx, "remind:b", later, []byte("b2")); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MoveDue(ctx, now, 10); n != 1 || err != nil {
		t.Fatalf("MoveDue = %d, %v; want 1 (only the item re-planned to now)", n, err)
	}
	w := s.NewWorker("w1", nil)
	w.SetBlock(100 * time.Millisecond)
	got, err := w.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "remind:a" || string(got[0].Payload) != "new" {
		t.Errorf("read %+v; want remind:a with the new payload", got)
	}
	at, ok, err := s.ScheduledAt(ctx, "remind:b")
	if err != nil || !ok || !at.Equal(later) {
		t.Errorf("remind:b planned at %v (%v, %v); want %v", at, ok, err, later)
	}
}

func testScheduleOnce(t *testing.T, s *Store) {
	ctx := t.Context()
	first := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	if err := s.ScheduleOnce(ctx, "occ:x", first, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := s.ScheduleOnce(ctx, "occ:x", first.Add(time.Hour), []byte("second")); err != nil {
		t.Fatal(err)
	}
	at, ok, _ := s.ScheduledAt(ctx, "occ:x")
	if !ok || !at.Equal(first) {
		t.Errorf("planned at %v; want the first plan %v", at, first)
	}
	if p, _ := s.rdb.HGet(ctx, keyItems, "occ:x").Result(); p != "first" {
		t.Errorf("payload = %q; want the first one", p)
	}
}

func testUnschedule(t *testing.T, s *Store) {
	ctx := t.Context()
	now := time.Now()
	if err := s.Schedule(ctx, "remind:gone", now.Add(-time.Second), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Unschedule(ctx, "remind:gone"); err != nil {
		t.Fatalf("unschedule: %v", err)
	}
	if n, err := s.MoveDue(ctx, now, 10); n != 0 || err != nil {
		t.Errorf("MoveDue after Unschedule = %d, %v; want 0", n, err)
	}
	if _, ok, _ := s.ScheduledAt(ctx, "remind:gone"); ok {
		t.Error("the item is still planned")
	}
	if n, _ := s.rdb.HLen(ctx, keyItems).Result(); n != 0 {
		t.Errorf("payloads left = %d; want 0", n)
	}
}

func testUrgentFirst(t *testing.T, s *Store) {
	ctx := t.Context()
	for i := range 3 {
		if err := s.Enqueue(ctx, fmt.Sprintf("send:normal%d", i), false, []byte("n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Enqueue(ctx, "send:safety", true, []byte("u")); err != nil {
		t.Fatal(err)
	}
	w := s.NewWorker("w1", nil)
	w.SetBlock(100 * time.Millisecond)
	got, err := w.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("read %d items; want 4", len(got))
	}
	if got[0].ID != "send:safety" || !got[0].Urgent || got[0].Deliveries != 1 {
		t.Errorf("first item = %s (urgent %v, deliveries %d); want send:safety, urgent, 1", got[0].ID, got[0].Urgent, got[0].Deliveries)
	}
	for _, it := range got[1:] {
		if it.Urgent {
			t.Errorf("%s read as urgent", it.ID)
		}
	}
	if err := w.Ack(ctx, got...); err != nil {
		t.Fatal(err)
	}
	if again, _ := w.Read(ctx); len(again) != 0 {
		t.Errorf("after Ack, read %d more items; want none", len(again))
	}
}

func testWorkersShare(t *testing.T, s *Store) {
	ctx := t.Context()
	const items, workers = 300, 4
	for i := range items {
		if err := s.Enqueue(ctx, fmt.Sprintf("send:%d", i), i%10 == 0, []byte("p")); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	parallel(workers, func(i int) {
		w := s.NewWorker(fmt.Sprintf("w%d", i), nil)
		w.SetBlock(50 * time.Millisecond)
		for {
			got, err := w.Read(ctx)
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
				return
			}
			if len(got) == 0 {
				return
			}
			mu.Lock()
			for _, it := range got {
				seen[it.ID]++
			}
			mu.Unlock()
			if err := w.Ack(ctx, got...); err != nil {
				t.Errorf("worker %d ack: %v", i, err)
			}
		}
	})
	if len(seen) != items {
		t.Errorf("distinct items handed out = %d; want %d", len(seen), items)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s handed out %d times; want once", id, n)
		}
	}
	for _, st := range []string{keyStream, keyUrgent} {
		if n, _ := s.rdb.XLen(ctx, st).Result(); n != 0 {
			t.Errorf("%s still holds %d acknowledged entries", st, n)
		}
	}
}

func testReclaim(t *testing.T, s *Store) {
	ctx := t.Context()
	if err := s.Enqueue(ctx, "send:crashed", false, []byte("p")); err != nil {
		t.Fatal(err)
	}
	crashed := s.NewWorker("crashed", nil)
	crashed.SetBlock(100 * time.Millisecond)
	got, err := crashed.Read(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("first read = %v, %v; want the item", got, err)
	}
	// The first worker dies without acknowledging.
	taker := s.NewWorker("taker", nil)
	taker.SetBlock(50 * time.Millisecond)
	taker.SetIdle(50 * time.Millisecond)
	if fresh, _ := taker.Read(ctx); len(fresh) != 0 {
		t.Errorf("another worker read the unacked item as new work: %v", fresh)
	}
	var took []Item
	eventually(t, 3*time.Second, "reclaim the crashed worker's item", func() bool {
		took, err = taker.Reclaim(ctx)
		if err != nil {
			t.Fatalf("reclaim: %v", err)
		}
		return len(took) > 0
	})
	if len(took) != 1 || took[0].ID != "send:crashed" || string(took[0].Payload) != "p" {
		t.Fatalf("reclaimed %+v; want send:crashed", took)
	}
	if took[0].Deliveries != 2 {
		t.Errorf("deliveries = %d; want 2", took[0].Deliveries)
	}
	if err := taker.Ack(ctx, took...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // let the idle time pass: an acknowledged item must not come back
	if again, err := taker.Reclaim(ctx); err != nil || len(again) != 0 {
		t.Errorf("after Ack, reclaim = %v, %v; want nothing", again, err)
	}
}

// TestWorkerRecoversLostGroups: Redis restarts without persistence and loses
// the consumer groups; a worker reading and reclaiming at the same time (as
// conversations.Workers does) recreates them and gets new work.
func TestWorkerRecoversLostGroups(t *testing.T) {
	rs := redistest.New(t)
	if !rs.Real() || rs.Kind == "env" {
		t.Skip("needs a throwaway redis-server to restart")
	}
	ctx := t.Context()
	s := New(rs.Client(t), nil)
	w := s.NewWorker("w1", nil)
	w.SetBlock(20 * time.Millisecond)
	if _, err := w.Read(ctx); err != nil {
		t.Fatal(err)
	}
	rs.Stop()
	rs.Restart(t) // --appendonly no: streams and groups are gone
	eventually(t, 5*time.Second, "redis back", func() bool { return s.Ping(ctx) == nil })
	if err := s.Enqueue(ctx, "send:after-restart", false, []byte("p")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the maintenance loop
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = w.Reclaim(ctx)
			}
		}
	}()
	var got []Item
	eventually(t, 5*time.Second, "read work after the groups were lost", func() bool {
		items, _ := w.Read(ctx)
		got = append(got, items...)
		return len(got) > 0
	})
	close(stop)
	<-done
	if got[0].ID != "send:after-restart" {
		t.Errorf("read %v; want send:after-restart", got)
	}
}
