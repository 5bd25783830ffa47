package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The link ledger in Redis. Keys, for namespace ns (all under the hash
// tag {ns}, like the rest of the store; ms is unix ms):
//
//	{ns}:link:<id>          HASH  one record, a field a value (redisLinkFields),
//	                              so that Redis keeps it compact (a listpack:
//	                              no value is longer than 64 bytes but a path
//	                              that is) and a use or a move never rewrites
//	                              it; c:<client> fields hold the ms of that
//	                              client's last counted or resumed use.
//	                              PEXPIREAT its lifetime (Link.lifetime).
//	{ns}:links              ZSET  id scored by CreatedAt (ms): every record
//	{ns}:links:key:<key id> ZSET  id by CreatedAt: the key's records
//	{ns}:links:user:<name>  ZSET  id by CreatedAt: the user's records
//	{ns}:links:path         ZSET  "path\x00id", all scored 0: a lexical
//	                              index for prefix filters
//	{ns}:links:expiry       ZSET  "id\nkey id\nuser\npath" scored by
//	                              lifetime: where every index entry of a
//	                              record is, so that the entries of a record
//	                              Redis expired can be removed without it
//	{ns}:links:moved        ZSET  id by lifetime: the records whose
//	                              ExpiresAt is not SignedExpiresAt
//
// Records expire by their TTL. Index entries of expired records are
// removed by the purge script, which each instance runs every
// linkSweepInterval and ListLinks runs (one batch) before it reads, so no
// index outgrows the live records by more than what expired in the last
// interval.
//
// Every write is one script; SetLinkExpiry, and CreateLink of a moved
// record, publish their change message in it.

// linkKeys are the ledger's key names.
type linkKeys struct {
	prefix                          string // "{ns}:"
	record, links, path, exp, moved string // record is the prefix of the record keys
	byKey, byUser                   string // prefixes of the key and user indexes
}

func newLinkKeys(p string) linkKeys {
	return linkKeys{prefix: p, record: p + "link:", links: p + "links", path: p + "links:path",
		exp: p + "links:expiry", moved: p + "links:moved", byKey: p + "links:key:", byUser: p + "links:user:"}
}

// redisLinkRef is a record's member of {ns}:links:expiry (the scripts
// build it the same way).
func redisLinkRef(l *Link) string { return l.ID + "\n" + l.KeyID + "\n" + l.User + "\n" + l.Path }

// redisLinkFields are the fields of a record's hash, in the order
// linkFromHash takes them: path, folder ("1"), key id, user ("w", who),
// created, signed expiry, policy (JSON), expiry, rev, uses ("n"), last
// used. Absent fields are zero.
var redisLinkFields = []string{"p", "f", "k", "w", "a", "s", "o", "e", "v", "n", "t"}

// redisLinkHash returns the fields and values of the hash of l, absent
// fields left out.
func redisLinkHash(l *Link) ([]any, error) {
	fv := []any{"p", l.Path, "a", ms(l.CreatedAt), "s", ms(l.SignedExpiresAt), "e", ms(l.ExpiresAt),
		"v", strconv.FormatUint(l.Rev, 10)}
	add := func(f, v string) {
		if v != "" && v != "0" {
			fv = append(fv, f, v)
		}
	}
	if l.Folder {
		add("f", "1")
	}
	add("k", l.KeyID)
	add("w", l.User)
	add("n", strconv.FormatInt(l.Uses, 10))
	if l.LastUsed != nil {
		add("t", ms(*l.LastUsed))
	}
	if l.Policy != (LinkPolicy{}) {
		o, err := json.Marshal(l.Policy)
		if err != nil {
			return nil, err
		}
		add("o", string(o))
	}
	return fv, nil
}

// linkFromHash builds the record id from the values of redisLinkFields;
// nil, nil if there is no record.
func linkFromHash(id string, vals []any) (*Link, error) {
	if len(vals) != len(redisLinkFields) {
		return nil, fmt.Errorf("link %s: unexpected reply %v", id, vals)
	}
	path, ok := vals[0].(string)
	if !ok {
		return nil, nil
	}
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(optString(vals[i]), 10, 64)
		return n
	}
	l := &Link{ID: id, Path: path, Folder: optString(vals[1]) == "1", KeyID: optString(vals[2]), User: optString(vals[3]),
		CreatedAt: time.UnixMilli(num(4)).UTC(), SignedExpiresAt: time.UnixMilli(num(5)).UTC(),
		ExpiresAt: time.UnixMilli(num(7)).UTC(), Rev: uint64(num(8)), Uses: max(num(9), 0)}
	if o := optString(vals[6]); o != "" {
		if err := json.Unmarshal([]byte(o), &l.Policy); err != nil {
			return nil, fmt.Errorf("link %s: policy: %v", id, err)
		}
	}
	if t := num(10); t != 0 {
		lu := time.UnixMilli(t).UTC()
		l.LastUsed = &lu
	}
	return l, nil
}

