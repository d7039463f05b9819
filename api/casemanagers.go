package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/carecheck/carecheck/store"
)

type caseManagerRequest struct {
	Name         string              `json:"name"`
	Phone        string              `json:"phone"`
	BackupID     string              `json:"backup_id"`
	WorkingHours *store.WorkingHours `json:"working_hours"`
}

func (req *caseManagerRequest) validate(agencyTZ string) (*store.CaseManager, error) {
	name, err := text("name", req.Name, nameRule)
	if err != nil {
		return nil, err
	}
	m := &store.CaseManager{Name: name, BackupID: req.BackupID}
	if req.Phone != "" {
		p, err := e164("phone", req.Phone)
		if err != nil {
			return nil, err
		}
		m.Phone = p
	}
	wh := store.WorkingHours{Start: "09:00", End: "17:00", Days: []int{1, 2, 3, 4, 5}, Timezone: agencyTZ}
	if req.WorkingHours != nil {
		wh = *req.WorkingHours
		if wh.Timezone == "" {
			wh.Timezone = agencyTZ
		}
		if err := clock("working_hours.start", wh.Start); err != nil {
			return nil, err
		}
		if err := clock("working_hours.end", wh.End); err != nil {
			return nil, err
		}
		if err := zone("working_hours.timezone", wh.Timezone); err != nil {
			return nil, err
		}
		for _, day := range wh.Days {
			if day < 1 || day > 7 {
				return nil, invalid("working_hours.days: 1 (Monday) to 7 (Sunday)")
			}
		}
	}
	m.WorkingHours = wh
	return m, nil
}

// handleCreateCaseManager registers a case manager in the calling agency.
func handleCreateCaseManager(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req caseManagerRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ag, err := d.Store.Agency(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		m, err := req.validate(ag.Timezone)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		m.AgencyID = ag.ID
		if m.BackupID != "" {
			if _, err := d.Store.CaseManager(r.Context(), ag.ID, m.BackupID); errors.Is(err, store.ErrNotFound) {
				respondErr(w, r, d.Log, invalid("backup_id: no such case manager in this agency"))
				return
			} else if err != nil {
				respondErr(w, r, d.Log, err)
				return
			}
		}
		if err := d.Store.CreateCaseManager(r.Context(), m); err != nil {
			if errors.Is(err, store.ErrConflict) {
				err = &Error{Code: CodeConflict, Message: "phone: already belongs to another active person"}
			}
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("case manager created", "agency_id", ag.ID, "case_manager_id", m.ID)
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
