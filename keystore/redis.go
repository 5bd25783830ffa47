package keystore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisNamespace is the namespace a RedisStore uses when given none.
const DefaultRedisNamespace = "signet"

// redisUpdateAttempts bounds the optimistic retries of UpdateKey.
const redisUpdateAttempts = 100

// RedisStore is the shared Store: every instance that points at the same
// Redis (single node, Sentinel or Cluster, through a redis.UniversalClient)
// and namespace sees the same keys, secret and revocations, and receives
// everyone's changes through Redis pub/sub.
//
// Layout, for namespace ns (default "signet"). Every key carries the hash
// tag {ns}, so Redis Cluster puts them in one slot and the multi-key
// scripts below may touch them together:
//
//	{ns}:keys         HASH   key id -> JSON record (with the digest, hex)
//	{ns}:digests      HASH   digest hex -> key id
//	{ns}:lastused     HASH   key id -> unix seconds (only ever raised)
//	{ns}:secret       STRING JSON of the generated signing secret
//	{ns}:revocations  ZSET   Revocation.Ident() scored by ExpiresAt (unix ms);
//	                         the key expires with its latest record
//	{ns}:changes      pub/sub channel of the change feed
//
// Writes are single Lua scripts (create, delete, touch, revoke) or an
// optimistic WATCH/MULTI transaction (update), and each publishes its change
// message in the same script or transaction, so a write is never stored
// without its message being published. Pub/sub still loses messages
// (a subscriber that is disconnected at the time misses them): the feed
// then reports a Resync when it reconnects, and the cache's periodic
// resync repairs anything else.
//
// A write whose reply is lost (the connection breaks after Redis ran it)
// is reported as ErrUnavailable although it happened, and go-redis may
// retry it on a new connection: a retried CreateKey then reports ErrExists
// and a retried DeleteKey ErrNotFound. Callers that retry should read the
// key back.
//
// Revocations need Redis 6.2 or later (ZADD GT).
type RedisStore struct {
	client redis.UniversalClient

	kKeys, kDigests, kLastUsed, kSecret, kRevs, channel string

	closeState
	// feeds is the context of the change-feed goroutines (redisfeed.go):
	// Close cancels it (stopFeeds) and waits for them (running).
	feeds     context.Context
	stopFeeds context.CancelFunc
	running   sync.WaitGroup
	mu        sync.Mutex // orders Subscribe against Close
}

// NewRedisStore returns a store kept in Redis through client, under
// namespace (DefaultRedisNamespace if empty). The store takes ownership of
// the client: Close closes it. It does not contact Redis; use Ping to check
// that it answers.
func NewRedisStore(client redis.UniversalClient, namespace string) *RedisStore {
	if namespace == "" {
		namespace = DefaultRedisNamespace
	}
	p := "{" + namespace + "}:"
	feeds, stop := context.WithCancel(context.Background())
	return &RedisStore{
		client:    client,
		kKeys:     p + "keys",
		kDigests:  p + "digests",
		kLastUsed: p + "lastused",
		kSecret:   p + "secret",
		kRevs:     p + "revocations",
		channel:   p + "changes",
		feeds:     feeds,
		stopFeeds: stop,
	}
}

// optString returns a reply that may be nil (a missing field) as "".
func optString(v any) string {
	s, _ := v.(string)
	return s
}

