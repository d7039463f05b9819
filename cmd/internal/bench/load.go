package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/store"
)

func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond) // polling the fake's record and Redis: nothing to block on
	}
}

// parallel runs f(0..n-1) on workers goroutines; the first error stops it.
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// phones returns n fresh, valid US numbers under prefix ("+1312": clients, "+1773": staff).
func (e *benchEnv) phones(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%07d", prefix, 2_000_000+e.phone.Add(1))
	}
	return out
}

type benchReq struct {
	body []byte
	sig  string
	// after, when > 0, is 1 + the index of a request of the same run that
	// must be answered first (a person answers the second question after
	// the first): it is sent at its due time or when that one is answered,
	// whichever is later; its latency still counts from its due time.
	after int
}

// signSMS builds an inbound SMS webhook as Twilio sends it, signed over public.
func (e *benchEnv) signSMS(public, from, text string) benchReq {
	sid := fmt.Sprintf("SM%032x", e.sid.Add(1))
	form := twiliotest.SMSForm(sid, from, benchFrom, text)
	form.Set("AccountSid", benchSID)
	return benchReq{body: []byte(form.Encode()), sig: twiliotest.Sign(benchToken, public+twilio.SMSPath, form)}
}

func (e *benchEnv) post(ctx context.Context, r benchReq) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+twilio.SMSPath, bytes.NewReader(r.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, r.sig)
	resp, err := e.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitQuiet waits, up to QuietWait, for a second in which the CPUs are
// less than a quarter busy (other work on a shared machine spoils a
// measurement); it returns how busy the last second was.
func (e *benchEnv) waitQuiet(ctx context.Context) float64 {
	if e.cfg.QuietWait <= 0 {
		return 0
	}
	deadline := time.Now().Add(e.cfg.QuietWait)
	for {
		a := readMachineCPU()
		time.Sleep(time.Second) // sampling /proc/stat over one second
		busy := busyShare(a, readMachineCPU())
		if busy < 0.25 || time.Now().After(deadline) || ctx.Err() != nil {
			return busy
		}
	}
}

// settle waits until the work streams are empty (everything queued is done).
func (e *benchEnv) settle(ctx context.Context, c *redis.Client) bool {
	return waitUntil(ctx, e.cfg.Wait, func() bool {
		a, err1 := c.XLen(ctx, "{q}:stream").Result()
		b, err2 := c.XLen(ctx, "{q}:urgent").Result()
		return (err1 == nil || errors.Is(err1, redis.Nil)) && (err2 == nil || errors.Is(err2, redis.Nil)) && a+b == 0
	})
}

func (e *benchEnv) newAgency(ctx context.Context, st *store.Store, name string) (*store.Agency, *store.CaseManager, error) {
	// The settings POST /v1/agencies gives a new agency.
	a := &store.Agency{Name: name, Timezone: "America/Chicago", QuietStart: "21:00", QuietEnd: "08:00",
		MissedInARow: 2, MoodThreshold: 2, ReplyWindow: store.Duration(4 * time.Hour)}
	if _, err := st.CreateAgency(ctx, a); err != nil {
		return nil, nil, err
	}
	cm := &store.CaseManager{AgencyID: a.ID, Name: "Bench Staff", Phone: e.phones("+1773", 1)[0]}
	e.obs.register(gBench, cm.Phone)
	if err := st.CreateCaseManager(ctx, cm); err != nil {
		return nil, nil, err
	}
	return a, cm, nil
}

func benchClient(a *store.Agency, cm, phone, zone string, now time.Time) *store.Client {
	return &store.Client{AgencyID: a.ID, Name: "Bench Client", Phone: phone, Channel: "sms", Timezone: zone, Language: "en",
		CaseManagerID: cm, Consent: &store.Consent{At: now.UTC().Add(-24 * time.Hour), Method: "written"}}
}

// checkinPool seeds n clients and starts a daily-mood check-in for each the
// way POST /v1/clients/{id}/checkins does; it returns once every first
// question reached the fake.
func (e *benchEnv) checkinPool(ctx context.Context, n, g int) ([]string, error) {
	phones := e.phones("+1312", n)
	e.obs.register(g, phones...)
	st := e.svc.Store()
	err := parallel(ctx, n, 32, func(i int) error {
		c := benchClient(e.inAgency, e.inCM.ID, phones[i], "America/Chicago", e.clock.Now())
		if err := st.CreateClient(ctx, c); err != nil {
			return err
		}
		return e.svc.StartCheckin(ctx, c, "daily-mood")
	})
	if err != nil {
		return nil, err
	}
	if !waitUntil(ctx, e.cfg.Wait+time.Duration(n)*time.Millisecond, func() bool { return e.obs.count(g, kQuestion) >= n }) {
		return nil, fmt.Errorf("check-ins started: %d of %d first questions sent", e.obs.count(g, kQuestion), n)
	}
	return phones, nil
}

// ------------------------------------------------------------ open loop

// loadRun is one open-loop run: request i is due at start + i/rate whatever
// happened to the others; its latency counts from when it was due.
type loadRun struct {
	due      []time.Time
	lat      []time.Duration
	status   []int
	start    time.Time
	lastSend time.Time
	lag      time.Duration // how far the generator fell behind its schedule
	held     atomic.Int64  // requests that waited for the one they follow
}

func (e *benchEnv) openLoop(ctx context.Context, rate float64, reqs []benchReq) *loadRun {
	n := len(reqs)
	r := &loadRun{due: make([]time.Time, n), lat: make([]time.Duration, n), status: make([]int, n)}
	interval := time.Duration(float64(time.Second) / rate)
	r.start = time.Now().Add(time.Millisecond)
	var wg sync.WaitGroup
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	for i := range n {
		due := r.start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 50*time.Microsecond {
			time.Sleep(d)
		} else if -d > r.lag {
			r.lag = -d
		}
		r.due[i] = due
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			if a := reqs[i].after; a > 0 {
				select {
				case <-done[a-1]:
				default:
					r.held.Add(1)
					<-done[a-1]
				}
			}
			code, err := e.post(ctx, reqs[i])
			r.lat[i] = time.Since(due)
			if err != nil {
				code = -1
			}
			r.status[i] = code
		}()
	}
	r.lastSend = time.Now()
	wg.Wait()
	return r
}

func (r *loadRun) errors() int {
	n := 0
	for _, s := range r.status {
		if s != http.StatusOK {
			n++
		}
	}
	return n
}

func (r *loadRun) achieved() float64 {
	if len(r.due) < 2 {
		return 0
	}
	return float64(len(r.due)) / r.lastSend.Sub(r.start).Seconds()
}
