package conversations

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// The safety question (docs/clinical.md, "Asking when unsure"): a message whose
// risk is ambiguous gets the client one direct question, the ASQ's acuity
// item, answerable YES or NO, with the crisis line in the same message.
// YES, or a crisis text, is a crisis; NO is a concern for the case manager;
// no answer within SafetyQuestionWait is a concern raised at once, marked
// unanswered.
const (
	// SafetyQuestionWait is how long an answer is waited for before the
	// case manager is told the question went unanswered.
	SafetyQuestionWait = 30 * time.Minute
	// SafetyQuestionEvery spaces the question: at most one per client per
	// window; a second ambiguous message within it is a concern directly.
	SafetyQuestionEvery = 24 * time.Hour
)

// Reasons the safety question gives an escalation (category words).
const (
	ReasonSafetyYes        = "safety question answered yes"
	ReasonSafetyNo         = "safety question answered no"
	ReasonSafetyUnanswered = "safety question not answered"
)

// SafetyQuestion is a safety question awaiting the client's answer, kept in
// the client's conversation (written with the turn that asked it). A late
// answer still counts until SafetyQuestionEvery after it was asked, or until
// a check-in starts (its own yes/no questions then take bare yes and no).
type SafetyQuestion struct {
	AskedAt time.Time `json:"at"`
	// Msg is the message that led to the question.
	Msg string `json:"msg"`
	// Reasons and Explain are the concern's category words and signals.
	Reasons []string `json:"reasons,omitempty"`
	Explain []string `json:"explain,omitempty"`
	// TimedOut: no answer came in SafetyQuestionWait; the concern is raised.
	TimedOut bool `json:"timed_out,omitempty"`
}

// pendingSafety is the conversation's safety question while an answer
// still counts, else nil.
func (c *Conversation) pendingSafety(now time.Time) *SafetyQuestion {
	if c == nil || c.Safety == nil || !now.Before(c.Safety.AskedAt.Add(SafetyQuestionEvery)) {
		return nil
	}
	return c.Safety
}

// asqAcuity is the built-in ASQ's item 5 ("Are you having thoughts of
// killing yourself right now?"), whose wording the safety question uses.
var asqAcuity = func() map[string]string {
	qn, ok := q.Builtin().Lookup("asq")
	if !ok {
		panic("conversations: built-in ASQ missing")
	}
	item, ok := qn.Question("q5")
	if !ok {
		panic("conversations: built-in ASQ item 5 missing")
	}
	return item.Text
}()

// safetyQuestionTail is the rest of the safety question after the ASQ item,
// by language: how to answer, and the US crisis lines (docs/clinical.md,
// "What the client is told").
var safetyQuestionTail = map[string]string{
	"en": " Please reply YES or NO. If you are in danger now, call 911. You can call or text 988 any time.",
	"es": " Responda SÍ o NO. Si está en peligro ahora, llame al 911. Puede llamar o escribir al 988 a cualquier hora.",
}

// safetyQuestionAnswer is how to answer, for agencies with their own
// crisis lines (their safety message follows it).
var safetyQuestionAnswer = map[string]string{
	"en": " Please reply YES or NO.",
	"es": " Responda SÍ o NO.",
}

// SafetyNoText thanks a client who answered NO.
var SafetyNoText = map[string]string{
	"en": "Thank you for answering. Your case manager will check in with you soon.",
	"es": "Gracias por responder. Su administrador de casos se comunicará con usted pronto.",
}

// SafetyQuestionText is the safety question in the client's language, a
// fixed template for the agency's clinical lead to review like the safety
// message. The crisis lines follow the safety message's country rules
// (escalation.Safety): an agency with its own safety message (its
// country's lines) has that message after the question, never 911 or 988.
func SafetyQuestionText(a *store.Agency, lang string) string {
	if lang != "es" {
		lang = "en"
	}
	if a != nil && len(a.SafetyMessage) > 0 {
		return asqAcuity[lang] + safetyQuestionAnswer[lang] + "\n" + escalation.Safety(a, lang)
	}
	return asqAcuity[lang] + safetyQuestionTail[lang]
}

func safetyNoText(lang string) string {
	if lang == "es" {
		return SafetyNoText["es"]
	}
	return SafetyNoText["en"]
}

