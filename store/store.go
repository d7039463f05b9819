// Package store is CareCheck's only door to Redis: every key, script and
// record type lives here. Keys of one client share the hash tag {c:<id>} and
// keys of one agency share {a:<id>}, so multi-key scripts run on Redis Cluster.
package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// SchemaVersion is written to the schema key at start; a store holding a newer
// version refuses to start rather than misread records. 3: agencies may have
// their own SMS identity and phone space (an older binary would send their
// messages from the default number and not find their people); the keys of
// version 2 are read as they are.
// 4: indexes of each agency's unresolved escalations and of each client's
// escalations, built from the records at the first start.
const SchemaVersion = 4

// Errors callers map to user-facing answers.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Store holds the Redis connection and the loaded scripts.
type Store struct {
	rdb redis.UniversalClient
	// hot carries the round trips every message pays (owner lookup, store
	// and load, apply, sent marker). On one node it is go-redis's
	// full-duplex auto-pipeliner: concurrent callers' commands and pipelines
	// share one connection and are written and read in batches, so Redis and
	// this process make one read and one write system call per batch instead
	// of per caller. Elsewhere (Sentinel, Cluster) it is rdb.
	hot redis.Cmdable
	// smsNumber is Options.SMSNumber, fixed at Open.
	smsNumber string
	// lines remembers which agency owns the numbers texts come to (PhoneOwner).
	lines *lineCache
	now   func() time.Time
	// observer is told of records written (SetObserver); nil: nobody.
	observer Observer
	// keyUses spaces the writes of API keys' last use.
	keyUses keyUses
}

// Options configure Open.
type Options struct {
	// URL is a redis:// or rediss:// URL; "" starts the embedded in-memory
	// server. Several comma-separated addresses in "redis://a,b,c" form or
	// the ?addr= parameter select a Cluster (go-redis ParseClusterURL);
	// "redis-sentinel://" style is covered by ?master_name=.
	URL string
	// Cluster forces the Cluster client for URL.
	Cluster bool
	// NoAutoPipeline keeps the per-message round trips on the pooled client
	// on one node too (see Store.hot).
	NoAutoPipeline bool
	// SMSNumber is the number clients text: a phone is owned by one active
	// person per sending number ("" names a default one).
	SMSNumber string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Open connects to Redis (or starts the embedded server), checks the schema
// version and returns the store and a function that releases everything.
func Open(ctx context.Context, o Options) (*Store, func() error, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var closers []func() error
	url := o.URL
	if url == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("start embedded redis: %w", err)
		}
		closers = append(closers, func() error { mr.Close(); return nil })
		url = "redis://" + mr.Addr()
		o.Log.Warn("REDIS_URL is not set: using the EMBEDDED in-memory store; NOTHING SURVIVES A RESTART. Set REDIS_URL for production.", "store", "embedded", "addr", mr.Addr())
	}
	rdb, err := NewClient(url, o.Cluster)
	if err != nil {
		for _, c := range closers {
			_ = c()
		}
		return nil, nil, err
	}
	closers = append([]func() error{rdb.Close}, closers...)
	closeAll := func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	s := newStore(rdb, o.Now, !o.NoAutoPipeline)
	s.smsNumber = o.SMSNumber
	if err := s.checkSchema(ctx); err != nil {
		_ = closeAll()
		return nil, nil, err
	}
	return s, closeAll, nil
}

// NewClient builds a go-redis UniversalClient from a URL: a single node by
// default, a Sentinel group when the URL names master_name, a Cluster when
// cluster is set or the URL lists several addresses.
func NewClient(url string, cluster bool) (redis.UniversalClient, error) {
	// A Sentinel URL lists its Sentinels with addr= (or commas) too: it is
	// told apart from a Cluster's by master_name.
	if strings.Contains(url, "master_name=") && !cluster {
		u := severalHosts(url)
		opt, err := redis.ParseFailoverURL(u)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opt.Protocol = protocol(url)
		opt.Dialer = withoutPeek(redis.NewDialer(&redis.Options{DialTimeout: opt.DialTimeout, TLSConfig: opt.TLSConfig}))
		return redis.NewFailoverClient(opt), nil
	}
	if cluster || strings.Contains(url, ",") || strings.Contains(url, "addr=") {
		opt, err := redis.ParseClusterURL(severalHosts(url))
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opt.Protocol = protocol(url)
		opt.Dialer = withoutPeek(redis.NewDialer(&redis.Options{DialTimeout: opt.DialTimeout, TLSConfig: opt.TLSConfig}))
		return redis.NewClusterClient(opt), nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.PoolSize = 256
	opt.Protocol = protocol(url)
	opt.Dialer = withoutPeek(redis.NewDialer(opt))
	return redis.NewClient(opt), nil
}

// severalHosts turns "redis://h1:p1,h2:p2,h3:p3/db?q" into go-redis's form,
// the first host plus addr= for the others:
// "redis://h1:p1/db?addr=h2:p2&addr=h3:p3&q". Other URLs are returned as
// they are.
func severalHosts(url string) string {
	if !strings.Contains(url, ",") || strings.Contains(url, "addr=") {
		return url
	}
	scheme, rest, _ := strings.Cut(url, "://")
	rest, query, _ := strings.Cut(rest, "?")
	hosts, path, _ := strings.Cut(rest, "/")
	list := strings.Split(hosts, ",")
	u := scheme + "://" + list[0]
	if path != "" {
		u += "/" + path
	}
	u += "?addr=" + strings.Join(list[1:], "&addr=")
	if query != "" {
		u += "&" + query
	}
	return u
}

// noPeek is a connection to Redis without its file descriptor showing.
// go-redis peeks (a recvfrom syscall) at every pooled connection it hands
// out, when it can reach the descriptor, to catch one the server closed:
// 5 % of the service's CPU in the inbound bench. It already skips the peek
// on TLS connections; a connection that did die fails its command with a
// network error, which go-redis retries on a fresh connection.
type noPeek struct{ net.Conn }

func withoutPeek(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return noPeek{c}, nil
	}
}

