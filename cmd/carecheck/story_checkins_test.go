package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// Helpers shared by the check-in and escalation stories.

// clientAt seeds one more SMS client of the case manager z.cm (consent
// given unless consent is false).
func (s *stack) clientAt(z seeded, name, phone, lang string, consent bool) string {
	s.t.Helper()
	body := map[string]any{
		"name": name, "phone": phone, "channel": "sms", "timezone": "America/Chicago", "case_manager_id": z.cm, "language": lang,
	}
	if consent {
		body["consent"] = map[string]any{"at": "2026-11-01T15:00:00Z", "method": "written"}
	}
	return s.mustFn(s.api("POST", "/v1/clients", z.key, body))(201)["id"].(string)
}

// entry is one timeline entry as the API shows it.
type entry struct {
	Type   string
	Fields map[string]string
}

// timeline reads a client's whole timeline through the API.
func (s *stack) timeline(key, client string) []entry {
	s.t.Helper()
	out := s.mustFn(s.api("GET", "/v1/clients/"+client+"/responses?limit=200", key, nil))(200)
	var list []entry
	for _, raw := range out["responses"].([]any) {
		m := raw.(map[string]any)
		e := entry{Type: m["type"].(string), Fields: map[string]string{}}
		if f, ok := m["fields"].(map[string]any); ok {
			for k, v := range f {
				e.Fields[k], _ = v.(string)
			}
		}
		list = append(list, e)
	}
	return list
}

// expectEntry waits up to storyWait for a timeline entry of type typ whose
// fields include want.
func (s *stack) expectEntry(key, client, typ string, want map[string]string) entry {
	s.t.Helper()
	deadline := time.Now().Add(storyWait)
	for {
		tl := s.timeline(key, client)
		for _, e := range tl {
			if e.Type == typ && hasFields(e, want) {
				return e
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q entry with %v in the timeline within %v; timeline: %v", typ, want, storyWait, tl)
		}
		time.Sleep(20 * time.Millisecond) // polling the API for the worker's result
	}
}

// countEntries counts timeline entries of a type whose fields include want.
func (s *stack) countEntries(key, client, typ string, want map[string]string) int {
	s.t.Helper()
	n := 0
	for _, e := range s.timeline(key, client) {
		if e.Type == typ && hasFields(e, want) {
			n++
		}
	}
	return n
}

func hasFields(e entry, want map[string]string) bool {
	for k, v := range want {
		if !strings.Contains(e.Fields[k], v) {
			return false
		}
	}
	return true
}

// mark notes how many SMS went out so far; nextSMS waits for a new one.
func (s *stack) mark() int { return len(s.twilio.Messages()) }

// nextSMS waits up to storyWait for a message to a phone, sent after mark,
// that satisfies pred.
func (s *stack) nextSMS(mark int, to string, pred func(string) bool) twiliotest.Message {
	s.t.Helper()
	seen := map[string]bool{}
	for _, m := range s.twilio.Messages()[:mark] {
		seen[m.SID] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), storyWait)
	defer cancel()
	m, err := s.twilio.WaitFor(ctx, func(m twiliotest.Message) bool { return !seen[m.SID] && m.To == to && pred(m.Body) })
	if err != nil {
		s.t.Fatalf("no new matching SMS to %s within %v; sent since the mark: %v", to, storyWait, s.bodiesSince(mark, to))
	}
	return m
}

// bodiesSince lists the texts sent to a phone after mark.
func (s *stack) bodiesSince(mark int, to string) []string {
	var out []string
	for _, m := range s.twilio.Messages()[mark:] {
		if m.To == to {
			out = append(out, m.Body)
		}
	}
	return out
}

// quiet settles and fails if anything was sent to the phones after mark.
func (s *stack) quiet(mark int, what string, phones ...string) {
	s.t.Helper()
	s.settle()
	for _, p := range phones {
		if got := s.bodiesSince(mark, p); len(got) > 0 {
			s.t.Errorf("%s: %s got %q", what, p, got)
		}
	}
}

// answer sends an SMS from a phone and waits for the next reply to it.
func (s *stack) answer(from, text string, pred func(string) bool) string {
	s.t.Helper()
	m := s.mark()
	if code, _ := s.sms(from, text); code != 200 {
		s.t.Fatalf("webhook for %q = %d", text, code)
	}
	return s.nextSMS(m, from, pred).Body
}

