// Package staff is what the agency API and the console share about staff
// accounts: roles, invitations, password rules and hashing, and the TOTP
// second factor. The console's sessions and pages build on it; the API's
// invite route uses it, so each rule has one implementation.
package staff

import "github.com/carecheck/carecheck/store"

// The roles a staff member may have.
const (
	// RoleCaseManager sees their caseload and the escalations addressed to them.
	RoleCaseManager = "case_manager"
	// RoleSupervisor sees every client and escalation of the agency, and reports.
	RoleSupervisor = "supervisor"
	// RoleAdmin is a supervisor who also manages staff, settings, policy and keys.
	RoleAdmin = "admin"
)

// ValidRole reports whether role is one of the three roles.
func ValidRole(role string) bool {
	return role == RoleCaseManager || role == RoleSupervisor || role == RoleAdmin
}

// Role is a staff member's role; records older than roles are case managers.
func Role(m *store.CaseManager) string {
	if m.Role == "" {
		return RoleCaseManager
	}
	return m.Role
}

// SeesAgency reports whether the role sees every client and escalation of
// the agency (supervisors and admins), not only a caseload.
func SeesAgency(role string) bool { return role == RoleSupervisor || role == RoleAdmin }

// Language is the staff member's console language: "es" or "en".
func Language(m *store.CaseManager) string {
	if m.Language == "es" {
		return "es"
	}
	return "en"
}
