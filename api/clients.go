package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/carecheck/carecheck/store"
)

func urlParam(r *http.Request, name string) string { return chi.URLParam(r, name) }

// clientOf loads the client named by the route's {id} for the calling
// agency; when there is none (or it is another agency's) it answers 404
// itself and reports false.
func clientOf(d Deps, w http.ResponseWriter, r *http.Request) (*store.Client, bool) {
	c, err := d.Store.AgencyClient(r.Context(), agencyID(r), urlParam(r, "id"))
	if err != nil {
		respondErr(w, r, d.Log, err)
		return nil, false
	}
	return c, true
}

// clientView is a client as the API shows it: the record and whether the
// client needs a new case manager (theirs is deactivated or gone).
type clientView struct {
	*store.Client
	NeedsCaseManager bool `json:"needs_case_manager"`
}

// encodeClient answers with one client and its needs_case_manager flag.
func encodeClient(d Deps, w http.ResponseWriter, r *http.Request, status int, c *store.Client) {
	needs, err := d.Store.NeedsCaseManager(r.Context(), c.AgencyID, c)
	if err != nil {
		respondErr(w, r, d.Log, err)
		return
	}
	encode(w, status, clientView{c, needs[c.ID]})
}

type consentRequest struct {
	At     time.Time `json:"at"`
	Method string    `json:"method"`
}

type clientRequest struct {
	Name          *string         `json:"name"`
	Phone         *string         `json:"phone"`
	Channel       *string         `json:"channel"`
	Timezone      *string         `json:"timezone"`
	CaseManagerID *string         `json:"case_manager_id"`
	Language      *string         `json:"language"`
	Consent       *consentRequest `json:"consent"`
	Status        *string         `json:"status"`
	ExternalID    *string         `json:"external_id"`
}

// apply validates the request and writes it onto c. create requires the
// fields a new client must have.
func (req *clientRequest) apply(ctx context.Context, d Deps, c *store.Client, create bool) error {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return strings.TrimSpace(*p)
	}
	if create || req.Name != nil {
		name, err := text("name", str(req.Name), nameRule)
		if err != nil {
			return err
		}
		c.Name = name
	}
	if create || req.Channel != nil {
		switch ch := str(req.Channel); ch {
		case "sms", "telegram":
			c.Channel = ch
		default:
			return invalid(`channel: "sms" or "telegram"`)
		}
	}
	if req.Phone != nil {
		if str(req.Phone) == "" {
			c.Phone = ""
		} else {
			p, err := e164("phone", str(req.Phone))
			if err != nil {
				return err
			}
			c.Phone = p
		}
	}
	if c.Channel == "sms" && c.Phone == "" {
		return invalid("phone: required for the sms channel")
	}
	if create || req.Timezone != nil {
		if err := zone("timezone", str(req.Timezone)); err != nil {
			return err
		}
		c.Timezone = str(req.Timezone)
	}
	if create || req.Language != nil {
		switch l := str(req.Language); l {
		case "en", "es":
			c.Language = l
		case "":
			if !create {
				return invalid(`language: "en" or "es"`)
			}
			c.Language = "en"
		default:
			return invalid(`language: "en" or "es"`)
		}
	}
	if create || req.CaseManagerID != nil {
		id := str(req.CaseManagerID)
		if id == "" {
			return invalid("case_manager_id: required")
		}
		m, err := d.Store.CaseManager(ctx, c.AgencyID, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !m.Active) {
			return invalid("case_manager_id: no such active case manager in this agency")
		}
		if err != nil {
			return err
		}
		c.CaseManagerID = id
	}
	if req.Consent != nil {
		switch req.Consent.Method {
		case "written", "verbal", "sms":
		default:
			return invalid(`consent.method: "written", "verbal" or "sms"`)
		}
		if req.Consent.At.IsZero() {
			return invalid("consent.at: required (RFC 3339 time)")
		}
		if req.Consent.At.After(d.Now().Add(5 * time.Minute)) {
			return invalid("consent.at: in the future")
		}
		c.Consent = &store.Consent{At: req.Consent.At.UTC(), Method: req.Consent.Method}
	}
	if req.ExternalID != nil {
		id, err := externalID(*req.ExternalID)
		if err != nil {
			return err
		}
		c.ExternalID = id
	}
	if req.Status != nil {
		switch s := str(req.Status); s {
		case store.StatusActive, store.StatusPaused:
			// Re-admission of a discharged client is allowed.
			c.Status = s
		case store.StatusDischarged:
			return invalid("status: use DELETE /v1/clients/{id} to discharge")
		default:
			return invalid(`status: "active" or "paused"`)
		}
	}
	return nil
}

