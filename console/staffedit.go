package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot/telegram"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/staff"
	"github.com/carecheck/carecheck/store"
)

// staffForm is the add and edit form of a staff member, as typed.
type staffForm struct {
	ID, Name, Email, Role, Language, Phone, BackupID string
	Start, End, Timezone                             string
	Days                                             map[int]bool
	// Rules are their contact rules as rows (none: the default).
	Rules []ruleRow
	// Telegram says whether they linked Telegram (through the API's link).
	Telegram bool
	Active   bool
}

// ruleRow is one contact rule as the form shows it: after how many
// minutes unacknowledged, by which method ("" an empty row).
type ruleRow struct {
	N             int
	After, Method string
}

// maxRuleRows is how many contact rules the form takes, as the API.
const maxRuleRows = 10

// errRuleAfter is a rule's "after" that is not a number of minutes.
var errRuleAfter = errors.New("contact rule: after is not a number of minutes")

// dayBox is one weekday checkbox of the working hours.
type dayBox struct {
	N     int
	Label string
	On    bool
}

// option is one choice of a select.
type option struct{ Value, Label string }

// staffFormPage is the add or edit page's data.
type staffFormPage struct {
	New     bool
	Form    staffForm
	Days    []dayBox
	Backups []option
	// Still says, after a deactivation, where they are still named.
	Still *stillNamedView
	// TelegramURL is a Telegram link just made for them, until TelegramUntil.
	TelegramURL, TelegramUntil string
}

// stillNamedView is staff.StillNamed with names, for the page.
type stillNamedView struct {
	BackupOf    []string
	PolicySteps []int
	Rotations   []string
}

// weekdayKeys are the string table's names of days 1 (Monday) to 7.
var weekdayKeys = [...]string{"", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// staffFormOf is a staff record as the form shows it.
func staffFormOf(m *store.CaseManager) staffForm {
	f := staffForm{ID: m.ID, Name: m.Name, Email: m.Email, Role: staff.Role(m), Language: staff.Language(m), Phone: m.Phone,
		BackupID: m.BackupID, Start: m.WorkingHours.Start, End: m.WorkingHours.End, Timezone: m.WorkingHours.Timezone,
		Days: map[int]bool{}, Telegram: m.TelegramChat != "", Active: m.Active}
	for _, d := range m.WorkingHours.Days {
		f.Days[d] = true
	}
	for _, cr := range m.ContactRules {
		f.Rules = append(f.Rules, ruleRow{After: strconv.FormatFloat(time.Duration(cr.After).Minutes(), 'f', -1, 64), Method: cr.Method})
	}
	return f
}

// contactRules reads the form's rule rows (empty rows left out) as the
// API's contact rules; staff.Create and staff.Update check them.
func (f staffForm) contactRules() ([]store.ContactRule, error) {
	rules := []store.ContactRule{}
	for _, row := range f.Rules {
		if row.Method == "" {
			continue
		}
		minutes := 0.0
		if a := strings.TrimSpace(row.After); a != "" {
			var err error
			if minutes, err = strconv.ParseFloat(a, 64); err != nil || !(minutes >= 0 && minutes <= 60) {
				return nil, errRuleAfter
			}
		}
		rules = append(rules, store.ContactRule{After: store.Duration(time.Duration(minutes * float64(time.Minute))), Method: row.Method})
	}
	return rules, nil
}

// readStaffForm reads the posted form; bad day numbers are left to staff.Hours.
func readStaffForm(r *http.Request) staffForm {
	f := staffForm{Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Role: r.PostFormValue("role"),
		Language: r.PostFormValue("language"), Phone: r.PostFormValue("phone"), BackupID: r.PostFormValue("backup_id"),
		Start: r.PostFormValue("start"), End: r.PostFormValue("end"), Timezone: strings.TrimSpace(r.PostFormValue("timezone")),
		Days: map[int]bool{}, Active: true}
	for i := range maxRuleRows {
		n := strconv.Itoa(i)
		if m, a := r.PostFormValue("rule_method_"+n), r.PostFormValue("rule_after_"+n); m != "" || a != "" {
			f.Rules = append(f.Rules, ruleRow{After: a, Method: m})
		}
	}
	for _, d := range r.PostForm["days"] {
		n, err := strconv.Atoi(d)
		if err != nil {
			n = -1 // refused by staff.Hours as a day outside 1–7
		}
		f.Days[n] = true
	}
	return f
}

func (f staffForm) hours() store.WorkingHours {
	wh := store.WorkingHours{Start: f.Start, End: f.End, Timezone: f.Timezone, Days: []int{}}
	for d := -1; d <= 7; d++ {
		if f.Days[d] {
			wh.Days = append(wh.Days, d)
		}
	}
	return wh
}

// renderStaffForm shows the add or edit page: the weekday boxes and the
// backups to choose from (the agency's other active staff).
func (c *console) renderStaffForm(w http.ResponseWriter, r *http.Request, status int, p staffFormPage, flash string, isErr bool) {
	v := viewerOf(r)
	T := texts[v.Lang]
	for d := 1; d <= 7; d++ {
		p.Days = append(p.Days, dayBox{N: d, Label: T[weekdayKeys[d]], On: p.Form.Days[d]})
	}
	// The rules, then two empty rows to add one.
	rows := append([]ruleRow(nil), p.Form.Rules...)
	for len(rows) < min(len(p.Form.Rules)+2, maxRuleRows) {
		rows = append(rows, ruleRow{})
	}
	for i := range rows {
		rows[i].N = i
	}
	p.Form.Rules = rows
	p.Backups = []option{{"", T["no_backup"]}}
	all, err := c.allStaff(r.Context(), v.Agency.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, m := range all {
		if m.Active && m.ID != p.Form.ID {
			p.Backups = append(p.Backups, option{m.ID, m.Name})
		}
	}
	title := "staff_edit_title"
	if p.New {
		title = "staff_new_title"
	}
	c.render(w, r, "staffform.html", status, title, view{Data: p, Flash: flash, FlashError: isErr})
}

// handleStaffNew shows the empty add form: weekdays 09:00–17:00 in the
// agency's zone, as the API's default.
func handleStaffNew(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		f := staffForm{Role: staff.RoleCaseManager, Language: "en", Start: "09:00", End: "17:00", Timezone: v.Agency.Timezone,
			Days: map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true}, Active: true}
		c.renderStaffForm(w, r, http.StatusOK, staffFormPage{New: true, Form: f}, "", false)
	})
}

