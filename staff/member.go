package staff

import (
	"context"
	"errors"
	"net/mail"
	"slices"
	"strings"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

// Error is a refused staff field: Code says why, so the console can word
// it in the reader's language; Error() is the API's English message.
type Error struct {
	Field string
	Code  string
	msg   string
}

func (e *Error) Error() string { return e.msg }

// Why a staff field is refused (Error.Code); a *freetext.Error covers the
// name, the phone and the working hours' times and zone.
const (
	CodeEmail          = "email"           // not one bare email address
	CodeRole           = "role"            // not one of the three roles
	CodeLanguage       = "language"        // not en or es
	CodeDays           = "days"            // a working day outside 1–7
	CodeBackupSelf     = "backup_self"     // their own backup
	CodeBackupInactive = "backup_inactive" // the backup is not an active staff member of the agency
	CodeContactRules   = "contact_rules"   // the contact rules (escalation.ValidateContactRules)
)

// Why a change is not made, besides an *Error or *freetext.Error and the
// store's ErrNotFound, ErrConflict (phone) and ErrEmailTaken.
var (
	// ErrDeactivated: a deactivated staff member is not edited.
	ErrDeactivated = errors.New("case manager is deactivated")
	// ErrChangedMeanwhile: the record kept changing while this change was made.
	ErrChangedMeanwhile = errors.New("the case manager changed meanwhile: try again")
)

// Fields is a new staff member as an admin gives it (POST
// /v1/case-managers, the console's add form).
type Fields struct {
	Name         string              `json:"name"`
	Phone        string              `json:"phone"`
	BackupID     string              `json:"backup_id"`
	WorkingHours *store.WorkingHours `json:"working_hours"`
	Email        string              `json:"email"`
	Role         string              `json:"role"`
	Language     string              `json:"language"`
	ContactRules []store.ContactRule `json:"contact_rules"`
}

// Member validates the fields and makes the record (without its agency
// and id): working hours default to 09:00–17:00 on weekdays in the
// agency's zone. The backup is checked by CheckBackup.
func (f *Fields) Member(agencyTZ string) (*store.CaseManager, error) {
	name, err := freetext.Check("name", f.Name, freetext.Name)
	if err != nil {
		return nil, err
	}
	m := &store.CaseManager{Name: name, BackupID: strings.TrimSpace(f.BackupID)}
	if f.Phone != "" {
		if m.Phone, err = freetext.Phone("phone", f.Phone); err != nil {
			return nil, err
		}
	}
	m.WorkingHours = store.WorkingHours{Start: "09:00", End: "17:00", Days: []int{1, 2, 3, 4, 5}, Timezone: agencyTZ}
	if f.WorkingHours != nil {
		if m.WorkingHours, err = Hours(*f.WorkingHours, agencyTZ); err != nil {
			return nil, err
		}
	}
	if m.Email, err = Email(f.Email); err != nil {
		return nil, err
	}
	if m.Role, err = ParseRole(f.Role); err != nil {
		return nil, err
	}
	if m.Language, err = ParseLanguage(f.Language); err != nil {
		return nil, err
	}
	if err := contactRules(f.ContactRules, m.Phone != ""); err != nil {
		return nil, err
	}
	m.ContactRules = f.ContactRules
	return m, nil
}

// Patch is a change to a staff member: nil fields stay as they are.
type Patch struct {
	Name         *string              `json:"name"`
	Phone        *string              `json:"phone"`
	BackupID     *string              `json:"backup_id"`
	WorkingHours *store.WorkingHours  `json:"working_hours"`
	Email        *string              `json:"email"`
	Role         *string              `json:"role"`
	Language     *string              `json:"language"`
	ContactRules *[]store.ContactRule `json:"contact_rules"`
}

// Apply validates the patch as a creation is and writes it onto m ("" for
// the phone removes it).
func (p *Patch) Apply(ctx context.Context, st *store.Store, agencyTZ string, m *store.CaseManager) error {
	var err error
	if p.Name != nil {
		if m.Name, err = freetext.Check("name", *p.Name, freetext.Name); err != nil {
			return err
		}
	}
	if p.Phone != nil {
		m.Phone = ""
		if strings.TrimSpace(*p.Phone) != "" {
			if m.Phone, err = freetext.Phone("phone", *p.Phone); err != nil {
				return err
			}
		}
	}
	if p.BackupID != nil {
		id := strings.TrimSpace(*p.BackupID)
		if err := CheckBackup(ctx, st, m.AgencyID, m.ID, id); err != nil {
			return err
		}
		m.BackupID = id
	}
	if p.WorkingHours != nil {
		if m.WorkingHours, err = Hours(*p.WorkingHours, agencyTZ); err != nil {
			return err
		}
	}
	if p.Email != nil {
		if m.Email, err = Email(*p.Email); err != nil {
			return err
		}
	}
	if p.Role != nil {
		if m.Role, err = ParseRole(*p.Role); err != nil {
			return err
		}
	}
	if p.Language != nil {
		if m.Language, err = ParseLanguage(*p.Language); err != nil {
			return err
		}
	}
	if p.ContactRules != nil {
		m.ContactRules = *p.ContactRules
	}
	return contactRules(m.ContactRules, m.Phone != "")
}

func contactRules(rules []store.ContactRule, hasPhone bool) error {
	if err := escalation.ValidateContactRules(rules, hasPhone); err != nil {
		return &Error{Field: "contact_rules", Code: CodeContactRules, msg: err.Error()}
	}
	return nil
}

// Email validates a console sign-in email: one bare address, stored in
// lower case ("" stays empty: no console access).
func Email(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || len(v) > 254 || !strings.Contains(v[strings.LastIndex(v, "@"):], ".") {
		return "", &Error{Field: "email", Code: CodeEmail, msg: "email: not an email address (name@example.org)"}
	}
	return strings.ToLower(v), nil
}

// ParseRole validates a role; "" is case_manager.
func ParseRole(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return RoleCaseManager, nil
	}
	if !ValidRole(v) {
		return "", &Error{Field: "role", Code: CodeRole, msg: `role: "case_manager", "supervisor" or "admin"`}
	}
	return v, nil
}

