package questionnaire

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Risk levels, as in docs/clinical.md "Risk levels".
const (
	RiskNone    = "none"
	RiskConcern = "concern"
	RiskCrisis  = "crisis"
)

// Severity bands of the PHQ-9 and GAD-7.
const (
	BandMinimal          = "minimal"
	BandMild             = "mild"
	BandModerate         = "moderate"
	BandModeratelySevere = "moderately severe"
	BandSevere           = "severe"
)

// Result is the score of one questionnaire's answers.
type Result struct {
	// Instrument is the questionnaire's instrument.
	Instrument string `json:"instrument"`
	// Total is the instrument total (the mood itself for daily-mood); nil when
	// there is none or it cannot be scored.
	Total *int `json:"total,omitempty"`
	// Band is the severity band: for the PHQ-9 and GAD-7 one of the Band
	// constants; for the ASQ "negative", "non-acute positive" or "acute
	// positive"; for the C-SSRS "negative", "low", "moderate" or "high".
	Band string `json:"band,omitempty"`
	// Valid is false when too much is missing to score.
	Valid bool `json:"valid"`
	// Missing counts the instrument items not answered (skipped or absent).
	Missing int `json:"missing,omitempty"`
	// Risk is RiskNone, RiskConcern or RiskCrisis.
	Risk string `json:"risk"`
	// Reasons say why, in category words for the case manager ("PHQ-9 item 9
	// = 2", "GAD-7 = 12 (moderate)", "ASQ acute positive", "mood 1").
	Reasons []string `json:"reasons,omitempty"`
	// Notes are things the case manager should hear that are not risk
	// ("reschedule requested").
	Notes []string `json:"notes,omitempty"`
	// ContinueWith names the questionnaire that continues a positive screen
	// ("phq9" after a PHQ-2 ≥ 3, "gad7" after a GAD-2 ≥ 3), "" otherwise.
	ContinueWith string `json:"continue_with,omitempty"`
}

// ScoreOptions carry what scoring needs beyond the answers.
type ScoreOptions struct {
	// MoodThreshold: a mood at or below it is a concern. 0 means the default,
	// 2; a negative threshold turns the rule off.
	MoodThreshold int
	// MoodHistory holds the client's mood answers of the last 7 days (not
	// including this one); a drop of 4 or more from their median is a concern.
	MoodHistory []int
}

// DefaultMoodThreshold is the mood at or below which a concern is raised.
const DefaultMoodThreshold = 2

// MoodDrop is the drop from the 7-day median that raises a concern.
const MoodDrop = 4

// Score scores answers (keyed by question id) to q per docs/clinical.md
// "Instruments"; see the package documentation for the choices made where
// the instruments are silent.
// Unanswered, skipped and out-of-range answers count as missing.
func Score(q *Questionnaire, answers map[string]Answer, opts ScoreOptions) Result {
	r := Result{Risk: RiskNone}
	if q == nil {
		return r
	}
	r.Instrument = q.Instrument
	switch q.Instrument {
	case InstrumentPHQ2:
		scoreScreen(&r, q, answers)
	case InstrumentGAD2:
		scoreScreen(&r, q, answers)
	case InstrumentPHQ9:
		scorePHQ9(&r, q, answers)
	case InstrumentGAD7:
		scoreGAD7(&r, q, answers)
	case InstrumentASQ:
		scoreASQ(&r, q, answers)
	case InstrumentCSSRS:
		scoreCSSRS(&r, q, answers)
	case InstrumentMood:
		scoreMood(&r, q, answers, opts)
	case InstrumentMedication:
		scoreMedication(&r, q, answers)
	case InstrumentAppointment:
		scoreAppointment(&r, q, answers)
	default:
		r.Valid = requiredAnswered(q, answers)
	}
	return r
}

// raise lifts r's risk to level (never lowers it) and records why.
func (r *Result) raise(level, reason string) {
	if rank(level) > rank(r.Risk) {
		r.Risk = level
	}
	r.Reasons = append(r.Reasons, reason)
}

func rank(level string) int {
	switch level {
	case RiskCrisis:
		return 2
	case RiskConcern:
		return 1
	}
	return 0
}

// items returns the answered values (0–3) of items 1..n, and which are missing.
func items(q *Questionnaire, answers map[string]Answer, n int) (vals map[int]int, missing []int) {
	vals = make(map[int]int, n)
	for _, qu := range q.Questions {
		if qu.Item < 1 || qu.Item > n {
			continue
		}
		a, ok := answers[qu.ID]
		if !ok || a.Skipped || a.Value == nil || *a.Value < 0 || *a.Value > 3 {
			continue
		}
		vals[qu.Item] = *a.Value
	}
	for i := 1; i <= n; i++ {
		if _, ok := vals[i]; !ok {
			missing = append(missing, i)
		}
	}
	return vals, missing
}

