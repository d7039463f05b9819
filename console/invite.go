package console

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// inviteForm is the invitation page's data.
type inviteForm struct {
	Email string
}

// weakText words a refused password in the reader's language.
var weakText = map[string]string{
	staff.ReasonShort: "weak_short", staff.ReasonLong: "weak_long", staff.ReasonCommon: "weak_common",
	staff.ReasonEmail: "weak_email", staff.ReasonRepetitive: "weak_repetitive",
}

// invitee reads the invitation of the route's token and its staff member;
// ok is false (and the page answered 410) when the link does not work.
func (c *console) invitee(w http.ResponseWriter, r *http.Request) (*store.CaseManager, bool) {
	inv, err := c.Store.PeekInvite(r.Context(), staff.Hash(urlParam(r, "token")))
	if err == nil {
		var m *store.CaseManager
		if m, err = c.Store.CaseManager(r.Context(), inv.AgencyID, inv.StaffID); err == nil && m.Active && m.Email != "" {
			return m, true
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, err)
		return nil, false
	}
	c.render(w, r, "message.html", http.StatusGone, "invite_title", view{Flash: texts[langOf(r)]["invite_gone"], FlashError: true})
	return nil, false
}

// handleInvitePage shows the set-a-password form of a working invitation.
func handleInvitePage(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := c.invitee(w, r)
		if !ok {
			return
		}
		c.render(w, r, "invite.html", http.StatusOK, "invite_title", view{Data: inviteForm{Email: m.Email}})
	})
}

// handleSetPassword sets the invitee's password (staff.CheckPassword's
// rules; a refusal says why and uses nothing), uses up the invitation, ends
// any older sessions, audits it and signs the person in, offering TOTP.
func handleSetPassword(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := c.invitee(w, r)
		if !ok {
			return
		}
		T := texts[langOf(r)]
		pw := r.PostFormValue("password")
		refuse := func(msg string) {
			c.render(w, r, "invite.html", http.StatusBadRequest, "invite_title", view{Flash: msg, FlashError: true, Data: inviteForm{Email: m.Email}})
		}
		if err := staff.CheckPassword(pw, m.Email); err != nil {
			var weak *staff.WeakPassword
			if errors.As(err, &weak) {
				refuse(T[weakText[weak.Reason]])
				return
			}
			c.fail(w, r, err)
			return
		}
		if pw != r.PostFormValue("confirm") {
			refuse(T["mismatch"])
			return
		}
		inv, err := c.Store.TakeInvite(r.Context(), staff.Hash(urlParam(r, "token")))
		if errors.Is(err, store.ErrNotFound) || (err == nil && inv.StaffID != m.ID) {
			c.render(w, r, "message.html", http.StatusGone, "invite_title", view{Flash: T["invite_gone"], FlashError: true})
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		creds, err := c.Store.Credentials(r.Context(), m.AgencyID, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			creds, err = &store.Credentials{}, nil
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		creds.PasswordHash, creds.PasswordSet = staff.HashPassword(pw), c.Now().UTC()
		if err := c.Store.SaveCredentials(r.Context(), m.AgencyID, m.ID, creds); err != nil {
			c.fail(w, r, err)
			return
		}
		if err := c.Store.DeleteStaffSessions(r.Context(), m.AgencyID, m.ID); err != nil {
			c.fail(w, r, err)
			return
		}
		rec := store.AuditRecord{Actor: store.Actor{Kind: "staff", ID: m.ID}, Kind: "case_manager", RecordID: m.ID, Action: "password_set",
			Changes: []store.Change{{Field: "password", Note: "set through an invitation"}}}
		if err := c.Store.AppendAudit(r.Context(), m.AgencyID, rec); err != nil {
			c.Log.Error("audit not written", "agency_id", m.AgencyID, "record_id", m.ID, "action", "password_set", "err", err)
		}
		c.Log.Info("console password set", "agency_id", m.AgencyID, "staff_id", m.ID)
		ag, err := c.Store.Agency(r.Context(), m.AgencyID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		pending := ""
		if ag.RequireTOTP && creds.TOTPSecret == "" {
			pending = "enrol"
		}
		if creds.TOTPSecret != "" {
			// A second factor stays: sign in with it.
			http.Redirect(w, r, "/console/login?welcome=1", http.StatusSeeOther)
			return
		}
		if err := c.startSession(w, r, m, ag, pending); err != nil {
			c.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/console/account/totp?new=1", http.StatusSeeOther)
	})
}

// enrolForm is the TOTP enrolment page's data.
type enrolForm struct {
	*staff.Enrolment
	// QR is the enrolment's QR code, a data: URL the template may use.
	QR       template.URL
	Required bool // the agency requires it: no skipping
	Enrolled bool // a secret is already set
}

// handleEnrolPage offers a new TOTP secret (QR code and key).
func handleEnrolPage(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		e, err := staff.NewEnrolment(v.Staff.Email)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.renderEnrol(w, r, http.StatusOK, e, "")
	})
}

func (c *console) renderEnrol(w http.ResponseWriter, r *http.Request, status int, e *staff.Enrolment, flash string) {
	v := viewerOf(r)
	creds, err := c.Store.Credentials(r.Context(), v.Staff.AgencyID, v.Staff.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, err)
		return
	}
	form := enrolForm{Enrolment: e, QR: template.URL(e.QR), Required: v.pending == "enrol", Enrolled: creds != nil && creds.TOTPSecret != ""}
	c.render(w, r, "enrol.html", status, "totp_title", view{Data: form, Flash: flash, FlashError: flash != ""})
}

// handleEnrol turns TOTP on once the person proves their app has the key
// (a right code for it); audited.
func handleEnrol(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		secret := r.PostFormValue("secret")
		e, err := staff.EnrolmentFor(v.Staff.Email, secret)
		if err != nil || len(secret) < 16 {
			c.notFound(w, r)
			return
		}
		ok, err := c.checkCode(r, v.Staff, secret, r.PostFormValue("code"))
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if !ok {
			c.renderEnrol(w, r, http.StatusBadRequest, e, texts[v.Lang]["totp_wrong"])
			return
		}
		creds, err := c.Store.Credentials(r.Context(), v.Staff.AgencyID, v.Staff.ID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		creds.TOTPSecret = secret
		if err := c.Store.SaveCredentials(r.Context(), v.Staff.AgencyID, v.Staff.ID, creds); err != nil {
			c.fail(w, r, err)
			return
		}
		rec := store.AuditRecord{Actor: store.Actor{Kind: "staff", ID: v.Staff.ID}, Kind: "case_manager", RecordID: v.Staff.ID, Action: "totp_enrolled",
			Changes: []store.Change{{Field: "totp", Note: "second factor set"}}}
		if err := c.Store.AppendAudit(r.Context(), v.Staff.AgencyID, rec); err != nil {
			c.Log.Error("audit not written", "agency_id", v.Staff.AgencyID, "record_id", v.Staff.ID, "action", "totp_enrolled", "err", err)
		}
		// A fresh, full session.
		c.endSession(w, r)
		if err := c.startSession(w, r, v.Staff, v.Agency, ""); err != nil {
			c.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/console/?totp=1", http.StatusSeeOther)
	})
}
