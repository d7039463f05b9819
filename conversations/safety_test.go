package conversations_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// ambiguous is a message whose risk is ambiguous: the detector says
// concern and asks for the safety question.
const ambiguous = "honestly i just want out"

// question is the safety question the rig's client gets.
func (r *rig) question() string { return conversations.SafetyQuestionText(r.a, r.c.Language) }

// onlyOpen is the agency's one open escalation.
func (r *rig) onlyOpen() *store.Escalation {
	r.t.Helper()
	open := r.openEscalations()
	if len(open) != 1 {
		r.t.Fatalf("open escalations = %d; want 1", len(open))
	}
	return open[0]
}

// audited lists an escalation's audit actions with their details.
func audited(e *store.Escalation) []string {
	var out []string
	for _, a := range e.Audit {
		out = append(out, a.Action+": "+a.Detail)
	}
	return out
}

func hasPrefix(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// safetyWaits moves the clock past the question's wait and returns the
// safety-question work that came due (none before the 30 minutes).
func (r *rig) safetyWaits() []conversations.Work {
	r.t.Helper()
	ctx := r.t.Context()
	r.clock.Advance(29 * time.Minute)
	if _, err := r.st.MoveDue(ctx, r.clock.Now(), 100); err != nil {
		r.t.Fatal(err)
	}
	if ws := r.queuedWork(conversations.WorkSafetyQuestion); len(ws) != 0 {
		r.t.Fatalf("safety question wait due after 29 minutes: %+v", ws)
	}
	r.clock.Advance(2 * time.Minute)
	if _, err := r.st.MoveDue(ctx, r.clock.Now(), 100); err != nil {
		r.t.Fatal(err)
	}
	return r.queuedWork(conversations.WorkSafetyQuestion)
}

// atNight sets the case manager's working hours to 09:00–17:00 Chicago and
// the clock to 03:00 there.
func (r *rig) atNight() {
	r.t.Helper()
	r.cm.WorkingHours = store.WorkingHours{Start: "09:00", End: "17:00", Timezone: "America/Chicago"}
	if err := r.st.SaveCaseManager(r.t.Context(), r.cm); err != nil {
		r.t.Fatal(err)
	}
	r.clock.mu.Lock()
	r.clock.t = time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC) // 03:00 CDT
	r.clock.mu.Unlock()
}

// An ambiguous message gets the client the safety question (the ASQ's
// acuity item, YES/NO, the crisis lines) and nothing goes to the case
// manager yet; the question is on the timeline.
func TestAmbiguousMessageGetsTheSafetyQuestion(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, ambiguous))
	got := r.to(r.c.Phone)
	if len(got) != 1 || got[0] != r.question() {
		t.Fatalf("client got %q; want the safety question", got)
	}
	for _, want := range []string{"Are you having thoughts of killing yourself right now?", "YES or NO", "988", "911"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("safety question %q lacks %q", got[0], want)
		}
	}
	if open := r.openEscalations(); len(open) != 0 {
		t.Errorf("open escalations = %d; the concern waits for the answer", len(open))
	}
	if cm := r.to(r.cm.Phone); len(cm) != 0 {
		t.Errorf("case manager got %q before the answer", cm)
	}
	if ev := r.events(); !slices.Contains(ev, "safety-question") {
		t.Errorf("timeline = %v; want the question recorded", ev)
	}
}

// YES in any of its forgiving spellings is a crisis: the safety message,
// the case manager paged, the question and answer in the audit.
func TestSafetyQuestionAnsweredYes(t *testing.T) {
	for _, yes := range []string{"YES", "yes.", "Y", "si", "Sí 😢", "SI"} {
		t.Run(yes, func(t *testing.T) {
			r := newRig(t)
			r.receive(r.sms(r.c.Phone, ambiguous))
			r.receive(r.sms(r.c.Phone, yes))
			got := r.to(r.c.Phone)
			if len(got) != 2 || got[1] != escalation.Safety(r.a, "en") {
				t.Fatalf("client got %q; want the question, then the safety message", got)
			}
			e := r.onlyOpen()
			if e.Level != escalation.Crisis || !slices.Contains(e.Reasons, conversations.ReasonSafetyYes) {
				t.Errorf("escalation = %s %v; want crisis for %q", e.Level, e.Reasons, conversations.ReasonSafetyYes)
			}
			if cm := r.to(r.cm.Phone); len(cm) != 1 || !strings.Contains(cm[0], "URGENT") || !strings.Contains(cm[0], "ACK "+e.AckCode) {
				t.Errorf("case manager got %q; want one urgent alert", cm)
			}
			audit := audited(e)
			if !hasPrefix(audit, "safety question asked") || !slices.Contains(audit, "safety question answered: yes") {
				t.Errorf("audit = %q; want the question asked and answered yes", audit)
			}
			if ev := r.events(); !slices.Contains(ev, "safety-answer") {
				t.Errorf("timeline = %v; want the answer recorded", ev)
			}
			// The question is settled: a later yes is an ordinary message.
			r.receive(r.sms(r.c.Phone, "yes"))
			if n := len(r.to(r.c.Phone)); n != 2 {
				t.Errorf("a second yes sent the client %d messages in all; want 2", n)
			}
		})
	}
}

