// Package api is the agencies' HTTP API (JSON over chi) plus the health,
// metrics and provider webhook endpoints. routes.go is the one map of it.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carecheck/carecheck/store"
)

// Deps is what the HTTP surface needs. Nil webhook handlers mean the channel
// is off: its route answers 404.
type Deps struct {
	Store         *store.Store
	Log           *slog.Logger
	Registry      *prometheus.Registry
	OperatorToken string
	// TrustedProxies may name the client in X-Forwarded-For for the
	// failed-authentication throttle (throttle.Source); none: the TCP peer.
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	// Ready reports extra readiness problems (the scheduler heartbeat); nil means none.
	Ready func(ctx context.Context) error

	TwilioSMS    http.Handler
	TwilioStatus http.Handler
	Telegram     http.Handler

	// Product services; nil until wired (their routes answer 503).
	Services Services
}

// NewServer builds the whole HTTP surface.
func NewServer(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	return routes(d)
}
