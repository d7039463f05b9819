package store

import (
	"context"
	"encoding/json"
	"fmt"
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

func keySchedules(client string) string    { return clientTag(client) + ":schedules" }
func keyAppointments(client string) string { return clientTag(client) + ":appointments" }

// SaveSchedule creates or overwrites a schedule (a hash field per schedule).
func (s *Store) SaveSchedule(ctx context.Context, sc *Schedule) error {
	if sc.ID == "" {
		sc.ID = NewID("sc", s.now())
		sc.Created = s.now().UTC()
	}
	// Stored without what its place says: the hash field is its id, the
	// key its client (both filled in again when read).
	rec := *sc
	rec.ID, rec.ClientID = "", ""
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.rdb.HSet(ctx, keySchedules(sc.ClientID), sc.ID, body).Err()
}

// placed fills in what a stored schedule leaves to its place.
func placed(client string) func(*Schedule, string) {
	return func(sc *Schedule, id string) {
		if sc.ID == "" {
			sc.ID = id
		}
		if sc.ClientID == "" {
			sc.ClientID = client
		}
	}
}

// Schedules lists a client's schedules.
func (s *Store) Schedules(ctx context.Context, client string) ([]*Schedule, error) {
	return hashRecords(ctx, s, keySchedules(client), placed(client))
}

// ClientSchedule loads one schedule.
func (s *Store) ClientSchedule(ctx context.Context, client, id string) (*Schedule, error) {
	return hashRecord(ctx, s, keySchedules(client), id, placed(client))
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
