// Package conversations runs CareCheck's side of talking with clients, in
// rooms with one job each (wired by New):
//   - Inbox receives every inbound event (bot.Receiver), screens a client's
//     text for crisis first, honours STOP/START/HELP and advances the
//     client's conversation through the pure engine (Start, Answer);
//   - linking answers staff (acknowledgements, handed to escalation),
//     Telegram link codes and senders nobody owns;
//   - Checkins starts check-ins now or by schedule, plans occurrences, and
//     times out unanswered questions (nudge, then missed);
//   - Appointments plans and sends reminders and records C / R;
//   - Stops records a provider's "this person stopped us".
//
// Questionnaires and schedules are pure subpackages
// (conversations/questionnaire, conversations/schedule).
package conversations

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/store"
)

// Conversation is a client's check-in state, kept in Redis between messages.
// The key persists between check-ins to carry the missed-in-a-row count.
type Conversation struct {
	ID            string              `json:"id"` // occurrence id, or "now:<ms>" for one started by API
	Questionnaire string              `json:"q"`
	Question      string              `json:"at,omitempty"` // the question awaiting an answer; "" when finished
	Answers       map[string]q.Answer `json:"answers,omitempty"`
	Seq           int                 `json:"seq"` // questions sent so far; message ids derive from it
	Reasked       bool                `json:"reasked,omitempty"`
	Nudged        bool                `json:"nudged,omitempty"`
	Lang          string              `json:"lang"`
	Started       time.Time           `json:"started"`
	AskedAt       time.Time           `json:"asked_at"`
	// Appointment links an appointment-confirmation conversation to its appointment.
	Appointment string `json:"appointment,omitempty"`
	// MissedInARow counts consecutive missed check-ins (carried over).
	MissedInARow int `json:"missed,omitempty"`
	// MoodHistory holds the client's mood totals of the 7 days before a mood
	// check-in started, newest first, read as it starts: scoring its last
	// answer (the drop rule's median) then reads nothing.
	MoodHistory []int `json:"mood_hist,omitempty"`
	// Safety is the safety question awaiting the client's yes or no (nil:
	// none); it outlives the check-in (inbox.go, safety.go).
	Safety *SafetyQuestion `json:"safety,omitempty"`
}

// MarshalJSON stores a conversation between check-ins as little as it is:
// its id (a repeated delivery of the occurrence finds it already done) and
// the missed-in-a-row count. The answers, times and sequence of a finished
// check-in are in the timeline already and nothing reads them here again.
func (c Conversation) MarshalJSON() ([]byte, error) {
	type stored Conversation // without this method
	if c.Active() {
		return json.Marshal(stored(c))
	}
	return json.Marshal(struct {
		ID           string          `json:"id"`
		MissedInARow int             `json:"missed,omitempty"`
		Safety       *SafetyQuestion `json:"safety,omitempty"`
	}{c.ID, c.MissedInARow, c.Safety})
}

// Active reports whether a question awaits an answer.
func (c *Conversation) Active() bool { return c != nil && c.Question != "" }

// Reply is a message for the client produced by the engine.
type Reply struct {
	Text    string
	Buttons []bot.Button
	// Asks marks a question (a reply timeout follows it).
	Asks bool
}

// Outcome is what one step of the engine decided.
type Outcome struct {
	Replies []Reply
	Events  []store.Event
	// Finished holds the score when the questionnaire ended.
	Finished *q.Result
	// Later means the client asked to answer later: the conversation pauses.
	Later bool
}

// ErrNoQuestion means a questionnaire has no question to ask.
var ErrNoQuestion = errors.New("questionnaire has no question")

// Start begins a questionnaire: the first question.
func Start(cat *q.Catalogue, conv *Conversation, questionnaire string, sms bool, now time.Time) (Outcome, error) {
	qn, ok := cat.Lookup(questionnaire)
	if !ok {
		return Outcome{}, fmt.Errorf("unknown questionnaire %q", questionnaire)
	}
	first, ok := qn.NextQuestion(map[string]q.Answer{}, "")
	if !ok {
		return Outcome{}, ErrNoQuestion
	}
	conv.Questionnaire = qn.ID
	conv.Answers = map[string]q.Answer{}
	conv.Started, conv.AskedAt = now, now
	conv.Reasked, conv.Nudged = false, false
	conv.Question = first.ID
	conv.Seq++
	text, buttons := first.Render(conv.Lang, sms)
	return Outcome{
		Replies: []Reply{{Text: text, Buttons: buttons, Asks: true}},
		Events:  []store.Event{{"t", "checkin-started", "conv", conv.ID, "q", qn.ID}},
	}, nil
}

