package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/oncall"
	"github.com/carecheck/carecheck/store"
)

// rotationRequest is the body of POST and PATCH /v1/rotations: every field
// may be left out of a PATCH.
type rotationRequest struct {
	Name    *string   `json:"name"`
	Staff   *[]string `json:"staff"`
	Handoff *string   `json:"handoff"`
	At      *string   `json:"at"`
	Start   *string   `json:"start"`
}

// apply sets the request's fields on rot and validates the result by the
// rules of escalation.ApplyRotation (shared with the console).
func (req *rotationRequest) apply(r *http.Request, d Deps, rot *store.Rotation) error {
	err := escalation.ApplyRotation(r.Context(), d.Store, agencyID(r), escalation.RotationFields{
		Name: req.Name, Staff: req.Staff, Handoff: req.Handoff, At: req.At, Start: req.Start}, rot, d.Now())
	var bad *escalation.RotationError
	if errors.As(err, &bad) {
		return invalid("%s", bad.Error())
	}
	return err
}

// rotationOf loads the rotation named by the route's {id} for the calling
// agency; another agency's is 404.
func rotationOf(d Deps, w http.ResponseWriter, r *http.Request) (*store.Rotation, bool) {
	rot, err := d.Store.Rotation(r.Context(), agencyID(r), urlParam(r, "id"))
	if err != nil {
		respondErr(w, r, d.Log, err)
		return nil, false
	}
	return rot, true
}

// handleCreateRotation creates an on-call rotation.
func handleCreateRotation(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req rotationRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		rot := &store.Rotation{AgencyID: agencyID(r)}
		if err := req.apply(r, d, rot); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := d.Store.CreateRotation(r.Context(), rot); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("rotation created", "agency_id", rot.AgencyID, "rotation_id", rot.ID)
		audit(d, r, "rotation", rot.ID, "created", nil, rot)
		encode(w, http.StatusCreated, rot)
	})
}

// handleListRotations lists the agency's rotations.
func handleListRotations(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := pageLimit(r)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		cursor, err := pageCursor(r, rotationCursor)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		page, err := d.Store.Rotations(r.Context(), agencyID(r), cursor, limit)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"rotations": page.Items, "next": page.Next})
	})
}

// handleGetRotation shows one rotation with its overrides.
func handleGetRotation(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rot, ok := rotationOf(d, w, r); ok {
			encode(w, http.StatusOK, rot)
		}
	})
}

// handlePatchRotation changes a rotation's name, staff, hand-off or start.
func handlePatchRotation(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req rotationRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old, rot, err := d.Store.UpdateRotation(r.Context(), agencyID(r), urlParam(r, "id"), func(rot *store.Rotation) error {
			return req.apply(r, d, rot)
		})
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("rotation changed", "agency_id", rot.AgencyID, "rotation_id", rot.ID)
		audit(d, r, "rotation", rot.ID, "changed", old, rot)
		encode(w, http.StatusOK, rot)
	})
}

// handleDeleteRotation deletes a rotation the agency's policy does not name
// (409 naming the steps that do), by escalation.DeleteRotation (shared with
// the console). An open escalation whose policy snapshot
// names it skips that step, and its audit says nobody was on call.
func handleDeleteRotation(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rot, err := escalation.DeleteRotation(r.Context(), d.Store, agencyID(r), urlParam(r, "id"))
		var inUse *escalation.RotationInUseError
		if errors.As(err, &inUse) {
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: inUse.Error()})
			return
		}
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("rotation deleted", "agency_id", rot.AgencyID, "rotation_id", rot.ID)
		audit(d, r, "rotation", rot.ID, "deleted", rot, nil)
		w.WriteHeader(http.StatusNoContent)
	})
}

type overrideRequest struct {
	StaffID string    `json:"staff_id"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// handleCreateOverride puts another staff member on call for a while
// ("Sam covers Friday night"): {staff_id, start, end} (RFC 3339), by the
// rules of escalation.AddOverride (shared with the console).
func handleCreateOverride(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req overrideRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		o, old, rot, err := escalation.AddOverride(r.Context(), d.Store, agencyID(r), urlParam(r, "id"), req.StaffID, req.Start, req.End, d.Now())
		var bad *escalation.OverrideError
		switch {
		case errors.As(err, &bad) && bad.TooMany:
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: bad.Error()})
			return
		case errors.As(err, &bad):
			respondErr(w, r, d.Log, invalid("%s", bad.Error()))
			return
		case err != nil:
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("rotation override added", "agency_id", rot.AgencyID, "rotation_id", rot.ID, "override_id", o.ID)
		audit(d, r, "rotation", rot.ID, "changed", old, rot)
		encode(w, http.StatusCreated, o)
	})
}

// handleDeleteOverride removes an override.
func handleDeleteOverride(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, rot, err := escalation.RemoveOverride(r.Context(), d.Store, agencyID(r), urlParam(r, "id"), urlParam(r, "oid"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		audit(d, r, "rotation", rot.ID, "changed", old, rot)
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleOnCall answers who is on call at ?at= (RFC 3339; now when absent)
// and the next ?n= (default 5, at most 20) changes of who is.
func handleOnCall(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := d.Now()
		if v := r.URL.Query().Get("at"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				respondErr(w, r, d.Log, invalid("at: an RFC 3339 time, 2026-11-06T22:00:00-06:00"))
				return
			}
			at = t
		}
		n := 5
		if v := r.URL.Query().Get("n"); v != "" {
			x, err := strconv.Atoi(v)
			if err != nil || x < 1 || x > 20 {
				respondErr(w, r, d.Log, invalid("n: a number from 1 to 20"))
				return
			}
			n = x
		}
		rot, ok := rotationOf(d, w, r)
		if !ok {
			return
		}
		ag, err := d.Store.Agency(r.Context(), rot.AgencyID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		who, next, err := escalation.OnCall(rot, ag.Timezone, at, n)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if next == nil {
			next = []oncall.Shift{}
		}
		encode(w, http.StatusOK, map[string]any{"at": at, "on_call": who, "next": next})
	})
}
