package conversations

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/store"
)

var t0 = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

func TestStart(t *testing.T) {
	cat := q.Builtin()
	conv := &Conversation{ID: "occ1", Lang: "en", Seq: 0, Reasked: true, Nudged: true, MissedInARow: 1,
		Answers: map[string]q.Answer{"old": {Text: "x"}}}
	out, err := Start(cat, conv, "daily-mood", true, t0)
	if err != nil {
		t.Fatal(err)
	}
	if conv.Question != "mood" || conv.Seq != 1 || conv.Reasked || conv.Nudged || len(conv.Answers) != 0 || !conv.AskedAt.Equal(t0) {
		t.Errorf("after Start: %+v", conv)
	}
	if conv.MissedInARow != 1 {
		t.Errorf("Start reset the missed count: %d", conv.MissedInARow)
	}
	if len(out.Replies) != 1 || !out.Replies[0].Asks || !strings.Contains(out.Replies[0].Text, "mood") {
		t.Errorf("replies = %+v; want the first question", out.Replies)
	}
	if len(out.Events) != 1 || out.Events[0][1] != "checkin-started" {
		t.Errorf("events = %v", out.Events)
	}
	if _, err := Start(cat, &Conversation{}, "no-such-thing", true, t0); err == nil {
		t.Error("Start of an unknown questionnaire succeeded")
	}
}

// step is one reply in a conversation and what the engine must make of it.
type step struct {
	text     string
	question string // the question awaiting an answer afterwards ("" finished)
	qn       string // the questionnaire afterwards ("" unchanged)
	reply    string // a reply contains this ("" no reply expected)
	event    string // an event of this type
	later    bool
	risk     string // the finished result's risk ("" not finished)
}

func TestAnswerTransitions(t *testing.T) {
	for _, c := range []struct {
		name, questionnaire, lang string
		steps                     []step
	}{
		{"mood then note", "daily-mood", "en", []step{
			{text: "7", question: "note", reply: "case manager", event: "answer"},
			{text: "feeling ok", question: "", reply: "Thank you", event: "score", risk: q.RiskNone},
		}},
		{"garbage: hint once, then free text", "daily-mood", "en", []step{
			{text: "purple", question: "mood", reply: "Please reply", event: "unparsed"},
			{text: "banana", question: "note", reply: "case manager", event: "answer"},
		}},
		{"skip and later", "daily-mood", "en", []step{
			{text: "SKIP", question: "note", reply: "case manager", event: "answer"},
			{text: "later", question: "note", reply: "ask again", event: "later", later: true},
			{text: "skip", question: "", reply: "Thank you", event: "score", risk: q.RiskNone},
		}},
		{"low mood is a concern", "daily-mood", "en", []step{
			{text: "1", question: "note"},
			{text: "no", question: "", risk: q.RiskConcern},
		}},
		{"spanish words", "daily-mood", "es", []step{
			{text: "siete", question: "note", reply: "administrador", event: "answer"},
			{text: "nada", question: "", reply: "Gracias", risk: q.RiskNone},
		}},
		{"negative PHQ-2 ends", "phq2", "en", []step{
			{text: "1", question: "item2"},
			{text: "1", question: "", reply: "Thank you", risk: q.RiskNone},
		}},
		{"positive PHQ-2 continues with PHQ-9 item 3", "phq2", "en", []step{
			{text: "not at all", question: "item2"},
			{text: "nearly every day", question: "item3", qn: "phq9", reply: "asleep", event: "score"},
			{text: "0", question: "item4"}, {text: "0", question: "item5"}, {text: "0", question: "item6"},
			{text: "0", question: "item7"}, {text: "0", question: "item8"},
			{text: "0", question: "item9", reply: "better off dead"},
			{text: "2", question: "", qn: "phq9", reply: "Thank you", risk: q.RiskCrisis},
		}},
		{"GAD-7 of 14 is a concern", "gad7", "en", []step{
			{text: "2", question: "item2"}, {text: "2", question: "item3"}, {text: "2", question: "item4"},
			{text: "2", question: "item5"}, {text: "2", question: "item6"}, {text: "2", question: "item7"},
			{text: "2", question: "", risk: q.RiskConcern},
		}},
		{"appointment R", "appointment-confirm", "en", []step{
			{text: "r", question: "", reply: "Thank you", risk: q.RiskNone},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cat := q.Builtin()
			conv := &Conversation{ID: "occ1", Lang: c.lang, MissedInARow: 1}
			if _, err := Start(cat, conv, c.questionnaire, true, t0); err != nil {
				t.Fatal(err)
			}
			for i, st := range c.steps {
				seq, before, beforeQn := conv.Seq, conv.Question, conv.Questionnaire
				now := t0.Add(time.Duration(i+1) * time.Minute)
				out := Answer(cat, conv, st.text, true, q.ScoreOptions{}, now)
				if conv.Question != st.question {
					t.Fatalf("step %d %q: question = %q; want %q", i, st.text, conv.Question, st.question)
				}
				if st.qn != "" && conv.Questionnaire != st.qn {
					t.Errorf("step %d: questionnaire = %q; want %q", i, conv.Questionnaire, st.qn)
				}
				if out.Later != st.later {
					t.Errorf("step %d: later = %v", i, out.Later)
				}
				if st.reply != "" && !repliesContain(out.Replies, st.reply) {
					t.Errorf("step %d %q: replies %+v lack %q", i, st.text, out.Replies, st.reply)
				}
				if st.event != "" && !hasEvent(out.Events, st.event) {
					t.Errorf("step %d: events %v lack %q", i, out.Events, st.event)
				}
				newQuestion := conv.Question != "" && (conv.Question != before || conv.Questionnaire != beforeQn)
				switch {
				case newQuestion && (conv.Seq != seq+1 || !conv.AskedAt.Equal(now)):
					t.Errorf("step %d: a new question with Seq %d→%d, asked at %v", i, seq, conv.Seq, conv.AskedAt)
				case !newQuestion && conv.Seq != seq:
					t.Errorf("step %d: Seq moved %d→%d without a new question", i, seq, conv.Seq)
				}
				switch {
				case st.risk == "" && out.Finished != nil:
					t.Errorf("step %d: finished early: %+v", i, out.Finished)
				case st.risk != "" && out.Finished == nil:
					t.Errorf("step %d: not finished", i)
				case st.risk != "" && out.Finished.Risk != st.risk:
					t.Errorf("step %d: risk = %q; want %q (%v)", i, out.Finished.Risk, st.risk, out.Finished.Reasons)
				case st.risk != "" && conv.MissedInARow != 0:
					t.Errorf("step %d: a finished check-in kept the missed count %d", i, conv.MissedInARow)
				}
			}
		})
	}
}

