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
//	{ns}:users        HASH   user name -> JSON record (with its rev)
//	{ns}:userrev      STRING the last user revision given out (INCR), so
//	                         revisions only grow, across deletions too
//	{ns}:changes      pub/sub channel of the change feed
//	{ns}:link:<id>, {ns}:links…  the link ledger: see redislink.go
//
// Writes are single Lua scripts (create, delete, touch, revoke, and every
// user write) or an optimistic WATCH/MULTI transaction (UpdateKey), and
// each publishes its change message in the same script or transaction, so
// a write is never stored without its message being published. Pub/sub still loses messages
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

	kKeys, kDigests, kLastUsed, kSecret, kRevs, kUsers, kUserRev, channel string
	lk                                                                    linkKeys // the ledger's (redislink.go)

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
// the client: Close closes it. It does not contact Redis (the ledger's
// cleanup, redislink.go, runs first after linkSweepInterval); use Ping to
// check that it answers.
func NewRedisStore(client redis.UniversalClient, namespace string) *RedisStore {
	if namespace == "" {
		namespace = DefaultRedisNamespace
	}
	p := "{" + namespace + "}:"
	feeds, stop := context.WithCancel(context.Background())
	s := &RedisStore{
		client:    client,
		kKeys:     p + "keys",
		kDigests:  p + "digests",
		kLastUsed: p + "lastused",
		kSecret:   p + "secret",
		kRevs:     p + "revocations",
		kUsers:    p + "users",
		kUserRev:  p + "userrev",
		channel:   p + "changes",
		lk:        newLinkKeys(p),
		feeds:     feeds,
		stopFeeds: stop,
	}
	s.running.Add(1)
	go s.purgeLoop(linkSweepInterval)
	return s
}

// optString returns a reply that may be nil (a missing field) as "".
func optString(v any) string {
	s, _ := v.(string)
	return s
}

