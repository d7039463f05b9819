package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// changeJSON changes the JSON record at key atomically: it reads the record
// under WATCH, lets change edit a decoded copy, and writes the copy back
// only if nobody wrote the key meanwhile. When somebody did, it reads and
// changes again, up to attempts times, then gives up with ErrChanged.
// A missing key is ErrNotFound; an error from change is returned as it is,
// with nothing written. It returns the record before and after the change.
func changeJSON[T any](ctx context.Context, s *Store, key string, attempts int, change func(*T) error) (before, after *T, err error) {
	for range attempts {
		err = s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			raw, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			before, after = new(T), new(T)
			if err := json.Unmarshal(raw, before); err != nil {
				return fmt.Errorf("decode %s: %w", key, err)
			}
			_ = json.Unmarshal(raw, after) // decoded once already
			if err := change(after); err != nil {
				return err
			}
			body, err := json.Marshal(after)
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
				return nil, nil, err
			}
			return before, after, nil
		}
	}
	return nil, nil, ErrChanged
}