// tgDeliver posts a Telegram update to the webhook as Telegram would.
func (s *stack) tgDeliver(update []byte) {
	s.t.Helper()
	s.used.fromUpdate(update)
	resp, err := s.tg.Deliver(context.Background(), s.url+"/webhooks/telegram", tgSecret, update)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("telegram webhook = %d", resp.StatusCode)
	}
}

// expectTG waits up to storyWait for a Telegram message to a chat.
func (s *stack) expectTG(chat int64, pred func(telegramtest.Message) bool) telegramtest.Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), storyWait)
	defer cancel()
	m, err := s.tg.WaitFor(ctx, func(m telegramtest.Message) bool { return m.ChatID == chat && pred(m) })
	if err != nil {
		var got []string
		for _, m := range s.tg.Sent() {
			if m.ChatID == chat {
				got = append(got, m.Text)
			}
		}
		s.t.Fatalf("no matching Telegram message to chat %d within %v; sent: %q", chat, storyWait, got)
	}
	return m
}

// linkStaffTelegram links a case manager to a Telegram chat with /start <code>.
func (s *stack) linkStaffTelegram(key, cm string, chat int64) {
	s.t.Helper()
	code := s.mustFn(s.api("POST", "/v1/case-managers/"+cm+"/telegram-link", key, nil))(201)["code"].(string)
	s.tgDeliver(telegramtest.TextUpdate(s.seq.Add(1), chat, "Staff", "/start "+code))
	s.expectTG(chat, func(m telegramtest.Message) bool { return strings.Contains(m.Text, "connected") })
}

// chicago is the clients' zone; at builds a local time there.
var chicago = mustZone("America/Chicago")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// jumpTo moves the fake clock forward to a local time in Chicago.
func (s *stack) jumpTo(t time.Time) {
	s.t.Helper()
	d := t.Sub(s.clock.Now())
	if d < 0 {
		s.t.Fatalf("jumpTo %v: the clock is already at %v", t, s.clock.Now().In(chicago))
	}
	s.clock.Jump(d)
}

func contains(sub string) func(string) bool {
	return func(b string) bool { return strings.Contains(strings.ToLower(b), strings.ToLower(sub)) }
}

func anything(string) bool { return true }

var moodQ = contains("mood today")

// nudge matches a reminder that repeats the question it is about.
func nudge(question string) func(string) bool {
	return func(body string) bool {
		return strings.Contains(body, "still like your answer") && strings.Contains(body, question)
	}
}

// ---------------------------------------------------------------- stories

// A daily 10:00 schedule fires at 10:00, once; the next day again; the
// preview shows local and UTC times.
func TestStoryScheduleFiresOncePerOccurrence(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	sc := s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/schedules", z.key, map[string]any{
		"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "start": "2026-11-24T08:00:00-06:00",
	}))(201)
	sid := sc["id"].(string)

	up := s.mustFn(s.api("GET", "/v1/clients/"+z.client+"/schedules/"+sid+"/upcoming?n=5", z.key, nil))(200)
	list := up["upcoming"].([]any)
	if len(list) != 5 {
		t.Fatalf("upcoming = %v; want 5", list)
	}
	first := list[0].(map[string]any)
	if first["local"] != "2026-11-24T10:00:00-06:00" || first["utc"] != "2026-11-24T16:00:00Z" {
		t.Errorf("first upcoming = %v; want 10:00 local = 16:00 UTC", first)
	}
	if last := list[4].(map[string]any); last["local"] != "2026-11-28T10:00:00-06:00" {
		t.Errorf("fifth upcoming = %v; want 2026-11-28 10:00 local", last)
	}

	// 09:59: nothing yet.
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 9, 59, 0, 0, chicago))
	s.quiet(m, "before the due time", clientPhone)

	// 10:00: the first question, once.
	s.jumpTo(time.Date(2026, 11, 24, 10, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, moodQ)
	s.answer(clientPhone, "7", contains("case manager"))
	s.answer(clientPhone, "no", contains("thank you"))

	// Later the same day: nothing more.
	m = s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 15, 0, 0, 0, chicago))
	s.quiet(m, "later the same day", clientPhone)
	if n := s.countEntries(z.key, z.client, "checkin-started", nil); n != 1 {
		t.Errorf("check-ins started on day one = %d; want 1", n)
	}

	// The next day at 10:00: again.
	s.jumpTo(time.Date(2026, 11, 25, 10, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, moodQ)
	s.settle()
	if got := s.bodiesSince(m, clientPhone); len(got) != 1 {
		t.Errorf("day two sent %q; want the one question", got)
	}

	// The preview across a DST change: the local time stays 10:00, UTC moves.
	sc2 := s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/schedules", z.key, map[string]any{
		"questionnaire": "medication", "rrule": "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "start": "2027-03-13T08:00:00-06:00", "paused": true,
	}))(201)
	up = s.mustFn(s.api("GET", "/v1/clients/"+z.client+"/schedules/"+sc2["id"].(string)+"/upcoming?n=2", z.key, nil))(200)
	got := fmt.Sprint(up["upcoming"])
	for _, w := range []string{"2027-03-13T10:00:00-06:00", "2027-03-13T16:00:00Z", "2027-03-14T10:00:00-05:00", "2027-03-14T15:00:00Z"} {
		if !strings.Contains(got, w) {
			t.Errorf("upcoming across DST lacks %s: %s", w, got)
		}
	}
}

