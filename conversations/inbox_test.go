package conversations_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// A crisis message gets the client the agency's safety reply and opens an
// escalation that alerts the case manager with an ACK code.
func TestCrisisGetsSafetyReplyAndEscalation(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, "I want to kill myself tonight"))

	if got := r.to(r.c.Phone); len(got) != 1 || got[0] != escalation.Safety(r.a, "en") {
		t.Errorf("client got %q; want the safety message once", got)
	}
	open := r.openEscalations()
	if len(open) != 1 || open[0].ClientID != r.c.ID || open[0].Level != escalation.Crisis {
		t.Fatalf("open escalations = %+v; want one crisis for the client", open)
	}
	if got := r.to(r.cm.Phone); len(got) != 1 || !strings.Contains(got[0], "ACK "+open[0].AckCode) {
		t.Errorf("case manager got %q; want one alert naming ACK %s", got, open[0].AckCode)
	}
	if ev := r.events(); !slices.Contains(ev, "screen") {
		t.Errorf("timeline = %v; want the screening recorded", ev)
	}
}

// An answer advances the check-in: the next question goes out, the answer
// is kept, and the last answer finishes and scores it.
func TestAnswerAdvancesTheCheckin(t *testing.T) {
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
	if got := r.to(r.c.Phone); len(got) != 1 || !strings.Contains(got[0], "How is your mood today?") {
		t.Fatalf("client got %q; want the mood question", got)
	}
	r.receive(r.sms(r.c.Phone, "7"))
	got := r.to(r.c.Phone)
	if len(got) != 2 || !strings.Contains(got[1], "Anything you'd like your case manager to know?") {
		t.Fatalf("after answering 7 the client got %q; want the next question", got)
	}
	r.receive(r.sms(r.c.Phone, "all good"))
	ev := r.events()
	if n := count(ev, "answer"); n != 2 {
		t.Errorf("timeline = %v; want 2 answers", ev)
	}
	if !slices.Contains(ev, "score") {
		t.Errorf("timeline = %v; want the finished check-in scored", ev)
	}
	got = r.to(r.c.Phone)
	if len(got) != 3 {
		t.Errorf("client got %q; want a closing message after the last answer", got)
	}
	if open := r.openEscalations(); len(open) != 0 {
		t.Errorf("open escalations = %d after a mood of 7; want none", len(open))
	}
	// The replies to their answers are on the timeline as sent (the first
	// question shows as the check-in sent).
	page, err := r.st.Timeline(ctx, r.c.ID, time.Time{}, time.Time{}, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range page.Items {
		if e.Type == "out" {
			out = append(out, e.Fields["x"])
		}
	}
	if len(got) == 3 && !slices.Equal(out, got[1:]) {
		t.Errorf("timeline's messages out = %q; want what the client got after answering, %q", out, got[1:])
	}
}

// STOP opts the client out at once (confirmed, case manager told, check-in
// ended); HELP answers with the case manager's name; START opts back in.
func TestStopHelpStart(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, "Stop"))
	if c := r.client(); !c.OptedOut || c.OptedOutAt == nil {
		t.Fatalf("after STOP client opted out = %v; want opted out with a time", c.OptedOut)
	}
	if got := r.to(r.c.Phone); len(got) != 1 || got[0] != conversations.StopText(r.a, "en") {
		t.Errorf("client got %q; want the STOP confirmation", got)
	}
	if got := r.to(r.cm.Phone); len(got) != 1 || !strings.Contains(got[0], "replied STOP") {
		t.Errorf("case manager got %q; want to be told of the STOP", got)
	}
	// A second STOP is not confirmed again.
	r.receive(r.sms(r.c.Phone, "STOP"))
	if got := r.to(r.c.Phone); len(got) != 1 {
		t.Errorf("client got %d messages after a second STOP; want still 1", len(got))
	}
	// An opted-out client may still ask for help.
	r.receive(r.sms(r.c.Phone, "help"))
	if got := r.to(r.c.Phone); len(got) != 2 || !strings.Contains(got[1], "Dana at "+r.cm.Phone) {
		t.Errorf("client got %q; want the help text naming the case manager", got)
	}
	r.receive(r.sms(r.c.Phone, "START"))
	if c := r.client(); c.OptedOut {
		t.Error("after START client still opted out")
	}
	if got := r.to(r.c.Phone); len(got) != 3 || got[2] != conversations.StartText(r.a, "en") {
		t.Errorf("client got %q; want the START confirmation last", got)
	}
	ev := r.events()
	for _, want := range []string{"opted-out", "help", "opted-in"} {
		if !slices.Contains(ev, want) {
			t.Errorf("timeline = %v; want %q", ev, want)
		}
	}
}

