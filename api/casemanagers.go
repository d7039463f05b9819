package api

import (
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

type caseManagerRequest struct {
	Name         string              `json:"name"`
	Phone        string              `json:"phone"`
	BackupID     string              `json:"backup_id"`
	WorkingHours *store.WorkingHours `json:"working_hours"`
	Email        string              `json:"email"`
	Role         string              `json:"role"`
	Language     string              `json:"language"`
	ContactRules []store.ContactRule `json:"contact_rules"`
}

func (req *caseManagerRequest) validate(agencyTZ string) (*store.CaseManager, error) {
	name, err := text("name", req.Name, nameRule)
	if err != nil {
		return nil, err
	}
	m := &store.CaseManager{Name: name, BackupID: strings.TrimSpace(req.BackupID)}
	if req.Phone != "" {
		p, err := e164("phone", req.Phone)
		if err != nil {
			return nil, err
		}
		m.Phone = p
	}
	wh := store.WorkingHours{Start: "09:00", End: "17:00", Days: []int{1, 2, 3, 4, 5}, Timezone: agencyTZ}
	if req.WorkingHours != nil {
		var err error
		if wh, err = workingHours(*req.WorkingHours, agencyTZ); err != nil {
			return nil, err
		}
	}
	m.WorkingHours = wh
	if m.Email, err = staffEmail(req.Email); err != nil {
		return nil, err
	}
	if m.Role, err = staffRole(req.Role); err != nil {
		return nil, err
	}
	if m.Language, err = staffLanguage(req.Language); err != nil {
		return nil, err
	}
	if err := escalation.ValidateContactRules(req.ContactRules, m.Phone != ""); err != nil {
		return nil, invalid("%s", err.Error())
	}
	m.ContactRules = req.ContactRules
	return m, nil
}

// staffEmail validates a console sign-in email: one bare address, stored
// in lower case ("" stays empty: no console access).
func staffEmail(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || len(v) > 254 || !strings.Contains(v[strings.LastIndex(v, "@"):], ".") {
		return "", invalid("email: not an email address (name@example.org)")
	}
	return strings.ToLower(v), nil
}

// staffRole validates a role; "" is case_manager.
func staffRole(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return staff.RoleCaseManager, nil
	}
	if !staff.ValidRole(v) {
		return "", invalid(`role: "case_manager", "supervisor" or "admin"`)
	}
	return v, nil
}

// staffLanguage validates the console language; "" is English.
func staffLanguage(v string) (string, error) {
	switch v = strings.TrimSpace(v); v {
	case "", "en":
		return "en", nil
	case "es":
		return v, nil
	}
	return "", invalid(`language: "en" or "es"`)
}

// errEmailTaken answers a staff email another active person signs in with.
var errEmailTaken = &Error{Code: CodeConflict, Message: "email: already belongs to another active staff member"}

// workingHours validates working hours; an empty zone is the agency's.
func workingHours(wh store.WorkingHours, agencyTZ string) (store.WorkingHours, error) {
	if wh.Timezone == "" {
		wh.Timezone = agencyTZ
	}
	if err := clock("working_hours.start", wh.Start); err != nil {
		return wh, err
	}
	if err := clock("working_hours.end", wh.End); err != nil {
		return wh, err
	}
	if err := zone("working_hours.timezone", wh.Timezone); err != nil {
		return wh, err
	}
	for _, day := range wh.Days {
		if day < 1 || day > 7 {
			return wh, invalid("working_hours.days: 1 (Monday) to 7 (Sunday)")
		}
	}
	return wh, nil
}