// prorated totals n items allowing at most 2 missing, each filled with the
// mean of the answered ones, rounded to the nearest integer (halves up).
func prorated(vals map[int]int, n int) (int, bool) {
	answered := len(vals)
	if n-answered > 2 || answered == 0 {
		return 0, false
	}
	sum := 0
	for _, v := range vals {
		sum += v
	}
	if answered == n {
		return sum, true
	}
	return int(math.Floor(float64(sum*n)/float64(answered) + 0.5)), true
}

// scoreScreen scores a 2-item screen (PHQ-2, GAD-2).
func scoreScreen(r *Result, q *Questionnaire, answers map[string]Answer) {
	vals, missing := items(q, answers, 2)
	r.Missing = len(missing)
	sum := 0
	for _, v := range vals {
		sum += v
	}
	next := ""
	threshold := 3
	if q.Continue != nil {
		next, threshold = q.Continue.With, q.Continue.AtLeast
	}
	switch len(missing) {
	case 0:
		r.Valid = true
		r.Total = &sum
		if sum >= threshold {
			r.ContinueWith = next
		}
	case 1:
		// Cannot be ruled negative: continue, and let the full instrument's
		// missing-item rule score it.
		r.ContinueWith = next
	}
}

// phq9Band returns the PHQ-9 band of a total.
func phq9Band(total int) string { return bandOf(phq9Bands, total) }

// gad7Band returns the GAD-7 band of a total.
func gad7Band(total int) string { return bandOf(gad7Bands, total) }

func scorePHQ9(r *Result, q *Questionnaire, answers map[string]Answer) {
	vals, missing := items(q, answers, 9)
	r.Missing = len(missing)
	if v, ok := vals[9]; ok && v > 0 {
		r.raise(RiskCrisis, fmt.Sprintf("PHQ-9 item 9 = %d", v))
	} else if a, asked := byItem(q, answers, 9); asked && a.Skipped {
		r.raise(RiskConcern, "PHQ-9 item 9 not answered")
	}
	total, ok := prorated(vals, 9)
	if !ok {
		return
	}
	r.Valid, r.Total, r.Band = true, &total, phq9Band(total)
	if r.Band == BandModeratelySevere || r.Band == BandSevere {
		r.raise(RiskConcern, fmt.Sprintf("PHQ-9 = %d (%s)", total, r.Band))
	}
}

func scoreGAD7(r *Result, q *Questionnaire, answers map[string]Answer) {
	vals, missing := items(q, answers, 7)
	r.Missing = len(missing)
	total, ok := prorated(vals, 7)
	if !ok {
		return
	}
	r.Valid, r.Total, r.Band = true, &total, gad7Band(total)
	if total >= 10 {
		r.raise(RiskConcern, fmt.Sprintf("GAD-7 = %d (%s)", total, r.Band))
	}
}

// byItem returns the answer to the question with instrument item n.
func byItem(q *Questionnaire, answers map[string]Answer, n int) (Answer, bool) {
	for _, qu := range q.Questions {
		if qu.Item == n {
			a, ok := answers[qu.ID]
			return a, ok
		}
	}
	return Answer{}, false
}

func isYes(a Answer) bool {
	if a.Skipped {
		return false
	}
	if a.Code != "" {
		return strings.EqualFold(a.Code, "yes")
	}
	return a.Value != nil && *a.Value == 1
}

func isNo(a Answer) bool {
	if a.Skipped {
		return false
	}
	if a.Code != "" {
		return strings.EqualFold(a.Code, "no")
	}
	return a.Value != nil && *a.Value == 0
}

func scoreASQ(r *Result, q *Questionnaire, answers map[string]Answer) {
	positive, unanswered := false, 0
	for i := 1; i <= 4; i++ {
		a, ok := byItem(q, answers, i)
		switch {
		case ok && (isYes(a) || a.Skipped):
			positive = true
		case !ok || !isNo(a):
			unanswered++
		}
	}
	r.Missing = unanswered
	if !positive {
		if unanswered == 0 {
			r.Valid, r.Band = true, "negative"
		}
		return
	}
	r.Valid = true
	a5, ok := byItem(q, answers, 5)
	switch {
	case ok && isYes(a5):
		r.Band = "acute positive"
		r.raise(RiskCrisis, "ASQ acute positive")
	case ok && isNo(a5):
		r.Band = "non-acute positive"
		r.raise(RiskConcern, "ASQ non-acute positive")
	default:
		r.Band = "acute positive"
		r.raise(RiskCrisis, "ASQ positive, acuity not answered")
	}
}

