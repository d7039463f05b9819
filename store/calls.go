package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// CallInFlightFor bounds how long a placed call counts as ringing or in
// progress when its final status never comes: a call rings 30 s, and the
// alert it reads, twice, with its key press, takes about a minute.
const CallInFlightFor = 10 * time.Minute

func keyCalling(agency, staff string) string { return agencyTag(agency) + ":calling:" + staff }

// CallPlaced records that an alert call to a staff member was placed: it
// is ringing or in progress until CallEnded (or CallInFlightFor).
func (s *Store) CallPlaced(ctx context.Context, agency, staff, callID string) error {
	if err := s.rdb.Set(ctx, keyCalling(agency, staff), callID, CallInFlightFor).Err(); err != nil {
		return fmt.Errorf("record call %s: %w", callID, err)
	}
	return nil
}

// CallInFlight returns the call to a staff member that is ringing or in
// progress, "" for none.
func (s *Store) CallInFlight(ctx context.Context, agency, staff string) (string, error) {
	id, err := s.rdb.Get(ctx, keyCalling(agency, staff)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read call in flight: %w", err)
	}
	return id, nil
}

// CallEnded records a call's final status: it is no longer in flight. A
// newer call to the same person stays on record.
func (s *Store) CallEnded(ctx context.Context, agency, staff, callID string) error {
	if err := scriptReleaseIfOwned.Run(ctx, s.rdb, []string{keyCalling(agency, staff)}, callID).Err(); err != nil {
		return fmt.Errorf("record end of call %s: %w", callID, err)
	}
	return nil
}
