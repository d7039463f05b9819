package questionnaire

import (
	"fmt"
	"slices"
	"testing"
)

func get(t testing.TB, id string) *Questionnaire {
	t.Helper()
	q, ok := Builtin().Get(id)
	if !ok {
		t.Fatalf("Builtin().Get(%q) not found", id)
	}
	return q
}

func num(v int) Answer { return Answer{Value: &v} }

var (
	skipped = Answer{Skipped: true}
	ansYes  = yes()
	ansNo   = no()
)

// itemAnswers answers items in order with vals; -1 leaves an item out, -2 skips it.
func itemAnswers(vals ...int) map[string]Answer {
	m := map[string]Answer{}
	for i, v := range vals {
		id := fmt.Sprintf("item%d", i+1)
		switch v {
		case -1:
		case -2:
			m[id] = skipped
		default:
			m[id] = num(v)
		}
	}
	return m
}

// spread makes 9 PHQ items summing to total, item 9 last to fill (0 up to 24).
func spread(total, n int) []int {
	vals := make([]int, n)
	for i := 0; i < n && total > 0; i++ {
		vals[i] = min(3, total)
		total -= vals[i]
	}
	return vals
}

func intp(p *int) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestPHQ9Bands(t *testing.T) {
	q := get(t, "phq9")
	cases := []struct {
		total int
		band  string
		risk  string
	}{
		{0, BandMinimal, RiskNone}, {4, BandMinimal, RiskNone},
		{5, BandMild, RiskNone}, {9, BandMild, RiskNone},
		{10, BandModerate, RiskNone}, {14, BandModerate, RiskNone},
		{15, BandModeratelySevere, RiskConcern}, {19, BandModeratelySevere, RiskConcern},
		{20, BandSevere, RiskConcern}, {24, BandSevere, RiskConcern},
	}
	for _, c := range cases {
		vals := spread(c.total, 8)
		r := Score(q, itemAnswers(append(vals, 0)...), ScoreOptions{})
		if !r.Valid || r.Total == nil || *r.Total != c.total || r.Band != c.band || r.Risk != c.risk {
			t.Errorf("PHQ-9 total %d: valid %t total %s band %q risk %q; want %d %q %q",
				c.total, r.Valid, intp(r.Total), r.Band, r.Risk, c.total, c.band, c.risk)
		}
		if c.risk == RiskConcern {
			want := fmt.Sprintf("PHQ-9 = %d (%s)", c.total, c.band)
			if !slices.Contains(r.Reasons, want) {
				t.Errorf("PHQ-9 total %d reasons %q; want %q", c.total, r.Reasons, want)
			}
		}
	}
	// 25-27 need item 9 > 0: severe and a crisis.
	r := Score(q, itemAnswers(3, 3, 3, 3, 3, 3, 3, 3, 3), ScoreOptions{})
	if *r.Total != 27 || r.Band != BandSevere || r.Risk != RiskCrisis {
		t.Errorf("PHQ-9 all 3s: total %s band %q risk %q; want 27 severe crisis", intp(r.Total), r.Band, r.Risk)
	}
	if want := []string{"PHQ-9 item 9 = 3", "PHQ-9 = 27 (severe)"}; !slices.Equal(r.Reasons, want) {
		t.Errorf("PHQ-9 all 3s reasons %q; want %q", r.Reasons, want)
	}
	if r.Instrument != InstrumentPHQ9 {
		t.Errorf("Instrument = %q; want phq9", r.Instrument)
	}
}

