package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/settings"
	"github.com/carecheck/carecheck/store"
)

// settingsForm is the general settings form, as typed.
type settingsForm struct {
	QuietStart, QuietEnd, IdleMinutes string
	RequireTOTP                       bool
}

// handleSettings shows the agency's general settings: quiet hours, the
// console's idle timeout, whether two-step sign-in is required.
func handleSettings(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ag := viewerOf(r).Agency
		f := settingsForm{QuietStart: ag.QuietStart, QuietEnd: ag.QuietEnd,
			IdleMinutes: strconv.Itoa(int(idleLimit(ag) / time.Minute)), RequireTOTP: ag.RequireTOTP}
		c.render(w, r, "settings.html", http.StatusOK, "settings_title", view{Data: f, Flash: savedFlash(r)})
	})
}

// savedFlash is "Saved." after a save's redirect (?saved=1).
func savedFlash(r *http.Request) string {
	if r.URL.Query().Get("saved") != "" {
		return texts[langOf(r)]["staff_saved"]
	}
	return ""
}

// handleSaveSettings changes the general settings by the API's rules
// (settings.Changes, as PATCH /v1/agency), audited as the signed-in admin.
func handleSaveSettings(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		f := settingsForm{QuietStart: r.PostFormValue("quiet_start"), QuietEnd: r.PostFormValue("quiet_end"),
			IdleMinutes: strings.TrimSpace(r.PostFormValue("idle_minutes")), RequireTOTP: r.PostFormValue("require_totp") == "on"}
		refuse := func(msg string) {
			c.render(w, r, "settings.html", http.StatusBadRequest, "settings_title", view{Data: f, Flash: msg, FlashError: true})
		}
		minutes, err := strconv.Atoi(f.IdleMinutes)
		if err != nil {
			refuse(texts[v.Lang]["settings_session_idle"])
			return
		}
		idle := store.Duration(time.Duration(minutes) * time.Minute)
		changes := settings.Changes{QuietStart: &f.QuietStart, QuietEnd: &f.QuietEnd, SessionIdle: &idle, RequireTOTP: &f.RequireTOTP}
		old, ag, err := c.Store.UpdateAgency(r.Context(), v.Agency.ID, changes.Apply)
		if isSettingRefusal(err) {
			refuse(settingsProblem(v.Lang, err))
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.Log.Info("agency settings changed", "agency_id", ag.ID, "staff_id", v.Staff.ID)
		c.audit(r, "agency", ag.ID, "changed", old, ag)
		http.Redirect(w, r, "/console/settings?saved=1", http.StatusSeeOther)
	})
}

// safetyForm is the safety message page's data.
type safetyForm struct{ EN, ES string }

// handleSafety shows the agency's own safety messages (empty: the built-in one).
func handleSafety(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ag := viewerOf(r).Agency
		f := safetyForm{EN: ag.SafetyMessage["en"], ES: ag.SafetyMessage["es"]}
		c.render(w, r, "safety.html", http.StatusOK, "safety_title", view{Data: f, Flash: savedFlash(r)})
	})
}

// handleSaveSafety sets the safety messages by the API's rules
// (settings.SafetyMessages, as PUT /v1/agency/safety-message); a language
// left empty uses the built-in message.
func handleSaveSafety(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		f := safetyForm{EN: r.PostFormValue("en"), ES: r.PostFormValue("es")}
		msgs := map[string]string{}
		for lang, msg := range map[string]string{"en": f.EN, "es": f.ES} {
			if strings.TrimSpace(msg) != "" {
				msgs[lang] = msg
			}
		}
		msgs, err := settings.SafetyMessages(msgs)
		if err != nil {
			c.render(w, r, "safety.html", http.StatusBadRequest, "safety_title", view{Data: f, Flash: settingsProblem(v.Lang, err), FlashError: true})
			return
		}
		before, ag, err := c.Store.UpdateAgency(r.Context(), v.Agency.ID, func(a *store.Agency) error {
			a.SafetyMessage = msgs
			return nil
		})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		old := before.SafetyMessage
		c.Log.Info("safety message changed", "agency_id", ag.ID, "staff_id", v.Staff.ID)
		c.audit(r, "safety_message", ag.ID, "changed", old, msgs)
		http.Redirect(w, r, "/console/settings/safety?saved=1", http.StatusSeeOther)
	})
}

// phraseRow is one phrase on the phrases page.
type phraseRow struct{ Text, Level, Lang string }

// phrasesPage is the phrases page's data: the phrases and a few empty rows.
type phrasesPage struct{ Rows []phraseRow }

// blankPhrases is how many empty rows the phrases page offers for adding.
const blankPhrases = 3