// protocol is the RESP version to speak: 2 unless the URL asks for another.
// CareCheck uses no RESP3 feature (no push notifications, no client-side
// caching), and under RESP3 go-redis checks every reply for pending push
// notifications: 7 % of the service's CPU in the inbound bench.
func protocol(url string) int {
	if _, q, ok := strings.Cut(url, "?"); ok {
		for kv := range strings.SplitSeq(q, "&") {
			if k, v, _ := strings.Cut(kv, "="); k == "protocol" {
				if n, err := strconv.Atoi(v); err == nil {
					return n
				}
			}
		}
	}
	return 2
}

// New wraps an existing client (tests, the bench).
func New(rdb redis.UniversalClient, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return newStore(rdb, now, true)
}

func newStore(rdb redis.UniversalClient, now func() time.Time, autoPipeline bool) *Store {
	s := &Store{rdb: rdb, hot: rdb, now: now, lines: &lineCache{}}
	// Sentinel keeps the pooled client: how the auto-pipeliner's held
	// connection follows a failover is not tested here.
	if c, ok := rdb.(*redis.Client); ok && autoPipeline && c.Options().Addr != "FailoverClient" {
		// Closed with the client. A blocking command or MULTI given to it
		// would run on a pooled connection of its own; none is.
		if ap, err := c.AutoPipelineWithOptions(&redis.AutoPipelineOptions{FullDuplex: true}); err == nil {
			s.hot = ap
		}
	}
	return s
}

// Redis exposes the client for health checks and the bench.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

const keySchema = "carecheck:schema"

func (s *Store) checkSchema(ctx context.Context) error {
	v, err := s.rdb.Get(ctx, keySchema).Int()
	switch {
	case errors.Is(err, redis.Nil):
		return s.rdb.SetNX(ctx, keySchema, SchemaVersion, 0).Err()
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	case v > SchemaVersion:
		return fmt.Errorf("redis holds schema version %d, this binary knows %d: upgrade the binary", v, SchemaVersion)
	case v < SchemaVersion:
		if v < 2 {
			if err := s.moveOpenPointers(ctx); err != nil {
				return fmt.Errorf("schema 1 to 2: %w", err)
			}
		}
		// 2 to 3 adds keys and a field; nothing stored changes.
		if v < 4 {
			if err := s.IndexEscalations(ctx); err != nil {
				return fmt.Errorf("schema 3 to 4: %w", err)
			}
		}
		return s.rdb.Set(ctx, keySchema, SchemaVersion, 0).Err()
	}
	return nil
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns prefix + "_" + a time-ordered random id (48-bit millisecond
// time, 80 random bits). Time order lets lists page by id.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// idFloor is the smallest id NewID can make at t or later: ids compare as
// their times do, so it bounds a range of ids by time.
func idFloor(prefix string, t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// Page is one page of a list: the items and the cursor of the next page ("" at the end).
type Page[T any] struct {
	Items []T
	Next  string
}

// IsID reports whether id is one NewID made with prefix ("cl", "cm", "es").
func IsID(prefix, id string) bool {
	if !strings.HasPrefix(id, prefix+"_") {
		return false
	}
	_, ok := idTime(id)
	return ok
}

// idTime is the millisecond a NewID id was made at; ok is false for an id
// not made by NewID.
func idTime(id string) (time.Time, bool) {
	_, enc, ok := strings.Cut(id, "_")
	if !ok || len(enc) != idEncoding.EncodedLen(16) {
		return time.Time{}, false
	}
	b, err := idEncoding.DecodeString(enc)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8]) >> 16)).UTC(), true
}