// NO is a concern for the case manager, with the original category words;
// the client is thanked; at night the case manager is not paged.
func TestSafetyQuestionAnsweredNoAtNight(t *testing.T) {
	r := newRig(t)
	r.atNight()
	r.receive(r.sms(r.c.Phone, ambiguous))
	r.receive(r.sms(r.c.Phone, "no"))
	got := r.to(r.c.Phone)
	if len(got) != 2 || got[1] != conversations.SafetyNoText["en"] {
		t.Fatalf("client got %q; want the question, then thanks", got)
	}
	e := r.onlyOpen()
	if e.Level != escalation.Concern || e.Reasons[0] != conversations.ReasonSafetyNo || len(e.Reasons) < 2 {
		t.Errorf("escalation = %s %v; want a concern for %q and the message's category", e.Level, e.Reasons, conversations.ReasonSafetyNo)
	}
	if cm := r.to(r.cm.Phone); len(cm) != 0 {
		t.Errorf("case manager got %q at 03:00; a concern waits for working hours", cm)
	}
	if audit := audited(e); !slices.Contains(audit, "safety question answered: no") {
		t.Errorf("audit = %q; want the answer", audit)
	}
	if ws := r.safetyWaits(); len(ws) != 1 {
		t.Fatalf("safety question waits due = %d; want 1", len(ws))
	} else if err := r.rooms.Inbox.HandleSafetyQuestion(t.Context(), ws[0]); err != nil {
		t.Fatal(err)
	}
	if e2 := r.onlyOpen(); slices.Contains(e2.Reasons, conversations.ReasonSafetyUnanswered) {
		t.Errorf("reasons = %v after an answered question's wait; want no 'not answered'", e2.Reasons)
	}
}

// No answer within 30 minutes: the concern goes to the case manager at
// once, even at night, marked "safety question not answered". A late YES
// still counts: the concern becomes a crisis.
func TestSafetyQuestionNotAnswered(t *testing.T) {
	r := newRig(t)
	r.atNight()
	r.receive(r.sms(r.c.Phone, ambiguous))
	ws := r.safetyWaits()
	if len(ws) != 1 {
		t.Fatalf("safety question waits due = %d; want 1", len(ws))
	}
	for range 2 { // a repeated delivery changes nothing
		if err := r.rooms.Inbox.HandleSafetyQuestion(t.Context(), ws[0]); err != nil {
			t.Fatal(err)
		}
	}
	e := r.onlyOpen()
	if e.Level != escalation.Concern || e.Reasons[0] != conversations.ReasonSafetyUnanswered {
		t.Errorf("escalation = %s %v; want a concern for %q", e.Level, e.Reasons, conversations.ReasonSafetyUnanswered)
	}
	cm := r.to(r.cm.Phone)
	if len(cm) != 1 || !strings.Contains(cm[0], conversations.ReasonSafetyUnanswered) {
		t.Errorf("case manager got %q; want one alert now, saying the question was not answered", cm)
	}
	if audit := audited(e); !hasPrefix(audit, "safety question asked") || !hasPrefix(audit, "safety question not answered") {
		t.Errorf("audit = %q; want the question asked and not answered", audit)
	}
	if ev := r.events(); !slices.Contains(ev, "safety-unanswered") {
		t.Errorf("timeline = %v; want the missing answer recorded", ev)
	}
	r.receive(r.sms(r.c.Phone, "yes"))
	e = r.onlyOpen()
	if e.Level != escalation.Crisis || !slices.Contains(e.Reasons, conversations.ReasonSafetyYes) {
		t.Errorf("after a late yes the escalation = %s %v; want crisis", e.Level, e.Reasons)
	}
	if got := r.to(r.c.Phone); len(got) != 2 || got[1] != escalation.Safety(r.a, "en") {
		t.Errorf("client got %q; want the safety message after the late yes", got)
	}
}

