package keystore

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// How records are serialised, in every store and in the change feed.

// record is how a key is serialised (a bbolt value, a Redis hash field, a
// change message): the public record plus its digest.
type record struct {
	*Key
	DigestHex string `json:"digest"`
	// Offline is the key's offline signing secret, base64; absent for
	// keys without one (and in every record of earlier releases).
	Offline string `json:"offline_secret,omitempty"`
}

// encodeKey serialises k, its digest and offline secret included.
func encodeKey(k *Key) ([]byte, error) {
	r := record{Key: k, DigestHex: hex.EncodeToString(k.Digest[:])}
	if k.OfflineSecret != nil {
		r.Offline = base64.StdEncoding.EncodeToString(k.OfflineSecret)
	}
	return json.Marshal(r)
}

// decodeKey is the inverse of encodeKey.
func decodeKey(b []byte) (*Key, error) {
	r := record{Key: new(Key)}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	d, err := hex.DecodeString(r.DigestHex)
	if err != nil || len(d) != len(r.Key.Digest) {
		return nil, fmt.Errorf("key %s: bad digest", r.ID)
	}
	copy(r.Key.Digest[:], d)
	if r.Offline != "" {
		sec, err := base64.StdEncoding.DecodeString(r.Offline)
		if err != nil || len(sec) < verifier.MinSecretLen {
			return nil, fmt.Errorf("key %s: bad offline secret", r.ID)
		}
		r.Key.OfflineSecret = sec
	}
	return r.Key, nil
}

// encodeStored is the key record as RedisStore keeps it in {ns}:keys,
// without its last-used time: that lives in {ns}:lastused, so touching a
// key never rewrites (or races with) its record.
func encodeStored(k *Key) ([]byte, error) {
	c := *k
	c.LastUsedAt = nil
	return encodeKey(&c)
}

// decodeStored is the inverse of encodeStored: it decodes a record of
// {ns}:keys and merges its last-used time from {ns}:lastused (unix seconds;
// "" for none).
func decodeStored(rec, lastUsed string) (*Key, error) {
	k, err := decodeKey([]byte(rec))
	if err != nil {
		return nil, err
	}
	k.LastUsedAt = nil
	if lastUsed != "" {
		if sec, err := strconv.ParseInt(lastUsed, 10, 64); err == nil {
			t := time.Unix(sec, 0).UTC()
			k.LastUsedAt = &t
		}
	}
	return k, nil
}

// userRecord is how a user is serialised (a bbolt value, a Redis hash
// field, a change message). Its Rev shadows User.Rev, so a record encoded
// with Rev zero has no "rev" at all: RedisStore's scripts add it, as they
// assign revisions.
type userRecord struct {
	*User
	Rev uint64 `json:"rev,omitempty"`
}

// encodeUser serialises u, its Rev included.
func encodeUser(u *User) ([]byte, error) { return json.Marshal(userRecord{User: u, Rev: u.Rev}) }

// encodeUserBody serialises u without its Rev: a JSON object that starts
// with its "name", to which a script prepends the "rev" it assigns.
func encodeUserBody(u *User) ([]byte, error) { return json.Marshal(userRecord{User: u}) }

// decodeUser is the inverse of encodeUser.
func decodeUser(b []byte) (*User, error) {
	r := userRecord{User: new(User)}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Name == "" {
		return nil, fmt.Errorf("user record without a name")
	}
	r.User.Rev = r.Rev
	return r.User, nil
}

// encodeSecret serialises the generated signing secret.
func encodeSecret(sec Secret) ([]byte, error) { return json.Marshal(sec) }

// decodeSecret is the inverse of encodeSecret.
func decodeSecret(b []byte) (Secret, error) {
	var sec Secret
	err := json.Unmarshal(b, &sec)
	return sec, err
}

