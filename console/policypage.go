package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/settings"
	"github.com/carecheck/carecheck/store"
)

// policyStepRow is one step of the policy form: whom it alerts, how long
// it waits (a Go duration, "10m0s").
type policyStepRow struct{ Notify, Wait string }

// policyPage is the policy page's data: the steps as edited, the choices.
type policyPage struct {
	Steps  []policyStepRow
	Repeat int
	// Targets are whom a step may alert; Waits and Repeats the choices.
	Targets []option
	Waits   []option
	Repeats []int
	// Builtin: the agency set no policy, this is the built-in one.
	Builtin bool
}

// policyWaits are the waits the form offers (a saved policy's other
// values are added to them).
var policyWaits = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 45 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 24 * time.Hour}

// handlePolicy shows the agency's escalation policy as an ordered list of
// steps, each with its target and wait, to edit, reorder, add and remove.
func handlePolicy(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ag := viewerOf(r).Agency
		p := policyPage{Builtin: ag.Policy == nil}
		pol := escalation.DefaultPolicy()
		if ag.Policy != nil {
			pol = *ag.Policy
		}
		for _, s := range pol.Steps {
			p.Steps = append(p.Steps, policyStepRow{strings.TrimSpace(s.Notify), time.Duration(s.Wait).String()})
		}
		p.Repeat = pol.Repeat
		c.renderPolicy(w, r, http.StatusOK, p, savedFlash(r), false)
	})
}

// handleEditPolicy is the policy form's every button: move a step up or
// down, remove one or add one (the form again, nothing saved yet), or
// save the steps by the API's rules (settings.CheckPolicy, as PUT
// /v1/agency/escalation-policy), audited as the signed-in admin.
func handleEditPolicy(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		T := texts[v.Lang]
		if err := r.ParseForm(); err != nil {
			c.renderPolicy(w, r, http.StatusBadRequest, policyPage{}, T["error"], true)
			return
		}
		notify, waits := r.PostForm["notify"], r.PostForm["wait"]
		p := policyPage{}
		for i, n := range notify {
			p.Steps = append(p.Steps, policyStepRow{n, at(waits, i)})
		}
		p.Repeat, _ = strconv.Atoi(r.PostFormValue("repeat"))
		op, arg, _ := strings.Cut(r.PostFormValue("op"), ":")
		i, _ := strconv.Atoi(arg)
		inRange := i >= 0 && i < len(p.Steps)
		switch {
		case op == "up" && inRange && i > 0:
			p.Steps[i-1], p.Steps[i] = p.Steps[i], p.Steps[i-1]
		case op == "down" && inRange && i+1 < len(p.Steps):
			p.Steps[i], p.Steps[i+1] = p.Steps[i+1], p.Steps[i]
		case op == "remove" && inRange:
			p.Steps = slices.Delete(p.Steps, i, i+1)
		case op == "add":
			p.Steps = append(p.Steps, policyStepRow{escalation.NotifyAssigned, (10 * time.Minute).String()})
		case op == "save":
			c.savePolicy(w, r, p)
			return
		}
		c.renderPolicy(w, r, http.StatusOK, p, T["policy_unsaved"], false)
	})
}

func (c *console) savePolicy(w http.ResponseWriter, r *http.Request, p policyPage) {
	v := viewerOf(r)
	pol := store.Policy{Steps: []store.PolicyStep{}, Repeat: p.Repeat}
	for _, s := range p.Steps {
		wait, _ := time.ParseDuration(s.Wait) // not a duration: 0, refused by the policy's rule
		pol.Steps = append(pol.Steps, store.PolicyStep{Notify: s.Notify, Wait: store.Duration(wait)})
	}
	if err := settings.CheckPolicy(r.Context(), c.Store, v.Agency.ID, pol); err != nil {
		if _, ok := err.(*escalation.SettingError); !ok {
			c.fail(w, r, err)
			return
		}
		c.renderPolicy(w, r, http.StatusBadRequest, p, settingsProblem(v.Lang, err), true)
		return
	}
	before, ag, err := c.Store.UpdateAgency(r.Context(), v.Agency.ID, func(a *store.Agency) error {
		a.Policy = &pol
		return nil
	})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	old := before.Policy
	c.Log.Info("escalation policy changed", "agency_id", ag.ID, "steps", len(pol.Steps), "staff_id", v.Staff.ID)
	c.audit(r, "policy", ag.ID, "changed", old, &pol)
	http.Redirect(w, r, "/console/settings/policy?saved=1", http.StatusSeeOther)
}

// renderPolicy shows the policy form with its choices: the client's case
// manager, their backup, each active staff member, each rotation's on-call
// person, and whatever a step names that is none of these (a deactivated
// staff member: saving then says so).
func (c *console) renderPolicy(w http.ResponseWriter, r *http.Request, status int, p policyPage, flash string, isErr bool) {
	v := viewerOf(r)
	T := texts[v.Lang]
	ctx := r.Context()
	p.Targets = []option{{escalation.NotifyAssigned, T["notify_assigned"]}, {escalation.NotifyBackup, T["notify_backup"]}}
	names := map[string]string{}
	all, err := c.allStaff(ctx, v.Agency.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, m := range all {
		names[m.ID] = m.Name
		if m.Active {
			p.Targets = append(p.Targets, option{m.ID, m.Name})
		}
	}
	rots, err := c.allRotations(ctx, v.Agency.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, rot := range rots {
		p.Targets = append(p.Targets, option{escalation.NotifyOnCall + rot.ID, T["notify_on_call"] + " " + rot.Name})
	}
	waits := map[string]bool{}
	for _, d := range policyWaits {
		p.Waits = append(p.Waits, option{d.String(), waitLabel(T, d)})
		waits[d.String()] = true
	}
	for _, s := range p.Steps {
		if !slices.ContainsFunc(p.Targets, func(o option) bool { return o.Value == s.Notify }) {
			p.Targets = append(p.Targets, option{s.Notify, orElse(names[s.Notify], s.Notify) + " " + T["notify_unavailable"]})
		}
		if d, err := time.ParseDuration(s.Wait); err == nil && !waits[s.Wait] {
			p.Waits = append(p.Waits, option{s.Wait, waitLabel(T, d)})
			waits[s.Wait] = true
		}
	}
	for n := 0; n <= 20; n++ {
		p.Repeats = append(p.Repeats, n)
	}
	c.render(w, r, "policy.html", status, "policy_title", view{Data: p, Flash: flash, FlashError: isErr})
}

// waitLabel writes a wait as people read it: "10 min", "2 h", "90 s".
func waitLabel(T map[string]string, d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " " + T["hours"]
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " " + T["minutes"]
	}
	return d.String()
}
