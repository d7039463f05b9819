package throttle

import (
	"net/http"
	"testing"
	"time"
)

// An IPv4 address is throttled alone; an IPv6 address by its /64, which a
// single subscriber usually holds whole (else one attacker is 2^64 sources).
// X-Forwarded-For is believed only from a trusted proxy, and only from the
// right: what a client writes to its left never chooses its source.
func TestSource(t *testing.T) {
	proxies, err := ParseProxies(" 10.0.0.0/8, 192.0.2.1 ,2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label, remote string
		xff           []string
		want          string
	}{
		{"IPv4 peer", "203.0.113.7:51234", nil, "203.0.113.7"},
		{"IPv6 peer by its /64", "[2001:db8:1:2:aaaa::1]:443", nil, "2001:db8:1:2::/64"},
		{"same /64", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped", "[::ffff:203.0.113.7]:80", nil, "203.0.113.7"},
		{"not an address", "not an address", nil, "not an address"},
		{"forwarded-for from an untrusted peer is ignored", "203.0.113.7:1", []string{"198.51.100.9"}, "203.0.113.7"},
		{"trusted proxy names the client", "10.1.2.3:1", []string{"198.51.100.9"}, "198.51.100.9"},
		{"the client's own entries on the left are not believed", "10.1.2.3:1", []string{"1.2.3.4, 5.6.7.8, 198.51.100.9"}, "198.51.100.9"},
		{"a chain of trusted proxies", "10.1.2.3:1", []string{"1.2.3.4, 198.51.100.9, 192.0.2.1", "10.9.9.9"}, "198.51.100.9"},
		{"an IPv6 client behind the proxy", "192.0.2.1:1", []string{"2001:db8:5:6::7"}, "2001:db8:5:6::/64"},
		{"nothing usable from the proxy counts the proxy", "10.1.2.3:1", []string{"garbage"}, "10.1.2.3"},
		{"no header from the proxy counts the proxy", "10.1.2.3:1", nil, "10.1.2.3"},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := Source(r, proxies); got != tc.want {
			t.Errorf("%s: Source(%q, %q) = %q; want %q", tc.label, tc.remote, tc.xff, got, tc.want)
		}
	}
	if _, err := ParseProxies("10.0.0.0/8,proxy.internal"); err == nil {
		t.Error("ParseProxies accepted a host name")
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
