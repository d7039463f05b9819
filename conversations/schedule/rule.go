package schedule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

const (
	// MaxRuleLength bounds the RRULE text accepted by Parse; real schedules are far shorter.
	MaxRuleLength = 512
	// MinSpacing is the least time between two check-ins of one schedule:
	// anything more frequent is spam to a person in distress, not care.
	MinSpacing = time.Hour
	// Horizon is how far past `after` Next looks. A rule with no occurrence in
	// that window is treated as finished, so a sparse or exhausted rule costs a
	// bounded amount of work.
	Horizon = 10 * 366 * 24 * time.Hour

	maxCount    = 10000 // COUNT rules are expanded from their start, so keep them bounded
	maxInterval = 1000
	minYear     = 1970
	maxYear     = 2200
)

// FieldError is a problem with one input, named so the API can report which field is wrong.
type FieldError struct {
	Field   string // "rrule", "start", "until", "timezone"
	Problem string
}

// Error returns "field: problem", e.g. "timezone: unknown zone \"Mars/Base\"".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Rule is a parsed recurrence: an RRULE whose wall clock repeats in Zone. Build
// it with Parse; a Rule is immutable afterwards and safe for concurrent use.
type Rule struct {
	// RRule is the rule text in canonical form: upper case, no "RRULE:" prefix.
	RRule string
	// Start is the first possible occurrence (from the API's RFC 3339 "start");
	// its wall clock in Zone is what repeats.
	Start time.Time
	// Until is the until field as given to Parse (nil when absent); an UNTIL
	// inside RRule is applied too but not copied here, so Parse(r.RRule, r.Start,
	// r.Until, r.Zone.String()) rebuilds the same rule.
	Until *time.Time
	// Zone is the client's IANA time zone.
	Zone *time.Location

	opt       rrule.ROption // expanded in floating time: wall clocks carried as UTC
	wallStart time.Time     // Start's wall clock, floating
	until     time.Time     // effective last instant, from the field or from UNTIL
	hasUntil  bool
}

// LoadZone loads an IANA zone by name. Unlike time.LoadLocation it refuses ""
// and "Local", which would silently mean the server's zone, not the client's.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fieldErr("timezone", "unknown zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fieldErr("timezone", "unknown zone %q", name)
	}
	return loc, nil
}

// Parse validates a schedule and returns its Rule. rule is an RFC 5545 RRULE
// value, with or without an "RRULE:" prefix; start and the optional until come
// from their own fields (DTSTART inside rule is refused, so there is one source
// of truth); zone is an IANA name.
//
// Refused, each with a "field: problem" *FieldError: FREQ=SECONDLY or MINUTELY,
// any rule that fires less than MinSpacing apart (more than one BYMINUTE
// value), BYSECOND other than 0, COUNT together with UNTIL
// or with until, both UNTIL and until, until before start, a start that is not
// a whole minute, and a rule with no occurrence within Horizon of start.
// FREQ=HOURLY is allowed: INTERVAL is at least 1, so it is at least hourly.
//
// A floating UNTIL (no "Z") is read in zone; a date-only UNTIL includes that
// whole local day.
func Parse(rule string, start time.Time, until *time.Time, zone string) (*Rule, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	if start.IsZero() {
		return nil, fieldErr("start", "required")
	}
	ls := start.In(loc)
	if ls.Second() != 0 || ls.Nanosecond() != 0 {
		return nil, fieldErr("start", "must be a whole minute")
	}
	if y := ls.Year(); y < minYear || y >= maxYear {
		return nil, fieldErr("start", "year %d out of range %d-%d", y, minYear, maxYear-1)
	}
	wallStart := floating(ls)

	canon, parts, err := splitRule(rule)
	if err != nil {
		return nil, err
	}
	opt, err := buildOptions(parts, wallStart)
	if err != nil {
		return nil, err
	}

	r := &Rule{RRule: canon, Start: start, Zone: loc, opt: opt, wallStart: wallStart}
	if until != nil {
		u := *until
		r.Until = &u
	}
	if s, ok := parts["UNTIL"]; ok {
		if opt.Count > 0 {
			return nil, fieldErr("rrule", "COUNT and UNTIL cannot both be set")
		}
		if until != nil {
			return nil, fieldErr("rrule", "UNTIL and the until field are both set; use one")
		}
		if r.until, err = parseUntil(s, loc); err != nil {
			return nil, err
		}
		r.hasUntil = true
		if r.until.Before(start) {
			return nil, fieldErr("rrule", "UNTIL is before start")
		}
	} else if until != nil {
		if opt.Count > 0 {
			return nil, fieldErr("until", "cannot be combined with COUNT in the rule")
		}
		r.until, r.hasUntil = *until, true
		if r.until.Before(start) {
			return nil, fieldErr("until", "before start")
		}
	}
	if err := checkSpacing(opt); err != nil {
		return nil, err
	}
	if _, ok := r.Next(start.Add(-time.Nanosecond)); !ok {
		return nil, fieldErr("rrule", "produces no occurrence within %d years of start", int(Horizon/(366*24*time.Hour)))
	}
	return r, nil
}

