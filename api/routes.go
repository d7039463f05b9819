package api

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/carecheck/carecheck/api/throttle"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// Checkins starts check-ins and plans schedules (conversations.Checkins).
type Checkins interface {
	StartCheckin(ctx context.Context, c *store.Client, questionnaire string) (string, error)
	PlanSchedule(ctx context.Context, a *store.Agency, sc *store.Schedule, after time.Time) error
	AddSchedule(ctx context.Context, a *store.Agency, c *store.Client, sc *store.Schedule) error
}

// Appointments saves appointments and plans their reminders (conversations.Appointments).
type Appointments interface {
	SaveAppointment(ctx context.Context, a *store.Agency, c *store.Client, ap, old *store.Appointment) error
}

var (
	_ Checkins       = (*conversations.Checkins)(nil)
	_ Appointments   = (*conversations.Appointments)(nil)
	_ throttle.Store = (*store.Store)(nil)
)

// Services are the product engines behind the API.
type Services struct {
	Checkins     Checkins
	Appointments Appointments
	Escalations  *escalation.Service
	// TelegramBot is the bot's username, for t.me link URLs.
	TelegramBot string
}

// routes is the one map of CareCheck's HTTP surface.
func routes(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(instrument(d.Registry))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusNotFound, map[string]string{"error": "no such route"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	})

	r.Method(http.MethodGet, "/healthz", handleHealthz())
	r.Method(http.MethodGet, "/readyz", handleReadyz(d))

	mountIf(r, "/webhooks/twilio/sms", d.TwilioSMS)
	mountIf(r, "/webhooks/twilio/status", d.TwilioStatus)
	mountIf(r, "/webhooks/twilio/voice", d.TwilioVoice)
	mountIf(r, "/webhooks/twilio/voice/digits", d.TwilioVoiceDigits)
	mountIf(r, "/webhooks/twilio/voice/status", d.TwilioVoiceStatus)
	mountIf(r, "/webhooks/telegram", d.Telegram)

	// The staff console lists its own pages in console/routes.go.
	if d.Console != nil {
		r.Mount("/console", d.Console)
	}

	guard := throttle.New(d.Store, d.Log, d.Now, d.TrustedProxies)
	r.With(requireOperator(d, guard)).Method(http.MethodPost, "/v1/agencies", handleCreateAgency(d))
	r.Route("/v1", func(r chi.Router) {
		r.Use(requireAgency(d, guard))
		r.Method(http.MethodGet, "/agency", handleGetAgency(d))
		r.Method(http.MethodPatch, "/agency", handlePatchAgency(d))
		r.Method(http.MethodPost, "/case-managers", handleCreateCaseManager(d))
		r.Method(http.MethodGet, "/case-managers", handleListCaseManagers(d))
		r.Method(http.MethodGet, "/case-managers/{id}", handleGetCaseManager(d))
		r.Method(http.MethodPatch, "/case-managers/{id}", handlePatchCaseManager(d))
		r.Method(http.MethodDelete, "/case-managers/{id}", handleDeactivateCaseManager(d))
		r.Method(http.MethodPost, "/clients", handleCreateClient(d))
		r.Method(http.MethodGet, "/clients", handleListClients(d))
		r.Method(http.MethodGet, "/clients/{id}", handleGetClient(d))
		r.Method(http.MethodPatch, "/clients/{id}", handlePatchClient(d))
		r.Method(http.MethodDelete, "/clients/{id}", handleDischargeClient(d))
		r.Method(http.MethodPost, "/clients/{id}/telegram-link", handleTelegramLink(d, "client"))
		r.Method(http.MethodPost, "/case-managers/{id}/telegram-link", handleTelegramLink(d, "staff"))
		r.Method(http.MethodPost, "/case-managers/{id}/invite", handleInvite(d))
		r.Method(http.MethodPost, "/clients/{id}/checkins", handleStartCheckin(d))
		r.Method(http.MethodGet, "/clients/{id}/responses", handleResponses(d))
		r.Method(http.MethodGet, "/clients/{id}/fhir", handleClientFHIR(d))
		r.Method(http.MethodPost, "/clients/{id}/schedules", handleCreateSchedule(d))
		r.Method(http.MethodGet, "/clients/{id}/schedules", handleListSchedules(d))
		r.Method(http.MethodPatch, "/clients/{id}/schedules/{sid}", handlePatchSchedule(d))
		r.Method(http.MethodGet, "/clients/{id}/schedules/{sid}/upcoming", handleUpcoming(d))
		r.Method(http.MethodPost, "/clients/{id}/appointments", handleCreateAppointment(d))
		r.Method(http.MethodGet, "/clients/{id}/appointments", handleListAppointments(d))
		r.Method(http.MethodPatch, "/clients/{id}/appointments/{aid}", handlePatchAppointment(d))
		r.Method(http.MethodGet, "/questionnaires", handleListQuestionnaires(d))
		r.Method(http.MethodPost, "/questionnaires", handleCreateQuestionnaire(d))
		r.Method(http.MethodGet, "/schedule-templates", handleListScheduleTemplates(d))
		r.Method(http.MethodPut, "/schedule-templates/{name}", handlePutScheduleTemplate(d))
		r.Method(http.MethodDelete, "/schedule-templates/{name}", handleDeleteScheduleTemplate(d))
		r.Method(http.MethodGet, "/escalations", handleListEscalations(d))
		r.Method(http.MethodGet, "/escalations/{id}", handleGetEscalation(d))
		r.Method(http.MethodPost, "/escalations/{id}/ack", handleAckEscalation(d))
		r.Method(http.MethodPost, "/escalations/{id}/resolve", handleResolveEscalation(d))
		r.Method(http.MethodPut, "/agency/escalation-policy", handlePutPolicy(d))
		r.Method(http.MethodPost, "/rotations", handleCreateRotation(d))
		r.Method(http.MethodGet, "/rotations", handleListRotations(d))
		r.Method(http.MethodGet, "/rotations/{id}", handleGetRotation(d))
		r.Method(http.MethodPatch, "/rotations/{id}", handlePatchRotation(d))
		r.Method(http.MethodDelete, "/rotations/{id}", handleDeleteRotation(d))
		r.Method(http.MethodPost, "/rotations/{id}/overrides", handleCreateOverride(d))
		r.Method(http.MethodDelete, "/rotations/{id}/overrides/{oid}", handleDeleteOverride(d))
		r.Method(http.MethodGet, "/rotations/{id}/on-call", handleOnCall(d))
		r.Method(http.MethodPut, "/agency/safety-message", handlePutSafetyMessage(d))
		r.Method(http.MethodPut, "/agency/phrases", handlePutPhrases(d))
		r.Method(http.MethodGet, "/agency/sending-identity", handleGetSendingIdentity(d))
		r.Method(http.MethodPut, "/agency/sending-identity", handlePutSendingIdentity(d))
		r.Method(http.MethodPost, "/api-keys", handleCreateAPIKey(d))
		r.Method(http.MethodGet, "/api-keys", handleListAPIKeys(d))
		r.Method(http.MethodDelete, "/api-keys/{id}", handleRevokeAPIKey(d))
		r.Method(http.MethodGet, "/audit", handleAudit(d))
		r.Method(http.MethodGet, "/reports/checkins", handleCheckinsReport(d))
		r.Method(http.MethodGet, "/reports/escalations", handleEscalationsReport(d))
		r.Method(http.MethodGet, "/reports/worsening", handleWorseningReport(d))
		r.Method(http.MethodGet, "/exports/{name}", handleExport(d))
		r.Method(http.MethodPost, "/webhook-endpoints", handleCreateWebhookEndpoint(d))
		r.Method(http.MethodGet, "/webhook-endpoints", handleListWebhookEndpoints(d))
		r.Method(http.MethodDelete, "/webhook-endpoints/{id}", handleDeleteWebhookEndpoint(d))
		r.Method(http.MethodGet, "/webhook-endpoints/{id}/deliveries", handleWebhookDeliveries(d))
	})
	return r
}

// adminRoutes is the operator's surface, served on its own listener
// (CARECHECK_ADMIN_ADDR, loopback by default) and never on the public one:
// Prometheus metrics and Go's profiler.
func adminRoutes(reg *prometheus.Registry) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusNotFound, map[string]string{"error": "no such route"})
	})
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	r.HandleFunc("/debug/pprof/", pprof.Index)
	r.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	r.HandleFunc("/debug/pprof/profile", pprof.Profile)
	r.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	r.HandleFunc("/debug/pprof/trace", pprof.Trace)
	r.HandleFunc("/debug/pprof/{profile}", pprof.Index)
	return r
}

// mountIf routes POSTs to a channel's webhook, or answers 404 when the channel is off.
func mountIf(r chi.Router, path string, h http.Handler) {
	if h == nil {
		r.Post(path, func(w http.ResponseWriter, r *http.Request) {
			encode(w, http.StatusNotFound, map[string]string{"error": "channel not configured"})
		})
		return
	}
	r.Method(http.MethodPost, path, h)
}
