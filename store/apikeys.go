package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// APIKey is one of an agency's named API keys. The key itself is shown
// once, when made; only its SHA-256 is kept. A fast hash is enough: the
// key is 32 random bytes, so there is no dictionary to try and 2^256 keys to
// search, whereas argon2 (made for low-entropy passwords) would cost tens of
// milliseconds and megabytes on every API request, a lever for anyone
// sending wrong keys, and its salt would rule out finding the key by its hash.
type APIKey struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Prefix   string     `json:"prefix"` // the key's first characters, to tell keys apart
	Created  time.Time  `json:"created_at"`
	LastUsed *time.Time `json:"last_used_at"`
	Revoked  *time.Time `json:"revoked_at,omitempty"`
	// Hash is the key's SHA-256 (hex), to find its index entry on
	// revocation. Stored, never shown.
	Hash string `json:"-"`
}

// apiKeyRecord is an APIKey as stored: with its hash.
type apiKeyRecord struct {
	*APIKey
	Hash string `json:"hash"`
}

func encodeAPIKey(k *APIKey) ([]byte, error) { return json.Marshal(apiKeyRecord{k, k.Hash}) }

func decodeAPIKey(raw []byte) (*APIKey, error) {
	r := apiKeyRecord{APIKey: &APIKey{}}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	r.APIKey.Hash = r.Hash
	return r.APIKey, nil
}

// KeyUse is who an API key authenticates.
type KeyUse struct {
	AgencyID string
	KeyID    string
}

// InitialKeyName names the key made with an agency.
const InitialKeyName = "initial"

// keyPrefixLen is how many characters of a key its record shows: "cc_" and
// 7 of its 43 random characters (42 of 256 bits).
const keyPrefixLen = 10

// lastUseEvery bounds how often a key's last use is written: at most once
// per this, per key and process, so authentication costs no extra round
// trip on nearly every request.
const lastUseEvery = time.Minute

// keyUses remembers when this process last wrote each key's last use.
type keyUses struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func hashKey(apiKey string) string {
	sum := sha256.Sum256([]byte(apiKey))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey makes a new named key for an agency and returns it with the
// key itself, which is not kept. The record is written before the index,
// so an index entry never points at a missing record.
func (s *Store) CreateAPIKey(ctx context.Context, agencyID, name string) (*APIKey, string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", fmt.Errorf("api key: %w", err)
	}
	key := "cc_" + base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.nowMilli()
	k := &APIKey{ID: NewID("ak", now), Name: name, Prefix: key[:keyPrefixLen], Created: now, Hash: hashKey(key)}
	body, err := encodeAPIKey(k)
	if err != nil {
		return nil, "", err
	}
	if err := s.rdb.HSet(ctx, keyAPIKeys(agencyID), k.ID, body).Err(); err != nil {
		return nil, "", fmt.Errorf("store api key: %w", err)
	}
	if err := s.rdb.Set(ctx, keyAPIKey(k.Hash), agencyID+" "+k.ID, 0).Err(); err != nil {
		return nil, "", fmt.Errorf("store api key: %w", err)
	}
	return k, key, nil
}

// UseKey returns who an API key authenticates, or ErrNotFound: one round
// trip, plus one at most once a minute per key to record its last use. An
// index entry written before named keys ("<agency> <hash>") becomes the
// agency's "initial" key on first use.
func (s *Store) UseKey(ctx context.Context, apiKey string) (KeyUse, error) {
	h := hashKey(apiKey)
	v, err := s.hot.Get(ctx, keyAPIKey(h)).Result()
	if errors.Is(err, redis.Nil) {
		return KeyUse{}, ErrNotFound
	}
	if err != nil {
		return KeyUse{}, fmt.Errorf("look up api key: %w", err)
	}
	agency, id, ok := strings.Cut(v, " ")
	if !ok || agency == "" {
		return KeyUse{}, ErrNotFound
	}
	if !strings.HasPrefix(id, "ak_") {
		// The index entry of a key made before named keys holds its hash.
		if subtle.ConstantTimeCompare([]byte(id), []byte(h)) != 1 {
			return KeyUse{}, ErrNotFound
		}
		if id, err = s.nameLegacyKey(ctx, agency, apiKey, h); err != nil {
			return KeyUse{}, err
		}
	}
	u := KeyUse{AgencyID: agency, KeyID: id}
	s.noteKeyUse(ctx, u)
	return u, nil
}

