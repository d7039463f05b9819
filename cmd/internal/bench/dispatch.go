package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/carecheck/carecheck/store"
)

// DispatchResult is the dispatch phase: occurrences all due at once.
type DispatchResult struct {
	N, Delivered, Duplicates, Misses int
	Setup, Elapsed                   time.Duration
	Rate                             float64 // occurrences/s, due → every first question recorded
	FirstSent                        Dist    // due → first question recorded, per occurrence
	Use                              Usage   // per occurrence
}

func (e *benchEnv) dispatchPhase(ctx context.Context) (DispatchResult, error) {
	res := DispatchResult{N: e.cfg.Dispatch}
	st := e.svc.Store()
	a, cm, err := e.newAgency(ctx, st, "Bench Dispatch")
	if err != nil {
		return res, err
	}
	now := e.clock.Now()
	due := now.Add(30 * time.Minute).Truncate(time.Minute).Add(time.Minute)
	// A zone where the due time is around noon, clear of quiet hours.
	off := 12 - due.UTC().Hour()
	zone := "Etc/GMT"
	if off != 0 {
		zone = fmt.Sprintf("Etc/GMT%+d", -off) // Etc/GMT-3 is UTC+3
	}
	phones := e.phones("+1312", res.N)
	e.obs.register(gDispatch, phones...)
	t0 := time.Now()
	err = parallel(ctx, res.N, 32, func(i int) error {
		c := benchClient(a, cm.ID, phones[i], zone, now)
		if err := st.CreateClient(ctx, c); err != nil {
			return err
		}
		sc := &store.Schedule{ClientID: c.ID, AgencyID: a.ID, Questionnaire: "daily-mood", RRule: "FREQ=DAILY", Start: due.Add(-24 * time.Hour), Timezone: zone}
		if err := st.SaveSchedule(ctx, sc); err != nil {
			return err
		}
		return e.svc.PlanSchedule(ctx, a, sc, now)
	})
	if err != nil {
		return res, err
	}
	res.Setup = time.Since(t0)
	planned, _ := e.admin.ZCount(ctx, "{q}:due", "-inf", strconv.FormatInt(due.UnixMilli(), 10)).Result()
	if int(planned) < res.N {
		return res, fmt.Errorf("only %d of %d occurrences planned at the due time", planned, res.N)
	}
	e.settle(ctx, e.admin)
	s0 := e.snap(ctx)
	e.clock.Jump(due.Sub(e.clock.Now()) + time.Second)
	start := time.Now()
	waitUntil(ctx, e.cfg.Wait+time.Duration(res.N)*time.Millisecond, func() bool { return e.obs.count(gDispatch, kQuestion) >= res.N })
	// Let anything still queued finish, so a late duplicate would be seen.
	e.settle(ctx, e.admin)
	time.Sleep(300 * time.Millisecond)
	s1 := e.snap(ctx)
	var first []time.Duration
	var last time.Time
	for _, p := range phones {
		seen := e.obs.seen(p, kQuestion)
		switch len(seen) {
		case 0:
			res.Misses++
			continue
		default:
			res.Duplicates += len(seen) - 1
		}
		res.Delivered++
		first = append(first, seen[0].Sub(start))
		if seen[0].After(last) {
			last = seen[0]
		}
	}
	res.FirstSent = distOf(first)
	res.Elapsed = last.Sub(start)
	if res.Elapsed > 0 {
		res.Rate = float64(res.Delivered) / res.Elapsed.Seconds()
	}
	res.Use = usageOf(s0, s1, float64(res.N))
	return res, nil
}
