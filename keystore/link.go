package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddy-signet/signet/verifier"
)

// The link ledger: every link issued through Signet's APIs is recorded
// until it expires, so that people can list what they shared, see its
// uses, move its expiry and count the uses of links with a use limit.

// ErrInvalid is what the ledger returns (wrapped, with the reason) for an
// argument it refuses: a record that fails Link.Validate, a record that
// has already expired, a cursor it did not make, a limit out of range.
// It is never a backend failure: callers answer 400.
var ErrInvalid = errors.New("invalid")

// Limits of a ledger record.
const (
	maxLinkPathLen   = 4096
	maxLinkPolicyLen = 255
	// MaxLinkListLimit is the most records ListLinks returns at once.
	MaxLinkListLimit = 1000
)

// Link is a ledger record.
//
// Stores keep its times to the millisecond (truncated), so a record read
// back may differ from the one stored below that.
type Link struct {
	ID              string     `json:"id"`               // the URL id's text form (22 chars base64url; verifier.ParseURLID)
	Path            string     `json:"path"`             // the file, or the folder prefix ending in "/"
	Folder          bool       `json:"folder"`           // a folder link (Path is a prefix)
	KeyID           string     `json:"key_id,omitempty"` // the issuing key; "" = the operator
	User            string     `json:"user,omitempty"`   // the issuing key's user, if any
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`        // the expiry in force
	SignedExpiresAt time.Time  `json:"signed_expires_at"` // the expiry in the token
	Policy          LinkPolicy `json:"policy"`
	Uses            int64      `json:"uses"`
	LastUsed        *time.Time `json:"last_used,omitempty"`
	// Rev counts the changes to the record's expiry (1 when created);
	// stores set it. Caches use it to ignore LinkExpiryChanged messages
	// older than what they hold.
	Rev uint64 `json:"rev"`
}

// LinkPolicy is what a link's token allows, as recorded.
type LinkPolicy struct {
	DownloadName string `json:"download_name,omitempty"`
	Inline       bool   `json:"inline,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	MaxUses      int64  `json:"max_uses,omitempty"`
	ClientCIDR   string `json:"client_cidr,omitempty"`
}

// LinkFilter selects ledger records; zero fields match everything.
type LinkFilter struct {
	// PathPrefix selects the records whose Path is under this prefix, at
	// a segment boundary (verifier.ScopeCovers): "/alice" and "/alice/"
	// select "/alice", "/alice/" and everything below, never "/alice2".
	PathPrefix string
	KeyID      string
	User       string
}

// matches reports whether l passes f.
func (f LinkFilter) matches(l *Link) bool {
	return (f.KeyID == "" || l.KeyID == f.KeyID) && (f.User == "" || l.User == f.User) &&
		(f.PathPrefix == "" || verifier.ScopeCovers(f.PathPrefix, l.Path))
}

// LinkExpiry is a moved expiry, as the request path needs it.
type LinkExpiry struct {
	ID              string
	ExpiresAt       time.Time
	SignedExpiresAt time.Time
	// Rev is the record's Rev when its expiry took this value.
	Rev uint64
}

// LinkUse is a batch entry of TouchLinks: uses to add, and the latest use.
type LinkUse struct {
	Uses     int64
	LastUsed time.Time
}

// Clone returns a deep copy of l.
func (l *Link) Clone() *Link {
	c := *l
	if l.LastUsed != nil {
		t := *l.LastUsed
		c.LastUsed = &t
	}
	return &c
}

// Expired reports whether the record's expiry in force is at or before
// now: stores no longer return it.
func (l *Link) Expired(now time.Time) bool { return !now.Before(l.ExpiresAt) }

// lifetime is how long a store keeps the record: until the later of its
// expiry in force and its signed expiry. A link shortened below its
// token's expiry is kept (hidden from GetLink and ListLinks once expired)
// until the token expires too, so that ListLinkExpiries goes on reporting
// the shorter expiry for as long as the token could otherwise be used.
func (l *Link) lifetime() time.Time {
	if l.SignedExpiresAt.After(l.ExpiresAt) {
		return l.SignedExpiresAt
	}
	return l.ExpiresAt
}

// moved reports whether the expiry in force is not the token's.
func (l *Link) moved() bool { return !l.ExpiresAt.Equal(l.SignedExpiresAt) }

