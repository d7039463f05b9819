package bot

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Pacing says how fast each provider may be sent to, in messages per second;
// a fraction is allowed (0.5 = one message every 2 s) and 0 means no pacing.
type Pacing struct {
	SMSPerSecond          float64 // per sending number
	TelegramPerSecond     float64 // in total
	TelegramChatPerSecond float64 // per chat
}

// paceLimit turns a rate in messages per second into the limiter's terms:
// a whole number of messages (at least 1) per period, so that a fraction
// keeps its meaning (0.5/s is 1 per 2 s, 2.5/s is 3 per 1.2 s). The burst
// is that whole number: an idle number may send that many at once, then
// the rate holds. A rate of 0 or less is the zero Limit: no pacing.
func paceLimit(perSecond float64) redis_rate.Limit {
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		return redis_rate.Limit{}
	}
	n := max(1, int(math.Round(perSecond)))
	return redis_rate.Limit{Rate: n, Burst: n, Period: time.Duration(float64(n) / perSecond * float64(time.Second))}
}

// paceCheck is one limiter key and its limit.
type paceCheck struct {
	key   string
	limit redis_rate.Limit
}

// paceChecks are the limits m is subject to, on the keys shared by every
// process that sends from the same number or bot.
func (o *Outbox) paceChecks(m Outbound) []paceCheck {
	var checks []paceCheck
	add := func(key string, perSecond float64) {
		if l := paceLimit(perSecond); !l.IsZero() {
			checks = append(checks, paceCheck{key, l})
		}
	}
	switch m.Channel {
	case SMS:
		add("pace:sms:"+smsIdentity(m), o.pacing.SMSPerSecond)
	case Telegram:
		add("pace:tg", o.pacing.TelegramPerSecond)
		add("pace:tg:"+m.To, o.pacing.TelegramChatPerSecond)
	}
	return checks
}

// smsIdentity names what an SMS is sent as, for pacing: its Messaging
// Service (one identity, however many numbers it holds), else its number;
// "default" for the channel's default number.
func smsIdentity(m Outbound) string {
	switch {
	case m.Service != "":
		return m.Service
	case m.From != "":
		return m.From
	}
	return "default"
}

// pace asks the shared GCRA limiter whether m may go now; a positive wait
// says how long until it may. A message that may go has taken its share.
func (o *Outbox) pace(ctx context.Context, m Outbound) (time.Duration, error) {
	for _, c := range o.paceChecks(m) {
		res, err := o.limiter.Allow(ctx, c.key, c.limit)
		if err != nil {
			return 0, fmt.Errorf("pacing: %w", err)
		}
		if res.Allowed == 0 {
			return res.RetryAfter, nil
		}
	}
	return 0, nil
}

// unboundedBurst lets an urgent send through whatever the debt: GCRA
// allows when the debt is under burst × interval.
const unboundedBurst = 1 << 30

// consume charges an urgent message to its limits without waiting: the
// same key and interval with a burst no debt reaches, so the theoretical
// arrival time moves on by one interval and paced messages behind it wait
// for it. A limiter failure does not hold an urgent message back.
func (o *Outbox) consume(ctx context.Context, m Outbound) {
	for _, c := range o.paceChecks(m) {
		l := c.limit
		l.Burst = unboundedBurst
		if _, err := o.limiter.Allow(ctx, c.key, l); err != nil {
			o.log.Warn("pacing: urgent send not counted", "message_id", m.ID, "err", err)
		}
	}
}
