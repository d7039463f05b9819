package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/carecheck/carecheck/store"
)

// InviteTTL is how long an invitation link works.
const InviteTTL = 72 * time.Hour

// InvitePath is where an invitation's page is served; the token follows it.
const InvitePath = "/console/invite/"

// Reasons an invitation is refused.
var (
	ErrNoEmail  = errors.New("the staff member has no email: set one first")
	ErrInactive = errors.New("the staff member is deactivated")
)

// Invite issues a single-use invitation for m to set their console password
// and returns its token (32 random bytes, base64url). Only its SHA-256 is
// stored, for InviteTTL; a newer invitation replaces an older one. The
// agency's audit records that it was issued, and by whom (never the token).
func Invite(ctx context.Context, st *store.Store, m *store.CaseManager, by store.Actor) (string, error) {
	if !m.Active {
		return "", ErrInactive
	}
	if m.Email == "" {
		return "", ErrNoEmail
	}
	token, err := randomToken()
	if err != nil {
		return "", err
	}
	inv := store.Invite{AgencyID: m.AgencyID, StaffID: m.ID, Created: st.Now().UTC()}
	if err := st.SaveInvite(ctx, Hash(token), inv, InviteTTL); err != nil {
		return "", fmt.Errorf("invite %s: %w", m.ID, err)
	}
	rec := store.AuditRecord{Actor: by, Kind: "case_manager", RecordID: m.ID, Action: "invited",
		Changes: []store.Change{{Field: "password", Note: "console invitation issued (72 h)"}}}
	if err := st.AppendAudit(ctx, m.AgencyID, rec); err != nil {
		return "", fmt.Errorf("invite %s: %w", m.ID, err)
	}
	return token, nil
}

// InviteURL is the invitation page's address under base (the service's
// public URL, no trailing slash).
func InviteURL(base, token string) string { return base + InvitePath + token }

// Hash is the stored form of a random token (invitations, sessions): a
// fast hash is enough for 256 random bits, and a leaked store gives no token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken makes a random token: 32 bytes, base64url without padding.
func NewToken() (string, error) { return randomToken() }

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
