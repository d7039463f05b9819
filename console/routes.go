package console

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/carecheck/carecheck/staff"
)

// routes is the one list of the console's pages, mounted at /console by
// api/routes.go. Every page answers with the security headers; every
// unsafe request from another origin is refused (http.CrossOriginProtection).
func routes(c *console) http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Log.Warn("console: cross-origin request refused", "method", r.Method, "route", routePattern(r))
		c.render(w, r, "message.html", http.StatusForbidden, "cross_site", view{Flash: texts[langOf(r)]["cross_site"], FlashError: true})
	}))
	r.Use(cop.Handler)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { c.notFound(w, r) })

	r.Handle("/assets/*", assets())
	r.Method(http.MethodGet, "/login", handleLoginPage(c))
	r.Method(http.MethodPost, "/login", handleLogin(c))
	r.Method(http.MethodGet, "/invite/{token}", handleInvitePage(c))
	r.Method(http.MethodPost, "/invite/{token}", handleSetPassword(c))
	r.Method(http.MethodPost, "/logout", handleLogout(c))
	r.Group(func(r chi.Router) {
		r.Use(requireSession(c, "totp"))
		r.Method(http.MethodGet, "/login/totp", handleTOTPPage(c))
		r.Method(http.MethodPost, "/login/totp", handleTOTP(c))
	})
	r.Group(func(r chi.Router) {
		r.Use(requireSession(c, "enrol")) // also open to full sessions
		r.Method(http.MethodGet, "/account/totp", handleEnrolPage(c))
		r.Method(http.MethodPost, "/account/totp", handleEnrol(c))
	})
	r.Group(func(r chi.Router) {
		r.Use(requireSession(c, ""))
		r.Method(http.MethodGet, "/", handleInbox(c))
		r.Method(http.MethodGet, "/inbox/lists", handleInboxLists(c))
		r.Method(http.MethodGet, "/inbox/events", handleInboxEvents(c))
		r.Method(http.MethodGet, "/escalations/{id}", handleEscalation(c))
		r.Method(http.MethodPost, "/escalations/{id}/ack", handleAck(c))
		r.Method(http.MethodPost, "/escalations/{id}/resolve", handleResolve(c))
		r.Method(http.MethodGet, "/clients", handleClients(c))
		r.Method(http.MethodGet, "/clients/{id}", handleClient(c))
		r.Method(http.MethodPost, "/clients/{id}/schedules", handleAddSchedule(c))
		r.Method(http.MethodGet, "/on-call", handleOnCall(c))
		r.Group(func(r chi.Router) {
			r.Use(requireRole(c, "forbidden_reports", staff.RoleSupervisor, staff.RoleAdmin))
			r.Method(http.MethodGet, "/reports", handleReports(c))
		})
		r.Group(func(r chi.Router) {
			r.Use(requireRole(c, "forbidden_overrides", staff.RoleSupervisor, staff.RoleAdmin))
			r.Method(http.MethodPost, "/on-call/{id}/overrides", handleAddOverride(c))
			r.Method(http.MethodPost, "/on-call/{id}/overrides/{oid}/remove", handleRemoveOverride(c))
		})
		r.Group(func(r chi.Router) {
			r.Use(requireRole(c, "forbidden_rotations", staff.RoleSupervisor, staff.RoleAdmin))
			r.Method(http.MethodGet, "/on-call/new", handleRotationNew(c))
			r.Method(http.MethodPost, "/on-call", handleRotationCreate(c))
			r.Method(http.MethodGet, "/on-call/{id}/edit", handleRotationEdit(c))
			r.Method(http.MethodPost, "/on-call/{id}", handleRotationSave(c))
			r.Method(http.MethodPost, "/on-call/{id}/delete", handleRotationDelete(c))
		})
		r.Group(func(r chi.Router) {
			r.Use(requireRole(c, "forbidden", staff.RoleAdmin))
			r.Method(http.MethodGet, "/staff", handleStaff(c))
			r.Method(http.MethodPost, "/staff", handleStaffCreate(c))
			r.Method(http.MethodGet, "/staff/new", handleStaffNew(c))
			r.Method(http.MethodGet, "/staff/{id}", handleStaffEdit(c))
			r.Method(http.MethodPost, "/staff/{id}", handleStaffSave(c))
			r.Method(http.MethodPost, "/staff/{id}/deactivate", handleStaffDeactivate(c))
			r.Method(http.MethodPost, "/staff/{id}/telegram-link", handleStaffTelegramLink(c))
			r.Method(http.MethodPost, "/staff/{id}/invite", handleStaffInvite(c))
			r.Method(http.MethodGet, "/settings", handleSettings(c))
			r.Method(http.MethodPost, "/settings", handleSaveSettings(c))
			r.Method(http.MethodGet, "/settings/policy", handlePolicy(c))
			r.Method(http.MethodPost, "/settings/policy", handleEditPolicy(c))
			r.Method(http.MethodGet, "/settings/safety", handleSafety(c))
			r.Method(http.MethodPost, "/settings/safety", handleSaveSafety(c))
			r.Method(http.MethodGet, "/settings/phrases", handlePhrases(c))
			r.Method(http.MethodPost, "/settings/phrases", handleSavePhrases(c))
			r.Method(http.MethodGet, "/keys", handleKeys(c))
			r.Method(http.MethodPost, "/keys", handleCreateKey(c))
			r.Method(http.MethodPost, "/keys/{id}/revoke", handleRevokeKey(c))
			r.Method(http.MethodGet, "/audit", handleAudit(c))
		})
	})
	return r
}

// contentPolicy allows nothing inline and nothing from elsewhere: scripts
// and styles come from /console/assets/, images from there or data: URLs
// (the TOTP QR code), forms post only here, no page frames this one.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every console answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Invitation links carry their token: never send it on as a referrer.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// routePattern is the request's route pattern (ids and tokens left out), for logs.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// urlParam is a route parameter.
func urlParam(r *http.Request, name string) string { return chi.URLParam(r, name) }