// Answer applies one client reply to the active conversation. A garbage
// reply is asked again once with a hint, then kept as free text.
func Answer(cat *q.Catalogue, conv *Conversation, text string, sms bool, opts q.ScoreOptions, now time.Time) Outcome {
	qn, ok := cat.Lookup(conv.Questionnaire)
	if !ok {
		conv.Question = ""
		return Outcome{Events: []store.Event{{"t", "error", "conv", conv.ID, "detail", "questionnaire no longer exists"}}}
	}
	cur, ok := qn.Question(conv.Question)
	if !ok {
		conv.Question = ""
		return Outcome{}
	}
	if conv.Answers == nil {
		conv.Answers = map[string]q.Answer{}
	}
	ans, err := q.ParseAnswer(cur, conv.Lang, text)
	switch {
	case errors.Is(err, q.ErrLater):
		return Outcome{Later: true, Replies: []Reply{{Text: laterText(conv.Lang)}},
			Events: []store.Event{{"t", "later", "conv", conv.ID, "question", cur.ID}}}
	case err != nil && !conv.Reasked:
		conv.Reasked = true
		return Outcome{Replies: []Reply{{Text: cur.Hint(conv.Lang), Asks: true}},
			Events: []store.Event{{"t", "unparsed", "conv", conv.ID, "question", cur.ID}}}
	case err != nil:
		// Asked twice: keep what they wrote as free text and move on.
		ans = q.Answer{Text: text}
	}
	conv.Reasked = false
	conv.Answers[cur.ID] = ans
	out := Outcome{Events: []store.Event{answerEvent(conv, cur, ans)}}
	if next, ok := qn.NextQuestion(conv.Answers, cur.ID); ok {
		conv.Question = next.ID
		conv.Seq++
		conv.AskedAt = now
		conv.Nudged = false
		t, b := next.Render(conv.Lang, sms)
		out.Replies = append(out.Replies, Reply{Text: t, Buttons: b, Asks: true})
		return out
	}
	res := q.Score(qn, conv.Answers, opts)
	if res.ContinueWith != "" {
		if cont, ok := cat.Lookup(res.ContinueWith); ok {
			carried := q.Carry(qn, conv.Answers, cont)
			if next, ok := cont.NextQuestion(carried, ""); ok {
				out.Events = append(out.Events, scoreEvent(conv, res))
				conv.Questionnaire = cont.ID
				conv.Answers = carried
				conv.Question = next.ID
				conv.Seq++
				conv.AskedAt = now
				conv.Nudged = false
				t, b := next.Render(conv.Lang, sms)
				out.Replies = append(out.Replies, Reply{Text: t, Buttons: b, Asks: true})
				return out
			}
		}
	}
	conv.Question = ""
	conv.MissedInARow = 0
	out.Finished = &res
	out.Events = append(out.Events, scoreEvent(conv, res))
	out.Replies = append(out.Replies, Reply{Text: thanksText(conv.Lang)})
	return out
}

func answerEvent(conv *Conversation, cur q.Question, a q.Answer) store.Event {
	e := store.Event{"t", "answer", "conv", conv.ID, "q", conv.Questionnaire, "question", cur.ID}
	if a.Value != nil {
		e = append(e, "value", fmt.Sprint(*a.Value))
	}
	if a.Code != "" {
		e = append(e, "code", a.Code)
	}
	if a.Text != "" {
		e = append(e, "text", a.Text)
	}
	if a.Skipped {
		e = append(e, "skipped", "1")
	}
	return e
}

func scoreEvent(conv *Conversation, r q.Result) store.Event {
	e := store.Event{"t", "score", "conv", conv.ID, "q", conv.Questionnaire, "instrument", r.Instrument, "risk", r.Risk, "valid", fmt.Sprint(r.Valid)}
	if r.Total != nil {
		e = append(e, "total", fmt.Sprint(*r.Total))
	}
	if r.Band != "" {
		e = append(e, "band", r.Band)
	}
	if len(r.Reasons) > 0 {
		e = append(e, "reasons", strings.Join(r.Reasons, "; "))
	}
	return e
}

func thanksText(lang string) string {
	if lang == "es" {
		return "Gracias. Tus respuestas llegaron a tu administrador de casos."
	}
	return "Thank you. Your answers reached your case manager."
}

func laterText(lang string) string {
	if lang == "es" {
		return "De acuerdo. Te lo volveremos a preguntar más tarde."
	}
	return "OK. We'll ask again a little later."
}

func nudgeText(lang string) string {
	if lang == "es" {
		return "Recordatorio: todavía nos gustaría tu respuesta."
	}
	return "Reminder: we'd still like your answer."
}