// splitRule checks the shape of the text and returns it in canonical form with
// its parts by name. RFC 5545 names are case-insensitive; rrule-go's are not.
func splitRule(rule string) (string, map[string]string, error) {
	if len(rule) > MaxRuleLength {
		return "", nil, fieldErr("rrule", "longer than %d characters", MaxRuleLength)
	}
	s := strings.ToUpper(strings.TrimSpace(rule))
	s = strings.TrimPrefix(s, "RRULE:")
	if strings.ContainsAny(s, "\r\n") || strings.HasPrefix(s, "DTSTART") {
		return "", nil, fieldErr("rrule", "one RRULE only; DTSTART comes from the start field")
	}
	s = strings.TrimSuffix(s, ";")
	if s == "" {
		return "", nil, fieldErr("rrule", "required")
	}
	parts := make(map[string]string)
	for _, p := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" || v == "" || strings.Contains(v, "=") {
			return "", nil, fieldErr("rrule", "malformed part %q (want NAME=VALUE)", p)
		}
		switch k {
		case "FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
			"BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST":
		case "DTSTART":
			return "", nil, fieldErr("rrule", "DTSTART is not allowed; it comes from the start field")
		default:
			return "", nil, fieldErr("rrule", "unknown part %q", k)
		}
		if _, dup := parts[k]; dup {
			return "", nil, fieldErr("rrule", "%s given twice", k)
		}
		parts[k] = v
	}
	if _, ok := parts["FREQ"]; !ok {
		return "", nil, fieldErr("rrule", "FREQ is required")
	}
	return s, parts, nil
}