// Bare answers to the safety question, after folding (lower case, accents
// and everything but letters and spaces dropped): "Yes.", "sí 😢", "NO!!".
// A longer message is not an answer: it is processed as usual.
var (
	safetyYes = []string{"yes", "y", "yeah", "yep", "yup", "yes i am", "si", "sip", "si estoy", "yes yes", "si si"}
	safetyNo  = []string{"no", "n", "nope", "nah", "no im not", "no i am not", "im not", "no estoy", "no no", "not right now"}
)

// safetyAnswer reads a bare yes or no.
func safetyAnswer(text string) (yes, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.Is(unicode.Mn, r), r == '\'', r == '’':
			// combining accents and apostrophes go ("i'm" is "im")
		case unicode.IsLetter(r):
			b.WriteRune(foldAccent(r))
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Join(strings.Fields(b.String()), " ")
	switch {
	case slices.Contains(safetyYes, words):
		return true, true
	case slices.Contains(safetyNo, words):
		return false, true
	}
	return false, false
}

// foldAccent takes the accent off the vowels of yes and no ("sí" is "si").
func foldAccent(r rune) rune {
	switch r {
	case 'á', 'à', 'â', 'ä':
		return 'a'
	case 'é', 'è', 'ê', 'ë':
		return 'e'
	case 'í', 'ì', 'î', 'ï':
		return 'i'
	case 'ó', 'ò', 'ô', 'ö':
		return 'o'
	case 'ú', 'ù', 'û', 'ü':
		return 'u'
	}
	return r
}

// askSafety asks the client the safety question in answer to an ambiguous
// message, when allowed: the client can be messaged, has no open escalation
// and was not asked within SafetyQuestionEvery. It reports false when the
// question was not asked: the signal is then raised as a concern (joining
// the open escalation, if any).
func (i *Inbox) askSafety(ctx context.Context, t *turn, m store.Message, sig escalation.Signal) (bool, error) {
	c, a := t.batch.Client, t.batch.Agency
	if !c.Messageable() || t.keep {
		return false, nil
	}
	claim, err := i.store.ClaimSafetyQuestion(ctx, a.ID, c.ID, SafetyQuestionEvery)
	if err != nil {
		return false, err
	}
	if !claim.Claimed {
		return false, nil
	}
	now := i.now()
	t.conv.Safety = &SafetyQuestion{AskedAt: now.UTC(), Msg: m.ID, Reasons: sig.Reasons, Explain: sig.Explain}
	t.events = append(t.events, store.Event{"t", "safety-question", "msg", m.ID, "reasons", strings.Join(sig.Reasons, "; ")})
	ch := bot.Kind(m.Channel)
	job := i.contacts.toClient(a, c, ch, "safetyq:"+c.ID+":"+m.ID, SafetyQuestionText(a, c.Language), nil)
	job.Msg.Urgent = true
	t.jobs = append(t.jobs, job)
	w := Work{Kind: WorkSafetyQuestion, Client: c.ID, Agency: a.ID, Conv: m.ID}
	t.work = append(t.work, store.Work{ID: "safetyq:" + c.ID + ":" + m.ID, At: now.Add(SafetyQuestionWait), Payload: w.encode()})
	t.safetyAsked = true
	i.log.Info("safety question asked", "client_id", c.ID, "msg", m.ID)
	return true, nil
}

// askedEntry is the escalation audit entry of the question being asked.
func (p *SafetyQuestion) askedEntry() store.AuditEntry {
	return store.AuditEntry{At: p.AskedAt, Actor: "system", Action: "safety question asked", Detail: "after " + strings.Join(p.Reasons, ", ")}
}