// linkExpiryMessage is the link_expiry message for e.
func linkExpiryMessage(e LinkExpiry) ([]byte, error) {
	return json.Marshal(redisMessage{Kind: redisMsgLinkExpiry, Link: &redisLinkExpiryMsg{
		ID: e.ID, ExpiresMs: strconv.FormatInt(e.ExpiresAt.UnixMilli(), 10),
		SignedMs: strconv.FormatInt(e.SignedExpiresAt.UnixMilli(), 10), Rev: strconv.FormatUint(e.Rev, 10),
	}})
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// CreateLink: KEYS record, links, path, expiry, moved, key index, user
// index; ARGV lifetime, created, ref, path entry, id, has key ("1"), has
// user ("1"), channel, message ("" unless moved), then the record's
// fields and values. Returns 1, or 0 if the id is taken.
var redisCreateLink = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 10))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[1], ARGV[3])
if ARGV[6] == '1' then redis.call('ZADD', KEYS[6], ARGV[2], ARGV[5]) end
if ARGV[7] == '1' then redis.call('ZADD', KEYS[7], ARGV[2], ARGV[5]) end
if ARGV[9] ~= '' then
  redis.call('ZADD', KEYS[5], ARGV[1], ARGV[5])
  redis.call('PUBLISH', ARGV[8], ARGV[9])