// CreateKey: KEYS keys, digests, lastused; ARGV id, digest hex, record,
// last used ("" for none), channel, message. Returns 1, or 0 if the id or
// the digest exists.
var redisCreateKey = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
else
  redis.call('HDEL', KEYS[3], ARGV[1])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`)

// putPayload is what storing k writes to {ns}:keys and publishes.
func putPayload(k *Key) (stored, msg []byte, err error) {
	if stored, err = encodeStored(k); err != nil {
		return nil, nil, err
	}
	msg, err = putMessage(k)
	return stored, msg, err
}

// CreateKey implements Store.
func (s *RedisStore) CreateKey(ctx context.Context, k *Key) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	k.Rev = 1
	rec, msg, err := putPayload(k)
	if err != nil {
		return err
	}
	var lastUsed string
	if k.LastUsedAt != nil {
		lastUsed = strconv.FormatInt(k.LastUsedAt.Unix(), 10)
	}
	n, err := redisCreateKey.Run(ctx, s.client,
		[]string{s.kKeys, s.kDigests, s.kLastUsed},
		k.ID, hex.EncodeToString(k.Digest[:]), rec, lastUsed, s.channel, msg).Int()
	if err != nil {
		return s.unavailable(err)
	}
	if n == 0 {
		return ErrExists
	}
	return nil
}

// GetKey implements Store.
func (s *RedisStore) GetKey(ctx context.Context, id string) (*Key, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	var rec, lu *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		rec = p.HGet(ctx, s.kKeys, id)
		lu = p.HGet(ctx, s.kLastUsed, id)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, s.unavailable(err)
	}
	if errors.Is(rec.Err(), redis.Nil) {
		return nil, ErrNotFound
	}
	k, err := decodeStored(rec.Val(), lu.Val())
	if err != nil {
		return nil, s.unavailable(err)
	}
	return k, nil
}

// keyReply reads the reply of a script that returns one key: its record
// and its last-used time, or nil (redis.Nil) when there is no such key.
func (s *RedisStore) keyReply(v []any, err error) (*Key, error) {
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, s.unavailable(err)
	}
	if len(v) != 2 {
		return nil, s.unavailable(fmt.Errorf("unexpected reply %v", v))
	}
	k, err := decodeStored(optString(v[0]), optString(v[1]))
	if err != nil {
		return nil, s.unavailable(err)
	}
	return k, nil
}

// ListKeys implements Store.
func (s *RedisStore) ListKeys(ctx context.Context) ([]*Key, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	var recs, lus *redis.MapStringStringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		recs = p.HGetAll(ctx, s.kKeys)
		lus = p.HGetAll(ctx, s.kLastUsed)
		return nil
	})
	if err != nil {
		return nil, s.unavailable(err)
	}
	lastUsed := lus.Val()
	out := make([]*Key, 0, len(recs.Val()))
	for id, rec := range recs.Val() {
		k, err := decodeStored(rec, lastUsed[id])
		if err != nil {
			return nil, s.unavailable(err)
		}
		out = append(out, k)
	}
	SortKeys(out)
	return out, nil
}

// UpdateKey implements Store. It is optimistic: the keys hash is WATCHed,
// fn runs on a fresh copy of the record, and the write is retried if
// anything changed the hash in between, so fn may run more than once.
// LastUsedAt is not part of the update (only TouchKeys changes it): the
// result carries the stored value.
func (s *RedisStore) UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	for range redisUpdateAttempts {
		var (
			updated *Key
			fnErr   error
		)
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			rec, err := tx.HGet(ctx, s.kKeys, id).Result()
			if errors.Is(err, redis.Nil) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			lu, err := tx.HGet(ctx, s.kLastUsed, id).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			k, err := decodeStored(rec, lu)
			if err != nil {
				return err
			}
			rev, digest, lastUsed := k.Rev, k.Digest, k.LastUsedAt
			if fnErr = fn(k); fnErr != nil {
				return fnErr
			}
			k = k.Clone() // fn may keep its argument
			k.ID, k.Digest, k.Rev, k.LastUsedAt = id, digest, rev+1, lastUsed
			stored, msg, err := putPayload(k)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, s.kKeys, id, stored)
				p.Publish(ctx, s.channel, msg)
				return nil
			})
			if err == nil {
				updated = k
			}
			return err
		}, s.kKeys)
		switch {
		case fnErr != nil:
			return nil, fnErr
		case errors.Is(err, ErrNotFound):
			return nil, ErrNotFound
		case errors.Is(err, redis.TxFailedErr):
			if ctx.Err() != nil {
				return nil, s.unavailable(ctx.Err())
			}
			continue // someone else wrote: read again
		case err != nil:
			return nil, s.unavailable(err)
		}
		return updated, nil
	}
	return nil, fmt.Errorf("%w: updating %s: too many concurrent writes", ErrUnavailable, id)
}

// DeleteKey: KEYS keys, digests, lastused; ARGV id, channel, message.
// Returns nil, or {record, last used or nil}. The digest index entry is
// removed only if it points at this key.
var redisDeleteKey = redis.NewScript(`
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return false end
local lu = redis.call('HGET', KEYS[3], ARGV[1])
local ok, r = pcall(cjson.decode, rec)
if ok and type(r) == 'table' and type(r.digest) == 'string' and redis.call('HGET', KEYS[2], r.digest) == ARGV[1] then
  redis.call('HDEL', KEYS[2], r.digest)
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {rec, lu}
`)

// DeleteKey implements Store.
func (s *RedisStore) DeleteKey(ctx context.Context, id string) (*Key, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	msg, err := deletedMessage(id)
	if err != nil {
		return nil, err
	}
	// An unreadable record is deleted all the same, and reported.
	return s.keyReply(redisDeleteKey.Run(ctx, s.client,
		[]string{s.kKeys, s.kDigests, s.kLastUsed}, id, s.channel, msg).Slice())
}

// TouchKeys: KEYS keys, lastused; ARGV id, unix seconds, id, seconds, …
// Raises the last-used time of each existing key, never lowers it.
var redisTouchKeys = redis.NewScript(`
for i = 1, #ARGV, 2 do
  local id, t = ARGV[i], tonumber(ARGV[i + 1])
  if t and redis.call('HEXISTS', KEYS[1], id) == 1 then
    local cur = tonumber(redis.call('HGET', KEYS[2], id) or '0') or 0
    if t > cur then
      redis.call('HSET', KEYS[2], id, ARGV[i + 1])
    end
  end
