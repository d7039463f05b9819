package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
)

var ackCode = regexp.MustCompile(`ACK (\d+)`)

// A client in crisis writes at night; the safety reply and the alert go out
// at once; nobody answers, so the backup is alerted; the backup acknowledges
// by SMS.
func TestStoryCrisisClimbsToBackupUntilAcknowledged(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("PUT", "/v1/agency/escalation-policy", z.key, map[string]any{
		"steps": []map[string]any{{"notify": "assigned", "wait": "10m"}, {"notify": "backup", "wait": "10m"}}, "repeat": 1,
	}))(200)

	code, sid := s.sms(clientPhone, "I took all my pills tonight")
	if code != 200 {
		t.Fatalf("crisis webhook = %d; want 200", code)
	}
	safety := s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(b, "988") })
	if !strings.Contains(safety.Body, "911") {
		t.Errorf("safety reply lacks 911: %q", safety.Body)
	}
	alert := s.expectSMS(cmPhone, func(b string) bool { return ackCode.MatchString(b) })
	if strings.Contains(strings.ToLower(alert.Body), "pills") || strings.Contains(alert.Body, clientName) {
		t.Errorf("alert quotes the client or names them in full: %q", alert.Body)
	}
	if !strings.Contains(alert.Body, z.client) {
		t.Errorf("alert does not say who (client id): %q", alert.Body)
	}

	// Twilio delivers the same webhook again: nothing new happens.
	before := len(s.twilio.Messages())
	if code := s.smsWithSID(sid, clientPhone, "I took all my pills tonight"); code != 200 {
		t.Errorf("re-delivery = %d; want 200", code)
	}
	s.settle()
	if after := len(s.twilio.Messages()); after != before {
		t.Errorf("re-delivery sent %d more messages: %v", after-before, s.twilio.Messages()[before:])
	}
	_, list := s.api("GET", "/v1/escalations?status=open", z.key, nil)
	escs := list["escalations"].([]any)
	if len(escs) != 1 {
		t.Fatalf("open escalations = %d; want 1", len(escs))
	}
	escID := escs[0].(map[string]any)["id"].(string)

	// The backup, not alerted yet, cannot take it by id: the help reply,
	// nothing changed.
	if code, _ := s.sms(backupPhone, "ack:"+escID); code != 200 {
		t.Fatalf("ack:<id> webhook = %d", code)
	}
	s.expectSMS(backupPhone, func(b string) bool { return strings.Contains(b, "No open alert") })
	if _, e := s.api("GET", "/v1/escalations/"+escID, z.key, nil); e["status"] != "open" {
		t.Fatalf("escalation %v after an ack:<id> from someone never alerted; want open", e["status"])
	}

	// Ten minutes pass without an ACK: the backup's phone rings.
	mark := s.mark()
	s.clock.Jump(10*time.Minute + time.Second)
	backupAlert := s.nextSMS(mark, backupPhone, func(b string) bool { return strings.Contains(b, "URGENT") && ackCode.MatchString(b) })
	code2 := ackCode.FindStringSubmatch(backupAlert.Body)[1]

	// The backup acknowledges with one reply.
	if code, _ := s.sms(backupPhone, "ack "+code2); code != 200 {
		t.Fatalf("ACK webhook = %d", code)
	}
	s.expectSMS(backupPhone, func(b string) bool { return strings.Contains(b, "acknowledged") })
	_, e := s.api("GET", "/v1/escalations/"+escID, z.key, nil)
	if e["status"] != "acknowledged" || e["acknowledged_by"] != "staff:"+z.backup {
		t.Errorf("escalation = %v by %v; want acknowledged by the backup", e["status"], e["acknowledged_by"])
	}
	// The audit trail says who was told what, and who took it.
	var actions []string
	for _, a := range e["audit"].([]any) {
		actions = append(actions, a.(map[string]any)["action"].(string))
	}
	want := []string{"opened", "alert sent", "alert sent", "acknowledged"}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Errorf("audit = %v; want %v", actions, want)
	}
	if audit := e["audit"].([]any); len(audit) > 0 {
		if d := audit[len(audit)-1].(map[string]any)["detail"]; d != "via sms" {
			t.Errorf("acknowledgement's audit detail = %v; want via sms", d)
		}
	}
	// The case manager alerted first is told who took it: initials and
	// the short id, nothing of the client.
	taken := s.expectSMS(cmPhone, func(b string) bool { return strings.Contains(b, "was taken by") })
	if !strings.Contains(taken.Body, "E.M.") || !strings.Contains(taken.Body, escID[len(escID)-6:]) ||
		strings.Contains(taken.Body, "pills") || strings.Contains(taken.Body, "Rosalind") || strings.Contains(taken.Body, "R.O.") {
		t.Errorf("taken notice = %q; want the backup's initials and the short id, nothing of the client", taken.Body)
	}

	// No more climbing after the ACK.
	s.clock.Jump(30 * time.Minute)
	s.settle()
	if n := len(s.bodiesTo(cmPhone)); n != 2 {
		t.Errorf("assigned case manager got %d messages: %q; want the first alert and who took it", n, s.bodiesTo(cmPhone))
	}
	s.checkLogsArePrivate()
}

