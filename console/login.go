package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/carecheck/carecheck/api/throttle"
	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// loginForm is the sign-in page's data.
type loginForm struct {
	Email string
	// Agencies are offered when the password matched the email's staff
	// member in several agencies (rare): the person picks one.
	Agencies []agencyChoice
}

// agencyChoice is one agency the sign-in page offers.
type agencyChoice struct{ ID, Name string }

// handleLoginPage shows the sign-in form (email and password).
func handleLoginPage(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := view{Data: loginForm{}}
		T := texts[langOf(r)]
		switch {
		case r.URL.Query().Has("expired"):
			v.Flash = T["session_expired"]
		case r.URL.Query().Has("out"):
			v.Flash = T["signed_out"]
		case r.URL.Query().Has("welcome"):
			v.Flash = T["password_set"]
		}
		c.render(w, r, "login.html", http.StatusOK, "login_title", v)
	})
}

// handleLogin checks an email and password. The source address is
// throttled as the API's keys are (api/throttle: 10 failures a minute lock
// it for a minute, 429). An email may be a staff member's in several
// agencies (emails are unique per agency only): the password is checked
// against each of them (at most store.MaxEmailAgencies, one password check
// each, with or without a password set) and signs into the one it matches.
// When it matches several, the page asks which agency (the password typed
// again). An unknown email costs the time of one password check and answers
// as a wrong password does. Each failure is audited in the agencies of the
// email's staff; a success only in the agency signed into; the password
// never is, anywhere.
func handleLogin(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.throttled(w, r, "login.html", loginForm{}) {
			return
		}
		email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
		pw := r.PostFormValue("password")
		known, matches, err := c.checkPassword(r, email, pw)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if chosen := r.PostFormValue("agency"); chosen != "" && len(matches) > 1 {
			matches = slices.DeleteFunc(matches, func(s signIn) bool { return s.agency.ID != chosen })
		}
		switch {
		case len(matches) == 0:
			if _, err := c.guard.Failed(r, "wrong console email or password"); err != nil {
				c.fail(w, r, err)
				return
			}
			for _, m := range known {
				c.auditSignIn(r, m, "sign_in_failed", "wrong password")
			}
			c.render(w, r, "login.html", http.StatusUnauthorized, "login_title",
				view{Flash: texts[langOf(r)]["login_failed"], FlashError: true, Data: loginForm{Email: email}})
			return
		case len(matches) > 1:
			f := loginForm{Email: email}
			for _, s := range matches {
				f.Agencies = append(f.Agencies, agencyChoice{ID: s.agency.ID, Name: s.agency.Name})
			}
			c.render(w, r, "login.html", http.StatusOK, "login_title", view{Flash: texts[langOf(r)]["choose_agency"], Data: f})
			return
		}
		m, ag := matches[0].staff, matches[0].agency
		creds, err := c.Store.Credentials(r.Context(), m.AgencyID, m.ID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		pending := ""
		switch {
		case creds.TOTPSecret != "":
			pending = "totp"
		case ag.RequireTOTP:
			pending = "enrol"
		}
		if err := c.startSession(w, r, m, ag, pending); err != nil {
			c.fail(w, r, err)
			return
		}
		if pending == "totp" {
			c.auditSignIn(r, m, "password_accepted", "second step owed")
		} else {
			c.auditSignIn(r, m, "signed_in", "password")
		}
		http.Redirect(w, r, pendingPage(pending), http.StatusSeeOther)
	})
}

// signIn is a staff member whose password matched, with their agency.
type signIn struct {
	staff  *store.CaseManager
	agency *store.Agency
}