func scoreCSSRS(r *Result, q *Questionnaire, answers map[string]Answer) {
	yesTo := map[int]bool{}
	for i := 1; i <= 6; i++ {
		a, ok := byItem(q, answers, i)
		if !ok {
			continue
		}
		if a.Skipped {
			r.Missing++
			r.raise(RiskConcern, fmt.Sprintf("C-SSRS item %d not answered", i))
			continue
		}
		yesTo[i] = isYes(a)
	}
	recent := true // item 6 without an answer to "in the past 3 months?"
	if a, ok := byItem(q, answers, 7); ok && isNo(a) {
		recent = false
	}
	r.Valid = true
	switch {
	case yesTo[4] || yesTo[5] || (yesTo[6] && recent):
		r.Band = "high"
		item := 4
		if !yesTo[4] {
			item = 5
			if !yesTo[5] {
				item = 6
			}
		}
		r.raise(RiskCrisis, fmt.Sprintf("C-SSRS high risk (item %d)", item))
	case yesTo[3] || yesTo[6]:
		r.Band = "moderate"
		r.raise(RiskConcern, "C-SSRS moderate risk")
	case yesTo[1] || yesTo[2]:
		r.Band = "low"
		r.raise(RiskConcern, "C-SSRS low risk")
	default:
		if r.Missing == 0 {
			r.Band = "negative"
		}
	}
}

// moodQuestion is the daily-mood's scale question (the first scale).
func moodQuestion(q *Questionnaire) (Question, bool) {
	for _, qu := range q.Questions {
		if qu.Type == Scale {
			return qu, true
		}
	}
	return Question{}, false
}

func scoreMood(r *Result, q *Questionnaire, answers map[string]Answer, opts ScoreOptions) {
	mq, ok := moodQuestion(q)
	if !ok {
		return
	}
	a, ok := answers[mq.ID]
	if !ok || a.Skipped || a.Value == nil || *a.Value < mq.Min || *a.Value > mq.Max {
		return
	}
	mood := *a.Value
	r.Valid, r.Total = true, &mood
	threshold := opts.MoodThreshold
	if threshold == 0 {
		threshold = DefaultMoodThreshold
	}
	if threshold > 0 && mood <= threshold {
		r.raise(RiskConcern, fmt.Sprintf("mood %d", mood))
	}
	if med, ok := median(opts.MoodHistory, mq.Min, mq.Max); ok && med-float64(mood) >= MoodDrop {
		r.raise(RiskConcern, fmt.Sprintf("mood %d, down %s from 7-day median %s",
			mood, trimFloat(med-float64(mood)), trimFloat(med)))
	}
}

// median returns the median of the values within [lo, hi].
func median(vals []int, lo, hi int) (float64, bool) {
	var v []int
	for _, x := range vals {
		if x >= lo && x <= hi {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return float64(v[n/2]), true
	}
	return float64(v[n/2-1]+v[n/2]) / 2, true
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%d", int(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// firstAnswered returns the first question's answer that is not skipped.
func firstAnswered(q *Questionnaire, answers map[string]Answer, types ...AnswerType) (Answer, bool) {
	for _, qu := range q.Questions {
		if !slices.Contains(types, qu.Type) {
			continue
		}
		a, ok := answers[qu.ID]
		if ok && !a.Skipped {
			return a, true
		}
		return Answer{}, false
	}
	return Answer{}, false
}

func scoreMedication(r *Result, q *Questionnaire, answers map[string]Answer) {
	a, ok := firstAnswered(q, answers, Choice, YesNo)
	if !ok {
		return
	}
	r.Valid = true
	if isNo(a) {
		r.raise(RiskConcern, "medication not taken")
	}
}

func scoreAppointment(r *Result, q *Questionnaire, answers map[string]Answer) {
	a, ok := firstAnswered(q, answers, Choice)
	if !ok {
		return
	}
	r.Valid = true
	if strings.EqualFold(a.Code, "R") {
		r.Notes = append(r.Notes, "reschedule requested")
	}
}

// requiredAnswered reports whether every question that is not optional and
// was due (its ShowIf holds) has an answer.
func requiredAnswered(q *Questionnaire, answers map[string]Answer) bool {
	for _, qu := range q.Questions {
		if qu.Optional {
			continue
		}
		if qu.ShowIf != "" {
			c, err := parseCondition(qu.ShowIf)
			if err != nil || !c.holds(answers) {
				continue
			}
		}
		if a, ok := answers[qu.ID]; !ok || a.Skipped {
			return false
		}
	}
	return true
}
