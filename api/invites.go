package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/carecheck/carecheck/staff"
)

// handleInvite issues a single-use console invitation (72 h) for a staff
// member with an email: {"url"}. A newer invitation replaces the older;
// only the token's hash is stored. The audit records that one was issued.
func handleInvite(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := d.Store.CaseManager(r.Context(), agencyID(r), urlParam(r, "id"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		token, err := staff.Invite(r.Context(), d.Store, m, actorOf(d, r))
		switch {
		case errors.Is(err, staff.ErrInactive):
			err = &Error{Code: CodeConflict, Message: "case manager is deactivated"}
		case errors.Is(err, staff.ErrNoEmail):
			err = &Error{Code: CodeConflict, Message: "email: the staff member has none; PATCH one first"}
		}
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("console invitation issued", "agency_id", m.AgencyID, "case_manager_id", m.ID)
		encode(w, http.StatusCreated, map[string]string{"url": staff.InviteURL(publicBase(d, r), token), "expires_in": staff.InviteTTL.String()})
	})
}

// publicBase is the service's public URL: CARECHECK_PUBLIC_URL, else the
// scheme and host the request came to.
func publicBase(d Deps, r *http.Request) string {
	if d.PublicURL != "" {
		return strings.TrimRight(d.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
