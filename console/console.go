// Package console is the staff web console: server-rendered pages under
// /console/ for case managers, supervisors and admins, each signed in as
// themselves. It calls the same services as the agency API (the escalation
// service, the store's records, the staff package's account rules): no rule
// has a second implementation here. routes.go lists every page.
package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/carecheck/carecheck/api/throttle"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Schedules adds a client's schedules (conversations.Checkins), as the API does.
type Schedules interface {
	AddSchedule(ctx context.Context, a *store.Agency, c *store.Client, sc *store.Schedule) error
}

// Deps is what the console needs: the store, the escalation service and
// the check-in service behind the API, a logger, the clock, and how to
// read the source address.
type Deps struct {
	Store       *store.Store
	Escalations *escalation.Service
	Schedules   Schedules
	Log         *slog.Logger
	// Now is the clock (session expiry, TOTP); nil: time.Now.
	Now func() time.Time
	// TrustedProxies may name the client in X-Forwarded-For (the sign-in
	// throttle, as the API's).
	TrustedProxies []netip.Prefix
	// PublicURL is CARECHECK_PUBLIC_URL: when it is https, cookies are
	// Secure whatever the request says.
	PublicURL string
	// LivePoll is how often the live inbox looks for changes (default 1 s).
	LivePoll time.Duration
	// TelegramBot is the bot's username for staff members' Telegram links
	// (TELEGRAM_BOT_USERNAME; "" is telegram.DefaultBot).
	TelegramBot string
}

// console is one built console: its dependencies, pages and guard.
type console struct {
	Deps
	pages map[string]*template.Template
	guard *throttle.Guard
}

// New builds the console's handler, to be mounted at /console. A missing
// dependency or a template that does not parse fails here, at start.
func New(d Deps) (http.Handler, error) {
	if d.Store == nil || d.Escalations == nil || d.Schedules == nil {
		return nil, errors.New("console: Store, Escalations and Schedules are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.LivePoll <= 0 {
		d.LivePoll = time.Second
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c := &console{Deps: d, pages: pages, guard: throttle.New(d.Store, d.Log, d.Now, d.TrustedProxies)}
	return routes(c), nil
}

// secure reports whether cookies must be Secure: the request came over
// https (directly or, per a trusted proxy, X-Forwarded-Proto), or the
// public URL is https.
func (c *console) secure(r *http.Request) bool {
	if r.TLS != nil || strings.HasPrefix(c.PublicURL, "https://") {
		return true
	}
	return len(c.TrustedProxies) > 0 && r.Header.Get("X-Forwarded-Proto") == "https" && fromProxy(r, c.TrustedProxies)
}

func fromProxy(r *http.Request, proxies []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range proxies {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}
