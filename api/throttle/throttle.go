// Package throttle refuses failed authentication that repeats from one
// source address: after Limit failures (a wrong API key, operator token or,
// later, console password) within Window, the address is locked for Window
// and its secrets are not checked at all until then. The count lives in
// Redis, so every process sharing the Redis shares it. It is used by the
// agency API and the operator token today, and is small enough for the
// console's sign-in to reuse.
package throttle

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The defaults: 10 failures a minute from one address lock it for a minute,
// so a guesser gets about 10 tries a minute instead of thousands a second,
// while a person who mistypes a key a few times is never refused.
const (
	DefaultLimit  = 10
	DefaultWindow = time.Minute
)

// Store keeps the failure counts (store.Store implements it).
type Store interface {
	AuthFailed(ctx context.Context, source string, now time.Time, limit int, window time.Duration) (int, time.Time, error)
	AuthLockedUntil(ctx context.Context, source string) (time.Time, error)
}

// Guard throttles failed authentication per source address.
type Guard struct {
	store   Store
	log     *slog.Logger
	now     func() time.Time
	proxies []netip.Prefix
	limit   int
	window  time.Duration
}

// New makes a Guard with the default limit and window; now nil means
// time.Now. proxies are the reverse proxies trusted to name the client in
// X-Forwarded-For (see Source); none: the TCP peer is the source.
func New(st Store, log *slog.Logger, now func() time.Time, proxies []netip.Prefix) *Guard {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{store: st, log: log, now: now, proxies: proxies, limit: DefaultLimit, window: DefaultWindow}
}

// Locked reports how long the request's source must wait before a secret it
// presents is checked again (zero: check it now). Call it before checking.
func (g *Guard) Locked(r *http.Request) (time.Duration, error) {
	until, err := g.store.AuthLockedUntil(r.Context(), Source(r, g.proxies))
	if err != nil {
		return 0, err
	}
	return wait(until, g.now()), nil
}

// Failed records that the secret the request presented did not match, logs
// it once at warn with the source address and route (never the secret), and
// reports how long the source is now locked (zero: not locked). reason says
// what failed ("unknown API key", "no operator token", ...).
func (g *Guard) Failed(r *http.Request, reason string) (time.Duration, error) {
	src := Source(r, g.proxies)
	now := g.now()
	n, until, err := g.store.AuthFailed(r.Context(), src, now, g.limit, g.window)
	if err != nil {
		return 0, err
	}
	locked := wait(until, now)
	g.log.Warn("authentication failed", "remote", src, "method", r.Method, "route", r.URL.Path,
		"reason", reason, "failures", n, "locked_for", locked.Round(time.Second).String())
	return locked, nil
}

// RetryAfter is the Retry-After header value for a wait: whole seconds, at least 1.
func RetryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

func wait(until, now time.Time) time.Duration {
	if until.IsZero() || !now.Before(until) {
		return 0
	}
	return until.Sub(now)
}

// Source is the address a request is throttled by. It is the TCP peer's IP,
// unless the peer is one of the trusted proxies: then it is the rightmost
// X-Forwarded-For address that is not a trusted proxy (entries to its left
// are whatever the client wrote, so they are never believed). An IPv6
// address counts by its /64, which one subscriber usually holds whole.
func Source(r *http.Request, proxies []netip.Prefix) string {
	ip := hostIP(r.RemoteAddr)
	if !ip.IsValid() {
		return r.RemoteAddr
	}
	if trusted(ip, proxies) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop := hostIP(strings.TrimSpace(hops[i]))
			if !hop.IsValid() {
				break // a proxy we trust wrote nothing usable: count the proxy
			}
			ip = hop
			if !trusted(hop, proxies) {
				break
			}
		}
	}
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// hostIP reads "ip", "ip:port" or "[ipv6]:port"; an IPv4-mapped IPv6
// address is read as IPv4.
func hostIP(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func trusted(ip netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseProxies reads a comma-separated list of IP addresses and CIDR
// prefixes ("10.0.0.0/8, 127.0.0.1").
func ParseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