// expiry is l's entry in ListLinkExpiries.
func (l *Link) expiry() LinkExpiry {
	return LinkExpiry{ID: l.ID, ExpiresAt: l.ExpiresAt, SignedExpiresAt: l.SignedExpiresAt, Rev: l.Rev}
}

// Validate checks the shape of a ledger record: a URL id, a clean path
// (a folder's a clean prefix ending in "/"), a key id and user name if
// set (a user only with a key), its three times set, and a policy of
// bounded, printable strings. ExpiresAt may be before CreatedAt (a link
// shortened to expire at once). Errors wrap ErrInvalid.
func (l *Link) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: link %s: %s", ErrInvalid, l.ID, fmt.Sprintf(format, a...))
	}
	if _, err := verifier.ParseURLID(l.ID); err != nil {
		return fmt.Errorf("%w: link id %q: want a %d-character URL id", ErrInvalid, l.ID, verifier.URLIDLen)
	}
	switch {
	case len(l.Path) > maxLinkPathLen:
		return bad("path longer than %d bytes", maxLinkPathLen)
	case l.Folder && (verifier.CheckScope(l.Path) != nil || !strings.HasSuffix(l.Path, "/")):
		return bad("folder %q: want a clean path prefix ending in /", l.Path)
	case !l.Folder && verifier.CheckPath(l.Path, "") != nil:
		return bad("path %q is not a clean path", l.Path)
	case l.KeyID != "" && !ValidKeyID(l.KeyID):
		return bad("key id %q is malformed", l.KeyID)
	case l.User != "" && !ValidUserName(l.User):
		return bad("user %q is not a user name", l.User)
	case l.User != "" && l.KeyID == "":
		return bad("a user without the key that issued the link")
	case l.CreatedAt.IsZero() || l.ExpiresAt.IsZero() || l.SignedExpiresAt.IsZero():
		return bad("created_at, expires_at and signed_expires_at are required")
	case l.Uses < 0:
		return bad("negative uses")
	}
	return l.Policy.validate(bad)
}

func (p LinkPolicy) validate(bad func(string, ...any) error) error {
	for name, v := range map[string]string{"download_name": p.DownloadName, "content_type": p.ContentType} {
		if len(v) > maxLinkPolicyLen || !printable(v) {
			return bad("%s: want at most %d printable bytes", name, maxLinkPolicyLen)
		}
	}
	if p.MaxUses < 0 {
		return bad("negative max_uses")
	}
	if p.ClientCIDR != "" {
		if _, err := netip.ParsePrefix(p.ClientCIDR); err != nil {
			return bad("client_cidr %q is not a CIDR prefix", p.ClientCIDR)
		}
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return false
		}
	}
	return true
}

// newLinkRecord is what both stores' CreateLink store for l: its stored
// copy at Rev 1, once checkNewLink and an open store allow it.
func (c *closeState) newLinkRecord(l *Link) (*Link, error) {
	if err := checkNewLink(l); err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	stored := storedLink(l)
	stored.Rev = 1
	return stored, nil
}

// checkNewLink is what CreateLink refuses: an invalid record, or one whose
// expiry in force has passed by the clock.
func checkNewLink(l *Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if l.Expired(time.Now()) {
		return fmt.Errorf("%w: link %s: already expired (%v)", ErrInvalid, l.ID, l.ExpiresAt)
	}
	return nil
}

// checkListLimit refuses a ListLinks limit outside 1–MaxLinkListLimit.
func checkListLimit(limit int) error {
	if limit < 1 || limit > MaxLinkListLimit {
		return fmt.Errorf("%w: limit %d: want 1 to %d", ErrInvalid, limit, MaxLinkListLimit)
	}
	return nil
}

