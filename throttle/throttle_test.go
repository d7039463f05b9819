package throttle

import (
	"net/http"
	"testing"
	"time"
)

// An IPv4 address is throttled alone; an IPv6 address by its /64, which a
// single subscriber usually holds whole (else one attacker is 2^64 sources).
func TestSource(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"203.0.113.7:51234", "203.0.113.7"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:443", "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.7]:80", "203.0.113.7"},
		{"not an address", "not an address"},
	} {
		if got := Source(&http.Request{RemoteAddr: tc.remote}); got != tc.want {
			t.Errorf("Source(%q) = %q; want %q", tc.remote, got, tc.want)
		}
	}
}

// Retry-After is whole seconds, rounded up, never 0.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{60 * time.Second, "60"}, {59*time.Second + time.Millisecond, "60"}, {time.Millisecond, "1"}, {0, "1"}} {
		if got := RetryAfter(tc.d); got != tc.want {
			t.Errorf("RetryAfter(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}