end
return 1
`)

// createLinkArgs are the KEYS and ARGV of redisCreateLink for the record
// l as stored (times in ms, Rev 1).
func (s *RedisStore) createLinkArgs(l *Link) (keys []string, args []any, err error) {
	fields, err := redisLinkHash(l)
	if err != nil {
		return nil, nil, err
	}
	var msg []byte
	if l.moved() {
		if msg, err = linkExpiryMessage(l.expiry()); err != nil {
			return nil, nil, err
		}
	}
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	k := s.lk
	keys = []string{k.record + l.ID, k.links, k.path, k.exp, k.moved, k.byKey + l.KeyID, k.byUser + l.User}
	args = append([]any{ms(l.lifetime()), ms(l.CreatedAt), redisLinkRef(l), linkPathEntry(l.Path, l.ID),
		l.ID, flag(l.KeyID != ""), flag(l.User != ""), s.channel, string(msg)}, fields...)
	return keys, args, nil
}

// CreateLink implements Store.
func (s *RedisStore) CreateLink(ctx context.Context, l *Link) error {
	stored, err := s.newLinkRecord(l)
	if err != nil {
		return err
	}
	keys, args, err := s.createLinkArgs(stored)
	if err != nil {
		return err
	}
	n, err := redisCreateLink.Run(ctx, s.client, keys, args...).Int()
	switch {
	case err != nil:
		return s.unavailable(err)
	case n == 0:
		return ErrExists
	}
	l.Rev = 1
	return nil
}

// GetLink implements Store.
func (s *RedisStore) GetLink(ctx context.Context, id string, now time.Time) (*Link, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	l, err := s.readLink(ctx, id)
	if err != nil {
		return nil, err
	}
	if l == nil || l.Expired(now) {
		return nil, ErrNotFound
	}
	return l, nil
}

// readLink reads the record id, expired or not; nil if there is none.
func (s *RedisStore) readLink(ctx context.Context, id string) (*Link, error) {
	vals, err := s.client.HMGet(ctx, s.lk.record+id, redisLinkFields...).Result()
	if err != nil {
		return nil, s.unavailable(err)
	}
	l, err := linkFromHash(id, vals)
	if err != nil {
		return nil, s.unavailable(err)
	}
	return l, nil
}

// readLinks reads the records ids in one pipeline; missing ones are nil.
func (s *RedisStore) readLinks(ctx context.Context, ids []string) ([]*Link, error) {
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.lk.record+id, redisLinkFields...)
		}
		return nil
	})
	if err != nil {
		return nil, s.unavailable(err)
	}
	out := make([]*Link, len(ids))
	for i, id := range ids {
		if out[i], err = linkFromHash(id, cmds[i].Val()); err != nil {
			return nil, s.unavailable(err)
		}
	}
	return out, nil
}

// ListLinks implements Store.
func (s *RedisStore) ListLinks(ctx context.Context, f LinkFilter, cursor string, limit int, now time.Time) ([]*Link, string, error) {
	from, hasFrom, err := checkListArgs(f, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	if err := s.checkOpen(); err != nil {
		return nil, "", err
	}
	// Lazily: the index entries of records Redis expired go first.
	if _, err := s.purgeLinks(ctx, 1); err != nil {
		return nil, "", err
	}
	var out []*Link
	// take reads the records ids and adds the live ones that match; it
	// reports true once the page and one more are found.
	take := func(ids []string) (bool, error) {
		links, err := s.readLinks(ctx, ids)
		if err != nil {
			return false, err
		}
		for _, l := range links {
			if l != nil && !l.Expired(now) && f.matches(l) {
				out = append(out, l)
				if len(out) > limit {
					return true, nil
				}
			}
		}
		return false, nil
	}
	// The index entries the page needs, and a few more for the ones that
	// expired: walkIndex reads more each time if a part of the filter that
	// the index does not cover leaves the page short.
	batch := limit + 1 + 16
	idx := s.lk.links
	switch {
	case f.KeyID != "":
		idx = s.lk.byKey + f.KeyID
	case f.User != "":
		idx = s.lk.byUser + f.User
	default:
		if exact, below, ok := pathRanges(f.PathPrefix); ok {
			cands, few, err := s.pathCandidates(ctx, exact, below)
			if err != nil {
				return nil, "", err
			}
			if few {
				for len(cands) > 0 {
					for len(cands) > 0 && hasFrom && !from.before(cands[0]) {
						cands = cands[1:]
					}
					n := min(len(cands), limit+1-len(out)+16)
					ids := make([]string, n)
					for i := range n {
						ids[i] = cands[i].id
					}
					cands = cands[n:]
					if done, err := take(ids); err != nil || done {
						if err != nil {
							return nil, "", err
						}
						break
					}
				}
				return pageOf(out, limit)
			}
			// A dense prefix: walk the whole listing.
		}
	}
	if err := s.walkIndex(ctx, idx, from, hasFrom, batch, take); err != nil {
		return nil, "", err
	}
	return pageOf(out, limit)
}

// walkIndex calls fn with the ids of a CreatedAt-scored index, newest
// first, in batches (the first of batch entries, each next one twice as
// large, up to redisWalkBatchMax), from the position after from (or the
// newest when hasFrom is false), until fn reports true or the index ends.
// Each batch is read from the last position seen, so entries added or
// removed meanwhile never shift it.
func (s *RedisStore) walkIndex(ctx context.Context, idx string, from linkPos, hasFrom bool, batch int, fn func([]string) (bool, error)) error {
	top, anchor := "+inf", ""
	var topMs int64
	if hasFrom {
		top, topMs, anchor = strconv.FormatInt(from.created, 10), from.created, from.id
	}
	skip := 0 // entries at the anchor's time not after it, when a whole batch was such
	for {
		zs, err := s.client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
			Key: idx, Start: top, Stop: "-inf", ByScore: true, Rev: true, Offset: int64(skip), Count: int64(batch),
		}).Result()
		if err != nil {
			return s.unavailable(err)
		}
		ids := make([]string, 0, len(zs))
		var last redis.Z
		for _, z := range zs {
			m, _ := z.Member.(string)
			if anchor != "" && int64(z.Score) == topMs && m >= anchor {
				continue // at the anchor's time, and not after it
			}
			ids = append(ids, m)
			last = z
		}
		if len(ids) == 0 {
			if len(zs) < batch {
				return nil
			}
			skip += len(zs)
			continue
		}
		if done, err := fn(ids); err != nil || done {
			return err
		}
		if len(zs) < batch {
			return nil
		}
		topMs = int64(last.Score)
		top, anchor, skip = strconv.FormatInt(topMs, 10), last.Member.(string), 0
		batch = min(2*batch, redisWalkBatchMax)
	}
}

// redisWalkBatchMax bounds the index entries walkIndex reads at once.
const redisWalkBatchMax = 1000

// pathCandidates returns the positions of the records in the ranges of
// {ns}:links:path, newest first, if there are at most linkPathScanMax of
// them (few).
func (s *RedisStore) pathCandidates(ctx context.Context, ranges ...[2]string) (cands []linkPos, few bool, err error) {
	counts := make([]*redis.IntCmd, len(ranges))
	if _, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range ranges {
			counts[i] = p.ZLexCount(ctx, s.lk.path, "["+r[0], "("+r[1])
		}
		return nil
	}); err != nil {
		return nil, false, s.unavailable(err)
	}
	total := int64(0)
	for _, c := range counts {
		total += c.Val()
	}
	if total > int64(linkPathScanMax) {
		return nil, false, nil
	}
	var ids []string
	for _, r := range ranges {
		members, err := s.client.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: s.lk.path, Start: "[" + r[0], Stop: "(" + r[1], ByLex: true, Offset: 0, Count: int64(linkPathScanMax),
		}).Result()
		if err != nil {
			return nil, false, s.unavailable(err)
		}
		for _, m := range members {
			if i := strings.LastIndexByte(m, 0); i >= 0 {
				ids = append(ids, m[i+1:])
			}
		}
	}
	if len(ids) == 0 {
		return nil, true, nil
	}
	scores, err := s.client.ZMScore(ctx, s.lk.links, ids...).Result()
	if err != nil {
		return nil, false, s.unavailable(err)
	}
	cands = make([]linkPos, len(ids))
	for i, id := range ids {
		cands[i] = linkPos{created: int64(scores[i]), id: id}
	}
	slices.SortFunc(cands, func(a, b linkPos) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	})
	return cands, true, nil
}

// SetLinkExpiry: KEYS record, expiry, moved; ARGV id, e, now, channel.
// Moves the expiry of a record live at now, its TTL and its index entries
// to the new lifetime, increments its rev and publishes link_expiry.
// Returns nil if there is no live record, else the values of
// redisLinkFields after the move.
var redisSetLinkExpiry = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'e', 's', 'k', 'w', 'p')
if not f[1] or tonumber(f[1]) <= tonumber(ARGV[3]) then return false end
local life = ARGV[2]
if tonumber(f[2]) > tonumber(ARGV[2]) then life = f[2] end
redis.call('HSET', KEYS[1], 'e', ARGV[2])
local rev = redis.call('HINCRBY', KEYS[1], 'v', 1)
local out = redis.call('HMGET', KEYS[1], 'p', 'f', 'k', 'w', 'a', 's', 'o', 'e', 'v', 'n', 't')
redis.call('PEXPIREAT', KEYS[1], life)
redis.call('ZADD', KEYS[2], life, ARGV[1] .. '\n' .. (f[3] or '') .. '\n' .. (f[4] or '') .. '\n' .. f[5])
if ARGV[2] ~= f[2] then
  redis.call('ZADD', KEYS[3], life, ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
redis.call('PUBLISH', ARGV[4], cjson.encode({kind = 'link_expiry',
  link = {id = ARGV[1], expires_ms = ARGV[2], signed_ms = f[2], rev = tostring(rev)}}))
return out
`)