// nameLegacyKey gives a key made before named keys its record, as the
// agency's "initial" key.
func (s *Store) nameLegacyKey(ctx context.Context, agencyID, apiKey, h string) (string, error) {
	created := s.nowMilli()
	if a, err := s.Agency(ctx, agencyID); err == nil {
		created = a.Created
	}
	k := &APIKey{ID: NewID("ak", created), Name: InitialKeyName, Prefix: apiKey[:min(keyPrefixLen, len(apiKey))], Created: created, Hash: h}
	body, err := encodeAPIKey(k)
	if err != nil {
		return "", err
	}
	if err := s.rdb.HSet(ctx, keyAPIKeys(agencyID), k.ID, body).Err(); err != nil {
		return "", fmt.Errorf("name api key: %w", err)
	}
	// Only if the entry still holds the hash: a concurrent first use that
	// won keeps its id (this record stays, unlisted, as revoked).
	swapped, err := scriptSetIfEquals.Run(ctx, s.rdb, []string{keyAPIKey(h)}, agencyID+" "+h, agencyID+" "+k.ID).Int()
	if err != nil {
		return "", fmt.Errorf("name api key: %w", err)
	}
	if swapped == 1 {
		return k.ID, nil
	}
	now := s.nowMilli()
	k.Revoked = &now
	if body, err = encodeAPIKey(k); err == nil {
		_ = s.rdb.HSet(ctx, keyAPIKeys(agencyID), k.ID, body).Err()
	}
	v, err := s.rdb.Get(ctx, keyAPIKey(h)).Result()
	if err != nil {
		return "", ErrNotFound
	}
	_, id, _ := strings.Cut(v, " ")
	return id, nil
}

var scriptSetIfEquals = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`)

// noteKeyUse records a key's last use, at most once per lastUseEvery per
// key in this process. A failed write is dropped: the last use is a hint.
func (s *Store) noteKeyUse(ctx context.Context, u KeyUse) {
	now := s.now()
	s.keyUses.mu.Lock()
	if s.keyUses.last == nil {
		s.keyUses.last = map[string]time.Time{}
	}
	if last, ok := s.keyUses.last[u.KeyID]; ok && now.Sub(last) < lastUseEvery && !now.Before(last) {
		s.keyUses.mu.Unlock()
		return
	}
	s.keyUses.last[u.KeyID] = now
	s.keyUses.mu.Unlock()
	_ = s.rdb.HSet(ctx, keyAPIKeysUsed(u.AgencyID), u.KeyID, now.UnixMilli()).Err()
}

// AgencyForKey returns the agency id an API key belongs to, or ErrNotFound.
func (s *Store) AgencyForKey(ctx context.Context, apiKey string) (string, error) {
	u, err := s.UseKey(ctx, apiKey)
	return u.AgencyID, err
}

// APIKeys lists an agency's keys, oldest first; revoked ones only when
// revoked is true.
func (s *Store) APIKeys(ctx context.Context, agencyID string, revoked bool) ([]*APIKey, error) {
	pipe := s.rdb.Pipeline()
	recs := pipe.HGetAll(ctx, keyAPIKeys(agencyID))
	used := pipe.HGetAll(ctx, keyAPIKeysUsed(agencyID))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out := []*APIKey{}
	for id, raw := range recs.Val() {
		k, err := decodeAPIKey([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("decode api key %s: %w", id, err)
		}
		if k.Revoked != nil && !revoked {
			continue
		}
		if ms, err := strconv.ParseInt(used.Val()[id], 10, 64); err == nil {
			t := time.UnixMilli(ms).UTC()
			k.LastUsed = &t
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *APIKey) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// APIKeyByID returns one of an agency's keys (revoked too).
func (s *Store) APIKeyByID(ctx context.Context, agencyID, id string) (*APIKey, error) {
	raw, err := s.rdb.HGet(ctx, keyAPIKeys(agencyID), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read api key: %w", err)
	}
	k, err := decodeAPIKey(raw)
	if err != nil {
		return nil, fmt.Errorf("decode api key %s: %w", id, err)
	}
	return k, nil
}

// ErrLastKey refuses to revoke an agency's last key: it would lock the
// agency out of its own API.
var ErrLastKey = errors.New("the agency's last API key")

// RevokeAPIKey revokes one of an agency's keys: its index entry goes first,
// so the next request with it is refused, then the record is marked
// revoked (kept, so the audit can name it). An already revoked key is
// ErrNotFound; the agency's last live key is ErrLastKey.
func (s *Store) RevokeAPIKey(ctx context.Context, agencyID, id string) (*APIKey, error) {
	keys, err := s.rdb.HGetAll(ctx, keyAPIKeys(agencyID)).Result()
	if err != nil {
		return nil, fmt.Errorf("revoke api key: %w", err)
	}
	var k *APIKey
	live := 0
	for kid, raw := range keys {
		x, err := decodeAPIKey([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("decode api key %s: %w", kid, err)
		}
		if x.Revoked == nil {
			live++
			if kid == id {
				k = x
			}
		}
	}
	if k == nil {
		return nil, ErrNotFound
	}
	if live < 2 {
		return nil, ErrLastKey
	}
	if err := scriptDelIfEquals.Run(ctx, s.rdb, []string{keyAPIKey(k.Hash)}, agencyID+" "+k.ID).Err(); err != nil {
		return nil, fmt.Errorf("revoke api key: %w", err)
	}
	now := s.nowMilli()
	k.Revoked = &now
	body, err := encodeAPIKey(k)
	if err != nil {
		return nil, err
	}
	if err := s.rdb.HSet(ctx, keyAPIKeys(agencyID), k.ID, body).Err(); err != nil {
		return nil, fmt.Errorf("revoke api key: %w", err)
	}
	return k, nil
}