// An occurrence at 22:15 client time waits for the end of quiet hours.
func TestStoryQuietHoursDeferOccurrence(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/schedules", z.key, map[string]any{
		"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=22;BYMINUTE=15", "start": "2026-11-24T08:00:00-06:00",
	}))(201)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 22, 16, 0, 0, chicago))
	s.quiet(m, "at 22:16", clientPhone)
	s.jumpTo(time.Date(2026, 11, 25, 7, 59, 0, 0, chicago))
	s.quiet(m, "at 07:59", clientPhone)
	s.jumpTo(time.Date(2026, 11, 25, 8, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, moodQ)
}

// The service was down at the due time: more than an hour late, the
// occurrence is recorded as skipped, not sent.
func TestStoryLateOccurrenceIsSkipped(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/schedules", z.key, map[string]any{
		"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "start": "2026-11-24T08:00:00-06:00",
	}))(201)
	m := s.mark()
	// Due at 10:00; the mover first runs at 12:00.
	s.jumpTo(time.Date(2026, 11, 24, 12, 0, 0, 0, chicago))
	s.expectEntry(z.key, z.client, "skipped", map[string]string{"reason": "late", "occ": "2026-11-24:1000"})
	s.quiet(m, "a late occurrence", clientPhone)
	// The next day's occurrence is planned and goes out on time.
	s.jumpTo(time.Date(2026, 11, 25, 10, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, moodQ)
}

// Answers: a number is stored and the next question follows; garbage is
// asked again once with a hint, then kept as free text; SKIP and LATER.
func TestStoryAnswersGarbageSkipLater(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.expectSMS(clientPhone, moodQ)

	// Garbage: the hint, once.
	hint := s.answer(clientPhone, "purple", contains("please reply"))
	if !strings.Contains(hint, "0") || !strings.Contains(hint, "10") {
		t.Errorf("hint does not say the range: %q", hint)
	}
	// Garbage again: kept as free text, and the next question.
	s.answer(clientPhone, "banana", contains("case manager"))
	s.expectEntry(z.key, z.client, "answer", map[string]string{"question": "mood", "text": "banana"})
	// SKIP the optional note: thanks.
	s.answer(clientPhone, "SKIP", contains("thank you"))
	s.expectEntry(z.key, z.client, "answer", map[string]string{"question": "note", "skipped": "1"})

	// A second check-in: SKIP a scale question moves on; LATER pauses.
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "phq2"}))(202)
	s.expectSMS(clientPhone, contains("little interest"))
	s.answer(clientPhone, "skip", contains("feeling down"))
	s.expectEntry(z.key, z.client, "answer", map[string]string{"q": "phq2", "question": "item1", "skipped": "1"})
	s.answer(clientPhone, "later", contains("ask again"))
	s.expectEntry(z.key, z.client, "later", map[string]string{"question": "item2"})
	// Four hours on, one nudge; the answer is then taken.
	m := s.mark()
	s.clock.Jump(4*time.Hour + time.Second)
	s.nextSMS(m, clientPhone, nudge("feeling down"))
	// One item skipped: the screen cannot be ruled negative, the PHQ-9 goes on.
	s.answer(clientPhone, "1", contains("trouble falling"))
	s.expectEntry(z.key, z.client, "answer", map[string]string{"q": "phq2", "question": "item2", "value": "1"})
}

