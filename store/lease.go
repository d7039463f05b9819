package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// A lease lets one process among several do a job only one may do at a time
// (Telegram long polling: one getUpdates per bot token).
func keyLease(name string) string { return "lease:" + name }

var scriptRenew = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0`)

// HoldLease takes or renews the named lease for holder; it reports whether holder has it.
func (s *Store) HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	n, err := scriptRenew.Run(ctx, s.rdb, []string{keyLease(name)}, holder, ttl.Milliseconds()).Int()
	return n == 1, err
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return scriptDelIfEquals.Run(ctx, s.rdb, []string{keyLease(name)}, holder).Err()
}