// ParseLanguage validates the console language; "" is English.
func ParseLanguage(v string) (string, error) {
	switch v = strings.TrimSpace(v); v {
	case "", "en":
		return "en", nil
	case "es":
		return v, nil
	}
	return "", &Error{Field: "language", Code: CodeLanguage, msg: `language: "en" or "es"`}
}

// Hours validates working hours; an empty zone is the agency's.
func Hours(wh store.WorkingHours, agencyTZ string) (store.WorkingHours, error) {
	if wh.Timezone == "" {
		wh.Timezone = agencyTZ
	}
	if err := freetext.Clock("working_hours.start", wh.Start); err != nil {
		return wh, err
	}
	if err := freetext.Clock("working_hours.end", wh.End); err != nil {
		return wh, err
	}
	if err := freetext.Zone("working_hours.timezone", wh.Timezone); err != nil {
		return wh, err
	}
	for _, day := range wh.Days {
		if day < 1 || day > 7 {
			return wh, &Error{Field: "working_hours.days", Code: CodeDays, msg: "working_hours.days: 1 (Monday) to 7 (Sunday)"}
		}
	}
	return wh, nil
}

// CheckBackup refuses a backup that is not another active staff member of
// the agency ("" is no backup).
func CheckBackup(ctx context.Context, st *store.Store, agency, self, backup string) error {
	if backup == "" {
		return nil
	}
	if backup == self {
		return &Error{Field: "backup_id", Code: CodeBackupSelf, msg: "backup_id: a case manager cannot be their own backup"}
	}
	b, err := st.CaseManager(ctx, agency, backup)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !b.Active) {
		return &Error{Field: "backup_id", Code: CodeBackupInactive, msg: "backup_id: no such active case manager in this agency"}
	}
	return err
}

