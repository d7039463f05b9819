package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// scriptAuthFailed counts one failed authentication from a source in one
// step: the count restarts once its window is over, and the failure that
// reaches the limit locks the source for a window from that moment.
// KEYS[1] the source's record; ARGV now (unix ms), window (ms), limit.
// Returns {failures in this window, locked until (unix ms, 0: not locked)}.
var scriptAuthFailed = redis.NewScript(`
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'n', 'reset', 'lock')
local n, reset, lock = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0
if now >= reset then n = 0; reset = now + window end
n = n + 1
if n >= limit and lock <= now then lock = now + window end
redis.call('HSET', KEYS[1], 'n', n, 'reset', reset, 'lock', lock)
redis.call('PEXPIRE', KEYS[1], 2 * window)
return {n, lock}`)

// AuthFailed records a failed authentication (a wrong API key or operator
// token) from a source address and answers how many failures it has in the
// current window and until when it is locked (zero: not locked). Success
// never clears the record: an attacker who holds one key cannot use it to
// reset their count.
func (s *Store) AuthFailed(ctx context.Context, source string, now time.Time, limit int, window time.Duration) (int, time.Time, error) {
	res, err := scriptAuthFailed.Run(ctx, s.rdb, []string{keyAuthFailures(source)},
		now.UnixMilli(), window.Milliseconds(), limit).Int64Slice()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("record failed authentication: %w", err)
	}
	if len(res) != 2 {
		return 0, time.Time{}, fmt.Errorf("record failed authentication: script answered %v", res)
	}
	var until time.Time
	if res[1] > 0 {
		until = time.UnixMilli(res[1])
	}
	return int(res[0]), until, nil
}

// AuthLockedUntil is until when a source address is refused authentication
// (zero: it is not).
func (s *Store) AuthLockedUntil(ctx context.Context, source string) (time.Time, error) {
	ms, err := s.rdb.HGet(ctx, keyAuthFailures(source), "lock").Int64()
	if errors.Is(err, redis.Nil) || (err == nil && ms == 0) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read authentication lock: %w", err)
	}
	return time.UnixMilli(ms), nil
}