// A Spanish-speaking client answers in words.
func TestStorySpanishAnswer(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	const phone = "+13125550155"
	cl := s.clientAt(z, "Lucía Pérez", phone, "es", true)
	s.mustFn(s.api("POST", "/v1/clients/"+cl+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.expectSMS(phone, contains("animo"))
	s.answer(phone, "siete", contains("administrador"))
	s.expectEntry(z.key, cl, "answer", map[string]string{"question": "mood", "value": "7"})
	s.answer(phone, "nada, gracias", contains("gracias"))
}

// PHQ-2 ≥ 3 continues into PHQ-9 items 3–9; item 9 > 0 is a crisis even
// though the total is minimal: the safety reply and an alert.
func TestStoryPHQ2ContinuesAndItem9IsCrisis(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "phq2"}))(202)
	s.expectSMS(clientPhone, contains("little interest"))
	s.answer(clientPhone, "1", contains("feeling down"))
	// 1 + 2 = 3: the PHQ-9 goes on with item 3, not item 1 again.
	next := s.answer(clientPhone, "2", anything)
	if !strings.Contains(next, "trouble falling") {
		t.Fatalf("after a positive PHQ-2 the client got %q; want PHQ-9 item 3", next)
	}
	for _, want := range []string{"tired", "appetite", "bad about yourself", "concentrating", "slowly", "better off dead"} {
		s.answer(clientPhone, "0", contains(want))
	}
	m := s.mark()
	s.sms(clientPhone, "1") // item 9: several days
	safety := s.nextSMS(m, clientPhone, contains("988"))
	if !strings.Contains(safety.Body, "911") {
		t.Errorf("safety reply lacks 911: %q", safety.Body)
	}
	alert := s.nextSMS(m, cmPhone, func(b string) bool { return ackCode.MatchString(b) })
	if !strings.Contains(alert.Body, "URGENT") || !strings.Contains(alert.Body, "item 9") {
		t.Errorf("alert = %q; want urgent, why: PHQ-9 item 9", alert.Body)
	}
	s.expectEntry(z.key, z.client, "score", map[string]string{"instrument": "phq9", "total": "4", "band": "minimal", "risk": "crisis"})
	_, list := s.api("GET", "/v1/escalations?status=open", z.key, nil)
	if escs := list["escalations"].([]any); len(escs) != 1 || escs[0].(map[string]any)["level"] != "crisis" {
		t.Errorf("open escalations = %v; want one crisis", escs)
	}
}

// GAD-7 ≥ 10 is a concern: low urgency, so at 22:00 the case manager is
// not alerted; the alert waits for 09:00.
func TestStoryGAD7ConcernWaitsForWorkingHours(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.jumpTo(time.Date(2026, 11, 24, 22, 0, 0, 0, chicago))
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "gad7"}))(202)
	s.expectSMS(clientPhone, contains("nervous"))
	for _, want := range []string{"stop or control", "too much", "relaxing", "restless", "annoyed", "afraid"} {
		s.answer(clientPhone, "2", contains(want))
	}
	m := s.mark()
	s.answer(clientPhone, "2", contains("thank you"))
	s.expectEntry(z.key, z.client, "score", map[string]string{"instrument": "gad7", "total": "14", "risk": "concern"})
	s.quiet(m, "a concern at 22:00", cmPhone, backupPhone)
	if got := s.bodiesSince(m, clientPhone); len(got) != 1 {
		t.Errorf("the client got %q; want only the thanks (no safety reply for a concern)", got)
	}
	s.jumpTo(time.Date(2026, 11, 25, 8, 59, 0, 0, chicago))
	s.quiet(m, "a concern at 08:59", cmPhone)
	s.jumpTo(time.Date(2026, 11, 25, 9, 0, 1, 0, chicago))
	alert := s.nextSMS(m, cmPhone, contains("please check on"))
	open := s.openEscalations(z.key)
	if len(open) != 1 {
		t.Fatalf("open escalations = %v", open)
	}
	if a := audit(s.escalation(z.key, open[0]["id"].(string))); fmt.Sprint(a) != "[opened alert held alert sent]" {
		t.Errorf("audit = %v; want opened, alert held, alert sent", a)
	}
	if strings.Contains(alert.Body, "URGENT") || !ackCode.MatchString(alert.Body) || !strings.Contains(alert.Body, "GAD-7") {
		t.Errorf("concern alert = %q", alert.Body)
	}
	// The client's id is random and may hold "14" itself.
	if body := strings.ReplaceAll(alert.Body, z.client, ""); strings.Contains(body, "14") || strings.Contains(body, "moderate") {
		t.Errorf("concern alert carries the score: %q", alert.Body)
	}
	// No climbing: the backup hears nothing, whatever the time.
	s.clock.Jump(2 * time.Hour)
	s.quiet(m, "a concern", backupPhone)
}

