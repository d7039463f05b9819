package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Agency is one customer organisation; everything else belongs to one.
type Agency struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Timezone string    `json:"timezone"`
	Created  time.Time `json:"created_at"`
	// SafetyMessage overrides the built-in safety reply, by language.
	SafetyMessage map[string]string `json:"safety_message,omitempty"`
	// Policy is the escalation policy; nil means the built-in default.
	Policy *Policy `json:"escalation_policy,omitempty"`
	// QuietStart and QuietEnd bound the quiet hours ("21:00", "08:00").
	QuietStart string `json:"quiet_start"`
	QuietEnd   string `json:"quiet_end"`
	// ReplyWindow is how long a check-in waits for a reply before a nudge.
	ReplyWindow Duration `json:"reply_window"`
	// MissedInARow raises a concern after this many missed check-ins.
	MissedInARow int `json:"missed_in_a_row"`
	// MoodThreshold: a mood at or under it is a concern.
	MoodThreshold int `json:"mood_threshold"`
	// AlertDetail lets alerts carry clinical detail (off: minimum necessary).
	AlertDetail bool `json:"alert_detail"`
	// AlertNames: alerts name the client by full name rather than initials.
	AlertNames bool `json:"alert_names"`
	// ExportWords lets the records sent out (CSV exports, webhook payloads)
	// carry the client's own words; off: ids, values, scores and categories.
	ExportWords bool `json:"export_words"`
	// Phrases are agency-added crisis or concern phrases.
	Phrases []Phrase `json:"phrases,omitempty"`
	// Retention is how long the audit of configuration changes is kept
	// (zero: DefaultRetention, 6 years).
	Retention Duration `json:"retention,omitempty"`
	// RequireTOTP: staff must enrol a second factor (TOTP) before using the console.
	RequireTOTP bool `json:"require_totp"`
	// SessionIdle signs console staff out after this long without a request
	// (zero: DefaultSessionIdle, 15 minutes).
	SessionIdle Duration `json:"session_idle,omitempty"`
	// SMS is the agency's own SMS sending identity; nil: the service's
	// default number (TWILIO_FROM_NUMBER), shared with every agency on it.
	SMS *SMSIdentity `json:"sms_identity,omitempty"`
}

// Phrase is an agency-added detector phrase.
type Phrase struct {
	Text  string `json:"text"`
	Level string `json:"level"`
	Lang  string `json:"lang,omitempty"`
}

// Policy is an escalation policy: steps in order, the last repeats.
type Policy struct {
	Steps  []PolicyStep `json:"steps"`
	Repeat int          `json:"repeat"`
}

// PolicyStep notifies "assigned", "backup" or a case manager id, then waits.
type PolicyStep struct {
	Notify string   `json:"notify"`
	Wait   Duration `json:"wait"`
}

// Duration is a time.Duration that reads and writes as "10m".
type Duration time.Duration

// MarshalJSON writes "10m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "10m" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// WorkingHours say when a case manager takes low-urgency concerns.
type WorkingHours struct {
	Start    string `json:"start"`    // "09:00"
	End      string `json:"end"`      // "17:00"
	Days     []int  `json:"days"`     // 1=Monday … 7=Sunday
	Timezone string `json:"timezone"` // IANA
}