// handleStaffCreate adds a staff member by the API's rules (staff.Create),
// audited as the signed-in admin; a refusal shows the form again, as typed.
func handleStaffCreate(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		f := readStaffForm(r)
		wh := f.hours()
		rules, err := f.contactRules()
		if err != nil {
			c.staffRefused(w, r, staffFormPage{New: true, Form: f}, err)
			return
		}
		m, err := staff.Create(r.Context(), c.Store, v.Agency, &staff.Fields{Name: f.Name, Phone: f.Phone, BackupID: f.BackupID,
			WorkingHours: &wh, Email: f.Email, Role: f.Role, Language: f.Language, ContactRules: rules})
		if err != nil {
			c.staffRefused(w, r, staffFormPage{New: true, Form: f}, err)
			return
		}
		c.Log.Info("case manager created", "agency_id", v.Agency.ID, "case_manager_id", m.ID, "staff_id", v.Staff.ID)
		c.audit(r, "case_manager", m.ID, "created", nil, m)
		http.Redirect(w, r, "/console/staff?added="+m.ID, http.StatusSeeOther)
	})
}

// staffRefused answers a refused add or change: the form again with why,
// 400 for bad input, 409 for a phone or email someone else has, else an
// internal error.
func (c *console) staffRefused(w http.ResponseWriter, r *http.Request, p staffFormPage, err error) {
	lang := langOf(r)
	T := texts[lang]
	var se *staff.Error
	var fe *freetext.Error
	switch {
	case errors.As(err, &fe):
		c.renderStaffForm(w, r, http.StatusBadRequest, p, textProblem(lang, staffLabels[fe.Field], err), true)
	case errors.Is(err, errRuleAfter):
		c.renderStaffForm(w, r, http.StatusBadRequest, p, T["rule_after_bad"], true)
	case errors.As(err, &se) && se.Code == staff.CodeContactRules:
		c.renderStaffForm(w, r, http.StatusBadRequest, p, fmt.Sprintf(T["staff_contact_rules"], se.Error()), true)
	case errors.As(err, &se):
		c.renderStaffForm(w, r, http.StatusBadRequest, p, T["staff_"+se.Code], true)
	case errors.Is(err, store.ErrConflict):
		c.renderStaffForm(w, r, http.StatusConflict, p, T["staff_phone_taken"], true)
	case errors.Is(err, store.ErrEmailTaken):
		c.renderStaffForm(w, r, http.StatusConflict, p, T["staff_email_taken"], true)
	case errors.Is(err, staff.ErrChangedMeanwhile):
		c.renderStaffForm(w, r, http.StatusConflict, p, T["staff_changed"], true)
	case errors.Is(err, staff.ErrDeactivated):
		c.renderStaffForm(w, r, http.StatusConflict, p, T["staff_is_deactivated"], true)
	case errors.Is(err, store.ErrNotFound):
		c.notFound(w, r)
	default:
		c.fail(w, r, err)
	}
}

// staffLabels are the string table's labels of the staff fields the
// freetext rules name.
var staffLabels = map[string]string{
	"name": "name", "phone": "phone", "working_hours.start": "hours_start",
	"working_hours.end": "hours_end", "working_hours.timezone": "timezone",
}

// handleStaffEdit shows a staff member's edit form (another agency's: 404).
func handleStaffEdit(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := c.staffMember(w, r)
		if !ok {
			return
		}
		flash := ""
		if r.URL.Query().Get("saved") != "" {
			flash = texts[langOf(r)]["staff_saved"]
		}
		c.renderStaffForm(w, r, http.StatusOK, staffFormPage{Form: staffFormOf(m)}, flash, false)
	})
}

