// Package api is the agencies' HTTP API (JSON over chi) plus the health,
// metrics and provider webhook endpoints. routes.go is the one map of it.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
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
	// PublicURL is the service's public base URL (CARECHECK_PUBLIC_URL):
	// invitation links are built on it; "" uses the request's host.
	PublicURL string
	// Console is the staff console, mounted under /console/ (nil: not served).
	Console http.Handler
	// TrustedProxies may name the client in X-Forwarded-For for the
	// failed-authentication throttle (throttle.Source); none: the TCP peer.
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	// Ready reports extra readiness problems (the scheduler heartbeat); nil means none.
	Ready func(ctx context.Context) error

	TwilioSMS    http.Handler
	TwilioStatus http.Handler
	// TwilioVoice, TwilioVoiceDigits and TwilioVoiceStatus are the voice
	// call webhooks (nil: voice is off).
	TwilioVoice, TwilioVoiceDigits, TwilioVoiceStatus http.Handler
	Telegram                                          http.Handler

	// Services are the product engines; all are required.
	Services Services
}

// NewAdmin builds the operator's surface (/metrics on reg, /debug/pprof/),
// to be served on a listener of its own that the public cannot reach.
func NewAdmin(reg *prometheus.Registry) http.Handler { return adminRoutes(reg) }

// NewServer builds the whole public HTTP surface. Every dependency but the
// channels' webhook handlers is required: a missing one fails here, at
// start, not on a request.
func NewServer(d Deps) (http.Handler, error) {
	var missing []string
	for _, m := range []struct {
		name string
		nil  bool
	}{
		{"Store", d.Store == nil},
		{"Services.Checkins", d.Services.Checkins == nil},
		{"Services.Appointments", d.Services.Appointments == nil},
		{"Services.Escalations", d.Services.Escalations == nil},
	} {
		if m.nil {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("api: missing %s", strings.Join(missing, ", "))
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	return routes(d), nil
}
