package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// AbsoluteSession is the longest a console session lasts, however active.
const AbsoluteSession = 12 * time.Hour

// cookieName is the session cookie's name; over https it takes the
// __Host- prefix (Secure, Path=/, no Domain: the browser enforces it).
func (c *console) cookieName(r *http.Request) string {
	if c.secure(r) {
		return "__Host-carecheck"
	}
	return "carecheck"
}

// viewer is the signed-in staff member of a request.
type viewer struct {
	Staff  *store.CaseManager
	Agency *store.Agency
	Role   string
	Lang   string
	// session is the hash of the session id (its store key).
	session string
	pending string
}

// CanSeeAgency reports whether the viewer sees the whole agency.
func (v *viewer) CanSeeAgency() bool { return staff.SeesAgency(v.Role) }

// Pending reports whether the session still owes a step (no menu then).
func (v *viewer) Pending() bool { return v.pending != "" }

// IsAdmin reports whether the viewer is an admin.
func (v *viewer) IsAdmin() bool { return v.Role == staff.RoleAdmin }

type ctxKey int

const viewerKey ctxKey = 1

func viewerOf(r *http.Request) *viewer {
	v, _ := r.Context().Value(viewerKey).(*viewer)
	return v
}

// idleLimit is the agency's idle timeout (default 15 minutes).
func idleLimit(a *store.Agency) time.Duration {
	if a.SessionIdle > 0 {
		return time.Duration(a.SessionIdle)
	}
	return time.Duration(store.DefaultSessionIdle)
}

// expired decides whether a session is over at now: idle too long, or
// older than AbsoluteSession.
func expired(s *store.Session, idle time.Duration, now time.Time) bool {
	return now.Sub(s.Seen) > idle || now.Sub(s.Created) > AbsoluteSession
}

// errNoSession is a request without a live session.
var errNoSession = errors.New("no session")

// loadViewer reads the request's session and its staff member. touch
// records the request as activity (the live inbox's stream does not).
// An expired session is deleted. A deactivated staff member has none.
func (c *console) loadViewer(ctx context.Context, r *http.Request, touch bool) (*viewer, error) {
	ck, err := r.Cookie(c.cookieName(r))
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	hash := staff.Hash(ck.Value)
	sess, err := c.Store.LoadSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	m, err := c.Store.CaseManager(ctx, sess.AgencyID, sess.StaffID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !m.Active) {
		_ = c.Store.DeleteSession(ctx, hash)
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	ag, err := c.Store.Agency(ctx, sess.AgencyID)
	if err != nil {
		return nil, err
	}
	now := c.Now()
	idle := idleLimit(ag)
	if expired(sess, idle, now) {
		_ = c.Store.DeleteSession(ctx, hash)
		c.Log.Info("console session expired", "agency_id", sess.AgencyID, "staff_id", sess.StaffID)
		return nil, errNoSession
	}
	if touch {
		sess.Seen = now.UTC()
		if err := c.Store.SaveSession(ctx, hash, sess, idle); err != nil {
			return nil, err
		}
	}
	return &viewer{Staff: m, Agency: ag, Role: staff.Role(m), Lang: staff.Language(m), session: hash, pending: sess.Pending}, nil
}

// startSession signs m in: a new random session id in an HttpOnly,
// SameSite=Lax cookie (Secure over https); the store keeps only its hash.
// pending is a step still owed ("totp", "enrol" or "").
func (c *console) startSession(w http.ResponseWriter, r *http.Request, m *store.CaseManager, ag *store.Agency, pending string) error {
	id, err := staff.NewToken()
	if err != nil {
		return err
	}
	now := c.Now().UTC()
	sess := &store.Session{AgencyID: m.AgencyID, StaffID: m.ID, Created: now, Seen: now, Pending: pending}
	if err := c.Store.SaveSession(r.Context(), staff.Hash(id), sess, idleLimit(ag)); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(r), Value: id, Path: "/", HttpOnly: true,
		Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
	return nil
}

// endSession deletes the request's session and clears its cookie.
func (c *console) endSession(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.cookieName(r)); err == nil && ck.Value != "" {
		if err := c.Store.DeleteSession(r.Context(), staff.Hash(ck.Value)); err != nil {
			c.Log.Error("console: delete session", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(r), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
}

// requireSession lets through requests of a signed-in staff member whose
// session owes the step allow ("" for a full session); others go to the
// sign-in page (or the step they owe).
func requireSession(c *console, allow string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := c.loadViewer(r.Context(), r, true)
			if errors.Is(err, errNoSession) {
				c.toLogin(w, r)
				return
			}
			if err != nil {
				c.fail(w, r, err)
				return
			}
			if v.pending != allow && !(allow == "enrol" && v.pending == "") {
				http.Redirect(w, r, pendingPage(v.pending), http.StatusSeeOther)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey, v)))
		})
	}
}

// pendingPage is where a session owing a step goes.
func pendingPage(pending string) string {
	switch pending {
	case "totp":
		return "/console/login/totp"
	case "enrol":
		return "/console/account/totp"
	}
	return "/console/"
}

// toLogin sends a request without a session to the sign-in page; a
// request that had a cookie is told its session ended.
func (c *console) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/console/login"
	if ck, err := r.Cookie(c.cookieName(r)); err == nil && ck.Value != "" {
		target += "?expired=1"
		c.endSession(w, r)
	}
	if r.Header.Get("Accept") == "text/event-stream" || r.Header.Get("X-Console-Fetch") != "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// requireRole answers 403 to staff without one of the roles, saying why
// with the string table's text of key.
func requireRole(c *console, key string, roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := viewerOf(r)
			for _, role := range roles {
				if v != nil && v.Role == role {
					next.ServeHTTP(w, r)
					return
				}
			}
			c.render(w, r, "message.html", http.StatusForbidden, "forbidden_title", view{Flash: texts[langOf(r)][key], FlashError: true})
		})
	}
}

// fail answers an internal error: logged with ids only, "internal error" shown.
func (c *console) fail(w http.ResponseWriter, r *http.Request, err error) {
	c.Log.Error("console", "method", r.Method, "route", routePattern(r), "err", err)
	c.render(w, r, "message.html", http.StatusInternalServerError, "error", view{Flash: texts[langOf(r)]["error"], FlashError: true})
}

// notFound answers 404: another agency's or caseload's records look the
// same as ids that do not exist.
func (c *console) notFound(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, "message.html", http.StatusNotFound, "not_found", view{Flash: texts[langOf(r)]["not_found"], FlashError: true})
}