// A check-in started by the API reaches the client; "7" is stored, the next
// question follows, and the timeline shows it.
func TestStoryCheckinBySMS(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(b, "0") && strings.Contains(b, "10") })
	if code, _ := s.sms(clientPhone, "7"); code != 200 {
		t.Fatal("answer webhook failed")
	}
	s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(strings.ToLower(b), "case manager") })
	_, tl := s.api("GET", "/v1/clients/"+z.client+"/responses", z.key, nil)
	found := false
	for _, e := range tl["responses"].([]any) {
		m := e.(map[string]any)
		if m["type"] == "answer" && m["fields"].(map[string]any)["value"] == "7" {
			found = true
		}
	}
	if !found {
		t.Errorf("timeline lacks the answer 7: %v", tl)
	}
	s.checkLogsArePrivate()
}

// HELP is answered; after STOP no check-in goes out; after START they do.
func TestStoryKeywords(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	s.sms(clientPhone, "help")
	help := s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(b, "STOP") })
	for _, w := range []string{"988", "Msg & data rates may apply", "Northside CMH"} {
		if !strings.Contains(help.Body, w) {
			t.Errorf("HELP answer lacks %q: %q", w, help.Body)
		}
	}
	s.sms(clientPhone, "STOP")
	s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(b, "no more messages") })
	s.expectSMS(cmPhone, func(b string) bool { return strings.Contains(b, "STOP") })
	before := len(s.bodiesTo(clientPhone))
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	s.settle()
	if n := len(s.bodiesTo(clientPhone)); n != before {
		t.Errorf("an opted-out client got a check-in: %v", s.bodiesTo(clientPhone)[before:])
	}
	// A crisis message from an opted-out client still escalates.
	s.sms(clientPhone, "i want to kill myself")
	s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(b, "988") && strings.Contains(b, "911") })
	s.expectSMS(cmPhone, func(b string) bool { return ackCode.MatchString(b) })

	s.sms(clientPhone, "START")
	s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(b, "again") })
	s.mustFn(s.api("POST", "/v1/clients/"+z.client+"/checkins", z.key, map[string]any{"questionnaire": "medication"}))(202)
	s.expectSMS(clientPhone, func(b string) bool { return strings.Contains(strings.ToLower(b), "medication") })
}

// A Telegram client links with /start <code> and then gets a check-in there,
// with buttons, and answers with a button.
func TestStoryTelegramLinkAndCheckin(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	const chat = 777001
	cl, code := s.telegramClient(z, chat)
	// The code is single use.
	s.tgDeliver(telegramtest.TextUpdate(3, 888, "Other", "/start "+code))
	s.expectTG(888, tgContains("not valid"))
	s.mustFn(s.api("POST", "/v1/clients/"+cl+"/checkins", z.key, map[string]any{"questionnaire": "medication"}))(202)
	q := s.expectTG(chat, func(m telegramtest.Message) bool { return len(m.Buttons) > 0 })
	s.tgDeliver(telegramtest.CallbackUpdate(4, chat, q.Buttons[0].Data))
	s.clock.Jump(2 * time.Second) // Telegram allows one message a second per chat
	s.expectTG(chat, tgContains("Gracias"))
}