// No reply: one nudge after the window (4 h), then missed; the second miss
// in a row tells the case manager (a concern).
func TestStoryMissedCheckins(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.expectSMS(clientPhone, moodQ)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 12, 59, 0, 0, chicago))
	s.quiet(m, "within the reply window", clientPhone)
	s.jumpTo(time.Date(2026, 11, 24, 13, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, nudge("mood today"))
	s.jumpTo(time.Date(2026, 11, 24, 17, 0, 2, 0, chicago))
	s.expectEntry(z.key, z.client, "missed", map[string]string{"in_a_row": "1"})
	s.quiet(m+1, "one missed check-in", clientPhone, cmPhone)

	// The next morning, the second check-in is missed too.
	s.jumpTo(time.Date(2026, 11, 25, 8, 0, 0, 0, chicago))
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "medication"}))(202)
	s.nextSMS(m, clientPhone, contains("medication"))
	m2 := s.mark()
	s.jumpTo(time.Date(2026, 11, 25, 12, 0, 1, 0, chicago))
	s.nextSMS(m2, clientPhone, nudge("medication"))
	s.jumpTo(time.Date(2026, 11, 25, 16, 0, 2, 0, chicago))
	s.expectEntry(z.key, z.client, "missed", map[string]string{"in_a_row": "2"})
	alert := s.nextSMS(m, cmPhone, contains("please check on"))
	if !strings.Contains(alert.Body, "2 missed check-ins") || !ackCode.MatchString(alert.Body) {
		t.Errorf("missed check-ins alert = %q", alert.Body)
	}
}

// The nudge is a routine message: due in the night, it waits for 08:00.
func TestStoryNudgeWaitsOutQuietHours(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.jumpTo(time.Date(2026, 11, 24, 18, 0, 0, 0, chicago))
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.expectSMS(clientPhone, moodQ)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 22, 0, 1, 0, chicago))
	s.quiet(m, "a nudge due at 22:00", clientPhone)
	s.jumpTo(time.Date(2026, 11, 25, 8, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, nudge("mood today"))
	// The answer is still taken after the night.
	s.answer(clientPhone, "6", contains("case manager"))
}

// A timeout for a question already answered does nothing.
func TestStoryStaleTimeoutDoesNothing(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.expectSMS(clientPhone, moodQ)
	s.answer(clientPhone, "8", contains("case manager"))
	s.answer(clientPhone, "all good", contains("thank you"))
	m := s.mark()
	s.clock.Jump(4*time.Hour + time.Second)
	s.settle()
	s.clock.Jump(4*time.Hour + time.Second)
	s.quiet(m, "timeouts of answered questions", clientPhone, cmPhone)
	for _, typ := range []string{"nudged", "missed"} {
		if n := s.countEntries(z.key, z.client, typ, nil); n != 0 {
			t.Errorf("timeline has %d %q entries for an answered check-in", n, typ)
		}
	}
}

