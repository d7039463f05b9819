package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A call counts as ringing or in progress from CallPlaced until CallEnded
// (Twilio's final status). When that status never comes (our server was
// down when Twilio sent it), the call is taken as over after a bound, so
// that the person is called again rather than sent SMS for the rest of the
// night:
//
//   - CallRingingFor after it was placed, unless it was answered: a call
//     rings 30 s before it is "no-answer";
//   - CallInFlightFor after it was placed or answered: the alert read twice
//     with its key press takes about a minute.
const (
	CallRingingFor  = 2 * time.Minute
	CallInFlightFor = 10 * time.Minute
)

func keyCalling(agency, staff string) string { return agencyTag(agency) + ":calling:" + staff }

// A call in flight is stored as "<call id> <unix ms placed>" (or "<alert>
// <unix ms reserved>" before it is placed: ReserveCall), then
// "<call id> answered" once picked up.
const callAnswered = "answered"

// CallPlaced records that an alert call to a staff member was placed (its
// ReserveCall grant becomes the call): it is ringing until CallAnswered,
// CallEnded or CallRingingFor.
func (s *Store) CallPlaced(ctx context.Context, agency, staff, callID string) error {
	v := callID + " " + strconv.FormatInt(s.now().UnixMilli(), 10)
	if err := s.rdb.Set(ctx, keyCalling(agency, staff), v, CallInFlightFor).Err(); err != nil {
		return fmt.Errorf("record call %s: %w", callID, err)
	}
	return nil
}

// scriptCallAnswered marks the call in KEYS[1] answered when it is the one
// in ARGV[1] (a newer call to the same person stays as it is).
var scriptCallAnswered = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
  return redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
end
return 0`)

// CallAnswered records that the call was picked up: it stays in progress
// until CallEnded or CallInFlightFor.
func (s *Store) CallAnswered(ctx context.Context, agency, staff, callID string) error {
	err := scriptCallAnswered.Run(ctx, s.rdb, []string{keyCalling(agency, staff)}, callID, callAnswered, CallInFlightFor.Milliseconds()).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("record call %s answered: %w", callID, err)
	}
	return nil
}

// scriptReserveCall grants KEYS[1] to the alert ARGV[1] unless another
// call to the person is ringing (placed or reserved ARGV[3] ms or less
// before now, ARGV[2] ms), answered, or stored by an older binary (a bare
// id): then it answers that call's id. The same alert again is granted.
// A grant is stored as "<alert> <now>" for ARGV[4] ms at most.
var scriptReserveCall = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local id, state = string.match(cur, '^(%S+) (%S+)$')
  if not id then id, state = cur, '' end
  if id == ARGV[1] then return '' end
  local at = tonumber(state)
  if not at or tonumber(ARGV[2]) - at <= tonumber(ARGV[3]) then return id end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[4])
return ''`)

// ReserveCall takes the right to call a staff member for one alert (alert:
// an id of it without spaces) and answers "", unless a call to them is
// ringing or in progress, or another alert's call to them is about to be
// placed: then it answers that call's id (or that alert's) and takes
// nothing, and the alert goes by SMS. Two alerts planned a moment apart,
// before Twilio took the first call, so place one call, not two. A grant
// not followed by CallPlaced (the call could not be placed) lapses after
// CallRingingFor.
func (s *Store) ReserveCall(ctx context.Context, agency, staff, alert string) (busy string, err error) {
	busy, err = scriptReserveCall.Run(ctx, s.rdb, []string{keyCalling(agency, staff)}, alert,
		s.now().UnixMilli(), CallRingingFor.Milliseconds(), CallInFlightFor.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("reserve a call to %s: %w", staff, err)
	}
	return busy, nil
}

// scriptCallEnded deletes KEYS[1] when it holds the call ARGV[1] (alone, as
// a binary before the ringing bound stored it).
var scriptCallEnded = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and (cur == ARGV[1] or string.sub(cur, 1, #ARGV[1] + 1) == ARGV[1] .. ' ') then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// CallEnded records a call's final status: it is no longer in flight. A
// newer call to the same person stays on record.
func (s *Store) CallEnded(ctx context.Context, agency, staff, callID string) error {
	if err := scriptCallEnded.Run(ctx, s.rdb, []string{keyCalling(agency, staff)}, callID).Err(); err != nil {
		return fmt.Errorf("record end of call %s: %w", callID, err)
	}
	return nil
}
