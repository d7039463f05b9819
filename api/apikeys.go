package api

import (
	"errors"
	"net/http"

	"github.com/carecheck/carecheck/store"
)

// maxAPIKeys bounds an agency's live keys.
const maxAPIKeys = 50

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
		name, err := text("name", req.Name, textRule{Max: 100})
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		keys, err := d.Store.APIKeys(r.Context(), agencyID(r), false)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if len(keys) >= maxAPIKeys {
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "api keys: at most 50 live keys; revoke one first"})
			return
		}
		for _, k := range keys {
			if k.Name == name {
				respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "name: a live key already has this name"})
				return
			}
		}
		k, key, err := d.Store.CreateAPIKey(r.Context(), agencyID(r), name)
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