// SetLinkExpiry implements Store.
func (s *RedisStore) SetLinkExpiry(ctx context.Context, id string, exp, now time.Time) (*Link, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	v, err := redisSetLinkExpiry.Run(ctx, s.client, []string{s.lk.record + id, s.lk.exp, s.lk.moved},
		id, ms(exp), ms(now), s.channel).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, s.unavailable(err)
	}
	l, err := linkFromHash(id, v)
	if err == nil && l == nil {
		err = fmt.Errorf("link %s: the record vanished", id)
	}
	if err != nil {
		return nil, s.unavailable(err)
	}
	return l, nil
}

// ListLinkExpiries implements Store: {ns}:links:moved, then the records.
func (s *RedisStore) ListLinkExpiries(ctx context.Context, now time.Time) ([]LinkExpiry, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	ids, err := s.client.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.lk.moved, Start: "(" + ms(now), Stop: "+inf", ByScore: true,
	}).Result()
	if err != nil {
		return nil, s.unavailable(err)
	}
	out := make([]LinkExpiry, 0, len(ids))
	for chunk := range slices.Chunk(ids, 1000) {
		links, err := s.readLinks(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if l != nil && l.lifetime().After(now) && l.moved() {
				out = append(out, l.expiry())
			}
		}
	}
	return out, nil
}