// An edited Telegram message is screened like any other — an edit into a
// crisis gets the safety reply and the alert — but never taken as an answer
// to the question asked since. Blocking the bot marks the client
// unreachable there; unblocking makes them reachable again.
func TestStoryTelegramEditsBlocksAndUnblocks(t *testing.T) {
	s := startStack(t)
	z := s.seed()
	const chat = 777002
	cl, _ := s.telegramClient(z, chat)
	s.mustFn(s.api("POST", "/v1/clients/"+cl+"/checkins", z.key, map[string]any{"questionnaire": "medication"}))(202)
	q := s.expectTG(chat, func(m telegramtest.Message) bool { return len(m.Buttons) > 0 })
	sent := len(s.tg.Sent())
	s.tgDeliver(telegramtest.EditedUpdate(10, chat, 2, "sí"))
	s.expectEntry(z.key, cl, "in", map[string]string{"k": "edited"})
	s.settle()
	if got := s.tg.Sent()[sent:]; len(got) != 0 {
		t.Errorf("an edit was answered as if it were a reply: %+v", got)
	}
	if n := s.countEntries(z.key, cl, "answer", nil); n != 0 {
		t.Errorf("the edit was taken as an answer (%d answers)", n)
	}
	s.tgDeliver(telegramtest.CallbackUpdate(11, chat, q.Buttons[0].Data))
	s.clock.Jump(2 * time.Second)
	s.expectTG(chat, tgContains("Gracias"))

	// An old message edited into a crisis.
	s.clock.Jump(2 * time.Second)
	s.tgDeliver(telegramtest.EditedUpdate(12, chat, 3, "ya no quiero vivir"))
	s.expectTG(chat, tgContains("988"))
	s.expectSMS(cmPhone, contains("may be in crisis"))

	unreachable := func() any {
		return s.mustFn(s.api("GET", "/v1/clients/"+cl, z.key, nil))(200)["telegram_unreachable"]
	}
	s.tgDeliver(telegramtest.KickedUpdate(13, chat))
	s.expectEntry(z.key, cl, "unreachable", map[string]string{"channel": "telegram"})
	if got := unreachable(); got != true {
		t.Errorf("after a block, telegram_unreachable = %v; want true", got)
	}
	s.tgDeliver(telegramtest.UnblockedUpdate(14, chat))
	s.expectEntry(z.key, cl, "reachable", map[string]string{"channel": "telegram"})
	if got := unreachable(); got == true {
		t.Errorf("after an unblock, telegram_unreachable = %v; want false", got)
	}
	s.checkLogsArePrivate()
}

func tgContains(sub string) func(telegramtest.Message) bool {
	return func(m telegramtest.Message) bool { return strings.Contains(m.Text, sub) }
}

// telegramClient creates a Spanish-speaking Telegram client and links chat
// to it through a link code, as a person tapping the link would (an
// unlinked chat is first told to ask for a link). It returns the client id
// and the code used.
func (s *stack) telegramClient(z seeded, chat int64) (string, string) {
	t := s.t
	t.Helper()
	cl := s.mustFn(s.api("POST", "/v1/clients", z.key, map[string]any{
		"name": "Tomas Ferreira", "channel": "telegram", "timezone": "Europe/Madrid", "case_manager_id": z.cm, "language": "es",
		"consent": map[string]any{"at": "2026-11-01T15:00:00Z", "method": "verbal"},
	}))(201)["id"].(string)
	link := s.mustFn(s.api("POST", "/v1/clients/"+cl+"/telegram-link", z.key, nil))(201)
	code := link["code"].(string)
	if !strings.Contains(link["url"].(string), "t.me/CareCheckTestBot?start="+code) {
		t.Errorf("link url = %v", link["url"])
	}
	s.tgDeliver(telegramtest.TextUpdate(1, 999, "X", "hola"))
	s.expectTG(999, tgContains("link"))
	s.tgDeliver(telegramtest.TextUpdate(2, chat, "Tomas", "/start "+code))
	s.expectTG(chat, tgContains("Listo"))
	return cl, code
}

// checkLogsArePrivate fails on any phone number, name or message text in the logs.
func (s *stack) checkLogsArePrivate() {
	s.t.Helper()
	logs := s.logs.String()
	for _, secret := range []string{clientPhone, cmPhone, backupPhone, clientName, cmName, backupName, "pills", "3125550133", "Rosalind", "Okonkwo"} {
		if strings.Contains(logs, secret) {
			s.t.Errorf("logs contain %q", secret)
		}
	}
}