// While the question waits, other messages are processed as usual and it
// stays pending; a crisis text answers it as a crisis.
func TestSafetyQuestionOtherTextThenCrisis(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, ambiguous))
	r.receive(r.sms(r.c.Phone, "im at work rn"))
	if open := r.openEscalations(); len(open) != 0 {
		t.Fatalf("open escalations = %d after an ordinary text; want the question still pending", len(open))
	}
	r.receive(r.sms(r.c.Phone, "i want to kill myself tonight"))
	e := r.onlyOpen()
	if e.Level != escalation.Crisis {
		t.Errorf("escalation level = %s; want crisis", e.Level)
	}
	if audit := audited(e); !slices.Contains(audit, "safety question answered: a crisis message") {
		t.Errorf("audit = %q; want the question answered by the crisis message", audit)
	}
	if got := r.to(r.c.Phone); len(got) != 2 || got[1] != escalation.Safety(r.a, "en") {
		t.Errorf("client got %q; want the question, then the safety message", got)
	}
	if ws := r.safetyWaits(); len(ws) == 1 {
		if err := r.rooms.Inbox.HandleSafetyQuestion(t.Context(), ws[0]); err != nil {
			t.Fatal(err)
		}
	}
	if e := r.onlyOpen(); slices.Contains(e.Reasons, conversations.ReasonSafetyUnanswered) {
		t.Errorf("reasons = %v; the crisis answered the question", e.Reasons)
	}
}

// A second ambiguous message within 24 hours is a concern directly, never
// none and never a second question; after 24 hours the client may be asked again.
func TestSecondAmbiguousMessageIsAConcern(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, ambiguous))
	r.clock.Advance(5 * time.Minute)
	r.receive(r.sms(r.c.Phone, "i just want out of everything"))
	if got := r.to(r.c.Phone); len(got) != 1 {
		t.Errorf("client got %q; want one question only", got)
	}
	e := r.onlyOpen()
	if e.Level != escalation.Concern {
		t.Errorf("escalation level = %s; want concern", e.Level)
	}
	if _, err := r.esc.Resolve(t.Context(), r.a.ID, e.ID, "staff:"+r.cm.ID, "talked"); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(25 * time.Hour)
	r.receive(r.sms(r.c.Phone, ambiguous))
	if got := r.to(r.c.Phone); len(got) != 2 || got[1] != r.question() {
		t.Errorf("a day later the client got %q; want a second question", got)
	}
}

// A client in an open escalation is never asked: the signal joins it.
func TestNoSafetyQuestionDuringAnEscalation(t *testing.T) {
	r := newRig(t)
	sig := escalation.Signal{Level: escalation.Concern, Reasons: []string{"2 missed check-ins"}}
	if _, err := r.esc.Raise(t.Context(), r.a, r.c, sig, "system"); err != nil {
		t.Fatal(err)
	}
	r.receive(r.sms(r.c.Phone, ambiguous))
	if got := r.to(r.c.Phone); len(got) != 0 {
		t.Errorf("client got %q; want no question during an open escalation", got)
	}
	if audit := audited(r.onlyOpen()); !hasPrefix(audit, "signal joined: concern") {
		t.Errorf("audit = %q; want the signal joined", audit)
	}
}

// An opted-out client, or one without consent, is not asked: concern directly.
func TestNoSafetyQuestionWithoutConsent(t *testing.T) {
	for name, change := range map[string]func(*store.Client){
		"opted out":  func(c *store.Client) { c.OptedOut = true },
		"no consent": func(c *store.Client) { c.Consent = nil },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			upd := *r.c
			change(&upd)
			if err := r.st.UpdateClient(t.Context(), r.c, &upd); err != nil {
				t.Fatal(err)
			}
			r.c = &upd
			r.receive(r.sms(r.c.Phone, ambiguous))
			if got := r.to(r.c.Phone); len(got) != 0 {
				t.Errorf("client got %q; want nothing", got)
			}
			if e := r.onlyOpen(); e.Level != escalation.Concern {
				t.Errorf("escalation level = %s; want concern", e.Level)
			}
		})
	}
}

