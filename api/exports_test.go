package api_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// getCSV fetches an export and reads it as CSV.
func (h *harness) getCSV(path, key string) (int, [][]string, *http.Response) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, [][]string{{string(raw)}}, resp
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		h.t.Fatalf("GET %s: not CSV: %v\n%s", path, err, raw)
	}
	return resp.StatusCode, rows, resp
}

// joined writes rows one a line, fields joined by "|", the data rows sorted
// (clients are exported one after another, in the store's order).
func joined(rows [][]string) string {
	if len(rows) == 0 {
		return ""
	}
	var data []string
	for _, r := range rows[1:] {
		data = append(data, strings.Join(r, "|"))
	}
	slices.Sort(data)
	return strings.Join(append([]string{strings.Join(rows[0], "|")}, data...), "\n")
}

// The exports of one agency after a scripted week equal what was done:
// every answer, score, missed check-in and escalation of the period, with
// local times in the agency's zone, and nothing of the day before, of
// another agency, or (until the agency turns export_words on) of the
// client's own words.
func TestExportsAfterAScriptedWeek(t *testing.T) {
	h := newServiceHarness(t, day(0).Add(-24*time.Hour))
	agency, key := h.agency("North")
	agencyB, keyB := h.agency("South")
	ana := h.caseManager(key, "Ana Alvarez", "+13125550101")
	c1 := h.client(key, ana, "Cara One", "+13125550201")
	c2 := h.client(key, ana, "Cy Two", "+13125550202")
	oz := h.caseManager(keyB, "Oz Other", "+13125550301")
	cb := h.client(keyB, oz, "Cass B", "+13125550204")

	h.clock.Set(day(0)) // 30 June: before the period
	h.checkin(c1, "daily-mood")
	h.texts("+13125550201", "6", "ok")
	h.clock.Set(day(1))
	h.checkin(c1, "daily-mood")
	h.texts("+13125550201", "7", "went for a walk")
	h.clock.Set(day(2))
	conv := h.checkin(c1, "daily-mood")
	h.unanswered(c1, agency, conv)
	h.clock.Set(day(3))
	h.checkin(c2, "phq9")
	h.texts("+13125550202", "1", "1", "1", "1", "1", "1", "0", "0", "0")
	h.clock.Set(day(5))
	h.checkin(cb, "daily-mood")
	h.texts("+13125550204", "5", "meh")
	eb := h.crisis(agencyB, cb)
	h.clock.Set(day(6))
	e1 := h.crisis(agency, c1)
	h.clock.Advance(4 * time.Minute)
	if code, out := h.do("POST", "/v1/escalations/"+e1+"/ack", key, map[string]any{"by": ana}); code != 200 {
		t.Fatalf("ack = %d %v", code, out)
	}
	h.clock.Set(day(8))
	e2 := h.crisis(agency, c2)
	h.clock.Set(day(40))

	q := "?from=2026-07-01&to=2026-07-31"
	conv1, conv2 := h.convOf(c1, 1), h.convOf(c2, 0)
	want := map[string]string{
		"answers": "client_id|case_manager_id|conversation_id|at|questionnaire|item|value|code|skipped\n" +
			c1 + "|" + ana + "|" + conv1 + "|2026-07-01T10:01:00-05:00|daily-mood|mood|7||false\n" +
			c1 + "|" + ana + "|" + conv1 + "|2026-07-01T10:02:00-05:00|daily-mood|note|||false\n" +
			phqAnswers(c2, ana, conv2, "1", "1", "1", "1", "1", "1", "0", "0", "0"),
		"scores": "client_id|case_manager_id|conversation_id|at|questionnaire|instrument|total|band|risk|valid\n" +
			c1 + "|" + ana + "|" + conv1 + "|2026-07-01T10:02:00-05:00|daily-mood|mood|7||none|true\n" +
			c2 + "|" + ana + "|" + conv2 + "|2026-07-03T10:09:00-05:00|phq9|phq9|6|mild|none|true",
		"missed": "client_id|case_manager_id|conversation_id|at|questionnaire|missed_in_a_row\n" +
			c1 + "|" + ana + "|" + h.convOf(c1, 2) + "|2026-07-02T18:00:00-05:00|daily-mood|1",
		"escalations": "escalation_id|client_id|case_manager_id|level|reasons|status|opened_at|acknowledged_at|acknowledged_by|resolved_at|step|round\n" +
			e1 + "|" + c1 + "|" + ana + "|crisis|crisis language|acknowledged|2026-07-06T10:00:00-05:00|2026-07-06T10:04:00-05:00|staff:" + ana + "||1|0\n" +
			e2 + "|" + c2 + "|" + ana + "|crisis|crisis language|open|2026-07-08T10:00:00-05:00||||1|0",
	}
	for _, name := range []string{"answers", "scores", "missed", "escalations"} {
		code, rows, resp := h.getCSV("/v1/exports/"+name+".csv"+q, key)
		if code != 200 {
			t.Errorf("%s.csv = %d %v", name, code, rows)
			continue
		}
		if g := resp.Header.Get("Content-Type"); g != "text/csv; charset=utf-8" {
			t.Errorf("%s.csv Content-Type = %q", name, g)
		}
		if resp.ContentLength != -1 {
			t.Errorf("%s.csv Content-Length = %d; want a streamed (chunked) answer", name, resp.ContentLength)
		}
		if g, w := joined(rows), sortedLines(want[name]); g != w {
			t.Errorf("%s.csv =\n%s\nwant\n%s", name, g, w)
		}
		_, rowsB, _ := h.getCSV("/v1/exports/"+name+".csv"+q, keyB)
		for _, r := range rowsB[1:] {
			if slices.Contains(r, c1) || slices.Contains(r, c2) || !(slices.Contains(r, cb) || slices.Contains(r, eb)) {
				t.Errorf("agency B's %s.csv holds a row not its own: %v", name, r)
			}
		}
		if len(rowsB) < 2 && name != "missed" {
			t.Errorf("agency B's %s.csv = %v; want its own rows", name, rowsB)
		}
	}

	// The client's words only once the agency turns export_words on.
	if code, out := h.do("PATCH", "/v1/agency", key, map[string]any{"export_words": true}); code != 200 || out["export_words"] != true {
		t.Fatalf("PATCH export_words = %d %v", code, out)
	}
	_, rows, _ := h.getCSV("/v1/exports/answers.csv"+q, key)
	if g := strings.Join(rows[0], ","); !strings.HasSuffix(g, ",skipped,text") {
		t.Errorf("answers header with export_words = %s; want a text column last", g)
	}
	var texts []string
	for _, r := range rows[1:] {
		if r[len(r)-1] != "" {
			texts = append(texts, r[5]+"="+r[len(r)-1])
		}
	}
	if g := strings.Join(texts, ","); g != "note=went for a walk" {
		t.Errorf("answers' words with export_words = %q; want note=went for a walk", g)
	}
}

