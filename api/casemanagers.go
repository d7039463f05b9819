package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// staffErr turns the staff package's refusals into the API's errors.
func staffErr(err error) error {
	var se *staff.Error
	var fe *freetext.Error
	switch {
	case errors.As(err, &se), errors.As(err, &fe):
		return invalid("%s", err.Error())
	case errors.Is(err, store.ErrConflict):
		return &Error{Code: CodeConflict, Message: "phone: already belongs to another active person"}
	case errors.Is(err, store.ErrEmailTaken):
		return errEmailTaken
	case errors.Is(err, staff.ErrDeactivated), errors.Is(err, staff.ErrChangedMeanwhile):
		return &Error{Code: CodeConflict, Message: err.Error()}
	}
	return err
}

// errEmailTaken answers a staff email another active person signs in with.
var errEmailTaken = &Error{Code: CodeConflict, Message: "email: already belongs to another active staff member"}

// handleCreateCaseManager registers a case manager in the calling agency.
func handleCreateCaseManager(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req staff.Fields
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ag, err := d.Store.Agency(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		m, err := staff.Create(r.Context(), d.Store, ag, &req)
		if err != nil {
			respondErr(w, r, d.Log, staffErr(err))
			return
		}
		d.Log.Info("case manager created", "agency_id", m.AgencyID, "case_manager_id", m.ID)
		audit(d, r, "case_manager", m.ID, "created", nil, m)
		encode(w, http.StatusCreated, m)
	})
}

// handleListCaseManagers pages the calling agency's case managers.
func handleListCaseManagers(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := pageLimit(r)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		cursor, err := pageCursor(r, caseManagerCursor)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		page, err := d.Store.CaseManagers(r.Context(), agencyID(r), cursor, limit)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"case_managers": page.Items, "next": page.Next})
	})
}

// handleGetCaseManager shows one case manager.
func handleGetCaseManager(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := d.Store.CaseManager(r.Context(), agencyID(r), urlParam(r, "id"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, m)
	})
}

// handlePatchCaseManager changes a case manager's name, phone, backup or
// working hours, validated as at creation. A deactivated case manager is
// not edited (409).
func handlePatchCaseManager(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req staff.Patch
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ag, err := d.Store.Agency(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old, m, err := staff.Update(r.Context(), d.Store, ag, urlParam(r, "id"), &req)
		if err != nil {
			respondErr(w, r, d.Log, staffErr(err))
			return
		}
		d.Log.Info("case manager updated", "agency_id", m.AgencyID, "case_manager_id", m.ID)
		audit(d, r, "case_manager", m.ID, "changed", old, m)
		encode(w, http.StatusOK, m)
	})
}

// handleDeactivateCaseManager deactivates a case manager (DELETE; the
// record is kept, and a second DELETE answers the same). From then on they
// get no alerts (a policy step naming them, as assigned or backup or by id,
// is skipped and the escalation's audit says so), their ACKs take nothing,
// new policies and backups cannot name them, and their clients are listed
// by GET /v1/clients?needs_case_manager=true.
func handleDeactivateCaseManager(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, m, err := staff.Deactivate(r.Context(), d.Store, agencyID(r), urlParam(r, "id"))
		if errors.Is(err, staff.ErrSessionsLeft) {
			d.Log.Error("console sessions not ended", "agency_id", m.AgencyID, "case_manager_id", m.ID, "err", err)
		} else if err != nil {
			respondErr(w, r, d.Log, staffErr(err))
			return
		}
		if old.Active {
			d.Log.Info("case manager deactivated", "agency_id", m.AgencyID, "case_manager_id", m.ID)
			audit(d, r, "case_manager", m.ID, "deactivated", old, m)
		}
		left, err := staff.NamedBy(r.Context(), d.Store, m.AgencyID, m.ID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, struct {
			*store.CaseManager
			staff.StillNamed
		}{m, left})
	})
}

func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		return 0, invalid("limit: a number from 1 to 200")
	}
	return n, nil
}
