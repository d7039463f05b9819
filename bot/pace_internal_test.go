package bot

import (
	"math"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
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
