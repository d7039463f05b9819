package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/cmd/internal/bench"
)

// inWebhook marks the context of an HTTP request, so the round trips made
// answering a webhook are told apart from the workers'.
type inWebhook struct{}

// crisisTrace is a go-redis hook recording each round trip (one per command
// sent alone, one per pipeline or MULTI/EXEC) with whether it was made while
// answering a webhook and which messages it touched.
type crisisTrace struct {
	mu    sync.Mutex
	on    bool
	rts   []traceRT
	dials int // connection handshakes seen, not counted as round trips
}

// handshake reports whether cmds set up a new connection.
func handshake(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		switch c.Name() {
		case "hello", "client", "auth", "select":
		default:
			return false
		}
	}
	return true
}

type traceRT struct {
	webhook bool
	desc    string
	text    string // every argument and, for stream reads, the entries read
}

func (h *crisisTrace) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *crisisTrace) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.add(ctx, bench.CmdDesc(cmd), []redis.Cmder{cmd})
		return err
	}
}

func (h *crisisTrace) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		var parts []string
		for _, c := range cmds {
			if n := c.Name(); n != "multi" && n != "exec" {
				parts = append(parts, bench.CmdDesc(c))
			}
		}
		h.add(ctx, "pipeline["+strings.Join(parts, ", ")+"]", cmds)
		return err
	}
}

func (h *crisisTrace) add(ctx context.Context, desc string, cmds []redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return
	}
	if handshake(cmds) {
		// A new pooled connection's HELLO and CLIENT SETINFO: paid once per
		// connection, not per message. Under the race detector a worker's
		// blocking stream read can hold the idle connection the crisis
		// path would have taken, and the pool dials another.
		h.dials++
		return
	}
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprint(&b, c.Args()...)
		switch v := c.(type) {
		case *redis.XStreamSliceCmd:
			fmt.Fprint(&b, v.Val())
		case *redis.Cmd:
			fmt.Fprint(&b, v.Val())
		}
	}
	h.rts = append(h.rts, traceRT{webhook: ctx.Value(inWebhook{}) != nil, desc: desc, text: b.String()})
}

func (h *crisisTrace) start() { h.mu.Lock(); h.on, h.rts, h.dials = true, nil, 0; h.mu.Unlock() }

func (h *crisisTrace) stop() []traceRT {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = false
	return h.rts
}

// workerRTs counts the round trips the workers made for one message (its id
// contains marker) before handing it to the provider: reading it off the
// queue and claiming the send. The sent marker written afterwards is not on
// the way to the provider.
func workerRTs(rts []traceRT, marker string) (before int, descs []string) {
	for _, rt := range rts {
		if rt.webhook || !strings.Contains(rt.text, marker) || strings.Contains(rt.text, "pid:") {
			continue
		}
		before++
		descs = append(descs, rt.desc)
	}
	return before, descs
}

// A crisis message costs few Redis round trips between the webhook and the
// alert handed to Twilio: each round trip waits in the pool and the
// scheduler under load, so their count is the tail latency's multiplier.
func TestCrisisRoundTrips(t *testing.T) {
	trace := &crisisTrace{}
	s := startStack(t, func(svc *service) {
		svc.store.Redis().AddHook(trace)
		inner := svc.handler
		svc.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), inWebhook{}, true)))
		})
	})
	z := s.seed()
	// A first crisis from another client warms up what a running process
	// has warm: loaded scripts, pooled connections.
	s.clientAt(z, "Warm Up", "+13125550161", "en", true)
	wm := s.mark()
	s.sms("+13125550161", "i want to kill myself")
	s.nextSMS(wm, cmPhone, isAlert)
	s.settle()

	trace.start()
	m := s.mark()
	if code, _ := s.sms(clientPhone, "i want to kill myself"); code != 200 {
		t.Fatalf("crisis webhook = %d", code)
	}
	s.nextSMS(m, clientPhone, contains("988"))
	s.nextSMS(m, cmPhone, isAlert)
	s.settle()
	rts := trace.stop()

	// queued: how many round trips the webhook made until the message was
	// in the queue (its id in a command's arguments).
	var webhook []string
	safetyQueued, alertQueued := 0, 0
	for _, rt := range rts {
		if !rt.webhook {
			continue
		}
		webhook = append(webhook, rt.desc)
		if safetyQueued == 0 && strings.Contains(rt.text, "send:safety:"+z.client) {
			safetyQueued = len(webhook)
		}
		if alertQueued == 0 && strings.Contains(rt.text, "send:alert:") {
			alertQueued = len(webhook)
		}
	}
	alert, alertDescs := workerRTs(rts, "alert:")
	safety, safetyDescs := workerRTs(rts, "safety:"+z.client)
	t.Logf("connections dialled meanwhile (not counted): %d", trace.dials)
	t.Logf("crisis webhook: %d round trips, safety reply queued by round trip %d, alert by round trip %d:\n  %s", len(webhook), safetyQueued, alertQueued, strings.Join(webhook, "\n  "))
	t.Logf("alert, queued → handed to Twilio: %d round trips in the workers: %v", alert, alertDescs)
	t.Logf("safety reply, queued → handed to Twilio: %d round trips in the workers: %v", safety, safetyDescs)

	// The owner lookup and the store-and-load round trip of every message;
	// one that queues the safety reply, opens the escalation with the first
	// alert's ACK code and reads its case manager; one that queues the
	// alert; one that records it on the escalation; then the message's own
	// apply and unlock. The workers only claim the send.
	const maxWebhook, maxAlertQueued, maxWorker = 6, 4, 1
	if len(webhook) > maxWebhook {
		t.Errorf("the crisis webhook made %d round trips; want at most %d", len(webhook), maxWebhook)
	}
	if alertQueued == 0 || alertQueued > maxAlertQueued {
		t.Errorf("the alert was queued by round trip %d of the webhook; want by %d", alertQueued, maxAlertQueued)
	}
	if safetyQueued == 0 || safetyQueued > alertQueued {
		t.Errorf("the safety reply was queued by round trip %d, the alert by %d; want the safety reply first", safetyQueued, alertQueued)
	}
	if alert > maxWorker || safety > maxWorker {
		t.Errorf("workers made %d (alert) and %d (safety reply) round trips before the provider; want at most %d", alert, safety, maxWorker)
	}
	for _, e := range s.openEscalations(z.key) {
		if a := audit(s.escalation(z.key, e["id"].(string))); count(a, "alert sent") != 1 {
			t.Errorf("audit = %v; want one alert sent", a)
		}
	}
}
