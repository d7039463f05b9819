package bot

import (
	"math"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// TestPaceLimit: a fraction of a message per second keeps its meaning in the
// limiter's whole-message terms; 0 (and nonsense) is no pacing.
func TestPaceLimit(t *testing.T) {
	for _, c := range []struct {
		perSecond float64
		want      redis_rate.Limit
	}{
		{1, redis_rate.Limit{Rate: 1, Burst: 1, Period: time.Second}},
		{0.5, redis_rate.Limit{Rate: 1, Burst: 1, Period: 2 * time.Second}},
		{0.25, redis_rate.Limit{Rate: 1, Burst: 1, Period: 4 * time.Second}},
		{2.5, redis_rate.Limit{Rate: 3, Burst: 3, Period: 1200 * time.Millisecond}},
		{30, redis_rate.Limit{Rate: 30, Burst: 30, Period: time.Second}},
		{0, redis_rate.Limit{}},
		{-1, redis_rate.Limit{}},
		{math.NaN(), redis_rate.Limit{}},
		{math.Inf(1), redis_rate.Limit{}},
	} {
		if got := paceLimit(c.perSecond); got != c.want {
			t.Errorf("paceLimit(%v) = %v; want %v", c.perSecond, got, c.want)
		}
	}
}

// TestPacingIsPerSendingIdentity: at 1 message a second, a number that
// just sent must wait, while another number, a Messaging Service and the
// default number each have their own quota; a service is one identity
// whatever number it sends from.
func TestPacingIsPerSendingIdentity(t *testing.T) {
	st := store.New(redistest.New(t).Client(t), nil)
	o := NewOutbox(st, nil, Pacing{SMSPerSecond: 1}, nil, nil)
	const service = "MG0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		label string
		m     Outbound
		waits bool
	}{
		{"number A's first", Outbound{Channel: SMS, From: "+13125550201"}, false},
		{"number A's second", Outbound{Channel: SMS, From: "+13125550201"}, true},
		{"number B's first", Outbound{Channel: SMS, From: "+13125550202"}, false},
		{"the service's first", Outbound{Channel: SMS, Service: service}, false},
		{"the service's second", Outbound{Channel: SMS, Service: service, From: "+13125550203"}, true},
		{"the default number's first", Outbound{Channel: SMS}, false},
		{"the default number's second", Outbound{Channel: SMS}, true},
	} {
		wait, err := o.pace(t.Context(), c.m)
		if err != nil {
			t.Fatalf("%s: %v", c.label, err)
		}
		if (wait > 0) != c.waits {
			t.Errorf("%s: wait %v; want a wait: %t", c.label, wait, c.waits)
		}
	}
}
