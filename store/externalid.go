package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrExternalIDTaken: another client of the agency has the external id.
var ErrExternalIDTaken = errors.New("external id belongs to another client of the agency")

// keyExternalID names the client of an agency with an external id.
func keyExternalID(agency, externalID string) string {
	return agencyTag(agency) + ":extid:" + externalID
}

// scriptClaimIfFree sets KEYS[1] to ARGV[1] unless it holds another value:
// 1 when it is (now) ARGV[1]'s, 0 when another holds it.
var scriptClaimIfFree = redis.NewScript(`local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`)

// scriptReleaseIfOwned deletes KEYS[1] when it holds ARGV[1].
var scriptReleaseIfOwned = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// claimExternalID makes externalID the client's among the agency's clients
// ("" claims nothing); ErrExternalIDTaken when another client has it.
func (s *Store) claimExternalID(ctx context.Context, agency, client, externalID string) error {
	if externalID == "" {
		return nil
	}
	ok, err := scriptClaimIfFree.Run(ctx, s.rdb, []string{keyExternalID(agency, externalID)}, client).Int()
	if err != nil {
		return fmt.Errorf("claim external id: %w", err)
	}
	if ok == 0 {
		return ErrExternalIDTaken
	}
	return nil
}

// releaseExternalID lets an external id go, if the client holds it. A
// failure leaves a claim that names a client without that id any more:
// claiming it for the same client still works, and the id's next holder
// is refused until the claim is released by hand.
func (s *Store) releaseExternalID(ctx context.Context, agency, client, externalID string) {
	if externalID == "" {
		return
	}
	_ = scriptReleaseIfOwned.Run(ctx, s.rdb, []string{keyExternalID(agency, externalID)}, client).Err()
}

// ClientByExternalID finds the agency's client with an external id.
func (s *Store) ClientByExternalID(ctx context.Context, agency, externalID string) (*Client, error) {
	id, err := s.rdb.Get(ctx, keyExternalID(agency, externalID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find external id: %w", err)
	}
	c, err := s.AgencyClient(ctx, agency, id)
	if err != nil || c.ExternalID != externalID {
		return nil, ErrNotFound
	}
	return c, nil
}