func (p phrasesPage) withBlanks() phrasesPage {
	for range blankPhrases {
		p.Rows = append(p.Rows, phraseRow{Level: "crisis"})
	}
	return p
}

// handlePhrases shows the agency's own crisis and concern phrases.
func handlePhrases(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p phrasesPage
		for _, ph := range viewerOf(r).Agency.Phrases {
			p.Rows = append(p.Rows, phraseRow{ph.Text, ph.Level, ph.Lang})
		}
		c.render(w, r, "phrases.html", http.StatusOK, "phrases_title", view{Data: p.withBlanks(), Flash: savedFlash(r)})
	})
}

// handleSavePhrases sets the phrases by the API's rules (settings.Phrases,
// as PUT /v1/agency/phrases); a row whose text is emptied is removed.
func handleSavePhrases(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, err)
			return
		}
		typed, levels, langs := r.PostForm["text"], r.PostForm["level"], r.PostForm["lang"]
		var p phrasesPage
		list := []store.Phrase{}
		for i, t := range typed {
			row := phraseRow{Text: t, Level: at(levels, i), Lang: at(langs, i)}
			if strings.TrimSpace(t) == "" {
				continue
			}
			p.Rows = append(p.Rows, row)
			list = append(list, store.Phrase{Text: row.Text, Level: row.Level, Lang: row.Lang})
		}
		list, err := settings.Phrases(list)
		if err != nil {
			c.render(w, r, "phrases.html", http.StatusBadRequest, "phrases_title", view{Data: p.withBlanks(), Flash: settingsProblem(v.Lang, err), FlashError: true})
			return
		}
		before, ag, err := c.Store.UpdateAgency(r.Context(), v.Agency.ID, func(a *store.Agency) error {
			a.Phrases = list
			return nil
		})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		old := before.Phrases
		c.Log.Info("agency phrases changed", "agency_id", ag.ID, "count", len(list), "staff_id", v.Staff.ID)
		c.audit(r, "phrases", ag.ID, "changed", map[string]any{"phrases": old}, map[string]any{"phrases": list})
		http.Redirect(w, r, "/console/settings/phrases?saved=1", http.StatusSeeOther)
	})
}

// at is list[i], or "" past its end.
func at(list []string, i int) string {
	if i < len(list) {
		return list[i]
	}
	return ""
}

// settingsProblem words a refused setting for the page in the reader's
// isSettingRefusal tells a setting refused by its rule (shown on the form)
// from a failure of the service.
func isSettingRefusal(err error) bool {
	var fe *freetext.Error
	var se *settings.Error
	var ee *escalation.SettingError
	return errors.As(err, &fe) || errors.As(err, &se) || errors.As(err, &ee)
}

// language (the settings and escalation packages' codes).
func settingsProblem(lang string, err error) string {
	T := texts[lang]
	var fe *freetext.Error
	var se *settings.Error
	var le *settings.LangError
	var ee *escalation.SettingError
	switch {
	case errors.As(err, &fe):
		return textProblem(lang, settingsLabel(lang, fe.Field), err)
	case errors.As(err, &se):
		return labelOr(T, "settings_"+se.Field, T["error"])
	case errors.As(err, &le) && errors.As(err, &ee):
		return T["safety_"+le.Lang] + ": " + ruleProblem(T, ee)
	case errors.As(err, &ee):
		return ruleProblem(T, ee)
	}
	return T["error"]
}

// ruleProblem words an escalation rule's refusal.
func ruleProblem(T map[string]string, e *escalation.SettingError) string {
	s := T["rule_"+e.Code]
	switch e.Code {
	case escalation.CodeNotifyRequired, escalation.CodeNoRotation, escalation.CodeNoStaff, escalation.CodeWait,
		escalation.CodePhraseLevel, escalation.CodePhraseLang:
		return fmt.Sprintf(s, e.Index+1)
	case escalation.CodeSafetyBadPhone:
		return fmt.Sprintf(s, e.Value)
	case escalation.CodePhraseInvalid:
		return fmt.Sprintf(s, e.Error())
	}
	return s
}

// settingsLabel is how a page names a settings field a freetext rule
// refused: a key of the string table, or the words themselves
// ("phrases[2].text" is the phrase on row 3).
func settingsLabel(lang, field string) string {
	switch field {
	case "en", "es":
		return "safety_" + field
	}
	if rest, ok := strings.CutPrefix(field, "phrases["); ok {
		if n, err := strconv.Atoi(strings.TrimSuffix(rest, "].text")); err == nil {
			return fmt.Sprintf("%s %d", texts[lang]["phrase"], n+1)
		}
	}
	return field
}