// CreateKey: KEYS keys, digests, lastused, users; ARGV id, digest hex,
// record, last used ("" for none), channel, message, user ("" for none).
// Returns 1, 0 if the id or the digest exists, or -1 if the user does not.
var redisCreateKey = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return 0
end
if ARGV[7] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[7]) == 0 then
  return -1
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
		[]string{s.kKeys, s.kDigests, s.kLastUsed, s.kUsers},
		k.ID, hex.EncodeToString(k.Digest[:]), rec, lastUsed, s.channel, msg, k.User).Int()
	switch {
	case err != nil:
		return s.unavailable(err)
	case n == 0:
		return ErrExists
	case n < 0:
		return noSuchUser(k.User)
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

// UpdateKey implements Store. It is optimistic: the keys and users hashes
// are WATCHed, fn runs on a fresh copy of the record, and the write is
// retried if anything changed them in between, so fn may run more than
// once.
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
			if k.User != "" {
				switch ok, err := tx.HExists(ctx, s.kUsers, k.User).Result(); {
				case err != nil:
					return err
				case !ok:
					return noSuchUser(k.User)
				}
			}
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
		}, s.kKeys, s.kUsers)
		switch {
		case fnErr != nil:
			return nil, fnErr
		case errors.Is(err, ErrNotFound):
			return nil, ErrNotFound
		case errors.Is(err, ErrNoSuchUser):
			return nil, err
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

// putUser: KEYS users, userrev; ARGV name, the record expected ("" for
// none: a creation), the new record without its rev (encodeUserBody),
// channel. Stores the record under the next revision, which it puts
// first, and publishes it, if the stored record is still the one expected.
// Returns the revision, 0 if the user exists (creation) or changed
// meanwhile (update), or -1 if it is gone (update).
var redisPutUser = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  if cur then return 0 end
elseif not cur then
  return -1
elseif cur ~= ARGV[2] then
  return 0
end
local rev = redis.call('INCR', KEYS[2])
local rec = '{"rev":' .. rev .. ',' .. string.sub(ARGV[3], 2)
redis.call('HSET', KEYS[1], ARGV[1], rec)
redis.call('PUBLISH', ARGV[4], '{"kind":"user_put","user":' .. rec .. '}')
return rev
`)

// putUser runs redisPutUser for u, expecting the stored record to be
// expected ("" for none), and sets u.Rev. ok is false if the script
// reported 0 (exists, or changed meanwhile).
func (s *RedisStore) putUser(ctx context.Context, u *User, expected string) (ok bool, err error) {
	body, err := encodeUserBody(u)
	if err != nil {
		return false, err
	}
	rev, err := redisPutUser.Run(ctx, s.client, []string{s.kUsers, s.kUserRev},
		u.Name, expected, body, s.channel).Int64()
	switch {
	case err != nil:
		return false, s.unavailable(err)
	case rev < 0:
		return false, ErrNotFound
	case rev == 0:
		return false, nil
	}
	u.Rev = uint64(rev)
	return true, nil
}

// CreateUser implements Store.
func (s *RedisStore) CreateUser(ctx context.Context, u *User) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	ok, err := s.putUser(ctx, u, "")
	if err == nil && !ok {
		err = ErrExists
	}
	return err
}

// getUserRecord returns the stored record of the user name.
func (s *RedisStore) getUserRecord(ctx context.Context, name string) (string, *User, error) {
	rec, err := s.client.HGet(ctx, s.kUsers, name).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil, ErrNotFound
	}
	if err != nil {
		return "", nil, s.unavailable(err)
	}
	u, err := decodeUser([]byte(rec))
	if err != nil {
		return "", nil, s.unavailable(fmt.Errorf("user %q: %v", name, err))
	}
	return rec, u, nil
}

// GetUser implements Store.
func (s *RedisStore) GetUser(ctx context.Context, name string) (*User, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	_, u, err := s.getUserRecord(ctx, name)
	return u, err
}

// ListUsers implements Store.
func (s *RedisStore) ListUsers(ctx context.Context) ([]*User, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	recs, err := s.client.HGetAll(ctx, s.kUsers).Result()
	if err != nil {
		return nil, s.unavailable(err)
	}
	out := make([]*User, 0, len(recs))
	for name, rec := range recs {
		u, err := decodeUser([]byte(rec))
		if err != nil {
			return nil, s.unavailable(fmt.Errorf("user %q: %v", name, err))
		}
		out = append(out, u)
	}
	sortUsers(out)
	return out, nil
}

// UpdateUser implements Store. It is optimistic: fn runs on the record
// read, and the script stores the result only if the record is still the
// one read (every write gives a new revision, so an equal record is the
// same record); otherwise it reads again, so fn may run more than once.
func (s *RedisStore) UpdateUser(ctx context.Context, name string, fn func(*User) error) (*User, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	for range redisUpdateAttempts {
		rec, u, err := s.getUserRecord(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := fn(u); err != nil {
			return nil, err
		}
		u = u.Clone() // fn may keep its argument
		u.Name = name
		if err := u.Validate(); err != nil {
			return nil, err
		}
		ok, err := s.putUser(ctx, u, rec)
		if err != nil {
			return nil, err
		}
		if ok {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: updating user %s: too many concurrent writes", ErrUnavailable, name)
}

// DeleteUser: KEYS users, keys, digests, lastused; ARGV name, channel.
// Deletes the user and every key whose record names it (found by reading
// the whole keys hash: a substring test, confirmed by decoding), publishes
// user_deleted then key_deleted for each key, and returns nil, or {user
// record, key record, key last used or nil, …}. The name must be a valid
// user name, which JSON spells as is.
var redisDeleteUser = redis.NewScript(`
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return false end
local needle = '"user":"' .. ARGV[1] .. '"'
local found, seen = {}, {}
local cursor = '0'
repeat
  local page = redis.call('HSCAN', KEYS[2], cursor, 'COUNT', 1000)
  cursor = page[1]
  local kv = page[2]
  for i = 1, #kv, 2 do
    local id, v = kv[i], kv[i + 1]
    if not seen[id] and string.find(v, needle, 1, true) then
      local ok, k = pcall(cjson.decode, v)
      if ok and type(k) == 'table' and k.user == ARGV[1] then
        seen[id] = true
        found[#found + 1] = {id, v, k.digest}
      end
    end
  end
until cursor == '0'
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], '{"kind":"user_deleted","user":' .. rec .. '}')
local out = {rec}
for _, f in ipairs(found) do
  local id, digest = f[1], f[3]
  out[#out + 1] = f[2]
  out[#out + 1] = redis.call('HGET', KEYS[4], id)
  if type(digest) == 'string' and redis.call('HGET', KEYS[3], digest) == id then
    redis.call('HDEL', KEYS[3], digest)
  end
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('PUBLISH', ARGV[2], cjson.encode({kind = 'key_deleted', id = id}))
end
return out
`)

// DeleteUser implements Store. The script reads every key record, so it
// holds Redis for a time proportional to the number of keys (of all
// users).
func (s *RedisStore) DeleteUser(ctx context.Context, name string) (*User, []*Key, error) {
	if err := s.checkOpen(); err != nil {
		return nil, nil, err
	}
	if !ValidUserName(name) {
		return nil, nil, ErrNotFound // the script relies on it
	}
	v, err := redisDeleteUser.Run(ctx, s.client,
		[]string{s.kUsers, s.kKeys, s.kDigests, s.kLastUsed}, name, s.channel).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, s.unavailable(err)
	}
	if len(v)%2 != 1 {
		return nil, nil, s.unavailable(fmt.Errorf("unexpected reply %v", v))
	}
	// Unreadable records are deleted all the same, and reported.
	u, err := decodeUser([]byte(optString(v[0])))
	if err != nil {
		return nil, nil, s.unavailable(fmt.Errorf("user %q: %v", name, err))
	}
	keys := make([]*Key, 0, len(v)/2)
	for i := 1; i < len(v); i += 2 {
		k, err := decodeStored(optString(v[i]), optString(v[i+1]))
		if err != nil {
			return nil, nil, s.unavailable(err)
		}
		keys = append(keys, k)
	}
	SortKeys(keys)
	return u, keys, nil
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

// Close implements Store: it stops every subscription and the ledger's
// cleanup (waiting for their goroutines) and closes the client. Later calls return ErrClosed.
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
