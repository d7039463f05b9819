package console_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var timelineRowRE = regexp.MustCompile(`(?s)<tr><td><time datetime="[^"]+">[^<]+</time></td><td>([^<]+)</td><td>(.*?)</td></tr>`)

// TestConsoleClientTimelineShowsEscalations: after a check-in and a crisis
// that a case manager acknowledges and resolves in the console, the
// client's timeline shows, newest first, the escalation resolved and
// acknowledged by her, the alert sent to her, the escalation opened (with
// why), the answers and the check-in sent; another client's page shows none of it.
func TestConsoleClientTimelineShowsEscalations(t *testing.T) {
	h := newHarness(t)
	agency, key := h.agency("Northside")
	anaID, ana := h.newStaff(key, "Ana Reyes", "ana@example.org", "case_manager")
	rosa := h.client(key, anaID, "Rosa Delgado", "+13125550142")
	sam := h.client(key, anaID, "Sam Okafor", "+13125550157")
	h.moodCheckin(agency, rosa, "+13125550142", 0, "6")
	h.clock.Advance(time.Minute)
	esc := h.crisis(agency, rosa)
	h.clock.Advance(2 * time.Minute)
	if p := ana.post("/console/escalations/"+esc+"/ack", nil); p.Status != 303 {
		t.Fatalf("ack = %d %q", p.Status, flash(p.Body))
	}
	h.clock.Advance(5 * time.Minute)
	if p := ana.post("/console/escalations/"+esc+"/resolve", url.Values{"note": {"called her, safe with her sister"}}); p.Status != 303 {
		t.Fatalf("resolve = %d %q", p.Status, flash(p.Body))
	}

	p := ana.get("/console/clients/" + rosa)
	var kinds []string
	var out []string
	for _, m := range timelineRowRE.FindAllStringSubmatch(p.Body, -1) {
		kinds = append(kinds, m[1])
		switch m[1] {
		case "Message out":
			out = append(out, m[2])
		case "Escalation acknowledged", "Escalation resolved":
			if !strings.Contains(m[2], "by Ana Reyes") || !strings.Contains(m[2], `href="/console/escalations/`+esc+`"`) {
				t.Errorf("%s row = %q; want by Ana Reyes, linking to the escalation", m[1], m[2])
			}
		case "Escalation opened":
			if !strings.Contains(m[2], "Crisis: crisis language") {
				t.Errorf("opened row = %q; want the level and why", m[2])
			}
		}
	}
	if len(kinds) == 0 {
		i := strings.Index(p.Body, `class="timeline"`)
		t.Fatalf("no timeline rows; page %d: %.1500s", p.Status, p.Body[max(i, 0):])
	}
	got := strings.Join(kinds, ", ")
	want := regexp.MustCompile(`^Escalation resolved, Escalation acknowledged, (Alert sent, )*Escalation opened, .*Answer, .*Check-in sent`)
	if !want.MatchString(got) {
		t.Errorf("Rosa's timeline, newest first: %s\nwant escalation resolved, acknowledged, opened, then answers and the check-in sent", got)
	}
	// The replies to her answers are there as messages out: the next
	// question after her mood, the closing words after her note.
	if len(out) != 2 || !strings.Contains(strings.Join(out, " | "), "Anything you") {
		t.Errorf("Rosa's messages out = %q; want the two replies to her answers", out)
	}
	if p := ana.get("/console/clients/" + sam); strings.Contains(p.Body, "Escalation opened") {
		t.Errorf("Sam's timeline shows Rosa's escalation")
	}
}
