package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// LinkTTL is how long a Telegram link code stays usable.
const LinkTTL = 72 * time.Hour

func keyLink(code string) string { return "tglink:" + code }

// NewLinkCode makes a single-use code that binds a Telegram chat to o.
func (s *Store) NewLinkCode(ctx context.Context, o Owner) (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	code := idEncoding.EncodeToString(b[:])
	if err := s.rdb.Set(ctx, keyLink(code), o.value(), LinkTTL).Err(); err != nil {
		return "", fmt.Errorf("store link code: %w", err)
	}
	return code, nil
}

// LinkCodeOwner returns the owner a code was made for, leaving the code usable.
func (s *Store) LinkCodeOwner(ctx context.Context, code string) (Owner, error) {
	if len(code) == 0 || len(code) > 64 {
		return Owner{}, ErrNotFound
	}
	v, err := s.rdb.Get(ctx, keyLink(code)).Result()
	if errors.Is(err, redis.Nil) {
		return Owner{}, ErrNotFound
	}
	if err != nil {
		return Owner{}, fmt.Errorf("read link code: %w", err)
	}
	o, ok := parseOwner(v)
	if !ok {
		return Owner{}, ErrNotFound
	}
	return o, nil
}

// UseLinkCode consumes a code (GETDEL: single use) and returns its owner.
func (s *Store) UseLinkCode(ctx context.Context, code string) (Owner, error) {
	if len(code) == 0 || len(code) > 64 {
		return Owner{}, ErrNotFound
	}
	v, err := s.rdb.GetDel(ctx, keyLink(code)).Result()
	if errors.Is(err, redis.Nil) {
		return Owner{}, ErrNotFound
	}
	if err != nil {
		return Owner{}, fmt.Errorf("use link code: %w", err)
	}
	o, ok := parseOwner(v)
	if !ok {
		return Owner{}, ErrNotFound
	}
	return o, nil
}
