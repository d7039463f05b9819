package conversations

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Work kinds this package puts on the shared queue.
const (
	WorkCheckin  = "checkin"  // start a check-in now (API) or for an occurrence
	WorkTimeout  = "timeout"  // a question got no reply in time
	WorkReminder = "reminder" // an appointment reminder is due
	// WorkSafetyQuestion is the safety question's wait running out (Conv
	// names the message that led to the question).
	WorkSafetyQuestion = "safetyq"
)

// Work is the payload of this package's queued work.
type Work struct {
	Kind          string
	Client        string
	Agency        string
	Questionnaire string
	Schedule      string
	Occurrence    string // occurrence id: one occurrence, one check-in
	Due           time.Time
	Conv          string
	Seq           int
	Appointment   string
}

// workRecord is Work as queued: every due occurrence of every schedule
// waits in the queue, so it is short. A schedule's occurrence id is its
// schedule id and a slot (schedule.OccurrenceID): then the slot alone is
// kept (s + o); an occurrence id not made from its schedule's is kept whole
// (occ). Due is unix milliseconds.
type workRecord struct {
	Kind          string `json:"k"`
	Client        string `json:"c,omitempty"`
	Agency        string `json:"a,omitempty"`
	Questionnaire string `json:"q,omitempty"`
	Schedule      string `json:"s,omitempty"`
	Slot          string `json:"o,omitempty"`   // with s and no occ: the occurrence is s + ":" + o
	Occurrence    string `json:"occ,omitempty"` // the whole id
	Due           int64  `json:"d,omitempty"`
	Conv          string `json:"conv,omitempty"`
	Seq           int    `json:"seq,omitempty"`
	Appointment   string `json:"appt,omitempty"`
}

// MarshalJSON writes the short form (workRecord).
func (w Work) MarshalJSON() ([]byte, error) {
	r := workRecord{Kind: w.Kind, Client: w.Client, Agency: w.Agency, Questionnaire: w.Questionnaire,
		Schedule: w.Schedule, Occurrence: w.Occurrence, Conv: w.Conv, Seq: w.Seq, Appointment: w.Appointment}
	if slot, ok := strings.CutPrefix(w.Occurrence, w.Schedule+":"); w.Schedule != "" && ok && slot != "" {
		r.Slot, r.Occurrence = slot, ""
	}
	if !w.Due.IsZero() {
		r.Due = w.Due.UnixMilli()
	}
	return json.Marshal(r)
}

// UnmarshalJSON reads the short form.
func (w *Work) UnmarshalJSON(b []byte) error {
	var r workRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	*w = Work{Kind: r.Kind, Client: r.Client, Agency: r.Agency, Questionnaire: r.Questionnaire, Schedule: r.Schedule,
		Occurrence: r.Occurrence, Conv: r.Conv, Seq: r.Seq, Appointment: r.Appointment}
	if r.Schedule != "" && r.Occurrence == "" {
		w.Occurrence = r.Schedule + ":" + r.Slot
	}
	if r.Due != 0 {
		w.Due = time.UnixMilli(r.Due).UTC()
	}
	return nil
}

func (w Work) encode() []byte { b, _ := json.Marshal(w); return b }

// DecodeWork reads this package's queued work; ok is false for other kinds.
func DecodeWork(p []byte) (Work, bool) {
	var w Work
	if json.Unmarshal(p, &w) != nil {
		return w, false
	}
	switch w.Kind {
	case WorkCheckin, WorkTimeout, WorkReminder, WorkSafetyQuestion:
		return w, true
	}
	return w, false
}

// ErrBusy means the client is being worked on by another worker; try again shortly.
var ErrBusy = errors.New("client busy")

// ErrInvalid marks a request the caller got wrong.
var ErrInvalid = errors.New("invalid")

// LateLimit: an occurrence later than this (the service was down) is
// recorded as skipped rather than sent in the night.
const LateLimit = time.Hour