// appointmentStatus reads an appointment's status through the API.
func (s *stack) appointmentStatus(key, client, id string) string {
	s.t.Helper()
	out := s.mustFn(s.api("GET", "/v1/clients/"+client+"/appointments", key, nil))(200)
	for _, raw := range out["appointments"].([]any) {
		if a := raw.(map[string]any); a["id"] == id {
			return a["status"].(string)
		}
	}
	s.t.Fatalf("appointment %s not listed", id)
	return ""
}

func (s *stack) expectAppointmentStatus(key, client, id, want string) {
	s.t.Helper()
	deadline := time.Now().Add(storyWait)
	for s.appointmentStatus(key, client, id) != want {
		if time.Now().After(deadline) {
			s.t.Fatalf("appointment status = %q; want %q", s.appointmentStatus(key, client, id), want)
		}
		time.Sleep(20 * time.Millisecond) // polling the API for the worker's result
	}
}

// privateReminder fails when a reminder lacks time, place or whom, or
// carries anything clinical or the agency's (programme's) name.
func privateReminder(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("reminder lacks %q: %q", w, body)
		}
	}
	lower := strings.ToLower(body)
	for _, bad := range []string{"diagnos", "depress", "anxiety", "mental", "psychiat", "therap", "phq", "crisis", "988", "northside", "cmh"} {
		if strings.Contains(lower, bad) {
			t.Errorf("reminder carries %q: %q", bad, body)
		}
	}
}

// Reminders go out 24 h and 2 h before, with time, place and whom; C
// confirms; R asks to reschedule and the case manager is told.
func TestStoryAppointmentReminders(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	ap := s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/appointments", z.key, map[string]any{
		"at": "2026-11-25T15:00:00-06:00", "with": "Dr. Lee", "location": "Clinic A", "reminders": []string{"24h", "2h"},
	}))(201)
	id := ap["id"].(string)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 14, 59, 0, 0, chicago))
	s.quiet(m, "before the 24h reminder", clientPhone)
	s.jumpTo(time.Date(2026, 11, 24, 15, 0, 1, 0, chicago))
	r24 := s.nextSMS(m, clientPhone, contains("Dr. Lee"))
	privateReminder(t, r24.Body, "Dr. Lee", "Clinic A", "Wed Nov 25", "3:00 PM", "C", "R")
	s.answer(clientPhone, "C", contains("thank you"))
	s.expectAppointmentStatus(z.key, z.client, id, "confirmed")

	m = s.mark()
	s.jumpTo(time.Date(2026, 11, 25, 13, 0, 1, 0, chicago))
	r2 := s.nextSMS(m, clientPhone, contains("Dr. Lee"))
	privateReminder(t, r2.Body, "Dr. Lee", "Clinic A", "3:00 PM")
	s.sms(clientPhone, "R")
	told := s.nextSMS(m, cmPhone, contains("reschedule"))
	if strings.Contains(told.Body, clientName) {
		t.Errorf("the case manager's note names the client in full: %q", told.Body)
	}
	s.expectAppointmentStatus(z.key, z.client, id, "reschedule-requested")
	s.settle()
	if got := s.bodiesSince(m, clientPhone); len(got) != 2 {
		t.Errorf("client got %q; want the 2h reminder and a thank-you", got)
	}
}

// Moving an appointment drops the reminders of the old time; cancelling it
// drops them all.
func TestStoryAppointmentMovedAndCancelled(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	ap := s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/appointments", z.key, map[string]any{
		"at": "2026-11-25T15:00:00-06:00", "with": "Dr. Lee", "location": "Clinic A", "reminders": []string{"24h", "2h"},
	}))(201)
	path := "/v1/clients/" + z.client + "/appointments/" + ap["id"].(string)
	s.mustFn(s.api("PATCH", path, z.key, map[string]any{"at": "2026-11-26T17:00:00-06:00"}))(200)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 15, 0, 1, 0, chicago))
	s.quiet(m, "the old 24h reminder", clientPhone)
	s.jumpTo(time.Date(2026, 11, 25, 13, 0, 1, 0, chicago))
	s.quiet(m, "the old 2h reminder", clientPhone)
	s.jumpTo(time.Date(2026, 11, 25, 17, 0, 1, 0, chicago))
	r := s.nextSMS(m, clientPhone, contains("Dr. Lee"))
	privateReminder(t, r.Body, "Thu Nov 26", "5:00 PM")

	// Cancelled: the 2h reminder never goes.
	s.mustFn(s.api("PATCH", path, z.key, map[string]any{"status": "cancelled"}))(200)
	m = s.mark()
	s.jumpTo(time.Date(2026, 11, 26, 15, 0, 1, 0, chicago))
	s.quiet(m, "a cancelled appointment", clientPhone)
	if st := s.appointmentStatus(z.key, z.client, ap["id"].(string)); st != "cancelled" {
		t.Errorf("status = %q; want cancelled", st)
	}
}