// safetyAnswered settles the pending safety question with a bare yes or
// no: YES is a crisis (safety reply, escalation), NO a concern for the case
// manager (the client is thanked). The check-in in progress, if any, stops
// on a YES, as on any crisis.
func (i *Inbox) safetyAnswered(ctx context.Context, t *turn, m store.Message, yes bool) error {
	c, a := t.batch.Client, t.batch.Agency
	p := t.conv.Safety
	t.conv.Safety = nil
	answer, outcome := "no", escalation.Concern
	if yes {
		answer, outcome = "yes", escalation.Crisis
	}
	t.events = append(t.events, store.Event{"t", "safety-answer", "msg", m.ID, "answer", answer, "outcome", outcome})
	var audit []store.AuditEntry
	if !p.TimedOut { // else the unanswered concern recorded the asking
		audit = append(audit, p.askedEntry())
	}
	audit = append(audit, store.AuditEntry{At: i.now().UTC(), Actor: "client:" + c.ID, Action: "safety question answered", Detail: answer, MessageID: m.ID})
	ch := bot.Kind(m.Channel)
	if yes {
		sig := escalation.Signal{Level: escalation.Crisis, Reasons: []string{ReasonSafetyYes}, Explain: p.Explain, Audit: audit}
		reply := i.contacts.safetyReply(a, c, ch, m.ID)
		if _, err := i.esc.Signal(ctx, a, c, sig, "client:"+c.ID, reply); err != nil {
			return fmt.Errorf("signal safety question answered yes: %w", err)
		}
		if t.conv.Active() {
			t.conv.Question = ""
			t.events = append(t.events, store.Event{"t", "checkin-interrupted", "conv", t.conv.ID, "reason", "crisis"})
		}
		i.log.Info("safety question answered", "client_id", c.ID, "msg", m.ID, "outcome", outcome)
		return i.finish(ctx, t, m)
	}
	sig := escalation.Signal{Level: escalation.Concern, Reasons: append([]string{ReasonSafetyNo}, p.Reasons...), Explain: p.Explain, Audit: audit}
	if _, err := i.esc.Raise(ctx, a, c, sig, "client:"+c.ID); err != nil {
		return fmt.Errorf("raise concern for safety question answered no: %w", err)
	}
	t.reply(i.contacts, c, ch, m.ID, safetyNoText(c.Language), nil)
	i.log.Info("safety question answered", "client_id", c.ID, "msg", m.ID, "outcome", outcome)
	return i.finish(ctx, t, m)
}

// HandleSafetyQuestion is the safety question's wait running out: unless it
// was answered, the concern goes to the case manager at once (at any hour:
// docs/clinical.md, "Asking when unsure"; the ASQ takes a refusal to answer
// as positive)
// marked "safety question not answered", and the question stays answerable.
func (i *Inbox) HandleSafetyQuestion(ctx context.Context, w Work) error {
	return i.hold.hold(ctx, w, nil, func(b *store.Batch) error {
		c, a := b.Client, b.Agency
		conv, err := loadConversation(b.Conversation, c)
		keep := err != nil
		if keep {
			// The question's state is unknown: the case manager is told it
			// was not answered; the record is kept for someone to look at.
			i.log.Error("stored conversation unreadable: safety question taken as unanswered", "client_id", c.ID, "msg", w.Conv, "err", err)
			conv = &Conversation{Safety: &SafetyQuestion{AskedAt: i.now().Add(-SafetyQuestionWait).UTC(), Msg: w.Conv}}
		}
		p := conv.Safety
		if p == nil || p.Msg != w.Conv || p.TimedOut {
			return nil // answered, or already raised
		}
		// Raised first: a failure after it repeats the raise (it joins the
		// escalation it opened), never loses it.
		sig := escalation.Signal{Level: escalation.Concern, Reasons: append([]string{ReasonSafetyUnanswered}, p.Reasons...), Explain: p.Explain, AtOnce: true,
			Audit: []store.AuditEntry{p.askedEntry(), {At: i.now().UTC(), Actor: "system", Action: "safety question not answered", Detail: fmt.Sprintf("no reply in %s", SafetyQuestionWait)}}}
		if _, err := i.esc.Raise(ctx, a, c, sig, "system"); err != nil {
			return fmt.Errorf("raise concern for unanswered safety question: %w", err)
		}
		i.log.Info("safety question not answered: concern raised", "client_id", c.ID, "msg", w.Conv)
		var raw []byte // nil keeps the stored record
		if !keep {
			p.TimedOut = true
			if raw, err = json.Marshal(conv); err != nil {
				return fmt.Errorf("encode conversation: %w", err)
			}
		}
		if _, err := i.store.Apply(ctx, c.ID, "", raw, []store.Event{{"t", "safety-unanswered", "msg", w.Conv}}); err != nil {
			return fmt.Errorf("record unanswered safety question: %w", err)
		}
		return nil
	})
}