// sortedLines sorts the data lines of an expected file, as joined does.
func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	data := lines[1:]
	slices.Sort(data)
	return strings.Join(append(lines[:1], data...), "\n")
}

// phqAnswers are the rows of a PHQ-9 answered one item a minute from 10:01
// on 3 July.
func phqAnswers(client, cm, conv string, values ...string) string {
	var b strings.Builder
	at := time.Date(2026, 7, 3, 10, 0, 0, 0, time.FixedZone("CDT", -5*3600))
	for i, v := range values {
		at = at.Add(time.Minute)
		b.WriteString(client + "|" + cm + "|" + conv + "|" + at.Format(time.RFC3339) + "|phq9|item" + string(rune('1'+i)) + "|" + v + "|" + map[string]string{"0": "not-at-all", "1": "several-days"}[v] + "|false")
		if i < len(values)-1 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// convOf is the id of a client's n-th check-in conversation (from 0), read
// from their timeline.
func (h *serviceHarness) convOf(client string, n int) string {
	h.t.Helper()
	page, err := h.st.Timeline(h.t.Context(), client, time.Time{}, time.Time{}, "", 500)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range page.Items {
		if e.Type == "checkin-started" {
			if n == 0 {
				return e.Fields["conv"]
			}
			n--
		}
	}
	h.t.Fatalf("client %s has no check-in %d", client, n)
	return ""
}

func TestExportsRefuseBadRanges(t *testing.T) {
	h := newHarness(t)
	_, key := h.agency("North")
	for _, tc := range []struct{ path, want string }{
		{"/v1/exports/answers.csv", "from: required"},
		{"/v1/exports/scores.csv?from=2026-07-01", "to: required"},
		{"/v1/exports/missed.csv?from=2026-07-01&to=31/07/2026", `to: "31/07/2026" is not a date`},
		{"/v1/exports/escalations.csv?from=2026-07-31&to=2026-07-01", "to: before from"},
		{"/v1/exports/answers.csv?from=2024-01-01&to=2026-01-01", "to: the period is over 366 days"},
		{"/v1/exports/answers.csv?from=2026-07-01&to=2026-07-31&agency=x", "agency: unknown parameter"},
	} {
		code, out := h.do("GET", tc.path, key, nil)
		if msg, _ := out["error"].(string); code != 400 || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("GET %s = %d %v; want 400 %q", tc.path, code, out, tc.want)
		}
	}
	for _, path := range []string{"/v1/exports/messages.csv?from=2026-07-01&to=2026-07-31", "/v1/exports/answers?from=2026-07-01&to=2026-07-31"} {
		if code, _ := h.do("GET", path, key, nil); code != 404 {
			t.Errorf("GET %s = %d; want 404", path, code)
		}
	}
	if code, _ := h.do("GET", "/v1/exports/answers.csv?from=2026-07-01&to=2026-07-31", "", nil); code != 401 {
		t.Errorf("without a key = %d; want 401", code)
	}
}