// TouchLinks: KEYS records; ARGV now, then for each record the uses to
// add and the last use ("" for none). Adds to the records live at now.
var redisTouchLinks = redis.NewScript(`
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local e = redis.call('HGET', key, 'e')
  if e and tonumber(e) > now then
    local n, t = ARGV[2 * i], ARGV[2 * i + 1]
    if n ~= '0' and redis.call('HINCRBY', key, 'n', n) < 0 then
      redis.call('HSET', key, 'n', '0')
    end
    if t ~= '' and tonumber(t) > tonumber(redis.call('HGET', key, 't') or '0') then
      redis.call('HSET', key, 't', t)
    end
  end
end
return 0
`)

// redisTouchBatch bounds the records one TouchLinks script updates, so a
// large flush never holds Redis for long.
const redisTouchBatch = 500

// TouchLinks implements Store. Records are live or expired by the clock.
func (s *RedisStore) TouchLinks(ctx context.Context, uses map[string]LinkUse) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if len(uses) == 0 {
		return nil
	}
	ids := slices.Collect(maps.Keys(uses))
	now := ms(time.Now())
	for chunk := range slices.Chunk(ids, redisTouchBatch) {
		keys := make([]string, len(chunk))
		args := make([]any, 0, 1+2*len(chunk))
		args = append(args, now)
		for i, id := range chunk {
			u := uses[id]
			keys[i] = s.lk.record + id
			var last string
			if !u.LastUsed.IsZero() {
				last = ms(u.LastUsed)
			}
			args = append(args, strconv.FormatInt(u.Uses, 10), last)
		}
		if err := redisTouchLinks.Run(ctx, s.client, keys, args...).Err(); err != nil {
			return s.unavailable(err)
		}
	}
	return nil
}

// UseLink: KEYS record; ARGV now, max, client field, resume ("1"), grace
// (ms). Returns nil if there is no record live at now, else {ok (1 or 0),
// uses}.
var redisUseLink = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e')
if not e or tonumber(e) <= tonumber(ARGV[1]) then return false end
local uses = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if ARGV[4] == '1' then
  local last = redis.call('HGET', KEYS[1], ARGV[3])
  if last and tonumber(ARGV[1]) - tonumber(last) <= tonumber(ARGV[5]) then
    return {1, uses}
  end
  return {0, uses}
