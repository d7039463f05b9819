package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/cmd/internal/inproc"
	"github.com/carecheck/carecheck/store"
)

// MemClass is the Redis memory of one key shape.
type MemClass struct {
	Class        string
	Keys         int
	Bytes        float64 // as stored after the simulated days
	Steady       float64 // keys with a TTL cut to the share their TTL keeps
	TTL          time.Duration
	PerAgencyKey bool
}

// MemoryResult is the memory phase: what a client costs in Redis.
type MemoryResult struct {
	Clients, Days int
	Classes       []MemClass
	PerClient     float64 // bytes (MEMORY USAGE), as stored
	Steady        float64 // bytes, TTL'd keys at their steady-state share
	// Fixed is the steady-state share of what does not grow with time (the
	// client, its schedule, the queued next occurrence, the owner mapping,
	// the idle conversation, dedupe and sent markers at their TTL share):
	// the ≤ 2 KB target. History is what grows: the timeline, closed
	// escalations and the client's index of them, over Days.
	Fixed, History float64
	UsedDelta      float64 // INFO used_memory delta / clients
	Messages       int     // SMS the fake recorded for these clients
}

// historyShape reports whether a key shape is history (grows with every
// answered day) rather than fixed state.
func historyShape(shape string) bool {
	return shape == "{c}:timeline" || shape == "{a}:esc" || shape == "{a}:escs:client"
}

// memNote is client i's note on day d: a different sentence every day of
// the phase, and neighbours on different ones.
func memNote(i, d int) string { return benchNotes[(i*7+d)%len(benchNotes)] }

// memoryPhase builds clients' data through the real paths on the next
// database with a service of its own, whose clock walks day by day: a daily
// check-in answered every day, one crisis whose escalation is resolved.
func (e *benchEnv) memoryPhase(ctx context.Context) (MemoryResult, error) {
	cfg := e.cfg
	res := MemoryResult{Clients: cfg.MemClients, Days: cfg.MemDays}
	url2, err := dbURL(e.redisURL, 1)
	if err != nil {
		return res, err
	}
	admin2, err := benchRedisClient(e.redisURL, 1)
	if err != nil {
		return res, err
	}
	defer admin2.Close()
	tw2 := twiliotest.NewServer(benchSID, benchToken)
	defer tw2.Close()
	const public = "http://carecheck-bench.invalid"
	env := map[string]string{"REDIS_URL": url2, "CARECHECK_PUBLIC_URL": public,
		"TWILIO_ACCOUNT_SID": benchSID, "TWILIO_AUTH_TOKEN": benchToken, "TWILIO_FROM_NUMBER": benchFrom, "TWILIO_API_URL": tw2.URL,
		"TWILIO_MESSAGES_PER_SECOND": "0"}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		return res, err
	}
	clock := &benchClock{}
	clock.Set(time.Date(2026, 6, 1, 9, 0, 0, 0, chicago))
	info0 := readInfo(ctx, admin2)
	svc2, err := e.start(ctx, inproc.Options{Env: env, LogTo: e.logw, LogLevel: "info", Now: clock.Now})
	if err != nil {
		return res, err
	}
	defer svc2.Close()
	runCtx, cancel := context.WithCancel(ctx)
	wait := svc2.Work(runCtx)
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { cancel(); wait() }) }
	defer stop()
	obs := newBenchObserver()
	go obs.run(runCtx, tw2)

	st := svc2.Store()
	a, backup, err := e.newAgency(ctx, st, "Bench Memory")
	if err != nil {
		return res, err
	}
	cm := &store.CaseManager{AgencyID: a.ID, Name: "Bench Staff", Phone: e.phones("+1773", 1)[0], BackupID: backup.ID}
	if err := st.CreateCaseManager(ctx, cm); err != nil {
		return res, err
	}
	n := cfg.MemClients
	phones := e.phones("+1312", n)
	obs.register(gMemClients, phones...)
	obs.register(gMemStaff, cm.Phone, backup.Phone)
	err = parallel(ctx, n, 16, func(i int) error {
		c := benchClient(a, cm.ID, phones[i], "America/Chicago", clock.Now())
		if err := st.CreateClient(ctx, c); err != nil {
			return err
		}
		sc := &store.Schedule{ClientID: c.ID, AgencyID: a.ID, Questionnaire: "daily-mood", RRule: "FREQ=DAILY",
			Start: time.Date(2026, 6, 1, 10, 0, 0, 0, chicago), Timezone: "America/Chicago"}
		if err := st.SaveSchedule(ctx, sc); err != nil {
			return err
		}
		return svc2.PlanSchedule(ctx, a, sc, clock.Now())
	})
	if err != nil {
		return res, err
	}
	post := func(phone, text string) error {
		r := e.signSMS(public, phone, text)
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, public+twilio.SMSPath, bytes.NewReader(r.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, r.sig)
		rec := httptest.NewRecorder()
		svc2.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("webhook answered %d", rec.Code)
		}
		return nil
	}
	round := func(what string, kind, want int, text func(i int) string) error {
		if text != nil {
			if err := parallel(ctx, n, 8, func(i int) error { return post(phones[i], text(i)) }); err != nil {
				return err
			}
		}
		if !waitUntil(ctx, cfg.Wait, func() bool { return obs.count(gMemClients, kind) >= want }) {
			return fmt.Errorf("%s: %d of %d", what, obs.count(gMemClients, kind), want)
		}
		return nil
	}
	crisisDay := cfg.MemDays / 3
	for d := range cfg.MemDays {
		clock.Set(time.Date(2026, 6, 1+d, 10, 0, 1, 0, chicago))
		want := n * (d + 1)
		if err := round(fmt.Sprintf("day %d first questions", d+1), kQuestion, want, nil); err != nil {
			return res, err
		}
		if err := round(fmt.Sprintf("day %d answers", d+1), kNote, want, func(int) string { return "7" }); err != nil {
			return res, err
		}
		if err := round(fmt.Sprintf("day %d notes", d+1), kThanks, want, func(i int) string { return memNote(i, d) }); err != nil {
			return res, err
		}
		if d != crisisDay {
			continue
		}
		clock.Set(time.Date(2026, 6, 1+d, 19, 30, 0, 0, chicago))
		if err := round("safety replies", kSafety, n, func(int) string { return benchCrisis }); err != nil {
			return res, err
		}
		if !waitUntil(ctx, cfg.Wait, func() bool { return obs.count(gMemStaff, kAlert) >= n }) {
			return res, fmt.Errorf("alerts: %d of %d", obs.count(gMemStaff, kAlert), n)
		}
		for range n + 1 {
			page, err := st.Escalations(ctx, a.ID, "open", "", 200)
			if err != nil {
				return res, err
			}
			if len(page.Items) == 0 {
				break
			}
			for _, x := range page.Items {
				if err := svc2.ResolveEscalation(ctx, a.ID, x.ID, "api", "bench: handled"); err != nil {
					return res, err
				}
			}
		}
	}
	// The day after: yesterday's timers run (and find nothing to do).
	clock.Set(time.Date(2026, 6, 1+cfg.MemDays, 9, 0, 0, 0, chicago))
	time.Sleep(300 * time.Millisecond)
	e.settle(ctx, admin2)
	stop()
	obs.mu.Lock()
	for _, p := range phones {
		res.Messages += len(obs.byTo[p])
	}
	obs.mu.Unlock()

	span := time.Duration(cfg.MemDays) * 24 * time.Hour
	classes, err := memoryClasses(ctx, admin2, span)
	if err != nil {
		return res, err
	}
	info1 := readInfo(ctx, admin2)
	for i := range classes {
		c := &classes[i]
		res.PerClient += c.Bytes / float64(n)
		res.Steady += c.Steady / float64(n)
		if historyShape(c.Class) {
			res.History += c.Steady / float64(n)
		} else {
			res.Fixed += c.Steady / float64(n)
		}
	}
	res.Classes = classes
	res.UsedDelta = float64(info1.usedMemory-info0.usedMemory) / float64(n)
	return res, nil
}

