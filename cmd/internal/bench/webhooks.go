package bench

import (
	"context"
	"io"
	"time"

	"github.com/carecheck/carecheck/cmd/internal/inproc"
)

// Env is a running bench environment for a Go benchmark: the service on an
// empty Redis with the fake Twilio, and clients in the middle of a check-in.
type Env struct{ e *benchEnv }

// Request is one signed inbound SMS webhook.
type Request struct{ r benchReq }

// Start starts the service, built by start, on redisURL (which must be
// empty) with the fakes, sized as cfg.
func Start(ctx context.Context, start inproc.Start, cfg Config, redisURL string, logw io.Writer) (*Env, error) {
	e, err := startBenchEnv(ctx, start, cfg, redisURL, logw)
	if err != nil {
		return nil, err
	}
	return &Env{e}, nil
}

// Close stops the service and the fakes.
func (x *Env) Close() { x.e.close() }

// Answers starts a daily-mood check-in for n new clients, waits until every
// first question reached the fake, and signs, for each, the answer "7":
// each one stored, screened, advancing its conversation, causing one reply.
func (x *Env) Answers(ctx context.Context, n int) ([]Request, error) {
	phones, err := x.e.checkinPool(ctx, n, gStep0)
	if err != nil {
		return nil, err
	}
	out := make([]Request, n)
	for i, p := range phones {
		out[i] = Request{x.e.signSMS(x.e.base, p, "7")}
	}
	return out, nil
}

// Post sends r to the service and returns the HTTP status.
func (x *Env) Post(ctx context.Context, r Request) (int, error) { return x.e.post(ctx, r.r) }

// Replies waits up to timeout until n replies to the answers reached the
// fake, and returns how many did.
func (x *Env) Replies(ctx context.Context, n int, timeout time.Duration) int {
	waitUntil(ctx, timeout, func() bool { return x.e.obs.count(gStep0, kNote) >= n })
	return x.e.obs.count(gStep0, kNote)
}

// Settle waits until the service's work queues are empty.
func (x *Env) Settle(ctx context.Context) { x.e.settle(ctx, x.e.admin) }

// RoundTrips counts the service's Redis round trips so far: those made
// answering webhooks, and all of them.
func (x *Env) RoundTrips() (webhook, all int64) {
	s := x.e.rt.snap()
	return s.webhook, s.webhook + s.other
}
