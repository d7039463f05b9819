package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// The console's records: staff sign-in secrets, invitations and sessions.
// Secrets are kept apart from the case manager record, which the API
// shows: a record never carries a password hash or a TOTP secret.

// ErrEmailTaken is returned when a staff email already belongs to another
// active staff member of the same agency. Another agency's staff never
// count: one person may work for several agencies with one email, and an
// agency must not learn who another agency's staff are.
var ErrEmailTaken = errors.New("email already belongs to another active staff member")

// MaxEmailAgencies is how many agencies' accounts one email signs into:
// a sign-in checks the password of this many candidates whatever the
// email (StaffByEmail returns at most this many, the oldest agencies first).
const MaxEmailAgencies = 4

// DefaultSessionIdle is how long a console session lasts without a
// request when the agency set nothing (HIPAA automatic log-off).
const DefaultSessionIdle = Duration(15 * time.Minute)

// keyStaffEmail is the legacy global email binding (before emails were
// unique per agency); it is still read at sign-in, never written.
func keyStaffEmail(email string) string { return "staffemail:" + email }

// keyAgencyStaffEmail binds an email to one staff member of an agency.
func keyAgencyStaffEmail(agency, email string) string {
	return agencyTag(agency) + ":staffemail:" + email
}

// keyEmailAgencies is the set of agencies where an email is (or was) a
// staff member's: where a sign-in looks.
func keyEmailAgencies(email string) string { return "staffemail-agencies:" + email }
func keyCredentials(agency, staff string) string {
	return agencyTag(agency) + ":cred:" + staff
}
func keyInvite(hash string) string            { return "invite:" + hash }
func keyInviteOf(agency, staff string) string { return agencyTag(agency) + ":invite-of:" + staff }
func keySession(hash string) string           { return "session:" + hash }
func keyTOTPUsed(agency, staff string) string { return agencyTag(agency) + ":totp-used:" + staff }
func keyStaffSessions(agency, staff string) string {
	return agencyTag(agency) + ":sessions:" + staff
}