// buildOptions turns the parts into rrule-go options in floating time. The
// defaults rrule-go would take from DTSTART are written out, so that the rule
// can be restarted from a later period (see anchor) without changing its meaning.
func buildOptions(parts map[string]string, wallStart time.Time) (rrule.ROption, error) {
	var o rrule.ROption
	switch parts["FREQ"] {
	case "YEARLY":
		o.Freq = rrule.YEARLY
	case "MONTHLY":
		o.Freq = rrule.MONTHLY
	case "WEEKLY":
		o.Freq = rrule.WEEKLY
	case "DAILY":
		o.Freq = rrule.DAILY
	case "HOURLY":
		o.Freq = rrule.HOURLY
	case "MINUTELY", "SECONDLY":
		return o, fieldErr("rrule", "FREQ=%s is too frequent: check-ins must be at least 1 hour apart", parts["FREQ"])
	default:
		return o, fieldErr("rrule", "unknown FREQ %q", parts["FREQ"])
	}
	o.Dtstart = wallStart
	o.Interval = 1
	o.Wkst = rrule.MO

	var err error
	if v, ok := parts["INTERVAL"]; ok {
		if o.Interval, err = parseInt("INTERVAL", v, 1, maxInterval); err != nil {
			return o, err
		}
	}
	if v, ok := parts["COUNT"]; ok {
		if o.Count, err = parseInt("COUNT", v, 1, maxCount); err != nil {
			return o, err
		}
	}
	if v, ok := parts["WKST"]; ok {
		if o.Wkst, err = parseWeekday(v); err != nil {
			return o, err
		}
	}
	lists := []struct {
		name     string
		dst      *[]int
		lo, hi   int
		negative bool
	}{
		{"BYSECOND", &o.Bysecond, 0, 0, false},
		{"BYMINUTE", &o.Byminute, 0, 59, false},
		{"BYHOUR", &o.Byhour, 0, 23, false},
		{"BYMONTHDAY", &o.Bymonthday, 1, 31, true},
		{"BYYEARDAY", &o.Byyearday, 1, 366, true},
		{"BYWEEKNO", &o.Byweekno, 1, 53, true},
		{"BYMONTH", &o.Bymonth, 1, 12, false},
		{"BYSETPOS", &o.Bysetpos, 1, 366, true},
	}
	for _, l := range lists {
		v, ok := parts[l.name]
		if !ok {
			continue
		}
		if *l.dst, err = parseIntList(l.name, v, l.lo, l.hi, l.negative); err != nil {
			if l.name == "BYSECOND" {
				return o, fieldErr("rrule", "BYSECOND must be 0: check-ins are scheduled to the minute")
			}
			return o, err
		}
	}
	if v, ok := parts["BYDAY"]; ok {
		if o.Byweekday, err = parseByDay(v, o.Freq, len(o.Bymonth) > 0, len(o.Byweekno) > 0); err != nil {
			return o, err
		}
	}

	// Where RFC 5545 allows each part (section 3.3.10).
	switch {
	case len(o.Byweekno) > 0 && o.Freq != rrule.YEARLY:
		return o, fieldErr("rrule", "BYWEEKNO needs FREQ=YEARLY")
	case len(o.Byyearday) > 0 && (o.Freq == rrule.DAILY || o.Freq == rrule.WEEKLY || o.Freq == rrule.MONTHLY):
		return o, fieldErr("rrule", "BYYEARDAY cannot be used with FREQ=%s", parts["FREQ"])
	case len(o.Bymonthday) > 0 && o.Freq == rrule.WEEKLY:
		return o, fieldErr("rrule", "BYMONTHDAY cannot be used with FREQ=WEEKLY")
	case len(o.Bysetpos) > 0 && len(parts) == countPresent(parts, "FREQ", "UNTIL", "COUNT", "INTERVAL", "WKST", "BYSETPOS"):
		return o, fieldErr("rrule", "BYSETPOS needs another BY part")
	}

	// Defaults from the start's wall clock, as rrule-go would take them.
	if o.Freq != rrule.HOURLY && len(o.Byhour) == 0 {
		o.Byhour = []int{wallStart.Hour()}
	}
	if len(o.Byminute) == 0 {
		o.Byminute = []int{wallStart.Minute()}
	}
	o.Bysecond = []int{0}
	if len(o.Byweekno) == 0 && len(o.Byyearday) == 0 && len(o.Bymonthday) == 0 && len(o.Byweekday) == 0 {
		switch o.Freq {
		case rrule.YEARLY:
			if len(o.Bymonth) == 0 {
				o.Bymonth = []int{int(wallStart.Month())}
			}
			o.Bymonthday = []int{wallStart.Day()}
		case rrule.MONTHLY:
			o.Bymonthday = []int{wallStart.Day()}
		case rrule.WEEKLY:
			o.Byweekday = []rrule.Weekday{weekday(pyWeekday(wallStart.Weekday()))}
		}
	}
	return o, nil
}

func countPresent(parts map[string]string, names ...string) int {
	n := 0
	for _, k := range names {
		if _, ok := parts[k]; ok {
			n++
		}
	}
	return n
}