// truncMs returns t truncated to the millisecond, as stores keep it.
func truncMs(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// linkPos is a position in the ledger's listing order: newest first, by
// CreatedAt (in ms), then by id, both descending. A cursor is the
// position of the last record of a page; the next page starts after it.
type linkPos struct {
	created int64  // unix ms
	id      string // the URL id's text form
}

// linkPosOf returns the position of l.
func linkPosOf(l *Link) linkPos { return linkPos{l.CreatedAt.UnixMilli(), l.ID} }

// before reports whether a comes before b in the listing order (a is
// newer).
func (a linkPos) before(b linkPos) bool {
	if a.created != b.created {
		return a.created > b.created
	}
	return a.id > b.id
}

// cursorVersion is the first byte of a cursor, so the format can change.
const cursorVersion = 1

// encode returns the opaque cursor for p: base64url of a version byte,
// the creation time (8 bytes) and the 16 bytes of the id.
func (p linkPos) encode() string {
	id, _ := verifier.ParseURLID(p.id) // stored ids are valid
	b := make([]byte, 0, 25)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(p.created))
	b = append(b, id[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor is the inverse of encode; "" is the start of the listing
// (ok false). Anything else that encode did not make is ErrInvalid.
func parseCursor(s string) (p linkPos, ok bool, err error) {
	if s == "" {
		return linkPos{}, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != cursorVersion {
		return linkPos{}, false, fmt.Errorf("%w: cursor %q", ErrInvalid, s)
	}
	id := verifier.URLID(b[9:])
	p = linkPos{created: int64(binary.BigEndian.Uint64(b[1:9])), id: id.String()}
	if p.encode() != s {
		return linkPos{}, false, fmt.Errorf("%w: cursor %q", ErrInvalid, s)
	}
	return p, true, nil
}

// pathRanges returns the index ranges holding the paths a prefix filter
// selects, for an index whose entries are path, a 0 byte, then more: the
// path itself (from path\x00 to path\x01) and everything below it (from
// path/ to path0, '0' being the byte after '/'). ok is false for the
// prefix "/", which selects every path.
func pathRanges(prefix string) (exact, below [2]string, ok bool) {
	s := strings.TrimSuffix(prefix, "/")
	if s == "" {
		return exact, below, false
	}
	return [2]string{s + "\x00", s + "\x01"}, [2]string{s + "/", s + "0"}, true
}

// linkPathEntry is a record's entry in a path index: its path, a 0 byte
// (no clean path holds one) and its id.
func linkPathEntry(path, id string) string { return path + "\x00" + id }

// inRange reports whether k is in [r[0], r[1]).
func inRange(k []byte, r [2]string) bool {
	return bytes.Compare(k, []byte(r[0])) >= 0 && bytes.Compare(k, []byte(r[1])) < 0
}

// validate refuses a filter no record could match for being malformed: a
// prefix that is no clean path prefix, a malformed key id or user name.
func (f LinkFilter) validate() error {
	switch {
	case f.PathPrefix != "" && verifier.CheckScope(f.PathPrefix) != nil:
		return fmt.Errorf("%w: filter path prefix %q is not a clean path prefix", ErrInvalid, f.PathPrefix)
	case f.KeyID != "" && !ValidKeyID(f.KeyID):
		return fmt.Errorf("%w: filter key id %q is malformed", ErrInvalid, f.KeyID)
	case f.User != "" && !ValidUserName(f.User):
		return fmt.Errorf("%w: filter user %q is not a user name", ErrInvalid, f.User)
	}
	return nil
}

// storedLink returns a copy of l as a store keeps it: times to the
// millisecond.
func storedLink(l *Link) *Link {
	c := l.Clone()
	c.CreatedAt, c.ExpiresAt, c.SignedExpiresAt = truncMs(l.CreatedAt), truncMs(l.ExpiresAt), truncMs(l.SignedExpiresAt)
	if c.LastUsed != nil {
		t := truncMs(*c.LastUsed)
		c.LastUsed = &t
	}
	return c
}

// linkPathScanMax is how many records under a path prefix ListLinks reads
// through the path index (sorting them itself) before it walks the
// listing in time order instead, testing each record's path: a prefix that
// selects more records than that is dense enough for the walk to fill a
// page after reading about limit × total / matches records.
var linkPathScanMax = 10_000

// linkSweepInterval is how often a store deletes the records whose
// lifetime ended, and their index entries (bbolt), or the index entries
// of the records Redis expired. A variable so tests may shorten it.
var linkSweepInterval = time.Minute

// validURLID reports whether s is a URL id's text form.
func validURLID(s string) bool {
	_, err := verifier.ParseURLID(s)
	return err == nil
}

// checkListArgs checks the arguments of ListLinks (ErrInvalid) and returns
// the cursor's position.
func checkListArgs(f LinkFilter, cursor string, limit int) (linkPos, bool, error) {
	if err := f.validate(); err != nil {
		return linkPos{}, false, err
	}
	if err := checkListLimit(limit); err != nil {
		return linkPos{}, false, err
	}
	return parseCursor(cursor)
}
