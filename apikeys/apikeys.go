// Package apikeys holds the rules for making an agency's API keys, shared
// by the API's POST /v1/api-keys and the console's API keys page: a name
// (free text, at most 100 characters) unique among the live keys, and at
// most Max live keys per agency.
package apikeys

import (
	"context"
	"errors"

	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

// Max bounds an agency's live keys.
const Max = 50

// NameRule is the rule for a key's name.
var NameRule = freetext.Rule{Max: 100}

// Why a key is not made (besides a *freetext.Error for the name).
var (
	ErrTooMany   = errors.New("api keys: at most 50 live keys; revoke one first")
	ErrNameTaken = errors.New("name: a live key already has this name")
)

// Create checks name and makes a key for the agency; it returns the record
// and the key itself, which is shown once and never kept.
func Create(ctx context.Context, st *store.Store, agencyID, name string) (*store.APIKey, string, error) {
	name, err := freetext.Check("name", name, NameRule)
	if err != nil {
		return nil, "", err
	}
	keys, err := st.APIKeys(ctx, agencyID, false)
	if err != nil {
		return nil, "", err
	}
	if len(keys) >= Max {
		return nil, "", ErrTooMany
	}
	for _, k := range keys {
		if k.Name == name {
			return nil, "", ErrNameTaken
		}
	}
	return st.CreateAPIKey(ctx, agencyID, name)
}