end
local max = tonumber(ARGV[2])
if max > 0 and uses >= max then return {0, uses} end
uses = redis.call('HINCRBY', KEYS[1], 'n', 1)
local t = redis.call('HGET', KEYS[1], 't')
if not t or tonumber(ARGV[1]) > tonumber(t) then
  redis.call('HSET', KEYS[1], 't', ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1])
return {1, uses}
`)

// UseLink implements Store: one script, so the count is exact across
// every instance on the same Redis.
func (s *RedisStore) UseLink(ctx context.Context, id string, max int64, client string, resume bool, grace time.Duration, now time.Time) (bool, int64, error) {
	if err := s.checkOpen(); err != nil {
		return false, 0, err
	}
	r := "0"
	if resume {
		r = "1"
	}
	v, err := redisUseLink.Run(ctx, s.client, []string{s.lk.record + id},
		ms(now), strconv.FormatInt(max, 10), "c:"+client, r, strconv.FormatInt(grace.Milliseconds(), 10)).Int64Slice()
	if errors.Is(err, redis.Nil) {
		return false, 0, ErrNotFound
	}
	if err != nil {
		return false, 0, s.unavailable(err)
	}
	if len(v) != 2 {
		return false, 0, s.unavailable(fmt.Errorf("unexpected reply %v", v))
	}
	return v[0] == 1, v[1], nil
}

// ReleaseUse: KEYS record; ARGV client field. Returns -1 if there is no
// record.
var redisReleaseUse = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 0
`)

// ReleaseUse implements Store.
func (s *RedisStore) ReleaseUse(ctx context.Context, id string, client string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	n, err := redisReleaseUse.Run(ctx, s.client, []string{s.lk.record + id}, "c:"+client).Int()
	switch {
	case err != nil:
		return s.unavailable(err)
	case n < 0:
		return ErrNotFound
	}
	return nil
}

// purgeLinks: KEYS expiry, links, path, moved; ARGV batch size, key
// prefix ("{ns}:"). Removes the index entries (and what is left of the
// record) of up to batch records whose lifetime ended by Redis's clock.
// Returns how many.
var redisPurgeLinks = redis.NewScript(`
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local refs = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, ARGV[1])
for _, ref in ipairs(refs) do
  local id = string.sub(ref, 1, 22)
  local a = string.find(ref, '\n', 24, true)
  local b = a and string.find(ref, '\n', a + 1, true)
  if b then
    local k, u, p = string.sub(ref, 24, a - 1), string.sub(ref, a + 1, b - 1), string.sub(ref, b + 1)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], p .. '\0' .. id)
    redis.call('ZREM', KEYS[4], id)
    if k ~= '' then redis.call('ZREM', ARGV[2] .. 'links:key:' .. k, id) end
    if u ~= '' then redis.call('ZREM', ARGV[2] .. 'links:user:' .. u, id) end
    redis.call('DEL', ARGV[2] .. 'link:' .. id)
  end
  redis.call('ZREM', KEYS[1], ref)
end
return #refs
`)

// redisPurgeBatch bounds the records one purge script handles.
const redisPurgeBatch = 1000

// purgeLinks runs the purge script up to batches times, while it finds a
// full batch, and returns how many records it cleaned up.
func (s *RedisStore) purgeLinks(ctx context.Context, batches int) (int, error) {
	total := 0
	for range batches {
		n, err := redisPurgeLinks.Run(ctx, s.client, []string{s.lk.exp, s.lk.links, s.lk.path, s.lk.moved},
			redisPurgeBatch, s.lk.prefix).Int()
		if err != nil {
			return total, s.unavailable(err)
		}
		total += n
		if n < redisPurgeBatch {
			break
		}
	}
	return total, nil
}

// purgeLoop runs purgeLinks every interval until Close. Failures are left
// to the next run.
func (s *RedisStore) purgeLoop(interval time.Duration) {
	defer s.running.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.feeds.Done():
			return
		case <-t.C:
			_, _ = s.purgeLinks(s.feeds, 1000)
		}
	}
}
