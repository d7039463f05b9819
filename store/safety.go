package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SafetyClaim is what ClaimSafetyQuestion found.
type SafetyClaim struct {
	// Claimed: the client may be asked now; nobody else will ask them
	// again within the window.
	Claimed bool
	// OpenEscalation names the client's open escalation, which forbids
	// asking ("" none).
	OpenEscalation string
}

// ClaimSafetyQuestion claims the right to ask a client the safety question:
// granted when the client has no open escalation and was not asked within
// every (measured on the store's clock; Redis expiry only cleans up). The
// check and the claim are one script in the agency's hash slot.
func (s *Store) ClaimSafetyQuestion(ctx context.Context, agency, client string, every time.Duration) (SafetyClaim, error) {
	now := s.now().UnixMilli()
	keys := []string{keyOpenEscalation(agency, client), keySafetyAsked(agency, client)}
	res, err := scriptSafetyClaim.Run(ctx, s.rdb, keys, now, now+every.Milliseconds(), every.Milliseconds()).Slice()
	if err != nil || len(res) != 2 {
		return SafetyClaim{}, fmt.Errorf("claim safety question for client %s: %v %w", client, res, err)
	}
	n, _ := res[0].(int64)
	open, _ := res[1].(string)
	return SafetyClaim{Claimed: n == 1, OpenEscalation: open}, nil
}

// KEYS[1] the client's open-escalation pointer, KEYS[2] the asked marker.
// ARGV[1] now, ARGV[2] now + window (unix ms), ARGV[3] the window in ms.
var scriptSafetyClaim = redis.NewScript(`
local open = redis.call('GET', KEYS[1])
if open then return {0, open} end
local till = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if till > tonumber(ARGV[1]) then return {0, ''} end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {1, ''}`)