func TestPHQ9MissingItems(t *testing.T) {
	q := get(t, "phq9")
	cases := []struct {
		name    string
		vals    []int
		valid   bool
		total   int
		band    string
		missing int
	}{
		{"0 missing", []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, true, 9, BandMild, 0},
		{"1 missing, sum 12 of 8", []int{2, 2, 2, 2, 2, 2, 0, -1, 0}, true, 14, BandModerate, 1}, // 12 × 9/8 = 13.5 → 14
		{"1 skipped", []int{2, 2, 2, 2, 2, 2, 2, -2, 2}, true, 18, BandModeratelySevere, 1},
		{"1 missing, half rounds up", []int{1, 1, 1, 1, 0, 0, 0, -1, 0}, true, 5, BandMild, 1}, // 4 × 9/8 = 4.5 → 5
		{"2 missing", []int{2, 2, 1, 1, 2, 1, -1, -2, 1}, true, 13, BandModerate, 2},           // 10 × 9/7 = 12.86 → 13
		{"3 missing", []int{3, 3, 3, 3, 3, 3, -1, -1, -2}, false, 0, "", 3},
		{"nothing", []int{}, false, 0, "", 9},
	}
	for _, c := range cases {
		r := Score(q, itemAnswers(c.vals...), ScoreOptions{})
		if r.Valid != c.valid || r.Band != c.band || r.Missing != c.missing {
			t.Errorf("%s: valid %t band %q missing %d; want %t %q %d", c.name, r.Valid, r.Band, r.Missing, c.valid, c.band, c.missing)
		}
		switch {
		case c.valid && (r.Total == nil || *r.Total != c.total):
			t.Errorf("%s: total %s; want %d", c.name, intp(r.Total), c.total)
		case !c.valid && r.Total != nil:
			t.Errorf("%s: total %s; want none", c.name, intp(r.Total))
		}
	}
}

func TestPHQ9Item9(t *testing.T) {
	q := get(t, "phq9")
	cases := []struct {
		name    string
		vals    []int
		risk    string
		reasons []string
		valid   bool
	}{
		{"item 9 = 0", []int{0, 0, 0, 0, 0, 0, 0, 0, 0}, RiskNone, nil, true},
		{"item 9 = 1, total 1", []int{0, 0, 0, 0, 0, 0, 0, 0, 1}, RiskCrisis, []string{"PHQ-9 item 9 = 1"}, true},
		{"item 9 = 2", []int{1, 0, 0, 0, 0, 0, 0, 0, 2}, RiskCrisis, []string{"PHQ-9 item 9 = 2"}, true},
		{"item 9 = 2, invalid", []int{-1, -1, -1, 0, 0, 0, 0, 0, 2}, RiskCrisis, []string{"PHQ-9 item 9 = 2"}, false},
		{"item 9 skipped", []int{0, 0, 0, 0, 0, 0, 0, 0, -2}, RiskConcern, []string{"PHQ-9 item 9 not answered"}, true},
		{"item 9 not reached", []int{0, 0, 0, 0, 0, 0, 0, 0, -1}, RiskNone, nil, true},
	}
	for _, c := range cases {
		r := Score(q, itemAnswers(c.vals...), ScoreOptions{})
		if r.Risk != c.risk || !slices.Equal(r.Reasons, c.reasons) || r.Valid != c.valid {
			t.Errorf("%s: risk %q reasons %q valid %t; want %q %q %t", c.name, r.Risk, r.Reasons, r.Valid, c.risk, c.reasons, c.valid)
		}
	}
}

func TestGAD7Bands(t *testing.T) {
	q := get(t, "gad7")
	cases := []struct {
		total int
		band  string
		risk  string
	}{
		{0, BandMinimal, RiskNone}, {4, BandMinimal, RiskNone}, {5, BandMild, RiskNone}, {9, BandMild, RiskNone},
		{10, BandModerate, RiskConcern}, {14, BandModerate, RiskConcern},
		{15, BandSevere, RiskConcern}, {21, BandSevere, RiskConcern},
	}
	for _, c := range cases {
		r := Score(q, itemAnswers(spread(c.total, 7)...), ScoreOptions{})
		if !r.Valid || r.Total == nil || *r.Total != c.total || r.Band != c.band || r.Risk != c.risk {
			t.Errorf("GAD-7 total %d: valid %t total %s band %q risk %q; want %q %q",
				c.total, r.Valid, intp(r.Total), r.Band, r.Risk, c.band, c.risk)
		}
		if c.risk == RiskConcern {
			if want := fmt.Sprintf("GAD-7 = %d (%s)", c.total, c.band); !slices.Equal(r.Reasons, []string{want}) {
				t.Errorf("GAD-7 total %d reasons %q; want %q", c.total, r.Reasons, want)
			}
		}
	}
	r := Score(q, itemAnswers(3, 3, 3, -1, -1, -1, 3), ScoreOptions{})
	if r.Valid || r.Total != nil || r.Risk != RiskNone {
		t.Errorf("GAD-7 with 3 missing: valid %t total %s risk %q; want invalid, none", r.Valid, intp(r.Total), r.Risk)
	}
	r = Score(q, itemAnswers(2, 2, -2, 2, 2, 2, 2), ScoreOptions{})
	if !r.Valid || *r.Total != 14 || r.Missing != 1 {
		t.Errorf("GAD-7 with 1 missing: valid %t total %s missing %d; want 14, 1", r.Valid, intp(r.Total), r.Missing)
	}
}