// memoryClasses sums MEMORY USAGE (SAMPLES 0) of every key by key shape.
func memoryClasses(ctx context.Context, c *redis.Client, span time.Duration) ([]MemClass, error) {
	byClass := map[string]*MemClass{}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return nil, err
		}
		pipe := c.Pipeline()
		mem := make([]*redis.IntCmd, len(keys))
		ttl := make([]*redis.DurationCmd, len(keys))
		for i, k := range keys {
			mem[i] = pipe.MemoryUsage(ctx, k, 0)
			ttl[i] = pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		for i, k := range keys {
			shape := keyShape(k)
			mc := byClass[shape]
			if mc == nil {
				mc = &MemClass{Class: shape, PerAgencyKey: strings.HasPrefix(shape, "{a}") && shape != "{a}:esc" && shape != "{a}:escs:client" ||
					shape == "agencies" || shape == "apikey:*" || shape == "carecheck:*"}
				byClass[shape] = mc
			}
			b := float64(mem[i].Val())
			mc.Keys++
			mc.Bytes += b
			share := 1.0
			if t := ttl[i].Val(); t > 0 {
				mc.TTL = max(mc.TTL, t)
				share = min(1, float64(t)/float64(span))
			}
			mc.Steady += b * share
		}
		cursor = next
		if cursor == 0 {
			break
		}
	}
	var out []MemClass
	for _, mc := range byClass {
		out = append(out, *mc)
	}
	slices.SortFunc(out, func(a, b MemClass) int {
		if a.Bytes != b.Bytes {
			if a.Bytes > b.Bytes {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Class, b.Class)
	})
	return out, nil
}
