package bench

import (
	"context"
	"time"
)

// StepResult is one inbound step: one offered rate for one step length.
type StepResult struct {
	Rate       int
	Msgs       int
	Achieved   float64
	Errors     int
	Lat        Dist          // webhook POST, from when it was due to the answer
	Server     Dist          // time inside the webhook handler
	Reply      Dist          // webhook due → the reply it caused recorded by the fake
	Replies    int           // replies recorded (want Msgs)
	Drain      time.Duration // last POST → last reply recorded
	GenLag     time.Duration
	Held       int     // notes that waited for their client's answer to be taken
	Attempt    int     // 2: the step was run again after it failed
	BusyBefore float64 // share of all CPUs busy just before the step
	Other      int     // replies that were neither the next question nor the thanks (should be 0)
	Setup      time.Duration
	Use        Usage // per inbound message, its reply's sending included
	AllReplis  bool
}

// holds says whether a step was sustained: no errors, the offered rate
// reached, p99 within the target, and the replies caught up within a second.
func (s StepResult) holds(target time.Duration) bool {
	return s.Errors == 0 && s.Achieved >= 0.97*float64(s.Rate) && s.Lat.P99 <= target && s.AllReplis && s.Drain <= time.Second
}

// loadMessages signs, for each phone, the answer "7" (first half of the
// run) and then a free-text note (second half): every message advances a
// conversation and gets one reply.
func (e *benchEnv) loadMessages(phones []string) []benchReq {
	n := len(phones)
	reqs := make([]benchReq, 2*n)
	for i, p := range phones {
		reqs[i] = e.signSMS(e.base, p, "7")
		reqs[n+i] = e.signSMS(e.base, p, benchNotes[i%len(benchNotes)])
		reqs[n+i].after = i + 1
	}
	return reqs
}

// replyLatencies matches each message of run to the reply it caused.
func (e *benchEnv) replyLatencies(phones []string, run *loadRun) ([]time.Duration, int) {
	n := len(phones)
	var lat []time.Duration
	got := 0
	for i, p := range phones {
		for k, kind := range []int{kNote, kThanks} {
			seen := e.obs.seen(p, kind)
			if len(seen) == 0 {
				continue
			}
			got++
			lat = append(lat, seen[0].Sub(run.due[k*n+i]))
		}
	}
	return lat, got
}

func (e *benchEnv) inboundStep(ctx context.Context, rate int, dur time.Duration, g int) (StepResult, error) {
	res := StepResult{Rate: rate}
	n := max(1, int(float64(rate)*dur.Seconds()/2))
	t0 := time.Now()
	phones, err := e.checkinPool(ctx, n, g)
	if err != nil {
		return res, err
	}
	reqs := e.loadMessages(phones)
	res.Setup = time.Since(t0)
	e.settle(ctx, e.admin)
	e.srvLat.take()
	s0 := e.snap(ctx)
	run := e.openLoop(ctx, float64(rate), reqs)
	res.AllReplis = waitUntil(ctx, e.cfg.Wait, func() bool { return e.obs.count(g, kNote) >= n && e.obs.count(g, kThanks) >= n })
	e.settle(ctx, e.admin)
	s1 := e.snap(ctx)
	res.Msgs = len(reqs)
	res.Achieved = run.achieved()
	res.Errors = run.errors()
	res.Lat = distOf(run.lat)
	res.Server = distOf(e.srvLat.take())
	res.GenLag = run.lag
	res.Held = int(run.held.Load())
	res.Other = e.obs.count(g, kOther)
	replies, got := e.replyLatencies(phones, run)
	res.Reply = distOf(replies)
	res.Replies = got
	var last time.Time
	for _, p := range phones {
		for _, t := range e.obs.seen(p, kThanks) {
			if t.After(last) {
				last = t
			}
		}
		for _, t := range e.obs.seen(p, kNote) {
			if t.After(last) {
				last = t
			}
		}
	}
	res.Drain = max(0, last.Sub(run.lastSend))
	res.Use = usageOf(s0, s1, float64(res.Msgs))
	return res, nil
}
