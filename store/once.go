package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ProviderSeenFor is how long a provider's message id is remembered for
// dropping its re-deliveries (providers retry within hours).
const ProviderSeenFor = 7 * 24 * time.Hour

// MarkProviderSeen records that the message a provider delivered with this
// id on channel was taken (messages not stored on a client's timeline:
// staff replies, unknown senders); first is false for a re-delivery.
func (s *Store) MarkProviderSeen(ctx context.Context, channel, providerID string) (first bool, err error) {
	first, err = s.once(ctx, keyProviderSeen(channel, providerID), ProviderSeenFor)
	if err != nil {
		return false, fmt.Errorf("mark provider message %s seen: %w", providerID, err)
	}
	return first, nil
}

// ForgetProviderSeen undoes MarkProviderSeen when the message's effect
// failed, so that the provider's retry is taken rather than dropped.
func (s *Store) ForgetProviderSeen(ctx context.Context, channel, providerID string) error {
	if err := s.rdb.Del(ctx, keyProviderSeen(channel, providerID)).Err(); err != nil {
		return fmt.Errorf("forget provider message %s: %w", providerID, err)
	}
	return nil
}

// MarkUnknownSenderAnswered reports true the first time within every that an
// address nobody owns is answered on channel (the reply that tells a stranger
// who we are goes out at most that often).
func (s *Store) MarkUnknownSenderAnswered(ctx context.Context, channel, addr string, every time.Duration) (bool, error) {
	first, err := s.once(ctx, keyUnknownAnswered(channel, addr), every)
	if err != nil {
		return false, fmt.Errorf("mark unknown sender answered: %w", err)
	}
	return first, nil
}

// ForgetUnknownSenderAnswered undoes MarkUnknownSenderAnswered when the
// answer could not be queued, so that the provider's retry answers.
func (s *Store) ForgetUnknownSenderAnswered(ctx context.Context, channel, addr string) error {
	if err := s.rdb.Del(ctx, keyUnknownAnswered(channel, addr)).Err(); err != nil {
		return fmt.Errorf("forget the unknown sender's answer: %w", err)
	}
	return nil
}

// once reports true the first time it is called for key within ttl. The
// window is measured on the store's clock (so tests with a fake clock see it
// close); Redis expiry only cleans up.
func (s *Store) once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	now := s.now().UnixMilli()
	n, err := scriptOnce.Run(ctx, s.rdb, []string{key}, now, now+ttl.Milliseconds(), ttl.Milliseconds()).Int()
	return n == 1, err
}

// scriptOnce sets KEYS[1] to ARGV[2] (the window's end, ms) for ARGV[3] ms
// unless it holds a later end than ARGV[1] (now): 1 when it set it, else 0.
var scriptOnce = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)
