package store

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store/redistest"
	"github.com/redis/go-redis/v9"
)

func inboundScenarios() []scenario {
	return []scenario{
		{"inbound/re-delivery stores nothing new", testRedelivery},
		{"inbound/one caller holds the lock, apply pops once, unlock reports more", testLockApplyUnlock},
		{"inbound/apply and unlock in one round trip reports messages that arrived", testApplyAndUnlock},
		{"inbound/replies claimed for this process in the apply", testApplyClaimsReplies},
		{"inbound/concurrent receives: all stored, one lock holder", testConcurrentReceive},
		{"inbound/stale pending lists a crashed worker's client", testStalePending},
		{"inbound/provider ids are kept hashed", testSeenHashed},
		{"inbound/a Redis that lost its script cache loses nothing", testScriptCacheLost},
	}
}

func inMsg(pid, text string) Message {
	return Message{Channel: "sms", Kind: "text", ProviderID: pid, Text: text}
}

// inbound counts the client's timeline entries of type "in".
func inbound(t *testing.T, s *Store, clientID string) []Entry {
	t.Helper()
	page, err := s.Timeline(t.Context(), clientID, time.Time{}, time.Time{}, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, e := range page.Items {
		if e.Type == "in" {
			out = append(out, e)
		}
	}
	return out
}

func testRedelivery(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	b, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM1", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Stored || !b.Locked || len(b.Pending) != 1 || b.Pending[0].Text != "hello" {
		t.Fatalf("first receive = stored %v locked %v pending %+v; want stored, locked, the message", b.Stored, b.Locked, b.Pending)
	}
	if b.Client == nil || b.Client.ID != c.ID || b.Agency == nil || b.Agency.ID != a.ID {
		t.Errorf("batch client/agency = %v/%v; want the seeded ones", b.Client, b.Agency)
	}
	if _, err := s.Apply(ctx, c.ID, b.Pending[0].ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unlock(ctx, c.ID, b.Lock); err != nil {
		t.Fatal(err)
	}
	// Twilio delivers the same MessageSid again, once after processing and twice at once.
	for range 3 {
		again, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM1", "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if again.Stored {
			t.Error("re-delivery: Stored = true; want false")
		}
		if again.Locked {
			if len(again.Pending) != 0 {
				t.Errorf("re-delivery left %d messages to process", len(again.Pending))
			}
			_, _ = s.Unlock(ctx, c.ID, again.Lock)
		}
	}
	if n := len(inbound(t, s, c.ID)); n != 1 {
		t.Errorf("timeline holds %d inbound messages; want 1", n)
	}
}

func testLockApplyUnlock(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	first, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM10", "one"))
	if err != nil || !first.Locked {
		t.Fatalf("first receive = %+v, %v; want the lock", first, err)
	}
	second, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM11", "two"))
	if err != nil {
		t.Fatal(err)
	}
	if !second.Stored || second.Locked {
		t.Errorf("second receive while the first holds the client: stored %v locked %v; want stored, not locked", second.Stored, second.Locked)
	}
	if second.Locked || len(second.Pending) != 0 {
		t.Errorf("a caller without the lock got %d messages to process", len(second.Pending))
	}
	if b, _ := s.Lock(ctx, c.ID, a.ID); b.Locked {
		t.Error("Lock succeeded while another caller holds the client")
	}
	msg := first.Pending[0]
	ok, err := s.Apply(ctx, c.ID, msg.ID, []byte(`{"state":1}`), []Event{{"t", "answer", "v", "4"}})
	if err != nil || !ok {
		t.Fatalf("apply = %v, %v; want true", ok, err)
	}
	again, err := s.Apply(ctx, c.ID, msg.ID, []byte(`{"state":2}`), []Event{{"t", "answer", "v", "5"}})
	if err != nil || again {
		t.Errorf("second apply of the same message = %v, %v; want false", again, err)
	}
	if conv, _ := s.rdb.Get(ctx, keyConv(c.ID)).Result(); conv != `{"state":1}` {
		t.Errorf("conversation = %s; want the first apply's state", conv)
	}
	more, err := s.Unlock(ctx, c.ID, first.Lock)
	if err != nil || !more {
		t.Errorf("unlock = %v, %v; want more=true (the second message waits)", more, err)
	}
	b, err := s.Lock(ctx, c.ID, a.ID)
	if err != nil || !b.Locked || len(b.Pending) != 1 || b.Pending[0].Text != "two" || b.Pending[0].Channel != "sms" || b.Pending[0].Kind != "text" {
		t.Fatalf("lock after unlock = %+v, %v; want the second message", b, err)
	}
	if string(b.Conversation) != `{"state":1}` {
		t.Errorf("batch conversation = %s", b.Conversation)
	}
	if ok, _ := s.Apply(ctx, c.ID, b.Pending[0].ID, nil, nil); !ok {
		t.Error("apply of the second message = false")
	}
	if more, err := s.Unlock(ctx, c.ID, b.Lock); err != nil || more {
		t.Errorf("last unlock = %v, %v; want more=false", more, err)
	}
	answers := 0
	page, _ := s.Timeline(ctx, c.ID, time.Time{}, time.Time{}, "", 100)
	for _, e := range page.Items {
		if e.Type == "answer" {
			answers++
		}
	}
	if answers != 1 {
		t.Errorf("answers in the timeline = %d; want 1 (the second apply wrote nothing)", answers)
	}
	// An unlock with a stale token does not free someone else's lock.
	b2, _ := s.Lock(ctx, c.ID, a.ID)
	if _, err := s.Unlock(ctx, c.ID, first.Lock); err != nil {
		t.Fatal(err)
	}
	if b3, _ := s.Lock(ctx, c.ID, a.ID); b3.Locked {
		t.Error("a stale token released the current holder's lock")
	}
	_, _ = s.Unlock(ctx, c.ID, b2.Lock)
}

func testConcurrentReceive(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	const n = 20
	var mu sync.Mutex
	locked, stored := 0, 0
	parallel(n, func(i int) {
		// Every message arrives twice at once (Twilio retrying).
		for range 2 {
			b, err := s.Receive(ctx, c.ID, a.ID, inMsg(fmt.Sprintf("SM%03d", i), "msg"))
			if err != nil {
				t.Errorf("receive %d: %v", i, err)
				return
			}
			mu.Lock()
			if b.Locked {
				locked++
			}
			if b.Stored {
				stored++
			}
			mu.Unlock()
		}
	})
	if locked != 1 {
		t.Errorf("%d callers got the client's lock; want exactly 1 (nobody released it)", locked)
	}
	if stored != n {
		t.Errorf("stored %d messages; want %d (each once)", stored, n)
	}
	if got := len(inbound(t, s, c.ID)); got != n {
		t.Errorf("timeline holds %d inbound messages; want %d", got, n)
	}
	if l, _ := s.rdb.LLen(ctx, keyPending(c.ID)).Result(); l != n {
		t.Errorf("pending = %d; want %d", l, n)
	}
}

func testStalePending(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	b, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM20", "are you there"))
	if err != nil {
		t.Fatal(err)
	}
	// The worker dies holding the client: nothing applied, nothing unlocked.
	now := time.Now()
	fresh, err := s.StalePending(ctx, now, 10*time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range fresh {
		if id == c.ID {
			t.Error("a message stored just now is already listed as stale")
		}
	}
	stale, err := s.StalePending(ctx, now.Add(11*time.Second), 10*time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(stale, c.ID) {
		t.Fatalf("stale pending = %v; want the client", stale)
	}
	// The sweeper: the dead worker's lock expires (TTL), then it processes.
	if ttl, _ := s.rdb.PTTL(ctx, keyLock(c.ID)).Result(); ttl <= 0 || ttl > lockTTL {
		t.Errorf("lock TTL = %v; want (0, %v]: a dead worker's lock must expire", ttl, lockTTL)
	}
	if err := s.rdb.Del(ctx, keyLock(c.ID)).Err(); err != nil { // stands in for the TTL
		t.Fatal(err)
	}
	sw, err := s.Lock(ctx, c.ID, a.ID)
	if err != nil || !sw.Locked || len(sw.Pending) != 1 || sw.Pending[0].Text != "are you there" {
		t.Fatalf("sweeper lock = %+v, %v; want the stranded message", sw, err)
	}
	if ok, _ := s.Apply(ctx, c.ID, sw.Pending[0].ID, nil, nil); !ok {
		t.Error("sweeper apply = false")
	}
	if more, _ := s.Unlock(ctx, c.ID, sw.Lock); more {
		t.Error("unlock reports more after the only message")
	}
	after, _ := s.StalePending(ctx, now.Add(time.Hour), 10*time.Second, 100)
	if slices.Contains(after, c.ID) {
		t.Error("the client stays on the sweeper's list after its messages were processed")
	}
	if ttl, _ := s.rdb.PTTL(ctx, keyLock(c.ID)).Result(); ttl > 0 {
		t.Error("the lock is still held after unlock")
	}
	_ = b
}

func testApplyAndUnlock(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	first, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM20", "one"))
	if err != nil || !first.Locked {
		t.Fatalf("first receive = %+v, %v; want the lock", first, err)
	}
	if _, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM21", "two")); err != nil {
		t.Fatal(err)
	}
	reply := Work{ID: "r:test:1", Payload: []byte("reply")}
	ok, err := s.ApplyAndUnlock(ctx, first, c.ID, first.Pending[0].ID, []byte(`{"state":1}`), nil, reply)
	if err != nil || !ok {
		t.Fatalf("apply and unlock = %v, %v; want applied", ok, err)
	}
	if !first.Unlocked || !first.More {
		t.Errorf("batch after apply and unlock: unlocked %v more %v; want both (the second message waits)", first.Unlocked, first.More)
	}
	queued := false
	items, _ := s.rdb.XRange(ctx, keyStream, "-", "+").Result()
	for _, it := range items {
		queued = queued || it.Values["id"] == reply.ID
	}
	if !queued {
		t.Errorf("the reply is not on the work stream (%d items there)", len(items))
	}
	if _, err := s.rdb.ZScore(ctx, keyPendingClients, c.ID).Result(); err != nil {
		t.Errorf("client not on the sweeper's list while a message waits: %v", err)
	}
	second, err := s.Lock(ctx, c.ID, a.ID)
	if err != nil || !second.Locked || len(second.Pending) != 1 || second.Pending[0].Text != "two" {
		t.Fatalf("lock after apply and unlock = %+v, %v; want the second message", second, err)
	}
	if ok, err := s.ApplyAndUnlock(ctx, second, c.ID, second.Pending[0].ID, nil, nil); err != nil || !ok {
		t.Fatalf("second apply and unlock = %v, %v", ok, err)
	}
	if !second.Unlocked || second.More {
		t.Errorf("last batch: unlocked %v more %v; want unlocked, nothing more", second.Unlocked, second.More)
	}
	if _, err := s.rdb.ZScore(ctx, keyPendingClients, c.ID).Result(); err == nil {
		t.Error("client still on the sweeper's list with nothing pending")
	}
	if b, _ := s.Lock(ctx, c.ID, a.ID); !b.Locked {
		t.Error("the client's lock was not released")
	}
}

func testApplyClaimsReplies(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	w := s.NewWorker("proc-a", nil)
	if err := w.ensureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM30", "7"))
	if err != nil || !b.Locked {
		t.Fatalf("receive = %+v, %v", b, err)
	}
	b.ClaimFor = w.Name()
	reply := Work{ID: "send:r:claim:1", Payload: []byte("reply"), SendClaim: "r:claim:1"}
	timeout := Work{ID: "timeout:claim", At: time.Now().Add(time.Hour), Payload: []byte("later")}
	if ok, err := s.ApplyAndUnlock(ctx, b, c.ID, b.Pending[0].ID, nil, nil, reply, timeout); err != nil || !ok {
		t.Fatalf("apply = %v, %v", ok, err)
	}
	if len(b.Claimed) != 1 || b.Claimed[0].ID != reply.ID || string(b.Claimed[0].Payload) != "reply" || b.Claimed[0].Urgent {
		t.Fatalf("claimed = %+v; want the reply, routine", b.Claimed)
	}
	// Claimed, not merely handed over: pending for this consumer (a crash
	// leaves it to XAUTOCLAIM), and no other reader gets it.
	pend, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: keyStream, Group: groupWorkers, Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(pend) != 1 || pend[0].Consumer != w.Name() {
		t.Errorf("pending = %+v, %v; want the reply, for %s", pend, err, w.Name())
	}
	other := s.NewWorker("proc-b", nil)
	other.SetBlock(10 * time.Millisecond)
	if got, err := other.Read(ctx); err != nil || len(got) != 0 {
		t.Errorf("another process read %+v, %v; want nothing", got, err)
	}
	// On one node the send claim was taken in the same script: the worker
	// goes straight to the provider, and nobody else may send it meanwhile.
	if !s.isCluster() {
		pc := b.Claimed[0].PreClaim
		if pc == nil || pc.Outcome != SendClaimed {
			t.Fatalf("pre-claim = %+v; want SendClaimed", pc)
		}
		if c, _, err := s.ClaimSend(ctx, "r:claim:1", SendClaimTTL); err != nil || c != SendBusy {
			t.Errorf("another worker's claim = %d, %v; want SendBusy", c, err)
		}
	} else if b.Claimed[0].PreClaim != nil {
		t.Errorf("pre-claim on a Cluster = %+v; want none (the worker claims)", b.Claimed[0].PreClaim)
	}
	if n, _ := s.rdb.ZScore(ctx, keyDue, timeout.ID).Result(); n == 0 {
		t.Error("the timed work was not planned")
	}
	if err := w.Ack(ctx, b.Claimed...); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentMessagesShareOneConnection: on one node, the round trips
// every message pays are auto-pipelined, so a burst of messages from many
// clients is stored, loaded, applied and marked sent correctly without
// opening a connection per message in flight.
func TestConcurrentMessagesShareOneConnection(t *testing.T) {
	rs := redistest.New(t)
	rdb := rs.Client(t)
	s := New(rdb, nil)
	if grew := messageBurst(t, s, 100); grew > 2 {
		t.Errorf("pooled connections grew by %d for 100 concurrent messages; want them auto-pipelined on a shared connection", grew)
	}
}

// TestNoAutoPipelineKeepsThePool: CARECHECK_REDIS_AUTOPIPELINE=false (the
// way back should the auto-pipeliner misbehave) handles the same burst as
// correctly, on pooled connections.
func TestNoAutoPipelineKeepsThePool(t *testing.T) {
	rs := redistest.New(t)
	s, closeStore, err := Open(t.Context(), Options{URL: rs.URL, NoAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if grew := messageBurst(t, s, 100); grew <= 2 {
		t.Errorf("pooled connections grew by %d for 100 concurrent messages; want the pool used when auto-pipelining is off", grew)
	}
}

// messageBurst sends one message for each of n new clients at once through
// receive, apply and the sent marker, checks every client got exactly its
// own, and returns how many pooled connections the burst added.
func messageBurst(t *testing.T, s *Store, n int) (grew int) {
	t.Helper()
	ctx := t.Context()
	type seeded struct {
		a *Agency
		c *Client
	}
	clients := make([]seeded, n)
	for i := range clients {
		a, c := seedClient(t, s)
		clients[i] = seeded{a, c}
	}
	pool := s.rdb.(*redis.Client)
	before := pool.PoolStats().TotalConns
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, sc := range clients {
		wg.Go(func() {
			text := fmt.Sprintf("message %d", i)
			b, err := s.Receive(ctx, sc.c.ID, sc.a.ID, inMsg(fmt.Sprintf("SMburst%d", i), text))
			if err != nil {
				errs <- err
				return
			}
			if !b.Stored || !b.Locked || len(b.Pending) != 1 || b.Pending[0].Text != text || b.Client == nil || b.Client.ID != sc.c.ID {
				errs <- fmt.Errorf("client %d: stored %v locked %v pending %+v client %v", i, b.Stored, b.Locked, b.Pending, b.Client)
				return
			}
			if _, err := s.ApplyAndUnlock(ctx, b, sc.c.ID, b.Pending[0].ID, nil, nil); err != nil {
				errs <- err
				return
			}
			if err := s.MarkSent(ctx, "r:"+sc.c.ID, fmt.Sprintf("SMout%d", i), []byte("{}"), nil, true); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	grew = int(pool.PoolStats().TotalConns) - int(before)
	for i, sc := range clients {
		if got := inbound(t, s, sc.c.ID); len(got) != 1 || got[0].Fields["x"] != fmt.Sprintf("message %d", i) {
			t.Errorf("client %d timeline = %+v; want its one message", i, got)
		}
		if pid, err := s.SentMarker(ctx, "r:"+sc.c.ID); err != nil || pid != fmt.Sprintf("SMout%d", i) {
			t.Errorf("client %d sent marker = %q, %v", i, pid, err)
		}
	}
	return grew
}

// testSeenHashed: a client's seen set keeps 8 bytes of each provider id's
// hash, not the id, and still stops the id's re-delivery.
func testSeenHashed(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	for range 2 {
		b, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM41", "again"))
		if err != nil {
			t.Fatal(err)
		}
		if b.Locked {
			if _, err := s.Unlock(ctx, c.ID, b.Lock); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := inbound(t, s, c.ID); len(got) != 1 {
		t.Errorf("stored %d messages for one provider id delivered twice; want 1", len(got))
	}
	members, err := s.rdb.ZRange(ctx, keySeen(c.ID), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 || len(members[0]) != 8 || members[0] == "SM41" {
		t.Errorf("seen set = %q; want one 8-byte hash", members)
	}
}

// testScriptCacheLost: Redis forgets its scripts on a restart (or SCRIPT
// FLUSH); every step of a message, each run right after the cache is lost,
// still stores, applies, queues and unlocks.
func testScriptCacheLost(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	flush := func() {
		t.Helper()
		if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	first, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM40", "one"))
	if err != nil || !first.Locked || !first.Stored {
		t.Fatalf("receive after the cache was lost = %+v, %v; want stored and locked", first, err)
	}
	flush()
	if _, err := s.Receive(ctx, c.ID, a.ID, inMsg("SM41", "two")); err != nil {
		t.Fatal(err)
	}
	flush()
	reply := Work{ID: "r:flush:1", Payload: []byte("reply")}
	later := Work{ID: "t:flush:1", At: time.Now().Add(time.Hour), Payload: []byte("timeout")}
	ok, err := s.ApplyAndUnlock(ctx, first, c.ID, first.Pending[0].ID, []byte(`{"state":1}`), nil, reply, later)
	if err != nil || !ok || !first.Unlocked || !first.More {
		t.Fatalf("apply and unlock after the cache was lost = %v, %v (unlocked %v, more %v); want applied, unlocked, more", ok, err, first.Unlocked, first.More)
	}
	items, _ := s.rdb.XRange(ctx, keyStream, "-", "+").Result()
	queued := false
	for _, it := range items {
		queued = queued || it.Values["id"] == reply.ID
	}
	if !queued {
		t.Error("the reply is not on the work stream")
	}
	if _, err := s.rdb.ZScore(ctx, keyDue, later.ID).Result(); err != nil {
		t.Errorf("the timeout is not scheduled: %v", err)
	}
	flush()
	second, err := s.Lock(ctx, c.ID, a.ID)
	if err != nil || !second.Locked || len(second.Pending) != 1 {
		t.Fatalf("lock = %+v, %v; want the second message", second, err)
	}
	flush()
	if more, err := s.Unlock(ctx, c.ID, second.Lock); err != nil || !more {
		t.Errorf("unlock after the cache was lost = %v, %v; want released with the second message still pending", more, err)
	}
	if got := inbound(t, s, c.ID); len(got) != 2 {
		t.Errorf("timeline holds %d inbound messages; want 2", len(got))
	}
}