// staffMember reads the route's staff member of the viewer's agency,
// answering 404 itself when there is none.
func (c *console) staffMember(w http.ResponseWriter, r *http.Request) (*store.CaseManager, bool) {
	m, err := c.Store.CaseManager(r.Context(), viewerOf(r).Agency.ID, urlParam(r, "id"))
	return m, c.loaded(w, r, err)
}

// loaded reports whether a record of the viewer's agency was read; when it
// was not, it has answered: 404 for none (another agency's looks like none),
// 500 for any other error.
func (c *console) loaded(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.notFound(w, r)
		return false
	case err != nil:
		c.fail(w, r, err)
		return false
	}
	return true
}

// handleStaffSave changes a staff member by the API's rules (staff.Update,
// as PATCH /v1/case-managers/{id}), audited as the signed-in admin.
func handleStaffSave(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		f := readStaffForm(r)
		f.ID = urlParam(r, "id")
		wh := f.hours()
		rules, err := f.contactRules()
		var old, m *store.CaseManager
		if err == nil {
			old, m, err = staff.Update(r.Context(), c.Store, v.Agency, f.ID, &staff.Patch{Name: &f.Name, Phone: &f.Phone,
				BackupID: &f.BackupID, WorkingHours: &wh, Email: &f.Email, Role: &f.Role, Language: &f.Language, ContactRules: &rules})
		}
		if err != nil {
			if cur, err := c.Store.CaseManager(r.Context(), v.Agency.ID, f.ID); err == nil {
				f.Telegram, f.Active = cur.TelegramChat != "", cur.Active
			}
			c.staffRefused(w, r, staffFormPage{Form: f}, err)
			return
		}
		c.Log.Info("case manager updated", "agency_id", v.Agency.ID, "case_manager_id", m.ID, "staff_id", v.Staff.ID)
		c.audit(r, "case_manager", m.ID, "changed", old, m)
		http.Redirect(w, r, "/console/staff/"+m.ID+"?saved=1", http.StatusSeeOther)
	})
}

// handleStaffDeactivate deactivates a staff member as DELETE
// /v1/case-managers/{id} does (staff.Deactivate: no more alerts, sessions
// ended) and shows where they are still named (staff.NamedBy).
func handleStaffDeactivate(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		cur, ok := c.staffMember(w, r)
		if !ok {
			return
		}
		// A slip of the finger must not stop someone's crisis alerts.
		if r.PostFormValue("confirm") != "on" {
			c.renderStaffForm(w, r, http.StatusBadRequest, staffFormPage{Form: staffFormOf(cur)}, texts[v.Lang]["deactivate_unconfirmed"], true)
			return
		}
		old, m, err := staff.Deactivate(r.Context(), c.Store, v.Agency.ID, cur.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			c.notFound(w, r)
			return
		case errors.Is(err, staff.ErrSessionsLeft):
			c.Log.Error("console sessions not ended", "agency_id", v.Agency.ID, "case_manager_id", m.ID, "err", err)
		case err != nil:
			c.fail(w, r, err)
			return
		}
		if old.Active {
			c.Log.Info("case manager deactivated", "agency_id", v.Agency.ID, "case_manager_id", m.ID, "staff_id", v.Staff.ID)
			c.audit(r, "case_manager", m.ID, "deactivated", old, m)
		}
		left, err := staff.NamedBy(r.Context(), c.Store, v.Agency.ID, m.ID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		names := c.staffNames(r.Context(), v.Agency.ID)
		still := &stillNamedView{PolicySteps: left.PolicySteps}
		for _, id := range left.BackupOf {
			still.BackupOf = append(still.BackupOf, orElse(names[id], id))
		}
		for _, id := range left.Rotations {
			name := id
			if rot, err := c.Store.Rotation(r.Context(), v.Agency.ID, id); err == nil {
				name = rot.Name
			}
			still.Rotations = append(still.Rotations, name)
		}
		c.renderStaffForm(w, r, http.StatusOK, staffFormPage{Form: staffFormOf(m), Still: still}, texts[v.Lang]["staff_deactivated"], false)
	})
}

// handleStaffTelegramLink makes a Telegram link for an active staff member,
// as POST /v1/case-managers/{id}/telegram-link does (store.NewLinkCode):
// they open it in Telegram to get alerts there.
func handleStaffTelegramLink(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		m, ok := c.staffMember(w, r)
		if !ok {
			return
		}
		p := staffFormPage{Form: staffFormOf(m)}
		if !m.Active {
			c.renderStaffForm(w, r, http.StatusConflict, p, texts[v.Lang]["staff_is_deactivated"], true)
			return
		}
		code, err := c.Store.NewLinkCode(r.Context(), store.Owner{Kind: "staff", ID: m.ID, AgencyID: v.Agency.ID})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		p.TelegramURL = telegram.LinkURL(c.TelegramBot, code)
		p.TelegramUntil = c.Now().Add(store.LinkTTL).In(zoneOf(v.Agency)).Format("2006-01-02 15:04")
		c.Log.Info("telegram link made", "agency_id", v.Agency.ID, "case_manager_id", m.ID, "staff_id", v.Staff.ID)
		c.renderStaffForm(w, r, http.StatusCreated, p, "", false)
	})
}