func TestScreens(t *testing.T) {
	cases := []struct {
		id, next string
		vals     []int
		valid    bool
		total    int
		cont     string
	}{
		{"phq2", "phq9", []int{0, 0}, true, 0, ""},
		{"phq2", "phq9", []int{1, 1}, true, 2, ""},
		{"phq2", "phq9", []int{2, 1}, true, 3, "phq9"},
		{"phq2", "phq9", []int{3, 3}, true, 6, "phq9"},
		{"phq2", "phq9", []int{0, -2}, false, 0, "phq9"},
		{"phq2", "phq9", []int{3, -1}, false, 0, "phq9"},
		{"phq2", "phq9", []int{-2, -2}, false, 0, ""},
		{"gad2", "gad7", []int{1, 1}, true, 2, ""},
		{"gad2", "gad7", []int{0, 3}, true, 3, "gad7"},
		{"gad2", "gad7", []int{-2, 1}, false, 0, "gad7"},
	}
	for _, c := range cases {
		r := Score(get(t, c.id), itemAnswers(c.vals...), ScoreOptions{})
		if r.Valid != c.valid || r.ContinueWith != c.cont || r.Risk != RiskNone || (c.valid && *r.Total != c.total) {
			t.Errorf("%s %v: valid %t total %s continue %q risk %q; want %t %d %q none",
				c.id, c.vals, r.Valid, intp(r.Total), r.ContinueWith, r.Risk, c.valid, c.total, c.cont)
		}
	}
}

// TestPHQ2ContinuesToPHQ9 plays the continuation: PHQ-2 positive, the PHQ-9
// asks items 3–9 only, and its score uses all nine.
func TestPHQ2ContinuesToPHQ9(t *testing.T) {
	cat := Builtin()
	phq2, _ := cat.Get("phq2")
	screen := map[string]Answer{}
	for qu, ok := phq2.NextQuestion(screen, ""); ok; qu, ok = phq2.NextQuestion(screen, qu.ID) {
		screen[qu.ID] = num(2)
	}
	r := Score(phq2, screen, ScoreOptions{})
	if r.ContinueWith != "phq9" {
		t.Fatalf("PHQ-2 = 4: ContinueWith %q; want phq9", r.ContinueWith)
	}
	phq9, ok := cat.Get(r.ContinueWith)
	if !ok {
		t.Fatalf("continuation %q not in the catalogue", r.ContinueWith)
	}
	answers := Carry(phq2, screen, phq9)
	var asked []int
	for qu, ok := phq9.NextQuestion(answers, ""); ok; qu, ok = phq9.NextQuestion(answers, qu.ID) {
		asked = append(asked, qu.Item)
		answers[qu.ID] = num(1)
	}
	if want := []int{3, 4, 5, 6, 7, 8, 9}; !slices.Equal(asked, want) {
		t.Errorf("continuation asked items %v; want %v", asked, want)
	}
	full := Score(phq9, answers, ScoreOptions{})
	if !full.Valid || *full.Total != 11 || full.Band != BandModerate || full.Risk != RiskCrisis {
		t.Errorf("PHQ-9 after PHQ-2: valid %t total %s band %q risk %q; want 11 moderate crisis (item 9 = 1)",
			full.Valid, intp(full.Total), full.Band, full.Risk)
	}
}

