package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
)

// ScheduleTemplate is an agency's named check-in plan (a questionnaire and
// an RRULE) that a client's schedule can be made from ("weekly-phq9"). A
// schedule made from it copies both: changing the template later changes
// no schedule already made.
type ScheduleTemplate struct {
	Name          string    `json:"name"`
	Questionnaire string    `json:"questionnaire"`
	RRule         string    `json:"rrule"`
	Updated       time.Time `json:"updated_at"`
}

// keyScheduleTemplates holds the agency's templates, JSON by name.
func keyScheduleTemplates(agency string) string { return agencyTag(agency) + ":schedtpls" }

// SaveScheduleTemplate creates or replaces the agency's template of that
// name (Updated is set).
func (s *Store) SaveScheduleTemplate(ctx context.Context, agency string, t *ScheduleTemplate) error {
	t.Updated = s.nowMilli()
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, keyScheduleTemplates(agency), t.Name, body).Err(); err != nil {
		return fmt.Errorf("save schedule template: %w", err)
	}
	return nil
}

// ScheduleTemplate loads one of the agency's templates (ErrNotFound).
func (s *Store) ScheduleTemplate(ctx context.Context, agency, name string) (*ScheduleTemplate, error) {
	raw, err := s.rdb.HGet(ctx, keyScheduleTemplates(agency), name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read schedule template: %w", err)
	}
	var t ScheduleTemplate
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("decode schedule template: %w", err)
	}
	return &t, nil
}

// ScheduleTemplates lists the agency's templates by name.
func (s *Store) ScheduleTemplates(ctx context.Context, agency string) ([]*ScheduleTemplate, error) {
	all, err := s.rdb.HGetAll(ctx, keyScheduleTemplates(agency)).Result()
	if err != nil {
		return nil, fmt.Errorf("list schedule templates: %w", err)
	}
	out := make([]*ScheduleTemplate, 0, len(all))
	for _, raw := range all {
		var t ScheduleTemplate
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			return nil, fmt.Errorf("decode schedule template: %w", err)
		}
		out = append(out, &t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteScheduleTemplate removes a template (ErrNotFound); schedules made
// from it keep their copy.
func (s *Store) DeleteScheduleTemplate(ctx context.Context, agency, name string) error {
	n, err := s.rdb.HDel(ctx, keyScheduleTemplates(agency), name).Result()
	if err != nil {
		return fmt.Errorf("delete schedule template: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