// A reminder due in the night waits for 08:00; an unanswered confirmation
// does not block the next check-in.
func TestStoryReminderQuietHoursAndUnansweredConfirmation(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	// 09:00 Thursday, 2h before: 07:00, in quiet hours: sent at 08:00.
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/appointments", z.key, map[string]any{
		"at": "2026-11-26T09:00:00-06:00", "with": "Dr. Lee", "reminders": []string{"2h"},
	}))(201)
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/schedules", z.key, map[string]any{
		"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=8;BYMINUTE=30", "start": "2026-11-26T00:00:00-06:00",
	}))(201)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 26, 7, 0, 1, 0, chicago))
	s.quiet(m, "a reminder due at 07:00", clientPhone)
	s.jumpTo(time.Date(2026, 11, 26, 8, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, contains("Dr. Lee"))
	// No answer to the reminder; the 08:30 check-in still goes out.
	s.jumpTo(time.Date(2026, 11, 26, 8, 30, 1, 0, chicago))
	s.nextSMS(m, clientPhone, moodQ)
	s.answer(clientPhone, "5", contains("case manager"))
}

// No routine message without consent, after STOP, to a paused or a
// discharged client: the timeline says "skipped" and why.
func TestStoryNoMessageWithoutConsentOrWhenStopped(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	noConsent := s.clientAt(z, "Nadia Noconsent", "+13125550144", "en", false)
	paused := s.clientAt(z, "Paul Paused", "+13125550145", "en", true)
	gone := s.clientAt(z, "Dora Discharged", "+13125550146", "en", true)
	phones := map[string]string{z.client: clientPhone, noConsent: "+13125550144", paused: "+13125550145", gone: "+13125550146"}

	s.sms(clientPhone, "STOP")
	s.expectSMS(clientPhone, contains("no more messages"))
	s.mustFn(s.api("PATCH", "/v1/clients/"+paused, z.key, map[string]any{"status": "paused"}))(200)
	s.mustFn(s.api("DELETE", "/v1/clients/"+gone, z.key, nil))(200)
	for id := range phones {
		s.mustFn(s.api("POST", "/v1/clients/"+id+"/schedules", z.key, map[string]any{
			"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "start": "2026-11-24T08:00:00-06:00",
		}))(201)
		want := 201
		if id == gone {
			want = 409 // no appointments are booked for a discharged client
		}
		s.mustFn(s.api("POST", "/v1/clients/"+id+"/appointments", z.key, map[string]any{
			"at": "2026-11-25T15:00:00-06:00", "with": "Dr. Lee", "reminders": []string{"24h"},
		}))(want)
	}
	out := s.mustFn(s.api("POST", "/v1/clients/"+noConsent+"/checkins", z.key, map[string]any{"questionnaire": "medication"}))(202)
	if !strings.Contains(fmt.Sprint(out["status"]), "skipped") {
		t.Errorf("starting a check-in for a client without consent says %v; want it to say it will be skipped", out["status"])
	}
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 10, 0, 1, 0, chicago))
	s.jumpTo(time.Date(2026, 11, 24, 15, 0, 1, 0, chicago))
	reasons := map[string]string{z.client: "opted out", noConsent: "no recorded consent", paused: "paused", gone: "discharged"}
	for id, why := range reasons {
		if id != gone { // a discharged client's schedule is not even planned
			s.expectEntry(z.key, id, "skipped", map[string]string{"reason": why, "occ": ":2026-11-24:1000"})
		}
		if id != gone {
			s.expectEntry(z.key, id, "skipped", map[string]string{"reason": why, "occ": "T2100Z:24h"})
		}
	}
	s.expectEntry(z.key, noConsent, "skipped", map[string]string{"reason": "no recorded consent", "q": "medication"})
	for _, p := range phones {
		s.quiet(m, "a client who may not be messaged", p)
	}
}