func TestASQ(t *testing.T) {
	q := get(t, "asq")
	cases := []struct {
		name    string
		answers map[string]Answer
		askQ5   bool
		valid   bool
		band    string
		risk    string
		reasons []string
	}{
		{"negative", map[string]Answer{"q1": ansNo, "q2": ansNo, "q3": ansNo, "q4": ansNo}, false, true, "negative", RiskNone, nil},
		{"q2 yes, q5 yes", map[string]Answer{"q1": ansNo, "q2": ansYes, "q3": ansNo, "q4": ansNo, "q5": ansYes}, true, true,
			"acute positive", RiskCrisis, []string{"ASQ acute positive"}},
		{"q4 yes, q5 no", map[string]Answer{"q1": ansNo, "q2": ansNo, "q3": ansNo, "q4": ansYes, "q5": ansNo}, true, true,
			"non-acute positive", RiskConcern, []string{"ASQ non-acute positive"}},
		{"q3 refused, q5 no", map[string]Answer{"q1": ansNo, "q2": ansNo, "q3": skipped, "q4": ansNo, "q5": ansNo}, true, true,
			"non-acute positive", RiskConcern, []string{"ASQ non-acute positive"}},
		{"q1 yes, q5 refused", map[string]Answer{"q1": ansYes, "q2": ansNo, "q3": ansNo, "q4": ansNo, "q5": skipped}, true, true,
			"acute positive", RiskCrisis, []string{"ASQ positive, acuity not answered"}},
		{"q1 yes, stopped before q5", map[string]Answer{"q1": ansYes}, true, true,
			"acute positive", RiskCrisis, []string{"ASQ positive, acuity not answered"}},
		{"unfinished, all no", map[string]Answer{"q1": ansNo, "q2": ansNo}, false, false, "", RiskNone, nil},
	}
	for _, c := range cases {
		r := Score(q, c.answers, ScoreOptions{})
		if r.Valid != c.valid || r.Band != c.band || r.Risk != c.risk || !slices.Equal(r.Reasons, c.reasons) {
			t.Errorf("%s: valid %t band %q risk %q reasons %q; want %t %q %q %q",
				c.name, r.Valid, r.Band, r.Risk, r.Reasons, c.valid, c.band, c.risk, c.reasons)
		}
		// Is question 5 asked once 1–4 are answered?
		first4 := map[string]Answer{}
		for _, id := range []string{"q1", "q2", "q3", "q4"} {
			if a, ok := c.answers[id]; ok {
				first4[id] = a
			} else {
				first4[id] = ansNo
			}
		}
		next, ok := q.NextQuestion(first4, "q4")
		if asked := ok && next.ID == "q5"; asked != c.askQ5 {
			t.Errorf("%s: q5 asked %t; want %t", c.name, asked, c.askQ5)
		}
	}
}

func TestNextQuestion(t *testing.T) {
	q := get(t, "asq")
	if qu, ok := q.NextQuestion(nil, ""); !ok || qu.ID != "q1" {
		t.Errorf("first question = %q, %t; want q1", qu.ID, ok)
	}
	if qu, ok := q.NextQuestion(map[string]Answer{"q1": ansYes}, "q1"); !ok || qu.ID != "q2" {
		t.Errorf("after q1 = %q, %t; want q2", qu.ID, ok)
	}
	if _, ok := q.NextQuestion(nil, "nope"); ok {
		t.Error("after an unknown id: a question; want none")
	}
	mood := get(t, "daily-mood")
	if _, ok := mood.NextQuestion(map[string]Answer{"mood": num(5), "note": skipped}, "note"); ok {
		t.Error("after the last question: a question; want none")
	}
}