// CaseManager is a staff member who receives alerts.
type CaseManager struct {
	ID           string       `json:"id"`
	AgencyID     string       `json:"agency_id"`
	Name         string       `json:"name"`
	Phone        string       `json:"phone,omitempty"`
	TelegramChat string       `json:"telegram_chat,omitempty"`
	BackupID     string       `json:"backup_id,omitempty"`
	WorkingHours WorkingHours `json:"working_hours"`
	// Email signs them in to the console (lower case; unique among active staff).
	Email string `json:"email,omitempty"`
	// Role is case_manager (empty in records older than roles), supervisor or admin.
	Role string `json:"role,omitempty"`
	// Language is the console's language for them: "en" (empty) or "es".
	Language string `json:"language,omitempty"`
	// Active is false once deactivated: no alerts, no ACKs, not a backup
	// or a policy step in new settings, and their clients need a new case
	// manager. The record is kept.
	Active        bool       `json:"active"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
	Created       time.Time  `json:"created_at"`
	// ContactRules say how an alert reaches them and when, counted from
	// the alert (none: at once, on Telegram when linked, else SMS, the
	// other as fallback).
	ContactRules []ContactRule `json:"contact_rules,omitempty"`
}

// ContactRule is one way of reaching a staff member about an alert: After
// the alert, unless it was acknowledged, by Method ("sms", "telegram",
// "voice").
type ContactRule struct {
	After  Duration `json:"after"`
	Method string   `json:"method"`
}

// Consent records when and how a client agreed to be messaged.
type Consent struct {
	At     time.Time `json:"at"`
	Method string    `json:"method"` // written | verbal | sms
}

// Client statuses.
const (
	StatusActive     = "active"
	StatusPaused     = "paused"
	StatusDischarged = "discharged"
)

// Client is a person in case management who gets check-ins.
type Client struct {
	ID                  string     `json:"id"`
	AgencyID            string     `json:"agency_id"`
	Name                string     `json:"name"`
	Phone               string     `json:"phone,omitempty"`
	TelegramChat        string     `json:"telegram_chat,omitempty"`
	Channel             string     `json:"channel"`
	Timezone            string     `json:"timezone"`
	Language            string     `json:"language"`
	CaseManagerID       string     `json:"case_manager_id"`
	Status              string     `json:"status"`
	Consent             *Consent   `json:"consent,omitempty"`
	OptedOut            bool       `json:"opted_out"`
	OptedOutAt          *time.Time `json:"opted_out_at,omitempty"`
	TelegramUnreachable bool       `json:"telegram_unreachable,omitempty"`
	// ExternalID is the agency's own identifier of the client (the EHR's
	// MRN, say): unique among the agency's clients; FHIR exports name the
	// client by it.
	ExternalID string    `json:"external_id,omitempty"`
	Created    time.Time `json:"created_at"`
	Updated    time.Time `json:"updated_at"`
}

// Messageable reports whether routine messages (check-ins, reminders) may go
// to the client: consent recorded, not opted out, active.
func (c *Client) Messageable() bool {
	return c.Consent != nil && !c.OptedOut && c.Status == StatusActive
}

// stamp is a time as compact records store it: unix milliseconds as a JSON
// number, or [ms, UTC offset in seconds, nanoseconds past the ms] for a
// time given in another zone or finer than a millisecond, so that the API
// shows it as it was given. (RFC 3339 with nanoseconds took 30–37 bytes;
// the store's own times, taken to the millisecond, take 13.)
type stamp struct{ t time.Time }

// MarshalJSON writes 1780326000000, [1780326000000,-18000] or
// [1780326000000,0,456789].
func (s stamp) MarshalJSON() ([]byte, error) {
	ms := s.t.UnixMilli()
	_, off := s.t.Zone()
	sub := s.t.Nanosecond() % int(time.Millisecond)
	if off == 0 && sub == 0 {
		return strconv.AppendInt(nil, ms, 10), nil
	}
	b := strconv.AppendInt([]byte{'['}, ms, 10)
	b = strconv.AppendInt(append(b, ','), int64(off), 10)
	if sub != 0 {
		b = strconv.AppendInt(append(b, ','), int64(sub), 10)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *stamp) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var v []int64
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		if len(v) < 2 || len(v) > 3 {
			return fmt.Errorf("stamp %s: want [ms, offset] or [ms, offset, ns]", b)
		}
		t := time.UnixMilli(v[0])
		if len(v) == 3 {
			t = t.Add(time.Duration(v[2]))
		}
		if v[1] == 0 {
			s.t = t.UTC()
		} else {
			s.t = t.In(time.FixedZone("", int(v[1])))
		}
		return nil
	}
	ms, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("stamp %s: %w", b, err)
	}
	s.t = time.UnixMilli(ms).UTC()
	return nil
}

// nowMilli is the store's clock to the millisecond: the times the store
// sets itself then take a plain stamp.
func (s *Store) nowMilli() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// sameStamp reports whether a and b are stored alike: the same instant
// in the same offset.
func sameStamp(a, b time.Time) bool {
	_, oa := a.Zone()
	_, ob := b.Zone()
	return a.Equal(b) && oa == ob
}

func stampPtr(t *time.Time) *stamp {
	if t == nil {
		return nil
	}
	return &stamp{*t}
}

func (s *stamp) timePtr() *time.Time {
	if s == nil {
		return nil
	}
	t := s.t
	return &t
}

// clientRecord is a Client as stored under {c:<id>}:client: short keys,
// times as stamps, the id left to the key, every empty field left out, and
// updated only when it differs from created. The API shows Client,
// unchanged. Every record has "c".
type clientRecord struct {
	AgencyID            string  `json:"a,omitempty"`
	Name                string  `json:"n,omitempty"`
	Phone               string  `json:"p,omitempty"`
	TelegramChat        string  `json:"tg,omitempty"`
	Channel             string  `json:"ch,omitempty"`
	Timezone            string  `json:"tz,omitempty"`
	Language            string  `json:"l,omitempty"`
	CaseManagerID       string  `json:"cm,omitempty"`
	Status              *string `json:"s,omitempty"`  // absent: active, as nearly every client is
	ConsentAt           *stamp  `json:"ka,omitempty"` // set exactly when there is a consent
	ConsentMethod       string  `json:"km,omitempty"`
	OptedOut            bool    `json:"o,omitempty"`
	OptedOutAt          *stamp  `json:"oa,omitempty"`
	TelegramUnreachable bool    `json:"tu,omitempty"`
	ExternalID          string  `json:"x,omitempty"`
	Created             *stamp  `json:"c"`
	Updated             *stamp  `json:"u,omitempty"`
}

func encodeClient(c *Client) ([]byte, error) {
	r := clientRecord{AgencyID: c.AgencyID, Name: c.Name, Phone: c.Phone, TelegramChat: c.TelegramChat, Channel: c.Channel,
		Timezone: c.Timezone, Language: c.Language, CaseManagerID: c.CaseManagerID,
		OptedOut: c.OptedOut, OptedOutAt: stampPtr(c.OptedOutAt), TelegramUnreachable: c.TelegramUnreachable,
		ExternalID: c.ExternalID, Created: &stamp{c.Created}}
	if c.Status != StatusActive {
		r.Status = &c.Status
	}
	if c.Consent != nil {
		r.ConsentAt, r.ConsentMethod = &stamp{c.Consent.At}, c.Consent.Method
	}
	if !sameStamp(c.Updated, c.Created) {
		r.Updated = &stamp{c.Updated}
	}
	return json.Marshal(r)
}

func decodeClient(raw []byte, id string) (*Client, error) {
	var r clientRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	if r.Created == nil {
		return nil, fmt.Errorf("client record %s has no created time", id)
	}
	c := &Client{ID: id, AgencyID: r.AgencyID, Name: r.Name, Phone: r.Phone, TelegramChat: r.TelegramChat, Channel: r.Channel,
		Timezone: r.Timezone, Language: r.Language, CaseManagerID: r.CaseManagerID, Status: StatusActive,
		OptedOut: r.OptedOut, OptedOutAt: r.OptedOutAt.timePtr(), TelegramUnreachable: r.TelegramUnreachable,
		ExternalID: r.ExternalID, Created: r.Created.t, Updated: r.Created.t}
	if r.Status != nil {
		c.Status = *r.Status
	}
	if r.ConsentAt != nil {
		c.Consent = &Consent{At: r.ConsentAt.t, Method: r.ConsentMethod}
	}
	if r.Updated != nil {
		c.Updated = r.Updated.t
	}
	return c, nil
}