// A case manager's "ACK" acknowledges their one open alert and is answered.
func TestStaffAck(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, "I want to kill myself tonight"))
	open := r.openEscalations()
	if len(open) != 1 {
		t.Fatalf("open escalations = %d; want 1", len(open))
	}
	r.receive(r.sms(r.cm.Phone, "ack"))
	if n := len(r.openEscalations()); n != 0 {
		t.Errorf("open escalations after ACK = %d; want 0", n)
	}
	e, err := r.st.Escalation(t.Context(), r.a.ID, open[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != store.EscAcknowledged {
		t.Errorf("escalation status = %q; want acknowledged", e.Status)
	}
	got := r.to(r.cm.Phone)
	if len(got) != 2 || !strings.Contains(got[1], "acknowledged") {
		t.Errorf("case manager got %q; want the alert then the acknowledgement", got)
	}
	if len(r.to(r.c.Phone)) != 1 {
		t.Errorf("client got %q; want only the safety reply", r.to(r.c.Phone))
	}
}

// A sender nobody owns gets one generic reply a day and changes nothing.
func TestUnknownSender(t *testing.T) {
	r := newRig(t)
	const stranger = "+13125559999"
	for range 2 {
		err := r.rooms.Inbox.Receive(t.Context(), r.sms(stranger, "hello who is this"))
		if !errors.Is(err, bot.ErrUnknownSender) {
			t.Fatalf("Receive from a stranger = %v; want bot.ErrUnknownSender", err)
		}
	}
	if got := r.to(stranger); len(got) != 1 || got[0] != conversations.UnknownText {
		t.Errorf("stranger got %q; want the generic reply once", got)
	}
	if ev := r.events(); len(ev) != 0 {
		t.Errorf("client timeline = %v; want nothing", ev)
	}
}

// A question unanswered for the reply window is asked again once; still
// unanswered, the check-in is missed; two missed in a row raise a concern.
func TestTimeoutNudgesThenMisses(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	for round := 1; round <= 2; round++ {
		if _, err := r.rooms.Checkins.StartCheckin(ctx, r.c, "daily-mood"); err != nil {
			t.Fatal(err)
		}
		ws := r.queuedWork(conversations.WorkCheckin)
		if err := r.rooms.Checkins.HandleCheckin(ctx, ws[len(ws)-1]); err != nil {
			t.Fatal(err)
		}
		asked := len(r.to(r.c.Phone))
		// Nothing is due a minute before the window ends.
		r.clock.Advance(4*time.Hour - time.Minute)
		if n := r.moveDue(); n != 0 {
			t.Fatalf("round %d: %d items due before the reply window ended; want 0", round, n)
		}
		r.clock.Advance(time.Minute)
		r.handleTimeout()
		got := r.to(r.c.Phone)
		if len(got) != asked+1 || !strings.HasPrefix(got[len(got)-1], "Reminder: we'd still like your answer.\nHow is your mood today?") {
			t.Fatalf("round %d: client got %q; want the nudge repeating the question", round, got)
		}
		r.clock.Advance(4 * time.Hour)
		r.handleTimeout()
		if got := r.to(r.c.Phone); len(got) != asked+1 {
			t.Errorf("round %d: client got %d messages after the second timeout; want no more", round, len(got))
		}
		if n := count(r.events(), "missed"); n != round {
			t.Errorf("round %d: missed check-ins = %d", round, n)
		}
		if open := r.openEscalations(); round == 1 && len(open) != 0 {
			t.Errorf("a concern after one missed check-in: %+v", open)
		}
		r.clock.Advance(16 * time.Hour) // the next morning at 10:00
	}
	open := r.openEscalations()
	if len(open) != 1 || open[0].Level != escalation.Concern {
		t.Errorf("open escalations after two missed check-ins = %+v; want one concern", open)
	}
}

// A reply timeout due in the agency's quiet hours waits for their end.
func TestNudgeWaitsForQuietHoursToEnd(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	r.a.QuietStart, r.a.QuietEnd = "21:00", "08:00"
	if err := r.st.SaveAgency(ctx, r.a); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(8 * time.Hour) // 18:00 in Chicago: the timeout falls at 22:00
	if _, err := r.rooms.Checkins.StartCheckin(ctx, r.c, "daily-mood"); err != nil {
		t.Fatal(err)
	}
	ws := r.queuedWork(conversations.WorkCheckin)
	if err := r.rooms.Checkins.HandleCheckin(ctx, ws[0]); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(4 * time.Hour)
	r.handleTimeout()
	if got := r.to(r.c.Phone); len(got) != 1 {
		t.Fatalf("client got %q at 22:00; want no nudge in quiet hours", got)
	}
	r.clock.Advance(10*time.Hour - time.Minute) // 07:59
	if n := r.moveDue(); n != 0 {
		t.Fatalf("%d items due at 07:59; want the nudge to wait for 08:00", n)
	}
	r.clock.Advance(time.Minute)
	r.handleTimeout()
	if got := r.to(r.c.Phone); len(got) != 2 || !strings.HasPrefix(got[1], "Reminder:") {
		t.Errorf("client got %q at 08:00; want the nudge", got)
	}
}

// moveDue moves what is due on the service clock into the work stream.
func (r *rig) moveDue() int {
	r.t.Helper()
	n, err := r.st.MoveDue(r.t.Context(), r.clock.Now(), 100)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// handleTimeout moves what is due and handles the reply timeout it holds.
func (r *rig) handleTimeout() {
	r.t.Helper()
	before := len(r.queuedWork(conversations.WorkTimeout))
	if n := r.moveDue(); n != 1 {
		r.t.Fatalf("%d items due at %s; want the reply timeout", n, r.clock.Now())
	}
	ws := r.queuedWork(conversations.WorkTimeout)
	if len(ws) != before+1 {
		r.t.Fatalf("timeouts queued = %d; want %d", len(ws), before+1)
	}
	if err := r.rooms.Checkins.HandleTimeout(r.t.Context(), ws[len(ws)-1]); err != nil {
		r.t.Fatal(err)
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// A stored conversation that does not decode is kept as it is: the message
// is still screened (a crisis still gets its safety reply) and the failure
// is logged with the client's id, never taken for "no conversation".
func TestUnreadableConversationIsKept(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	key := "{c:" + r.c.ID + "}:conv"
	const corrupt = `{"id":"sc_1:2026-07-01:1000","q":"daily-mood","at":"mood","seq":`
	if err := r.rdb.Set(ctx, key, corrupt, 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.receive(r.sms(r.c.Phone, "I want to kill myself tonight"))
	if got := r.to(r.c.Phone); len(got) != 1 || got[0] != escalation.Safety(r.a, "en") {
		t.Errorf("client got %q; want the safety reply", got)
	}
	if n := len(r.openEscalations()); n != 1 {
		t.Errorf("open escalations = %d; want 1", n)
	}
	if got, err := r.rdb.Get(ctx, key).Result(); err != nil || got != corrupt {
		t.Errorf("stored conversation = %q, %v; want it kept as it was", got, err)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "stored conversation unreadable") || !strings.Contains(logs, r.c.ID) {
		t.Errorf("logs = %s; want the unreadable conversation logged with the client id", logs)
	}
	// A scheduled check-in does not replace it either: it is skipped.
	if _, err := r.rooms.Checkins.StartCheckin(ctx, r.c, "daily-mood"); err != nil {
		t.Fatal(err)
	}
	ws := r.queuedWork(conversations.WorkCheckin)
	if err := r.rooms.Checkins.HandleCheckin(ctx, ws[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.rdb.Get(ctx, key).Result(); got != corrupt {
		t.Errorf("stored conversation after a check-in = %q; want it kept", got)
	}
	if !slices.Contains(r.events(), "skipped") {
		t.Errorf("timeline = %v; want the check-in recorded as skipped", r.events())
	}
}

// The sweeper takes the pending messages of a client whose record is gone
// off the queue once, with a log line naming the client, instead of
// retrying it every round.
func TestSweepDropsVanishedClient(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	b, err := r.st.Receive(ctx, r.c.ID, r.a.ID, store.Message{Channel: "sms", Kind: "text", ProviderID: "SMgone", Text: "hello"})
	if err != nil || !b.Locked {
		t.Fatalf("store a message = %+v, %v", b, err)
	}
	// The process that took it crashed: its lock lapses with the message pending.
	if err := r.rdb.Del(ctx, "{c:"+r.c.ID+"}:lock", "{c:"+r.c.ID+"}:client").Err(); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(11 * time.Second)
	for range 2 {
		if err := r.rooms.Inbox.Sweep(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(r.logs.String(), "client that no longer exists"); n != 1 {
		t.Errorf("logged the vanished client %d times; want once:\n%s", n, r.logs.String())
	}
	if !strings.Contains(r.logs.String(), r.c.ID) {
		t.Errorf("log does not name the client %s", r.c.ID)
	}
	stale, err := r.st.StalePending(ctx, r.clock.Now().Add(time.Hour), 0, 10)
	if err != nil || len(stale) != 0 {
		t.Errorf("clients left to sweep = %v, %v; want none", stale, err)
	}
	if ev := r.events(); !slices.Contains(ev, "in") && len(ev) == 0 {
		t.Errorf("timeline = %v; want the message kept", ev)
	}
}

// A mood check-in's drop rule compares with the client's own last 7 days,
// read when the check-in starts: 8, 8, 8 and then 4 is a concern, though
// 4 alone is above the agency's threshold.
func TestMoodDropFromOwnHistoryIsConcern(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	for day, mood := range []string{"8", "8", "8", "4"} {
		if _, err := r.rooms.Checkins.StartCheckin(ctx, r.c, "daily-mood"); err != nil {
			t.Fatal(err)
		}
		ws := r.queuedWork(conversations.WorkCheckin)
		if err := r.rooms.Checkins.HandleCheckin(ctx, ws[len(ws)-1]); err != nil {
			t.Fatal(err)
		}
		r.receive(r.sms(r.c.Phone, mood))
		r.receive(r.sms(r.c.Phone, "no"))
		open := r.openEscalations()
		if day < 3 && len(open) != 0 {
			t.Fatalf("day %d (mood %s): open escalations = %+v; want none", day, mood, open)
		}
		if day == 3 && (len(open) != 1 || open[0].Level != escalation.Concern) {
			t.Errorf("mood 4 after three 8s: open escalations = %+v; want one concern", open)
		}
		r.clock.Advance(24 * time.Hour)
	}
}

// A STOP never silences crisis handling: an opted-out client in crisis
// still gets the safety reply, and the escalation opens.
func TestCrisisAfterStopStillHandled(t *testing.T) {
	r := newRig(t)
	r.receive(r.sms(r.c.Phone, "STOP"))
	r.receive(r.sms(r.c.Phone, "I want to kill myself tonight"))
	got := r.to(r.c.Phone)
	if len(got) != 2 || !slices.Contains(got, escalation.Safety(r.a, "en")) {
		t.Errorf("client got %q; want the STOP confirmation and the safety reply", got)
	}
	if open := r.openEscalations(); len(open) != 1 || open[0].Level != escalation.Crisis {
		t.Errorf("open escalations = %+v; want one crisis", open)
	}
}