// The answers of a PHQ-2 are carried into the PHQ-9 and scored there.
func TestAnswerCarriesPHQ2IntoPHQ9(t *testing.T) {
	cat := q.Builtin()
	conv := &Conversation{ID: "occ1", Lang: "en"}
	if _, err := Start(cat, conv, "phq2", true, t0); err != nil {
		t.Fatal(err)
	}
	Answer(cat, conv, "2", true, q.ScoreOptions{}, t0)
	Answer(cat, conv, "2", true, q.ScoreOptions{}, t0)
	for _, item := range []string{"item1", "item2"} {
		if a := conv.Answers[item]; a.Value == nil || *a.Value != 2 {
			t.Errorf("%s not carried into the PHQ-9: %+v", item, conv.Answers)
		}
	}
	var out Outcome
	for range 7 {
		out = Answer(cat, conv, "1", true, q.ScoreOptions{}, t0)
	}
	if out.Finished == nil || out.Finished.Instrument != q.InstrumentPHQ9 || out.Finished.Total == nil || *out.Finished.Total != 11 {
		t.Fatalf("PHQ-9 result = %+v; want total 11", out.Finished)
	}
	if out.Finished.Risk != q.RiskCrisis {
		t.Errorf("item 9 = 1 risk = %q; want crisis", out.Finished.Risk)
	}
}

func TestAnswerWithoutQuestionnaireEnds(t *testing.T) {
	cat := q.Builtin()
	conv := &Conversation{ID: "occ1", Lang: "en", Questionnaire: "gone", Question: "q1"}
	out := Answer(cat, conv, "7", true, q.ScoreOptions{}, t0)
	if conv.Active() || !hasEvent(out.Events, "error") {
		t.Errorf("conversation of a deleted questionnaire: %+v, %v", conv, out.Events)
	}
	conv = &Conversation{ID: "occ1", Lang: "en", Questionnaire: "daily-mood", Question: "nope"}
	Answer(cat, conv, "7", true, q.ScoreOptions{}, t0)
	if conv.Active() {
		t.Errorf("conversation on an unknown question stayed active: %+v", conv)
	}
}

func repliesContain(rs []Reply, sub string) bool {
	for _, r := range rs {
		if strings.Contains(strings.ToLower(r.Text), strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

func hasEvent(es []store.Event, typ string) bool {
	for _, e := range es {
		if len(e) > 1 && e[0] == "t" && e[1] == typ {
			return true
		}
	}
	return false
}

// Between check-ins the stored conversation is its id and missed count only:
// what a repeated occurrence and the missed rule need; an active one is whole.
func TestIdleConversationStoredSmall(t *testing.T) {
	idle := Conversation{ID: "occ1", Questionnaire: "daily-mood", Seq: 2, Lang: "en", MissedInARow: 1,
		Answers: map[string]q.Answer{"note": {Text: "went for a walk"}}, Started: time.Now(), AskedAt: time.Now()}
	raw, err := json.Marshal(&idle)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"id":"occ1","missed":1}` {
		t.Errorf("idle conversation stored as %s; want {\"id\":\"occ1\",\"missed\":1}", raw)
	}
	var back Conversation
	if err := json.Unmarshal(raw, &back); err != nil || back.ID != "occ1" || back.MissedInARow != 1 || back.Active() {
		t.Errorf("read back = %+v, %v; want occ1, 1 missed, not active", back, err)
	}
	active := idle
	active.Question = "note"
	raw, _ = json.Marshal(active)
	var whole Conversation
	if err := json.Unmarshal(raw, &whole); err != nil || whole.Question != "note" || whole.Seq != 2 || whole.Answers["note"].Text != "went for a walk" {
		t.Errorf("active conversation read back = %+v, %v; want it whole", whole, err)
	}
}
