package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Schedule is a client's recurring check-in.
type Schedule struct {
	ID            string     `json:"id,omitempty"`        // empty only as stored
	ClientID      string     `json:"client_id,omitempty"` // empty only as stored
	AgencyID      string     `json:"agency_id"`
	Questionnaire string     `json:"questionnaire"`
	RRule         string     `json:"rrule"`
	Start         time.Time  `json:"start"`
	Until         *time.Time `json:"until,omitempty"`
	Timezone      string     `json:"timezone"`
	Paused        bool       `json:"paused"`
	Created       time.Time  `json:"created_at"`
	// Template names the agency's schedule template it was made from; the
	// schedule keeps its own copy of the questionnaire and rule.
	Template string `json:"template,omitempty"`
}

// Appointment is a client's appointment with reminders before it.
type Appointment struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	AgencyID  string    `json:"agency_id"`
	At        time.Time `json:"at"`
	With      string    `json:"with"`
	Location  string    `json:"location,omitempty"`
	Reminders []string  `json:"reminders"`
	Status    string    `json:"status"` // scheduled | confirmed | reschedule-requested | cancelled
	Created   time.Time `json:"created_at"`
}

func keyAppointments(client string) string { return clientTag(client) + ":appointments" }

// A client's schedules are one string (keySched): a JSON object of compact
// records by schedule id (about 200 bytes for one schedule).
func keySched(client string) string { return clientTag(client) + ":sched" }

// scheduleRecord is a Schedule as stored: the id is its place in the
// object, the client and agency the key's (the agency read from the client
// record), created left out when the id's own time says it.
type scheduleRecord struct {
	Questionnaire string `json:"q"`
	RRule         string `json:"r"`
	Start         stamp  `json:"s"`
	Until         *stamp `json:"u,omitempty"`
	Timezone      string `json:"tz"`
	Paused        bool   `json:"p,omitempty"`
	Created       *stamp `json:"c,omitempty"`
	Template      string `json:"t,omitempty"`
}

func newScheduleRecord(sc *Schedule) scheduleRecord {
	r := scheduleRecord{Questionnaire: sc.Questionnaire, RRule: sc.RRule, Start: stamp{sc.Start}, Until: stampPtr(sc.Until),
		Timezone: sc.Timezone, Paused: sc.Paused, Template: sc.Template}
	if t, ok := idTime(sc.ID); !ok || !sameStamp(t, sc.Created) {
		r.Created = &stamp{sc.Created}
	}
	return r
}

func (r scheduleRecord) schedule(id, client, agency string) *Schedule {
	sc := &Schedule{ID: id, ClientID: client, AgencyID: agency, Questionnaire: r.Questionnaire, RRule: r.RRule,
		Start: r.Start.t, Until: r.Until.timePtr(), Timezone: r.Timezone, Paused: r.Paused, Template: r.Template}
	if r.Created != nil {
		sc.Created = r.Created.t
	} else {
		sc.Created, _ = idTime(id)
	}
	return sc
}

// SaveSchedule creates or overwrites a schedule.
func (s *Store) SaveSchedule(ctx context.Context, sc *Schedule) error {
	if sc.ID == "" {
		// The id's time is the created time: a record then leaves it out.
		now := s.nowMilli()
		sc.ID = NewID("sc", now)
		sc.Created = now
	}
	key := keySched(sc.ClientID)
	// Optimistic: a schedule saved by another request between the read and
	// the write makes the write fail, and it is read again.
	for range 10 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			st, err := readSchedules(ctx, tx, sc.ClientID, false)
			if err != nil {
				return err
			}
			st.byID[sc.ID] = newScheduleRecord(sc)
			body, err := json.Marshal(st.byID)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, body, 0)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			if err != nil {
				return fmt.Errorf("save schedule: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("save schedule: %w", ErrConflict)
}

// storedSchedules is one read of a client's schedules.
type storedSchedules struct {
	byID   map[string]scheduleRecord
	agency string // the client record's, when asked for
}

// readSchedules reads a client's schedules in one round trip, with the
// client record's agency when withAgency.
func readSchedules(ctx context.Context, c redis.Cmdable, client string, withAgency bool) (storedSchedules, error) {
	out := storedSchedules{byID: map[string]scheduleRecord{}}
	pipe := c.Pipeline()
	var cl *redis.StringCmd
	if withAgency {
		cl = pipe.Get(ctx, keyClient(client))
	}
	compact := pipe.Get(ctx, keySched(client))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return out, fmt.Errorf("read schedules: %w", err)
	}
	if raw, err := compact.Bytes(); err == nil {
		if err := json.Unmarshal(raw, &out.byID); err != nil {
			return out, fmt.Errorf("decode schedules of client %s: %w", client, err)
		}
	}
	if cl != nil {
		if raw, err := cl.Bytes(); err == nil {
			c, err := decodeClient(raw, client)
			if err != nil {
				return out, fmt.Errorf("decode client %s: %w", client, err)
			}
			out.agency = c.AgencyID
		}
	}
	return out, nil
}

