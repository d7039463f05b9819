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
	"log/slog"
	"net"
	"net/http"
	"strconv"
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
	store  Store
	log    *slog.Logger
	now    func() time.Time
	limit  int
	window time.Duration
}

// New makes a Guard with the default limit and window; now nil means time.Now.
func New(st Store, log *slog.Logger, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{store: st, log: log, now: now, limit: DefaultLimit, window: DefaultWindow}
}

// Locked reports how long the request's source must wait before a secret it
// presents is checked again (zero: check it now). Call it before checking.
func (g *Guard) Locked(r *http.Request) (time.Duration, error) {
	until, err := g.store.AuthLockedUntil(r.Context(), Source(r))
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
	src := Source(r)
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

// Source is the address a request is throttled by: the connection's IP
// (RemoteAddr; a forwarded-for header is not trusted, since anyone can
// write one), and for IPv6 its /64, which one subscriber usually holds whole.
func Source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}