func TestMood(t *testing.T) {
	q := get(t, "daily-mood")
	cases := []struct {
		name    string
		mood    Answer
		opts    ScoreOptions
		risk    string
		reasons []string
		valid   bool
	}{
		{"mood 2 (default threshold)", num(2), ScoreOptions{}, RiskConcern, []string{"mood 2"}, true},
		{"mood 0", num(0), ScoreOptions{}, RiskConcern, []string{"mood 0"}, true},
		{"mood 3", num(3), ScoreOptions{}, RiskNone, nil, true},
		{"mood 4, threshold 4", num(4), ScoreOptions{MoodThreshold: 4}, RiskConcern, []string{"mood 4"}, true},
		{"mood 1, threshold off", num(1), ScoreOptions{MoodThreshold: -1}, RiskNone, nil, true},
		{"drop 4 from median 8", num(4), ScoreOptions{MoodHistory: []int{8, 7, 9, 8, 6, 8, 9}}, RiskConcern,
			[]string{"mood 4, down 4 from 7-day median 8"}, true},
		{"drop 3 from median 8", num(5), ScoreOptions{MoodHistory: []int{8, 7, 9, 8, 6, 8, 9}}, RiskNone, nil, true},
		{"even history, median 7.5, drop 3.5", num(4), ScoreOptions{MoodHistory: []int{9, 6, 8, 7}}, RiskNone, nil, true},
		{"even history, median 7.5, drop 4.5", num(3), ScoreOptions{MoodHistory: []int{9, 6, 8, 7}}, RiskConcern,
			[]string{"mood 3, down 4.5 from 7-day median 7.5"}, true},
		{"low and dropped", num(1), ScoreOptions{MoodHistory: []int{7}}, RiskConcern,
			[]string{"mood 1", "mood 1, down 6 from 7-day median 7"}, true},
		{"out-of-range history ignored", num(6), ScoreOptions{MoodHistory: []int{99, -5}}, RiskNone, nil, true},
		{"no history", num(5), ScoreOptions{}, RiskNone, nil, true},
		{"skipped", skipped, ScoreOptions{}, RiskNone, nil, false},
	}
	for _, c := range cases {
		r := Score(q, map[string]Answer{"mood": c.mood}, c.opts)
		if r.Risk != c.risk || !slices.Equal(r.Reasons, c.reasons) || r.Valid != c.valid {
			t.Errorf("%s: risk %q reasons %q valid %t; want %q %q %t", c.name, r.Risk, r.Reasons, r.Valid, c.risk, c.reasons, c.valid)
		}
		if c.valid && (r.Total == nil || *r.Total != *c.mood.Value) {
			t.Errorf("%s: total %s; want the mood", c.name, intp(r.Total))
		}
	}
}

func TestMedicationAndAppointment(t *testing.T) {
	med := get(t, "medication")
	medCases := []struct {
		answer  string
		risk    string
		reasons []string
	}{
		{"yes", RiskNone, nil}, {"some", RiskNone, nil}, {"no", RiskConcern, []string{"medication not taken"}},
	}
	for _, c := range medCases {
		a, err := ParseAnswer(med.Questions[0], "en", c.answer)
		if err != nil {
			t.Fatal(err)
		}
		r := Score(med, map[string]Answer{"taken": a}, ScoreOptions{})
		if !r.Valid || r.Risk != c.risk || !slices.Equal(r.Reasons, c.reasons) {
			t.Errorf("medication %q: valid %t risk %q reasons %q; want %q %q", c.answer, r.Valid, r.Risk, r.Reasons, c.risk, c.reasons)
		}
	}
	if r := Score(med, map[string]Answer{"taken": skipped}, ScoreOptions{}); r.Valid || r.Risk != RiskNone {
		t.Errorf("medication skipped: valid %t risk %q; want invalid, none", r.Valid, r.Risk)
	}

	appt := get(t, "appointment-confirm")
	for _, c := range []struct {
		answer string
		notes  []string
	}{{"C", nil}, {"R", []string{"reschedule requested"}}} {
		a, _ := ParseAnswer(appt.Questions[0], "en", c.answer)
		r := Score(appt, map[string]Answer{"confirm": a}, ScoreOptions{})
		if !r.Valid || r.Risk != RiskNone || r.Reasons != nil || !slices.Equal(r.Notes, c.notes) {
			t.Errorf("appointment %q: valid %t risk %q reasons %q notes %q; want none, notes %q",
				c.answer, r.Valid, r.Risk, r.Reasons, r.Notes, c.notes)
		}
	}
}