end
return 0
`)

// TouchKeys implements Store. Times are kept in whole seconds.
func (s *RedisStore) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if len(lastUsed) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(lastUsed))
	for id, t := range lastUsed {
		args = append(args, id, strconv.FormatInt(t.Unix(), 10))
	}
	return s.unavailable(redisTouchKeys.Run(ctx, s.client, []string{s.kKeys, s.kLastUsed}, args...).Err())
}

// Secret implements Store. The first instance to store a secret (SET NX)
// wins; everyone returns what is stored.
func (s *RedisStore) Secret(ctx context.Context, generate func() (Secret, error)) (Secret, error) {
	if err := s.checkOpen(); err != nil {
		return Secret{}, err
	}
	sec, err := s.getSecret(ctx)
	if !errors.Is(err, ErrNotFound) {
		return sec, err
	}
	gen, err := generate()
	if err != nil {
		return Secret{}, fmt.Errorf("generating the signing secret: %w", err)
	}
	b, err := encodeSecret(gen)
	if err != nil {
		return Secret{}, err
	}
	if err := s.client.SetNX(ctx, s.kSecret, b, 0).Err(); err != nil {
		return Secret{}, s.unavailable(err)
	}
	sec, err = s.getSecret(ctx) // ours, or the one that won the race
	if errors.Is(err, ErrNotFound) {
		return Secret{}, s.unavailable(errors.New("the stored secret vanished"))
	}
	return sec, err
}

func (s *RedisStore) getSecret(ctx context.Context) (Secret, error) {
	b, err := s.client.Get(ctx, s.kSecret).Bytes()
	if errors.Is(err, redis.Nil) {
		return Secret{}, ErrNotFound
	}
	if err != nil {
		return Secret{}, s.unavailable(err)
	}
	sec, err := decodeSecret(b)
	if err != nil {
		return Secret{}, s.unavailable(fmt.Errorf("stored secret: %v", err))
	}
	return sec, nil
}

// Revoke: KEYS revocations; ARGV ident, expires (unix ms), now (unix ms),
// channel. Keeps the later expiry of the ident (ZADD GT), drops the
// records that have expired, makes the key expire with its latest record
// and publishes the record as stored. Returns the stored expiry.
var redisRevoke = redis.NewScript(`
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 2 then
  redis.call('PEXPIREAT', KEYS[1], top[2])
end
redis.call('PUBLISH', ARGV[4], cjson.encode({kind = 'revocation_added', ident = ARGV[1], expires_ms = score}))
return score
`)

// Revoke implements Store. Expiry times are kept with millisecond
// precision (rounded up). The Redis key holding the records expires with
// the latest of them, so once every revoked link has expired nothing is
// left behind.
func (s *RedisStore) Revoke(ctx context.Context, r Revocation) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := redisRevoke.Run(ctx, s.client, []string{s.kRevs},
		r.Ident(), revExpiryMs(r.ExpiresAt), time.Now().UnixMilli(), s.channel).Err()
	return s.unavailable(err)
}

// ListRevocations implements Store. It only reads: expired records are
// dropped by Revoke and, with the whole key, by Redis's own expiry.
func (s *RedisStore) ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	zs, err := s.client.ZRangeByScoreWithScores(ctx, s.kRevs, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(now.UnixMilli(), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return nil, s.unavailable(err)
	}
	out := make([]Revocation, 0, len(zs))
	// The range starts after now's millisecond, and stored expiries are
	// rounded up, so every record returned has ExpiresAt after now.
	for _, z := range zs {
		ident, _ := z.Member.(string)
		r, err := parseStoredIdent(ident, time.UnixMilli(int64(z.Score)))
		if err != nil {
			return nil, s.unavailable(err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Ping implements Store.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.unavailable(s.client.Ping(ctx).Err())
}

// Close implements Store: it stops every subscription (waiting for their
// goroutines) and closes the client. Later calls return ErrClosed.
func (s *RedisStore) Close() error {
	s.mu.Lock()
	already := s.closed.Swap(true)
	s.mu.Unlock()
	if already {
		return nil
	}
	s.stopFeeds()
	s.running.Wait()
	return s.client.Close()
}

// Interface guard
var _ Store = (*RedisStore)(nil)
