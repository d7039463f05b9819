package store

import (
	"encoding/json"
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
	// Phrases are agency-added crisis or concern phrases.
	Phrases []Phrase `json:"phrases,omitempty"`
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
	Active       bool         `json:"active"`
	Created      time.Time    `json:"created_at"`
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
	Created             time.Time  `json:"created_at"`
	Updated             time.Time  `json:"updated_at"`
}

// Messageable reports whether routine messages (check-ins, reminders) may go
// to the client: consent recorded, not opted out, active.
func (c *Client) Messageable() bool {
	return c.Consent != nil && !c.OptedOut && c.Status == StatusActive
}

// clientRecord is a Client as stored under {c:<id>}:client: the id is the
// key's, defaults are left out, and updated_at only when it differs from
// created_at. The API shows Client, unchanged. (A conversion between the two
// types keeps every field: they differ in tags only.)
type clientRecord struct {
	ID                  string     `json:"id,omitempty"` // records written before this carry it
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
	OptedOut            bool       `json:"opted_out,omitempty"`
	OptedOutAt          *time.Time `json:"opted_out_at,omitempty"`
	TelegramUnreachable bool       `json:"telegram_unreachable,omitempty"`
	Created             time.Time  `json:"created_at"`
	Updated             time.Time  `json:"updated_at,omitzero"`
}

func encodeClient(c *Client) ([]byte, error) {
	r := clientRecord(*c)
	r.ID = ""
	if r.Updated.Equal(r.Created) {
		r.Updated = time.Time{}
	}
	return json.Marshal(r)
}

func decodeClient(raw []byte, id string) (*Client, error) {
	var r clientRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	c := Client(r)
	c.ID = id
	if c.Updated.IsZero() {
		c.Updated = c.Created
	}
	return &c, nil
}