// A revocation is stored as its Ident() (see ParseIdent and
// parseStoredIdent) with its expiry: in bbolt as the value, unix
// nanoseconds in 8 bytes big-endian; in Redis as the score, unix ms
// (revExpiryMs).

// encodeBoltExpiry is the bbolt value of a revocation expiring at t.
func encodeBoltExpiry(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

// decodeBoltExpiry is the inverse of encodeBoltExpiry; ok is false for a
// value of the wrong size.
func decodeBoltExpiry(v []byte) (t time.Time, ok bool) {
	if len(v) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}

// revExpiryMs is the Redis score of a revocation expiring at t: unix ms,
// rounded up: a record is never
// forgotten before its time.
func revExpiryMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// parseStoredIdent is ParseIdent for records read back from a store. Before
// URL ids were decoded strictly, a URL revocation could be stored with an id
// spelled with non-zero unused trailing bits ("…AAB" for "…AAA"), and it
// revoked the link whose id has the same bytes. Such a record is read as
// that link's id, so it stays enforced (and a store holding one still
// loads) until it expires, within the longest lifetime of a link.
func parseStoredIdent(s string, expiresAt time.Time) (Revocation, error) {
	r, err := ParseIdent(s, expiresAt)
	if err == nil {
		return r, nil
	}
	prefix := string(RevokeURL) + "|0|"
	if target, ok := strings.CutPrefix(s, prefix); ok && len(target) == verifier.URLIDLen {
		var id [16]byte
		if n, lerr := base64.RawURLEncoding.Decode(id[:], []byte(target)); lerr == nil && n == len(id) {
			return ParseIdent(prefix+base64.RawURLEncoding.EncodeToString(id[:]), expiresAt)
		}
	}
	return Revocation{}, err
}

// linkRecord is how bbolt serialises a ledger record: short names, times
// in unix ms, and no id (the id is the record's key). (Redis keeps the same
// values in fields of a hash: redisLinkFields.)
type linkRecord struct {
	Path     string     `json:"p"`
	Folder   bool       `json:"f,omitempty"`
	KeyID    string     `json:"k,omitempty"`
	User     string     `json:"u,omitempty"`
	Created  int64      `json:"c"`
	Signed   int64      `json:"s"`
	Policy   LinkPolicy `json:"o,omitzero"`
	Expires  int64      `json:"e"`
	Rev      uint64     `json:"v,omitempty"`
	Uses     int64      `json:"n,omitempty"`
	LastUsed int64      `json:"t,omitempty"`
}

// encodeLink serialises l.
func encodeLink(l *Link) ([]byte, error) {
	r := linkRecord{Path: l.Path, Folder: l.Folder, KeyID: l.KeyID, User: l.User,
		Created: l.CreatedAt.UnixMilli(), Signed: l.SignedExpiresAt.UnixMilli(), Policy: l.Policy,
		Expires: l.ExpiresAt.UnixMilli(), Rev: l.Rev, Uses: l.Uses}
	if l.LastUsed != nil {
		r.LastUsed = l.LastUsed.UnixMilli()
	}
	return json.Marshal(r)
}

// decodeLink is the inverse of encodeLink.
func decodeLink(id string, b []byte) (*Link, error) {
	var r linkRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("link %s: %v", id, err)
	}
	l := &Link{ID: id, Path: r.Path, Folder: r.Folder, KeyID: r.KeyID, User: r.User,
		CreatedAt: time.UnixMilli(r.Created).UTC(), ExpiresAt: time.UnixMilli(r.Expires).UTC(),
		SignedExpiresAt: time.UnixMilli(r.Signed).UTC(), Policy: r.Policy, Uses: r.Uses, Rev: r.Rev}
	if r.LastUsed != 0 {
		t := time.UnixMilli(r.LastUsed).UTC()
		l.LastUsed = &t
	}
	return l, nil
}

// encodeMs is a time as stores keep it: unix ms, in bbolt 8 bytes
// big-endian (so keys sort by time).
func encodeMs(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli())) }