// StaffByEmail finds the staff members an email (lower case) belongs to,
// one per agency at most, in at most MaxEmailAgencies agencies (the oldest
// first); ErrNotFound when nobody. Former staff are included: the caller
// checks Active. It reads the same keys whatever other agencies hold.
func (s *Store) StaffByEmail(ctx context.Context, email string) ([]Owner, error) {
	agencies, err := s.rdb.SMembers(ctx, keyEmailAgencies(email)).Result()
	if err != nil {
		return nil, fmt.Errorf("look up email: %w", err)
	}
	slices.Sort(agencies)
	var out []Owner
	seen := map[string]bool{}
	for _, ag := range agencies {
		if len(out) == MaxEmailAgencies {
			break
		}
		o, err := s.lookupOwner(ctx, keyAgencyStaffEmail(ag, email))
		if errors.Is(err, ErrNotFound) || (err == nil && (o.Kind != "staff" || o.AgencyID != ag)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		seen[ag] = true
		out = append(out, o)
	}
	// An email bound before emails were per agency.
	if o, err := s.lookupOwner(ctx, keyStaffEmail(email)); err == nil && o.Kind == "staff" && !seen[o.AgencyID] && len(out) < MaxEmailAgencies {
		out = append(out, o)
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// claimStaffEmail binds email to staff member o in o's agency: ErrEmailTaken
// when another active staff member of that agency has it. Only that
// agency's binding is read, so the answer and its time are the same
// whoever else holds the email elsewhere.
func (s *Store) claimStaffEmail(ctx context.Context, o Owner, email string) error {
	// The agency is listed first: a binding is never without its listing.
	if err := s.rdb.SAdd(ctx, keyEmailAgencies(email), o.AgencyID).Err(); err != nil {
		return fmt.Errorf("claim email: %w", err)
	}
	if err := s.claimOwner(ctx, keyAgencyStaffEmail(o.AgencyID, email), o); err != nil {
		if errors.Is(err, ErrConflict) {
			return ErrEmailTaken
		}
		return err
	}
	return nil
}

// releaseStaffEmail drops o's binding of email (if still theirs), and the
// agency's listing under the email when nobody there holds it now.
func (s *Store) releaseStaffEmail(ctx context.Context, o Owner, email string) {
	s.releaseOwner(ctx, keyStaffEmail(email), o)
	key := keyAgencyStaffEmail(o.AgencyID, email)
	n, err := scriptDelIfEquals.Run(ctx, s.rdb, []string{key}, o.value()).Int()
	if err != nil || n == 0 {
		return
	}
	_ = s.rdb.SRem(ctx, keyEmailAgencies(email), o.AgencyID).Err()
	// A claim in the same agency may have run between the two: list it again.
	if held, err := s.rdb.Exists(ctx, key).Result(); err == nil && held == 1 {
		_ = s.rdb.SAdd(ctx, keyEmailAgencies(email), o.AgencyID).Err()
	}
}

// Credentials are a staff member's console secrets.
type Credentials struct {
	// PasswordHash is an encoded argon2id hash (PHC string format).
	PasswordHash string    `json:"password_hash,omitempty"`
	PasswordSet  time.Time `json:"password_set_at"`
	// TOTPSecret is the base32 TOTP secret, once enrolled.
	TOTPSecret string `json:"totp_secret,omitempty"`
}

// Credentials loads a staff member's console secrets; ErrNotFound when
// they never set a password.
func (s *Store) Credentials(ctx context.Context, agency, staff string) (*Credentials, error) {
	var c Credentials
	if err := s.getJSON(ctx, keyCredentials(agency, staff), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// SaveCredentials writes a staff member's console secrets.
func (s *Store) SaveCredentials(ctx context.Context, agency, staff string, c *Credentials) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, keyCredentials(agency, staff), body, 0).Err(); err != nil {
		return fmt.Errorf("save credentials of %s: %w", staff, err)
	}
	return nil
}

// Invite lets one staff member set their console password, once.
type Invite struct {
	AgencyID string    `json:"agency_id"`
	StaffID  string    `json:"staff_id"`
	Created  time.Time `json:"created_at"`
}

// SaveInvite stores an invitation under the hash of its token for ttl, and
// drops the staff member's previous one: the newest link is the only one
// that works.
func (s *Store) SaveInvite(ctx context.Context, hash string, inv Invite, ttl time.Duration) error {
	body, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	of := keyInviteOf(inv.AgencyID, inv.StaffID)
	prev, err := s.rdb.Get(ctx, of).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("save invite: %w", err)
	}
	if prev != "" {
		if err := s.rdb.Del(ctx, keyInvite(prev)).Err(); err != nil {
			return fmt.Errorf("drop previous invite: %w", err)
		}
	}
	if err := s.rdb.Set(ctx, keyInvite(hash), body, ttl).Err(); err != nil {
		return fmt.Errorf("save invite: %w", err)
	}
	if err := s.rdb.Set(ctx, of, hash, ttl).Err(); err != nil {
		return fmt.Errorf("save invite: %w", err)
	}
	return nil
}

// PeekInvite reads an invitation without using it; ErrNotFound when there
// is none (never issued, used, replaced or expired).
func (s *Store) PeekInvite(ctx context.Context, hash string) (*Invite, error) {
	var inv Invite
	if err := s.getJSON(ctx, keyInvite(hash), &inv); err != nil {
		return nil, err
	}
	return &inv, nil
}

// TakeInvite uses an invitation: it is read and deleted in one command, so
// two requests with one link cannot both succeed.
func (s *Store) TakeInvite(ctx context.Context, hash string) (*Invite, error) {
	b, err := s.rdb.GetDel(ctx, keyInvite(hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("take invite: %w", err)
	}
	var inv Invite
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, fmt.Errorf("decode invite: %w", err)
	}
	_ = s.rdb.Del(ctx, keyInviteOf(inv.AgencyID, inv.StaffID)).Err()
	return &inv, nil
}

// Session is a signed-in console session, kept under the hash of its id.
type Session struct {
	AgencyID string    `json:"agency_id"`
	StaffID  string    `json:"staff_id"`
	Created  time.Time `json:"created_at"`
	Seen     time.Time `json:"seen_at"`
	// Pending is the step still owed before the session may do anything:
	// "totp" (the code of an enrolled second factor), "enrol" (the agency
	// requires a second factor the person has not set up), "" none.
	Pending string `json:"pending,omitempty"`
}

// SaveSession writes a session; Redis drops it after ttl (its expiry is
// decided on the caller's clock: the TTL only cleans up).
func (s *Store) SaveSession(ctx context.Context, hash string, sess *Session, ttl time.Duration) error {
	body, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, keySession(hash), body, ttl)
	pipe.SAdd(ctx, keyStaffSessions(sess.AgencyID, sess.StaffID), hash)
	pipe.Expire(ctx, keyStaffSessions(sess.AgencyID, sess.StaffID), 24*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// LoadSession reads a session; ErrNotFound when there is none.
func (s *Store) LoadSession(ctx context.Context, hash string) (*Session, error) {
	var sess Session
	if err := s.getJSON(ctx, keySession(hash), &sess); err != nil {
		return nil, err
	}
	return &sess, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if err := s.rdb.Del(ctx, keySession(hash)).Err(); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteStaffSessions ends every session of a staff member (a new
// password, a deactivation).
func (s *Store) DeleteStaffSessions(ctx context.Context, agency, staff string) error {
	key := keyStaffSessions(agency, staff)
	hashes, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("list sessions of %s: %w", staff, err)
	}
	for _, h := range hashes {
		if err := s.rdb.Del(ctx, keySession(h)).Err(); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
	}
	if err := s.rdb.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("delete sessions of %s: %w", staff, err)
	}
	return nil
}

// ClaimTOTPStep reports true the first time a staff member's TOTP code of
// time step is used: a code seen once is not accepted again (replay).
func (s *Store) ClaimTOTPStep(ctx context.Context, agency, staff string, step int64) (bool, error) {
	key := keyTOTPUsed(agency, staff)
	// The newest step used is kept: an older or equal step is a replay.
	n, err := scriptTOTPStep.Run(ctx, s.rdb, []string{key}, step).Int()
	if err != nil {
		return false, fmt.Errorf("claim totp step: %w", err)
	}
	return n == 1, nil
}

var scriptTOTPStep = redis.NewScript(`
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
local step = tonumber(ARGV[1])
if step <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 600)
return 1`)
