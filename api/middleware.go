package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/carecheck/carecheck/api/throttle"
	"github.com/carecheck/carecheck/store"
)

type ctxKey int

const keyUseKey ctxKey = 1

// agencyID is the authenticated agency of the request.
func agencyID(r *http.Request) string {
	return keyUse(r).AgencyID
}

// keyUse is the agency and API key the request authenticated with.
func keyUse(r *http.Request) store.KeyUse {
	u, _ := r.Context().Value(keyUseKey).(store.KeyUse)
	return u
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireAgency authenticates the agency API key. A source address that
// failed too often is answered 429 before its key is looked at.
func requireAgency(d Deps, g *throttle.Guard) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if throttled(w, r, d, g) {
				return
			}
			key := bearer(r)
			if key == "" {
				authFailed(w, r, d, g, "no API key", "missing Authorization: Bearer <api key>")
				return
			}
			u, err := d.Store.UseKey(r.Context(), key)
			if errors.Is(err, store.ErrNotFound) {
				authFailed(w, r, d, g, "unknown API key", "unknown API key")
				return
			}
			if err != nil {
				respondErr(w, r, d.Log, &Error{Code: CodeUnavailable, Message: "store unavailable"})
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyUseKey, u)))
		})
	}
}

// requireOperator checks the operator token in constant time, after the
// same throttle as API keys.
func requireOperator(d Deps, g *throttle.Guard) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if throttled(w, r, d, g) {
				return
			}
			tok := bearer(r)
			if d.OperatorToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(d.OperatorToken)) != 1 {
				authFailed(w, r, d, g, "wrong operator token", "operator token required")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// throttled answers 429 with Retry-After, and reports true, when the
// request's source address is locked out; nothing it presents is checked.
func throttled(w http.ResponseWriter, r *http.Request, d Deps, g *throttle.Guard) bool {
	wait, err := g.Locked(r)
	if err != nil {
		respondErr(w, r, d.Log, &Error{Code: CodeUnavailable, Message: "store unavailable"})
		return true
	}
	if wait <= 0 {
		return false
	}
	w.Header().Set("Retry-After", throttle.RetryAfter(wait))
	respondErr(w, r, d.Log, &Error{Code: CodeTooMany, Message: "too many failed authentications from this address; retry later"})
	return true
}

// authFailed records and logs a failed authentication and answers 401.
func authFailed(w http.ResponseWriter, r *http.Request, d Deps, g *throttle.Guard, reason, message string) {
	if _, err := g.Failed(r, reason); err != nil {
		respondErr(w, r, d.Log, &Error{Code: CodeUnavailable, Message: "store unavailable"})
		return
	}
	respondErr(w, r, d.Log, &Error{Code: CodeUnauthorized, Message: message})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.NewResponseController reach the writer underneath
// (the console's event stream flushes and lifts its write deadline).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// instrument counts requests by route pattern and status and times them.
// Route patterns, not paths, label the metrics: ids never become labels.
func instrument(reg prometheus.Registerer) func(http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "carecheck_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"method", "route", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "carecheck_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "route"})
	reg.MustRegister(requests, latency)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
			latency.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
		})
	}
}