// handleCreateClient registers a client. Without consent the client is
// registered but never messaged.
func handleCreateClient(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req clientRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if req.Status != nil {
			respondErr(w, r, d.Log, invalid("status: set with PATCH after creation"))
			return
		}
		c := &store.Client{AgencyID: agencyID(r), Status: store.StatusActive}
		if err := req.apply(r.Context(), d, c, true); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := d.Store.CreateClient(r.Context(), c); err != nil {
			err = clientConflict(err)
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("client created", "agency_id", c.AgencyID, "client_id", c.ID)
		audit(d, r, "client", c.ID, "created", nil, c)
		encodeClient(d, w, r, http.StatusCreated, c)
	})
}

// handleListClients pages the calling agency's clients;
// ?needs_case_manager=true keeps those whose case manager is deactivated.
func handleListClients(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := pageLimit(r)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		cursor, err := pageCursor(r, clientCursor)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		var page store.Page[*store.Client]
		needs := map[string]bool{}
		switch r.URL.Query().Get("needs_case_manager") {
		case "true":
			page, err = d.Store.ClientsNeedingCaseManager(r.Context(), agencyID(r), cursor, limit)
			for _, c := range page.Items {
				needs[c.ID] = true
			}
		case "", "false":
			page, err = d.Store.Clients(r.Context(), agencyID(r), cursor, limit)
			if err == nil {
				needs, err = d.Store.NeedsCaseManager(r.Context(), agencyID(r), page.Items...)
			}
		default:
			err = invalid("needs_case_manager: true or false")
		}
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		views := make([]clientView, len(page.Items))
		for i, c := range page.Items {
			views[i] = clientView{c, needs[c.ID]}
		}
		encode(w, http.StatusOK, map[string]any{"clients": views, "next": page.Next})
	})
}

// handleGetClient shows one client; another agency's client is 404.
func handleGetClient(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		encodeClient(d, w, r, http.StatusOK, c)
	})
}

// handlePatchClient changes some of a client's fields.
func handlePatchClient(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req clientRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old, err := d.Store.AgencyClient(r.Context(), agencyID(r), urlParam(r, "id"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		c := *old
		if err := req.apply(r.Context(), d, &c, false); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := d.Store.UpdateClient(r.Context(), old, &c); err != nil {
			err = clientConflict(err)
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("client updated", "agency_id", c.AgencyID, "client_id", c.ID)
		audit(d, r, "client", c.ID, "changed", old, &c)
		encodeClient(d, w, r, http.StatusOK, &c)
	})
}

// handleDischargeClient discharges a client: messages and schedules stop,
// records are kept.
func handleDischargeClient(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, err := d.Store.AgencyClient(r.Context(), agencyID(r), urlParam(r, "id"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		c := *old
		c.Status = store.StatusDischarged
		if err := d.Store.UpdateClient(r.Context(), old, &c); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("client discharged", "agency_id", c.AgencyID, "client_id", c.ID)
		audit(d, r, "client", c.ID, "discharged", old, &c)
		encodeClient(d, w, r, http.StatusOK, &c)
	})
}

// clientConflict words a client's conflicts for the API: an external id
// another client of the agency has, or a phone another active person has.
func clientConflict(err error) error {
	switch {
	case errors.Is(err, store.ErrExternalIDTaken):
		return &Error{Code: CodeConflict, Message: "external_id: already belongs to another client of the agency"}
	case errors.Is(err, store.ErrConflict):
		return &Error{Code: CodeConflict, Message: "phone: already belongs to another active person"}
	}
	return err
}

// externalID checks an agency's own identifier of a client (an EHR's MRN):
// 1 to 64 of A-Z a-z 0-9 and . _ - : / (FHIR sends it as an identifier
// value; nothing invisible or ambiguous); "" removes it.
func externalID(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if len(v) > 64 {
		return "", invalid("external_id: at most 64 characters")
	}
	for i, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:/", r)
		if !ok {
			return "", invalid("external_id: %q at %d is not allowed (A-Z a-z 0-9 . _ - : /)", r, i)
		}
	}
	return v, nil
}
