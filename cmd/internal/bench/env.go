package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/cmd/internal/inproc"
	"github.com/carecheck/carecheck/store"
)

// benchClock is the service's clock: the real one plus an offset the bench
// moves (everything due "at once"; simulated days in the memory phase).
type benchClock struct{ off atomic.Int64 }

// Now is the service's time.
func (c *benchClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// Jump moves the clock d ahead.
func (c *benchClock) Jump(d time.Duration) { c.off.Add(int64(d)) }

// Set puts the clock at t.
func (c *benchClock) Set(t time.Time) { c.off.Store(int64(time.Until(t))) }

// webhookCtx marks the context of an HTTP request, so Redis round trips made
// while answering a webhook are told apart from the workers' round trips.
type webhookCtx struct{}

// benchEnv is the running service and everything around it.
type benchEnv struct {
	cfg      Config
	redisURL string
	logw     io.Writer
	admin    *redis.Client // INFO, XLEN: not counted
	start    inproc.Start
	svc      inproc.Service
	clock    *benchClock
	tw       *twiliotest.Server
	tg       *telegramtest.Server
	base     string
	hc       *http.Client
	rt       *rtCounter
	obs      *benchObserver
	srvLat   latencies // time inside the SMS webhook handler
	sid      atomic.Int64
	phone    atomic.Int64
	cancel   context.CancelFunc
	done     chan error
	closed   sync.Once

	inAgency *store.Agency // the agency of the inbound pools
	inCM     *store.CaseManager
}

// startBenchEnv starts the service, built by start, on redisURL (which
// must be empty) with the fakes, and waits until it answers.
func startBenchEnv(ctx context.Context, start inproc.Start, cfg Config, redisURL string, logw io.Writer) (*benchEnv, error) {
	admin, err := benchRedisClient(redisURL, 0)
	if err != nil {
		return nil, err
	}
	for _, delta := range []int{0, 1} {
		c, err := benchRedisClient(redisURL, delta)
		if err != nil {
			admin.Close()
			return nil, err
		}
		n, err := c.DBSize(ctx).Result()
		c.Close()
		if err != nil {
			admin.Close()
			return nil, fmt.Errorf("redis: %w", err)
		}
		if n != 0 {
			admin.Close()
			return nil, inproc.UsageError{Msg: fmt.Sprintf("bench: the Redis at REDIS_URL holds %d keys in database +%d; the bench needs an empty one (unset REDIS_URL to start a throwaway redis-server)", n, delta)}
		}
	}
	e := &benchEnv{start: start, cfg: cfg, redisURL: redisURL, logw: logw, admin: admin, clock: &benchClock{}, rt: newRTCounter(), obs: newBenchObserver(), done: make(chan error, 1)}
	e.tw = twiliotest.NewServer(benchSID, benchToken)
	e.tg = telegramtest.NewServer(benchBotToken)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.closeFakes()
		return nil, err
	}
	e.base = "http://" + ln.Addr().String()
	env := map[string]string{
		"REDIS_URL": redisURL, "CARECHECK_PUBLIC_URL": e.base, "CARECHECK_ADDR": ln.Addr().String(),
		"TWILIO_ACCOUNT_SID": benchSID, "TWILIO_AUTH_TOKEN": benchToken, "TWILIO_FROM_NUMBER": benchFrom, "TWILIO_API_URL": e.tw.URL,
		"TWILIO_MESSAGES_PER_SECOND": "0",
		"TELEGRAM_BOT_TOKEN":         benchBotToken, "TELEGRAM_WEBHOOK_SECRET": benchTGSecret, "TELEGRAM_API_URL": e.tg.URL,
	}
	o := inproc.Options{Env: env, LogTo: logw, LogLevel: "info", Now: e.clock.Now,
		Wrap: func(inner http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				start := time.Now()
				inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), webhookCtx{}, true)))
				if r.URL.Path == twilio.SMSPath {
					e.srvLat.add(time.Since(start))
				}
			})
		}}
	if cfg.SMSKeepAlive > 0 || cfg.TwilioLatency > 0 {
		var tr http.RoundTripper = http.DefaultTransport
		if cfg.SMSKeepAlive > 0 {
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConnsPerHost = cfg.SMSKeepAlive
			tr = t
		}
		if cfg.TwilioLatency > 0 {
			tr = slowTransport{tr, cfg.TwilioLatency}
		}
		o.SMSClient = &http.Client{Timeout: 15 * time.Second, Transport: tr}
	}
	e.svc, err = start(ctx, o)
	if err != nil {
		ln.Close()
		e.closeFakes()
		return nil, err
	}
	e.svc.Store().Redis().AddHook(e.rt)
	runCtx, cancel := context.WithCancel(ctx)
	e.cancel = cancel
	go func() { e.done <- e.svc.Serve(runCtx, ln, nil) }()
	go e.obs.run(runCtx, e.tw)
	e.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, MaxConnsPerHost: 2048, IdleConnTimeout: time.Minute, DisableCompression: true}}
	if !waitUntil(ctx, 10*time.Second, func() bool {
		resp, err := e.hc.Get(e.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		e.close()
		return nil, errors.New("the service did not answer /healthz within 10s")
	}
	e.inAgency, e.inCM, err = e.newAgency(ctx, e.svc.Store(), "Bench Inbound")
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// slowTransport answers d later: Twilio's API latency, on the fake.
type slowTransport struct {
	base http.RoundTripper
	d    time.Duration
}

// RoundTrip sends r once d has passed.
func (s slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return s.base.RoundTrip(r)
}

// closeFakes closes what startBenchEnv opened before the service.
func (e *benchEnv) closeFakes() {
	e.tw.Close()
	e.tg.Close()
	e.admin.Close()
}

func (e *benchEnv) close() {
	e.closed.Do(func() {
		e.cancel()
		<-e.done
		_ = e.svc.Close()
		e.hc.CloseIdleConnections()
		e.closeFakes()
	})
}