// Schedules lists a client's schedules, by id.
func (s *Store) Schedules(ctx context.Context, client string) ([]*Schedule, error) {
	st, err := readSchedules(ctx, s.rdb, client, true)
	if err != nil {
		return nil, err
	}
	out := make([]*Schedule, 0, len(st.byID))
	for _, id := range slices.Sorted(maps.Keys(st.byID)) {
		out = append(out, st.byID[id].schedule(id, client, st.agency))
	}
	return out, nil
}

// ClientSchedule loads one schedule.
func (s *Store) ClientSchedule(ctx context.Context, client, id string) (*Schedule, error) {
	st, err := readSchedules(ctx, s.rdb, client, true)
	if err != nil {
		return nil, err
	}
	r, ok := st.byID[id]
	if !ok {
		return nil, ErrNotFound
	}
	return r.schedule(id, client, st.agency), nil
}

// SaveAppointment creates or overwrites an appointment.
func (s *Store) SaveAppointment(ctx context.Context, ap *Appointment) error {
	if ap.ID == "" {
		ap.ID = NewID("ap", s.now())
		ap.Created = s.now().UTC()
	}
	body, err := json.Marshal(ap)
	if err != nil {
		return err
	}
	return s.rdb.HSet(ctx, keyAppointments(ap.ClientID), ap.ID, body).Err()
}

// Appointments lists a client's appointments.
func (s *Store) Appointments(ctx context.Context, client string) ([]*Appointment, error) {
	return hashRecords[Appointment](ctx, s, keyAppointments(client), nil)
}

// ClientAppointment loads one appointment.
func (s *Store) ClientAppointment(ctx context.Context, client, id string) (*Appointment, error) {
	return hashRecord[Appointment](ctx, s, keyAppointments(client), id, nil)
}

// hashRecords reads every JSON record of a hash; fill, when not nil, is
// given each record with its field.
func hashRecords[T any](ctx context.Context, s *Store, key string, fill func(*T, string)) ([]*T, error) {
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	out := make([]*T, 0, len(m))
	for field, raw := range m {
		var v T
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
		if fill != nil {
			fill(&v, field)
		}
		out = append(out, &v)
	}
	return out, nil
}

func hashRecord[T any](ctx context.Context, s *Store, key, field string, fill func(*T, string)) (*T, error) {
	raw, err := s.rdb.HGet(ctx, key, field).Bytes()
	if err == redis.Nil {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if fill != nil {
		fill(&v, field)
	}
	return &v, nil
}

func keyQuestionnaires(agency string) string { return agencyTag(agency) + ":questionnaires" }

// SaveQuestionnaire stores an agency-defined questionnaire (raw JSON by id).
func (s *Store) SaveQuestionnaire(ctx context.Context, agency, id string, body []byte) (bool, error) {
	return s.rdb.HSetNX(ctx, keyQuestionnaires(agency), id, body).Result()
}

// Questionnaires returns an agency's own questionnaires (raw JSON by id).
func (s *Store) Questionnaires(ctx context.Context, agency string) (map[string]string, error) {
	return s.rdb.HGetAll(ctx, keyQuestionnaires(agency)).Result()
}
