package api

import (
	"errors"
	"net/http"

	"github.com/carecheck/carecheck/apikeys"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

// handleCreateAPIKey makes a named key; the key is in this answer only.
func handleCreateAPIKey(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		k, key, err := apikeys.Create(r.Context(), d.Store, agencyID(r), req.Name)
		var fe *freetext.Error
		switch {
		case errors.As(err, &fe):
			err = invalid("%s", fe.Error())
		case errors.Is(err, apikeys.ErrTooMany), errors.Is(err, apikeys.ErrNameTaken):
			err = &Error{Code: CodeConflict, Message: err.Error()}
		}
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("api key created", "agency_id", agencyID(r), "key_id", k.ID)
		audit(d, r, "api_key", k.ID, "created", nil, k)
		encode(w, http.StatusCreated, struct {
			*store.APIKey
			Key string `json:"key"`
		}{k, key})
	})
}

// handleListAPIKeys lists the agency's live keys: id, name, prefix,
// created, last used; never the key.
func handleListAPIKeys(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys, err := d.Store.APIKeys(r.Context(), agencyID(r), false)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"api_keys": keys, "next": ""})
	})
}

// handleRevokeAPIKey revokes a key: the next request with it is 401. The
// agency's last live key is not revoked (409): it would lock the agency out.
func handleRevokeAPIKey(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := d.Store.RevokeAPIKey(r.Context(), agencyID(r), urlParam(r, "id"))
		if errors.Is(err, store.ErrLastKey) {
			err = &Error{Code: CodeConflict, Message: "this is the agency's last API key: create another first"}
		}
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("api key revoked", "agency_id", agencyID(r), "key_id", k.ID)
		audit(d, r, "api_key", k.ID, "revoked", nil, nil)
		encode(w, http.StatusOK, k)
	})
}