// checkPassword finds the active staff members of an email (one per
// agency, at most store.MaxEmailAgencies) and checks the password against
// each: one password check per candidate whether or not they set a
// password, one when there is none. known lists the candidates (for the
// audit of a failure), matches those whose password pw is.
func (c *console) checkPassword(r *http.Request, email, pw string) (known []*store.CaseManager, matches []signIn, err error) {
	ctx := r.Context()
	var owners []store.Owner
	if email != "" {
		owners, err = c.Store.StaffByEmail(ctx, email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
	}
	for _, o := range owners {
		m, err := c.Store.CaseManager(ctx, o.AgencyID, o.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (!m.Active || m.Email != email)) {
			staff.VerifyNothing(pw)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		known = append(known, m)
		creds, err := c.Store.Credentials(ctx, m.AgencyID, m.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && creds.PasswordHash == "") {
			staff.VerifyNothing(pw)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if ok, err := staff.VerifyPassword(creds.PasswordHash, pw); err != nil || !ok {
			continue
		}
		ag, err := c.Store.Agency(ctx, m.AgencyID)
		if err != nil {
			return nil, nil, err
		}
		matches = append(matches, signIn{staff: m, agency: ag})
	}
	if len(owners) == 0 {
		staff.VerifyNothing(pw)
	}
	return known, matches, nil
}

// throttled answers 429 with Retry-After (page re-rendered with the
// message) when the source address is locked out.
func (c *console) throttled(w http.ResponseWriter, r *http.Request, page string, data any) bool {
	wait, err := c.guard.Locked(r)
	if err != nil {
		c.fail(w, r, err)
		return true
	}
	if wait <= 0 {
		return false
	}
	w.Header().Set("Retry-After", throttle.RetryAfter(wait))
	title := "login_title"
	if page == "totp.html" {
		title = "totp_title"
	}
	c.render(w, r, page, http.StatusTooManyRequests, title, view{Flash: texts[langOf(r)]["throttled"], FlashError: true, Data: data})
	return true
}

// auditSignIn records a sign-in event in the staff member's agency audit
// (ids only; never the password or the code).
func (c *console) auditSignIn(r *http.Request, m *store.CaseManager, action, note string) {
	rec := store.AuditRecord{Actor: store.Actor{Kind: "staff", ID: m.ID}, Kind: "session", RecordID: m.ID, Action: action,
		Changes: []store.Change{{Field: "source", Note: throttle.Source(r, c.TrustedProxies) + ": " + note}}}
	if err := c.Store.AppendAudit(r.Context(), m.AgencyID, rec); err != nil {
		c.Log.Error("audit not written", "agency_id", m.AgencyID, "kind", "session", "record_id", m.ID, "action", action, "err", err)
	}
	c.Log.Info("console sign-in", "agency_id", m.AgencyID, "staff_id", m.ID, "outcome", action)
}

// handleTOTPPage asks a session that passed the password for its code.
func handleTOTPPage(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, "totp.html", http.StatusOK, "totp_title", view{})
	})
}

// handleTOTP checks the second step's code (throttled and audited as the
// password is; a code is accepted once). Success replaces the pending
// session with a new one (a new id).
func handleTOTP(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.throttled(w, r, "totp.html", nil) {
			return
		}
		v := viewerOf(r)
		ok, err := c.checkCode(r, v.Staff, "", r.PostFormValue("code"))
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if !ok {
			if _, err := c.guard.Failed(r, "wrong console TOTP code"); err != nil {
				c.fail(w, r, err)
				return
			}
			c.auditSignIn(r, v.Staff, "sign_in_failed", "wrong code")
			c.render(w, r, "totp.html", http.StatusUnauthorized, "totp_title", view{Flash: texts[v.Lang]["totp_wrong"], FlashError: true})
			return
		}
		c.endSession(w, r)
		if err := c.startSession(w, r, v.Staff, v.Agency, ""); err != nil {
			c.fail(w, r, err)
			return
		}
		c.auditSignIn(r, v.Staff, "signed_in", "password and TOTP")
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
}

// checkCode checks a TOTP code against secret (the stored one when "")
// and claims its time step, so it is not accepted twice.
func (c *console) checkCode(r *http.Request, m *store.CaseManager, secret, code string) (bool, error) {
	if secret == "" {
		creds, err := c.Store.Credentials(r.Context(), m.AgencyID, m.ID)
		if err != nil {
			return false, err
		}
		secret = creds.TOTPSecret
	}
	step, ok := staff.TOTPStep(secret, strings.TrimSpace(code), c.Now())
	if !ok {
		return false, nil
	}
	return c.Store.ClaimTOTPStep(r.Context(), m.AgencyID, m.ID, step)
}

// handleLogout signs out: the session is deleted from the store.
func handleLogout(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.endSession(w, r)
		http.Redirect(w, r, "/console/login?out=1", http.StatusSeeOther)
	})
}