// cssrs is an agency-defined C-SSRS screener (not shipped built in).
func cssrs() *Questionnaire {
	yn := func(id string, item int, text, showIf string) Question {
		return Question{ID: id, Item: item, Type: YesNo, Text: map[string]string{"en": text}, ShowIf: showIf}
	}
	return &Questionnaire{
		ID: "agency-cssrs", Title: map[string]string{"en": "A few questions"}, Instrument: InstrumentCSSRS, Custom: true,
		Questions: []Question{
			yn("s1", 1, "Wish to be dead?", ""),
			yn("s2", 2, "Thoughts of ending your life?", ""),
			yn("s3", 3, "Thought about how?", "s2=yes"),
			yn("s4", 4, "Any intention of acting on them?", "s2=yes"),
			yn("s5", 5, "Worked out details, intend to carry out?", "s2=yes"),
			yn("s6", 6, "Ever done anything to end your life?", ""),
			yn("s7", 7, "Within the past 3 months?", "s6=yes"),
		},
	}
}

func TestCSSRS(t *testing.T) {
	q := cssrs()
	if err := Validate(q); err != nil {
		t.Fatalf("Validate(cssrs) = %v", err)
	}
	y, n := ansYes, ansNo
	cases := []struct {
		name    string
		answers map[string]Answer
		band    string
		risk    string
	}{
		{"all no", map[string]Answer{"s1": n, "s2": n, "s6": n}, "negative", RiskNone},
		{"1 only: low", map[string]Answer{"s1": y, "s2": n, "s6": n}, "low", RiskConcern},
		{"3: moderate", map[string]Answer{"s1": y, "s2": y, "s3": y, "s4": n, "s5": n, "s6": n}, "moderate", RiskConcern},
		{"4: high", map[string]Answer{"s1": y, "s2": y, "s3": y, "s4": y, "s5": n, "s6": n}, "high", RiskCrisis},
		{"5: high", map[string]Answer{"s1": n, "s2": y, "s3": n, "s4": n, "s5": y, "s6": n}, "high", RiskCrisis},
		{"6 recent: high", map[string]Answer{"s1": n, "s2": n, "s6": y, "s7": y}, "high", RiskCrisis},
		{"6 long ago: moderate", map[string]Answer{"s1": n, "s2": n, "s6": y, "s7": n}, "moderate", RiskConcern},
		{"6, recency unknown: high", map[string]Answer{"s1": n, "s2": n, "s6": y}, "high", RiskCrisis},
		{"item refused", map[string]Answer{"s1": n, "s2": skipped, "s6": n}, "", RiskConcern},
	}
	for _, c := range cases {
		r := Score(q, c.answers, ScoreOptions{})
		if r.Band != c.band || r.Risk != c.risk {
			t.Errorf("%s: band %q risk %q (%q); want %q %q", c.name, r.Band, r.Risk, r.Reasons, c.band, c.risk)
		}
	}
}

func TestCustomScore(t *testing.T) {
	q := &Questionnaire{ID: "sleep", Title: map[string]string{"en": "Sleep"}, Instrument: InstrumentCustom, Custom: true,
		Questions: []Question{
			{ID: "hours", Type: Scale, Min: 0, Max: 14, Text: map[string]string{"en": "Hours of sleep?"}},
			{ID: "more", Type: Text, Optional: true, Text: map[string]string{"en": "Anything else?"}},
		}}
	if r := Score(q, map[string]Answer{"hours": num(7)}, ScoreOptions{}); !r.Valid || r.Risk != RiskNone {
		t.Errorf("custom answered: valid %t risk %q; want valid, none", r.Valid, r.Risk)
	}
	if r := Score(q, map[string]Answer{}, ScoreOptions{}); r.Valid {
		t.Error("custom unanswered: valid; want invalid")
	}
}