func parseInt(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || len(v) > 6 || n < lo || n > hi {
		return 0, fieldErr("rrule", "%s=%s: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// parseIntList parses a comma list, deduplicated: rrule-go would repeat an
// occurrence for a repeated value.
func parseIntList(name, v string, lo, hi int, negative bool) ([]int, error) {
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(s)
		ok := err == nil && len(s) <= 4 && (n >= lo && n <= hi || negative && n <= -lo && n >= -hi)
		if !ok {
			rng := fmt.Sprintf("%d to %d", lo, hi)
			if negative {
				rng += fmt.Sprintf(" or %d to %d", -hi, -lo)
			}
			return nil, fieldErr("rrule", "%s value %q: want %s", name, s, rng)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// weekday returns rrule-go's weekday for i, Monday 0 ... Sunday 6.
func weekday(i int) rrule.Weekday {
	return [7]rrule.Weekday{rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU}[i]
}

// pyWeekday numbers days as rrule-go does: Monday 0 ... Sunday 6.
func pyWeekday(d time.Weekday) int { return (int(d) + 6) % 7 }

func parseWeekday(s string) (rrule.Weekday, error) {
	i := slices.Index([]string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}, s)
	if i < 0 {
		return rrule.Weekday{}, fieldErr("rrule", "unknown weekday %q (want MO, TU, WE, TH, FR, SA or SU)", s)
	}
	return weekday(i), nil
}

// parseByDay parses BYDAY, bounding ordinals to what the period can hold
// (rrule-go indexes past its masks, and panics, on e.g. MONTHLY;BYDAY=53MO).
func parseByDay(v string, freq rrule.Frequency, byMonth, byWeekNo bool) ([]rrule.Weekday, error) {
	var out []rrule.Weekday
	for _, s := range strings.Split(v, ",") {
		if len(s) < 2 {
			return nil, fieldErr("rrule", "BYDAY value %q: want e.g. MO or 1MO", s)
		}
		wd, err := parseWeekday(s[len(s)-2:])
		if err != nil {
			return nil, err
		}
		if ord := s[:len(s)-2]; ord != "" {
			limit := 0
			switch {
			case freq == rrule.MONTHLY || freq == rrule.YEARLY && byMonth:
				limit = 5
			case freq == rrule.YEARLY && !byWeekNo:
				limit = 53
			}
			if limit == 0 {
				return nil, fieldErr("rrule", "BYDAY=%s: a numbered weekday needs FREQ=MONTHLY or YEARLY (without BYWEEKNO)", s)
			}
			n, err := strconv.Atoi(ord)
			if err != nil || len(ord) > 3 || n == 0 || n > limit || n < -limit {
				return nil, fieldErr("rrule", "BYDAY=%s: the number must be 1 to %d or -%d to -1", s, limit, limit)
			}
			wd = wd.Nth(n)
		}
		if !slices.Contains(out, wd) {
			out = append(out, wd)
		}
	}
	return out, nil
}

// parseUntil reads UNTIL: "…Z" is an instant; a floating date-time is a wall
// clock in loc (the later instance if it happens twice, so that both are
// included); a date includes that whole local day.
func parseUntil(s string, loc *time.Location) (time.Time, error) {
	bad := fieldErr("rrule", "UNTIL=%s: want YYYYMMDDTHHMMSSZ", s)
	switch len(s) {
	case len("20060102T150405Z"):
		t, err := time.Parse("20060102T150405Z", s)
		if err != nil {
			return time.Time{}, bad
		}
		return t, nil
	case len("20060102T150405"):
		w, err := time.Parse("20060102T150405", s)
		if err != nil {
			return time.Time{}, bad
		}
		inst, n, gap := resolveWall(w, loc)
		if n == 0 {
			return gap, nil
		}
		return inst[n-1], nil
	case len("20060102"):
		d, err := time.Parse("20060102", s)
		if err != nil {
			return time.Time{}, bad
		}
		inst, n, gap := resolveWall(d.AddDate(0, 0, 1), loc)
		if n > 0 {
			gap = inst[0]
		}
		return gap.Add(-time.Nanosecond), nil
	}
	return time.Time{}, bad
}

// checkSpacing refuses rules that fire less than MinSpacing apart. The times
// of day are BYHOUR × BYMINUTE (seconds are 0), so two minutes mean two
// check-ins within one hour, and one minute means whole hours between them.
func checkSpacing(o rrule.ROption) error {
	if len(o.Byminute) > 1 {
		return fieldErr("rrule", "BYMINUTE=%s fires more than once an hour: check-ins must be at least 1 hour apart", joinInts(o.Byminute))
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// floating returns t's wall clock as the same clock reading in UTC: the form in
// which rules are expanded, free of DST.
func floating(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}