// Create validates f (backup included) and stores the new staff member in
// the agency; the store answers ErrConflict for a phone and ErrEmailTaken
// for an email another active person has.
func Create(ctx context.Context, st *store.Store, ag *store.Agency, f *Fields) (*store.CaseManager, error) {
	m, err := f.Member(ag.Timezone)
	if err != nil {
		return nil, err
	}
	m.AgencyID = ag.ID
	if err := CheckBackup(ctx, st, ag.ID, "", m.BackupID); err != nil {
		return nil, err
	}
	if err := st.CreateCaseManager(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Change reads the agency's staff member id, lets change make the new
// record from a copy and saves it if nobody changed it meanwhile (read
// again and retried, a few times: then ErrChangedMeanwhile).
func Change(ctx context.Context, st *store.Store, agencyID, id string,
	change func(old *store.CaseManager) (*store.CaseManager, error)) (old, m *store.CaseManager, err error) {
	for range 3 {
		old, err = st.CaseManager(ctx, agencyID, id)
		if err != nil {
			return nil, nil, err
		}
		if m, err = change(old); err != nil {
			return nil, nil, err
		}
		err = st.UpdateCaseManager(ctx, old, m)
		if errors.Is(err, store.ErrChanged) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return old, m, nil
	}
	return nil, nil, ErrChangedMeanwhile
}

// Update applies p to the agency's staff member id (ErrDeactivated when
// they are deactivated).
func Update(ctx context.Context, st *store.Store, ag *store.Agency, id string, p *Patch) (old, m *store.CaseManager, err error) {
	return Change(ctx, st, ag.ID, id, func(old *store.CaseManager) (*store.CaseManager, error) {
		if !old.Active {
			return nil, ErrDeactivated
		}
		m := *old
		return &m, p.Apply(ctx, st, ag.Timezone, &m)
	})
}

// Deactivate deactivates the agency's staff member id (again: the same
// answer) and ends their console sessions. From then on they get no
// alerts, their ACKs take nothing, new policies and backups cannot name
// them. When only the sessions could not be ended, old and m are set and
// err wraps ErrSessionsLeft.
func Deactivate(ctx context.Context, st *store.Store, agencyID, id string) (old, m *store.CaseManager, err error) {
	old, m, err = Change(ctx, st, agencyID, id, func(old *store.CaseManager) (*store.CaseManager, error) {
		return st.DeactivateCaseManager(old), nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := st.DeleteStaffSessions(ctx, agencyID, id); err != nil {
		return old, m, errors.Join(ErrSessionsLeft, err)
	}
	return old, m, nil
}

// ErrSessionsLeft: the staff member is deactivated but their console
// sessions could not be ended (they end at their idle timeout).
var ErrSessionsLeft = errors.New("console sessions not ended")

// StillNamed is where a deactivated staff member is still named: the
// settings an admin should change (each such step is skipped meanwhile).
type StillNamed struct {
	// BackupOf lists the active case managers whose backup they are.
	BackupOf []string `json:"backup_of"`
	// PolicySteps lists the agency policy's steps (from 1) naming them by id.
	PolicySteps []int `json:"policy_steps"`
	// Rotations lists the on-call rotations whose shifts, or overrides not
	// yet over, name them (their turns are skipped meanwhile).
	Rotations []string `json:"rotations"`
}

// NamedBy finds where staff member id is still named in the agency:
// backups, policy steps, on-call rotations.
func NamedBy(ctx context.Context, st *store.Store, agencyID, id string) (StillNamed, error) {
	out := StillNamed{BackupOf: []string{}, PolicySteps: []int{}, Rotations: []string{}}
	cursor := ""
	for {
		page, err := st.CaseManagers(ctx, agencyID, cursor, 200)
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
	ag, err := st.Agency(ctx, agencyID)
	if err != nil {
		return out, err
	}
	if ag.Policy != nil {
		for i, s := range ag.Policy.Steps {
			if strings.TrimSpace(s.Notify) == id {
				out.PolicySteps = append(out.PolicySteps, i+1)
			}
		}
	}
	now := st.Now()
	for cursor := ""; ; {
		page, err := st.Rotations(ctx, agencyID, cursor, 200)
		if err != nil {
			return out, err
		}
		for _, r := range page.Items {
			if slices.Contains(r.Staff, id) || slices.ContainsFunc(r.Overrides, func(o store.RotationOverride) bool {
				return o.StaffID == id && o.End.After(now)
			}) {
				out.Rotations = append(out.Rotations, r.ID)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}