// An ambiguous answer in a check-in is kept as the answer, but the safety
// question is the last word: the check-in sends nothing more.
func TestSafetyQuestionStopsTheCheckin(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	if _, err := r.rooms.Checkins.StartCheckin(ctx, r.c, "daily-mood"); err != nil {
		t.Fatal(err)
	}
	ws := r.queuedWork(conversations.WorkCheckin)
	if len(ws) != 1 {
		t.Fatalf("queued check-ins = %d; want 1", len(ws))
	}
	if err := r.rooms.Checkins.HandleCheckin(ctx, ws[0]); err != nil {
		t.Fatal(err)
	}
	r.receive(r.sms(r.c.Phone, "3"))
	r.receive(r.sms(r.c.Phone, ambiguous))
	got := r.to(r.c.Phone)
	// Urgent messages are listed first: the question, then the check-in's two.
	if len(got) != 3 || got[0] != r.question() || !strings.Contains(got[2], "Anything you'd like") {
		t.Fatalf("client got %q; want the two check-in questions and the safety question, no closing message", got)
	}
	ev := r.events()
	if count(ev, "answer") != 2 || !slices.Contains(ev, "safety-question") {
		t.Errorf("timeline = %v; want both answers kept and the question asked", ev)
	}
	r.receive(r.sms(r.c.Phone, "no"))
	if e := r.onlyOpen(); e.Reasons[0] != conversations.ReasonSafetyNo {
		t.Errorf("reasons = %v; want the no answering the safety question", e.Reasons)
	}
}

// The question follows the client's language and the agency's own crisis
// lines: Spanish in the ASQ's Spanish words; an agency with its own safety
// message (another country) never tells the client to call 911 or 988.
func TestSafetyQuestionText(t *testing.T) {
	es := conversations.SafetyQuestionText(nil, "es")
	if !strings.HasPrefix(es, "¿Está pensando en suicidarse en este momento?") || !strings.Contains(es, "988") {
		t.Errorf("Spanish question = %q", es)
	}
	en := conversations.SafetyQuestionText(nil, "en")
	if n := len([]rune(en)); n > 160 {
		t.Errorf("English question is %d characters; want one SMS segment", n)
	}
	uk := &store.Agency{SafetyMessage: map[string]string{"en": "If you are in danger call 999. Samaritans: call 116 123 any time."}}
	got := conversations.SafetyQuestionText(uk, "es")
	if strings.Contains(got, "911") || strings.Contains(got, "988") || !strings.Contains(got, "116 123") {
		t.Errorf("UK agency's question = %q; want its own lines only", got)
	}
	if !strings.HasPrefix(got, "¿Está pensando en suicidarse") {
		t.Errorf("UK agency's Spanish question = %q; want the question in Spanish", got)
	}
}

// The question goes out on Telegram too, to the chat the client wrote from.
func TestSafetyQuestionOnTelegram(t *testing.T) {
	r := newRig(t)
	upd := *r.c
	upd.TelegramChat, upd.Channel = "8001", "telegram"
	if err := r.st.UpdateClient(t.Context(), r.c, &upd); err != nil {
		t.Fatal(err)
	}
	r.c = &upd
	r.receive(bot.Inbound{Channel: bot.Telegram, Kind: bot.KindText, From: "8001", ProviderID: "tg:1", Text: ambiguous})
	r.receive(bot.Inbound{Channel: bot.Telegram, Kind: bot.KindText, From: "8001", ProviderID: "tg:2", Text: "Sí"})
	if got := r.to("8001"); len(got) != 2 || got[0] != r.question() || got[1] != escalation.Safety(r.a, "en") {
		t.Errorf("chat got %q; want the question, then the safety message", got)
	}
}

// While the question waits, a check-in is skipped (its yes/no questions
// would take the answer); after the wait a check-in starts and takes bare
// answers itself.
func TestCheckinSkippedWhileTheQuestionWaits(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	r.receive(r.sms(r.c.Phone, ambiguous))
	start := func() {
		t.Helper()
		if _, err := r.rooms.Checkins.StartCheckin(ctx, r.c, "medication"); err != nil {
			t.Fatal(err)
		}
		ws := r.queuedWork(conversations.WorkCheckin)
		if err := r.rooms.Checkins.HandleCheckin(ctx, ws[len(ws)-1]); err != nil {
			t.Fatal(err)
		}
	}
	start()
	if got := r.to(r.c.Phone); len(got) != 1 {
		t.Errorf("client got %q; want only the safety question while it waits", got)
	}
	if ev := r.events(); !slices.Contains(ev, "skipped") {
		t.Errorf("timeline = %v; want the check-in skipped", ev)
	}
	for _, w := range r.safetyWaits() {
		if err := r.rooms.Inbox.HandleSafetyQuestion(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	start()
	r.receive(r.sms(r.c.Phone, "yes"))
	if e := r.onlyOpen(); e.Level != escalation.Concern {
		t.Errorf("escalation level = %s; after a check-in started, yes answers the check-in", e.Level)
	}
}