// A mood 4 or more below the client's own 7-day median is a concern, even
// when it is not low in itself.
func TestStoryMoodDropIsConcern(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	day := func(d int) time.Time { return time.Date(2026, 11, 24+d, 10, 0, 0, 0, chicago) }
	for d, mood := range []string{"8", "9", "8"} {
		s.jumpTo(day(d))
		m := s.mark() // before the request: the question can go out before it answers
		s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
		s.nextSMS(m, clientPhone, moodQ)
		s.answer(clientPhone, mood, contains("case manager"))
		s.answer(clientPhone, "no", contains("thank you"))
	}
	m := s.mark()
	s.jumpTo(day(3))
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.nextSMS(m, clientPhone, moodQ)
	s.answer(clientPhone, "4", contains("case manager"))
	s.answer(clientPhone, "no", contains("thank you"))
	s.expectEntry(z.key, z.client, "score", map[string]string{"total": "4", "risk": "concern", "reasons": "median 8"})
	alert := s.nextSMS(m, cmPhone, contains("please check on"))
	if !strings.Contains(alert.Body, "mood drop") || strings.Contains(alert.Body, "median") {
		t.Errorf("alert = %q; want the flag (mood drop), not the scores", alert.Body)
	}
}

// "Yes." with a full stop answers a yes/no question (it is also a START
// keyword, which means something only to someone opted out).
func TestStoryYesWithPunctuationAnswers(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "medication"}))(202)
	s.expectSMS(clientPhone, contains("medication"))
	s.answer(clientPhone, "Yes.", contains("thank you"))
	s.expectEntry(z.key, z.client, "answer", map[string]string{"question": "taken", "code": "yes"})
}

// A concern raised at night and acknowledged in the console before the
// case manager's working hours begin: no alert goes out at 09:00.
func TestStoryHeldConcernAcknowledgedEarlyIsNotSent(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.jumpTo(time.Date(2026, 11, 24, 22, 0, 0, 0, chicago))
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.expectSMS(clientPhone, moodQ)
	s.answer(clientPhone, "1", contains("case manager"))
	s.answer(clientPhone, "no", contains("thank you"))
	s.expectEntry(z.key, z.client, "score", map[string]string{"total": "1", "risk": "concern"})
	var id string
	for _, e := range s.openEscalations(z.key) {
		id = e["id"].(string)
	}
	if id == "" {
		t.Fatal("no open concern")
	}
	if a := audit(s.escalation(z.key, id)); count(a, "alert held") != 1 || count(a, "alert sent") != 0 {
		t.Errorf("audit = %v; want the alert held, not sent", a)
	}
	s.jumpTo(time.Date(2026, 11, 25, 7, 30, 0, 0, chicago))
	s.mustFn(s.api("POST", "/v1/escalations/"+id+"/ack", z.key, map[string]any{"by": z.cm}))(200)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 25, 9, 0, 1, 0, chicago))
	s.quiet(m, "a concern acknowledged before working hours", cmPhone)
}

// Pausing a schedule stops the occurrence already planned; resuming plans
// the next one.
func TestStoryPausedScheduleDoesNotFire(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	sc := s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/schedules", z.key, map[string]any{
		"questionnaire": "daily-mood", "rrule": "FREQ=DAILY;BYHOUR=10;BYMINUTE=0", "start": "2026-11-24T08:00:00-06:00",
	}))(201)
	path := "/v1/clients/" + z.client + "/schedules/" + sc["id"].(string)
	s.mustFn(s.api("PATCH", path, z.key, map[string]any{"paused": true}))(200)
	m := s.mark()
	s.jumpTo(time.Date(2026, 11, 24, 10, 0, 1, 0, chicago))
	s.expectEntry(z.key, z.client, "skipped", map[string]string{"reason": "schedule paused"})
	s.quiet(m, "a paused schedule", clientPhone)
	s.mustFn(s.api("PATCH", path, z.key, map[string]any{"paused": false}))(200)
	s.jumpTo(time.Date(2026, 11, 25, 10, 0, 1, 0, chicago))
	s.nextSMS(m, clientPhone, moodQ)
}
