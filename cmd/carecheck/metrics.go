package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carecheck/carecheck/escalation"
)

// alertMetrics counts alerts by method and outcome and observes the time to
// acknowledge, on the process's registry (escalation.Observer).
type alertMetrics struct {
	alerts *prometheus.CounterVec
	ack    *prometheus.HistogramVec
}

var _ escalation.Observer = (*alertMetrics)(nil)

func newAlertMetrics(reg *prometheus.Registry) *alertMetrics {
	m := &alertMetrics{
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "carecheck_alerts_total",
			Help: "Staff alerts by method (sms, telegram, voice) and outcome (queued; sent or error by Telegram's answer; placed, a call Twilio took; delivered, undelivered or failed by Twilio's delivery report, error when refused; a call's end: completed, no-answer, busy, failed, canceled, voicemail; acknowledged by key press)."},
			[]string{"method", "outcome"}),
		ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "carecheck_escalation_time_to_ack_seconds",
			Help:    "Time from an escalation's opening to its acknowledgement, by how it was acknowledged.",
			Buckets: []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400}},
			[]string{"via"}),
	}
	reg.MustRegister(m.alerts, m.ack)
	return m
}

func (m *alertMetrics) Alert(method, outcome string) { m.alerts.WithLabelValues(method, outcome).Inc() }

func (m *alertMetrics) Acknowledged(after time.Duration, via string) {
	m.ack.WithLabelValues(via).Observe(after.Seconds())
}