// checkBackup refuses a backup that is not another active case manager of
// the agency.
func checkBackup(r *http.Request, d Deps, agency, self, backup string) error {
	if backup == "" {
		return nil
	}
	if backup == self {
		return invalid("backup_id: a case manager cannot be their own backup")
	}
	b, err := d.Store.CaseManager(r.Context(), agency, backup)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !b.Active) {
		return invalid("backup_id: no such active case manager in this agency")
	}
	return err
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
		if err := checkBackup(r, d, ag.ID, "", m.BackupID); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := d.Store.CreateCaseManager(r.Context(), m); err != nil {
			if errors.Is(err, store.ErrConflict) {
				err = &Error{Code: CodeConflict, Message: "phone: already belongs to another active person"}
			}
			if errors.Is(err, store.ErrEmailTaken) {
				err = errEmailTaken
			}
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("case manager created", "agency_id", ag.ID, "case_manager_id", m.ID)
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

type caseManagerPatch struct {
	Name         *string              `json:"name"`
	Phone        *string              `json:"phone"`
	BackupID     *string              `json:"backup_id"`
	WorkingHours *store.WorkingHours  `json:"working_hours"`
	Email        *string              `json:"email"`
	Role         *string              `json:"role"`
	Language     *string              `json:"language"`
	ContactRules *[]store.ContactRule `json:"contact_rules"`
}

// apply validates the patch like a creation and writes it onto m.
func (req *caseManagerPatch) apply(r *http.Request, d Deps, agencyTZ string, m *store.CaseManager) error {
	if req.Name != nil {
		name, err := text("name", *req.Name, nameRule)
		if err != nil {
			return err
		}
		m.Name = name
	}
	if req.Phone != nil {
		m.Phone = ""
		if strings.TrimSpace(*req.Phone) != "" {
			p, err := e164("phone", *req.Phone)
			if err != nil {
				return err
			}
			m.Phone = p
		}
	}
	if req.BackupID != nil {
		id := strings.TrimSpace(*req.BackupID)
		if err := checkBackup(r, d, m.AgencyID, m.ID, id); err != nil {
			return err
		}
		m.BackupID = id
	}
	if req.WorkingHours != nil {
		wh, err := workingHours(*req.WorkingHours, agencyTZ)
		if err != nil {
			return err
		}
		m.WorkingHours = wh
	}
	var err error
	if req.Email != nil {
		if m.Email, err = staffEmail(*req.Email); err != nil {
			return err
		}
	}
	if req.Role != nil {
		if m.Role, err = staffRole(*req.Role); err != nil {
			return err
		}
	}
	if req.Language != nil {
		if m.Language, err = staffLanguage(*req.Language); err != nil {
			return err
		}
	}
	if req.ContactRules != nil {
		m.ContactRules = *req.ContactRules
	}
	if err := escalation.ValidateContactRules(m.ContactRules, m.Phone != ""); err != nil {
		return invalid("%s", err.Error())
	}
	return nil
}

// changeCaseManager reads the route's case manager, lets change make the
// new record from it and saves it if nobody changed it meanwhile (read
// again and retried, a few times). It answers errors itself; ok is false then.
func changeCaseManager(d Deps, w http.ResponseWriter, r *http.Request,
	change func(old *store.CaseManager) (*store.CaseManager, error)) (old, m *store.CaseManager, ok bool) {
	for range 3 {
		var err error
		old, err = d.Store.CaseManager(r.Context(), agencyID(r), urlParam(r, "id"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return nil, nil, false
		}
		m, err = change(old)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return nil, nil, false
		}
		err = d.Store.UpdateCaseManager(r.Context(), old, m)
		if errors.Is(err, store.ErrChanged) {
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			err = &Error{Code: CodeConflict, Message: "phone: already belongs to another active person"}
		}
		if errors.Is(err, store.ErrEmailTaken) {
			err = errEmailTaken
		}
		if err != nil {
			respondErr(w, r, d.Log, err)
			return nil, nil, false
		}
		return old, m, true
	}
	respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "the case manager changed meanwhile: try again"})
	return nil, nil, false
}

// handlePatchCaseManager changes a case manager's name, phone, backup or
// working hours, validated as at creation. A deactivated case manager is
// not edited (409).
func handlePatchCaseManager(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req caseManagerPatch
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ag, err := d.Store.Agency(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old, m, ok := changeCaseManager(d, w, r, func(old *store.CaseManager) (*store.CaseManager, error) {
			if !old.Active {
				return nil, &Error{Code: CodeConflict, Message: "case manager is deactivated"}
			}
			m := *old
			return &m, req.apply(r, d, ag.Timezone, &m)
		})
		if !ok {
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
		old, m, ok := changeCaseManager(d, w, r, func(old *store.CaseManager) (*store.CaseManager, error) {
			return d.Store.DeactivateCaseManager(old), nil
		})
		if !ok {
			return
		}
		if err := d.Store.DeleteStaffSessions(r.Context(), m.AgencyID, m.ID); err != nil {
			d.Log.Error("console sessions not ended", "agency_id", m.AgencyID, "case_manager_id", m.ID, "err", err)
		}
		if old.Active {
			d.Log.Info("case manager deactivated", "agency_id", m.AgencyID, "case_manager_id", m.ID)
			audit(d, r, "case_manager", m.ID, "deactivated", old, m)
		}
		left, err := namedBy(r, d, m.ID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, struct {
			*store.CaseManager
			stillNamed
		}{m, left})
	})
}

// stillNamed is where a deactivated case manager is still named: the
// settings an admin should change (each such step is skipped meanwhile).
type stillNamed struct {
	// BackupOf lists the active case managers whose backup they are.
	BackupOf []string `json:"backup_of"`
	// PolicySteps lists the agency policy's steps (from 1) naming them by id.
	PolicySteps []int `json:"policy_steps"`
}

// namedBy finds where case manager id is still named in the request's agency.
func namedBy(r *http.Request, d Deps, id string) (stillNamed, error) {
	out := stillNamed{BackupOf: []string{}, PolicySteps: []int{}}
	ctx := r.Context()
	cursor := ""
	for {
		page, err := d.Store.CaseManagers(ctx, agencyID(r), cursor, 200)
		if err != nil {
			return out, err
		}
		for _, m := range page.Items {
			if m.Active && m.BackupID == id {
				out.BackupOf = append(out.BackupOf, m.ID)
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	ag, err := d.Store.Agency(ctx, agencyID(r))
	if err != nil {
		return out, err
	}
	if ag.Policy != nil {
		for i, st := range ag.Policy.Steps {
			if strings.TrimSpace(st.Notify) == id {
				out.PolicySteps = append(out.PolicySteps, i+1)
			}
		}
	}
	return out, nil
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
