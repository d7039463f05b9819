package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// staffRow is one staff member on the admin's staff page.
type staffRow struct {
	ID, Name, Email, Role string
	Active                bool
}

// staffPage is the staff page's data.
type staffPage struct {
	Staff     []staffRow
	InviteFor string // the staff member an invitation was just made for
	InviteURL string
	// Added is the name of the staff member just added.
	Added string
}

// handleStaff lists the agency's staff for an admin.
func handleStaff(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := staffPage{}
		if id := r.URL.Query().Get("added"); id != "" {
			if m, err := c.Store.CaseManager(r.Context(), viewerOf(r).Agency.ID, id); err == nil {
				p.Added = m.Name
			}
		}
		c.renderStaff(w, r, http.StatusOK, p)
	})
}

func (c *console) renderStaff(w http.ResponseWriter, r *http.Request, status int, p staffPage) {
	v := viewerOf(r)
	all, err := c.allStaff(r.Context(), v.Agency.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, m := range all {
		p.Staff = append(p.Staff, staffRow{ID: m.ID, Name: m.Name, Email: m.Email, Role: staff.Role(m), Active: m.Active})
	}
	c.render(w, r, "staff.html", status, "staff_title", view{Data: p})
}

// handleStaffInvite makes an invitation link for a staff member, as the
// API's POST /v1/case-managers/{id}/invite does (staff.Invite), audited as
// the signed-in admin.
func handleStaffInvite(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		m, err := c.Store.CaseManager(r.Context(), v.Agency.ID, urlParam(r, "id"))
		if errors.Is(err, store.ErrNotFound) {
			c.notFound(w, r)
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		token, err := staff.Invite(r.Context(), c.Store, m, store.Actor{Kind: "staff", ID: v.Staff.ID})
		if errors.Is(err, staff.ErrNoEmail) || errors.Is(err, staff.ErrInactive) {
			c.renderStaff(w, r, http.StatusConflict, staffPage{})
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.renderStaff(w, r, http.StatusOK, staffPage{InviteFor: m.ID, InviteURL: staff.InviteURL(c.base(r), token)})
	})
}

// base is the service's public URL, else the request's scheme and host.
func (c *console) base(r *http.Request) string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	if c.secure(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
