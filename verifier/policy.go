package verifier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"mime"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Policy is what a link asks of every response it is used for. It is
// bound into the token (the tag covers it), so changing it breaks the link.
//
// The verifier only carries a policy: Verify returns it in Claims.Policy
// and the caller applies it to the response (and counts uses, and checks
// the client address).
type Policy struct {
	DownloadName string       // Content-Disposition filename; "" = none
	Inline       bool         // Content-Disposition "inline" instead of "attachment" (with or without DownloadName)
	ContentType  string       // Content-Type override; "" = the origin's
	MaxUses      uint32       // the link works for this many downloads; 0 = unlimited
	ClientCIDR   netip.Prefix // the client address must be in it; the zero Prefix = any client
}

// Limits of the policy values a token can carry.
const (
	// MaxDownloadNameLen is the longest download name, in bytes of UTF-8.
	MaxDownloadNameLen = 200
	// MaxContentTypeLen is the longest content type, in bytes.
	MaxContentTypeLen = 100
)

// Constraint types. A token's constraints come in strictly ascending type
// order, each type at most once, so a set of them has exactly one encoding:
//
//	0x01 prefix        the granted path prefix (1–200 bytes)
//	0x02 disposition   u8 flag (0x00 attachment, 0x01 inline) || filename (0–200 bytes of UTF-8; empty only with inline)
//	0x03 content type  the media type (1–100 bytes of printable ASCII)
//	0x04 max uses      u32be, at least 1
//	0x05 client CIDR   network address (4 bytes IPv4, 16 bytes IPv6) || u8 prefix length; host bits zero, IPv4-mapped stored as IPv4
//
// Each is present exactly when the claim or policy is set.
const (
	constraintPrefix      byte = 0x01
	constraintDisposition byte = 0x02
	constraintContentType byte = 0x03
	constraintMaxUses     byte = 0x04
	constraintClientCIDR  byte = 0x05
)

const (
	dispositionAttachment byte = 0x00
	dispositionInline     byte = 0x01
)

// The errors of the policy checks. Their messages are safe to show and
// name the problem; none includes the value.
var (
	errNameEmpty    = errors.New("download name is empty")
	errNameLong     = fmt.Errorf("download name is longer than %d bytes", MaxDownloadNameLen)
	errNameUTF8     = errors.New("download name is not valid UTF-8")
	errNameControl  = errors.New("download name contains a control character")
	errNameSlash    = errors.New(`download name contains "/" or "\"`)
	errNameDots     = errors.New(`download name cannot be "." or ".."`)
	errNameSpace    = errors.New("download name starts or ends with a space")
	errTypeEmpty    = errors.New("content type is empty")
	errTypeLong     = fmt.Errorf("content type is longer than %d bytes", MaxContentTypeLen)
	errTypeASCII    = errors.New("content type must be printable ASCII")
	errTypeSpace    = errors.New("content type starts or ends with a space")
	errTypeParse    = errors.New("content type is not a valid media type")
	errTypeSubtype  = errors.New("content type must be a type/subtype, such as text/plain")
	errTypeWildcard = errors.New("content type cannot be a wildcard (*)")
	errCIDREmpty    = errors.New("client CIDR is empty")
	errCIDRSyntax   = errors.New("client CIDR must be an IP address or an address/length, such as 203.0.113.0/24")
	errCIDRZone     = errors.New("client CIDR cannot have an IPv6 zone (%)")
	errCIDRInvalid  = errors.New("client CIDR is not a valid prefix")
	errCIDRMapped   = errors.New("client CIDR must give an IPv4-mapped address in its IPv4 form")
)

// CheckDownloadName reports whether s can be a download name: 1–200 bytes
// of valid UTF-8 without control characters (U+0000–U+001F, U+007F,
// U+0080–U+009F), "/" or "\", not "." or "..", and without a leading or
// trailing space. Quotes, ";", "%", inner spaces and non-ASCII are fine:
// the response header is the caller's to encode. It does not allocate.
func CheckDownloadName(s string) error {
	switch {
	case s == "":
		return errNameEmpty
	case len(s) > MaxDownloadNameLen:
		return errNameLong
	case !utf8.ValidString(s):
		return errNameUTF8
	case s == "." || s == "..":
		return errNameDots
	}
	for _, r := range s {
		switch {
		case r < 0x20 || 0x7f <= r && r <= 0x9f:
			return errNameControl
		case r == '/' || r == '\\':
			return errNameSlash
		}
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return errNameSpace
	}
	return nil
}

// CheckContentType reports whether s can be a content type: 1–100 bytes
// of printable ASCII (space to "~") without a leading or trailing space,
// that mime.ParseMediaType accepts and whose media type is a type/subtype
// without wildcards, such as "application/pdf" or "text/plain;
// charset=utf-8". The value is kept as given, not normalised.
func CheckContentType(s string) error {
	switch {
	case s == "":
		return errTypeEmpty
	case len(s) > MaxContentTypeLen:
		return errTypeLong
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return errTypeASCII
		}
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return errTypeSpace
	}
	mt, _, err := mime.ParseMediaType(s)
	switch {
	case err != nil:
		return errTypeParse
	case !strings.Contains(mt, "/"):
		return errTypeSubtype
	case strings.Contains(mt, "*"):
		return errTypeWildcard
	}
	return nil
}

// ParseClientCIDR parses a client address restriction: an IP address
// ("203.0.113.7" is 203.0.113.7/32, "2001:db8::1" is 2001:db8::1/128) or
// a CIDR ("203.0.113.0/24", "2001:db8::/32"). IPv4-mapped IPv6 addresses
// are returned in their IPv4 form ("::ffff:203.0.113.0/120" is
// 203.0.113.0/24). It refuses zones and prefixes with host bits set (the
// error suggests the network: "did you mean 203.0.113.0/24?").
func ParseClientCIDR(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errCIDREmpty
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, errCIDRZone
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errCIDRSyntax
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errCIDRSyntax
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("client CIDR has host bits set: did you mean %s?", m)
	}
	return p, nil
}

// checkClientCIDR reports whether p can be a client CIDR: valid, masked,
// and not IPv4-mapped (ParseClientCIDR's results are).
func checkClientCIDR(p netip.Prefix) error {
	switch {
	case !p.IsValid():
		return errCIDRInvalid
	case p.Addr().Is4In6():
		return errCIDRMapped
	case p.Masked() != p:
		return fmt.Errorf("client CIDR has host bits set: did you mean %s?", p.Masked())
	}
	return nil
}

// Check reports whether p can be signed: a DownloadName that is empty or
// passes CheckDownloadName, a ContentType that is empty or passes
// CheckContentType, and a ClientCIDR that is the zero Prefix or valid,
// masked and not IPv4-mapped (as ParseClientCIDR returns it). Any MaxUses
// is fine.
func (p Policy) Check() error {
	if p.DownloadName != "" {
		if err := CheckDownloadName(p.DownloadName); err != nil {
			return err
		}
	}
	if p.ContentType != "" {
		if err := CheckContentType(p.ContentType); err != nil {
			return err
		}
	}
	if p.ClientCIDR != (netip.Prefix{}) {
		if err := checkClientCIDR(p.ClientCIDR); err != nil {
			return err
		}
	}
	return nil
}

// appendPolicy appends the constraints of p, which has passed Check, in
// type order.
func appendPolicy(raw []byte, p *Policy) []byte {
	if p.DownloadName != "" || p.Inline {
		flag := dispositionAttachment
		if p.Inline {
			flag = dispositionInline
		}
		raw = appendConstraintHeader(raw, constraintDisposition, 1+len(p.DownloadName))
		raw = append(raw, flag)
		raw = append(raw, p.DownloadName...)
	}
	if p.ContentType != "" {
		raw = appendConstraintHeader(raw, constraintContentType, len(p.ContentType))
		raw = append(raw, p.ContentType...)
	}
	if p.MaxUses != 0 {
		raw = appendConstraintHeader(raw, constraintMaxUses, 4)
		raw = binary.BigEndian.AppendUint32(raw, p.MaxUses)
	}
	if p.ClientCIDR.IsValid() {
		a := p.ClientCIDR.Addr()
		if a.Is4() {
			b := a.As4()
			raw = appendConstraintHeader(raw, constraintClientCIDR, len(b)+1)
			raw = append(raw, b[:]...)
		} else {
			b := a.As16()
			raw = appendConstraintHeader(raw, constraintClientCIDR, len(b)+1)
			raw = append(raw, b[:]...)
		}
		raw = append(raw, byte(p.ClientCIDR.Bits()))
	}
	return raw
}

func appendConstraintHeader(raw []byte, typ byte, n int) []byte {
	raw = append(raw, typ)
	return binary.BigEndian.AppendUint16(raw, uint16(n))
}

// constraintSet is the decoded constraints of a token whose tag matched,
// but the client CIDR. The byte slices point into the token; nothing is
// interned yet.
type constraintSet struct {
	prefix      []byte
	hasPrefix   bool
	name        []byte
	inline      bool
	contentType []byte
	maxUses     uint32
}

// parseConstraints decodes the constraints b of a token (whose structure
// splitToken checked): known types in strictly ascending order, each value
// of the right size and form. The prefix, download name and content type
// are only checked for length here; the caller checks their text. It
// does not allocate. The client CIDR is a result of its own so that escape
// analysis, which does not tell struct fields apart, sees that it holds
// nothing of b (and Verify's token buffer stays on the stack).
func parseConstraints(b []byte) (cs constraintSet, cidr netip.Prefix, ok bool) {
	last := byte(0)
	for len(b) > 0 {
		typ, l := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		val := b[3 : 3+l]
		b = b[3+l:]
		if typ <= last {
			return cs, cidr, false // out of order, repeated, or type 0
		}
		last = typ
		switch typ {
		case constraintPrefix:
			if l == 0 || l > MaxPrefixLen {
				return cs, cidr, false
			}
			cs.prefix, cs.hasPrefix = val, true
		case constraintDisposition:
			if l == 0 || l > 1+MaxDownloadNameLen || val[0] > dispositionInline || val[0] == dispositionAttachment && l == 1 {
				return cs, cidr, false
			}
			cs.inline, cs.name = val[0] == dispositionInline, val[1:]
		case constraintContentType:
			if l == 0 || l > MaxContentTypeLen {
				return cs, cidr, false
			}
			cs.contentType = val
		case constraintMaxUses:
			if l != 4 {
				return cs, cidr, false
			}
			if cs.maxUses = binary.BigEndian.Uint32(val); cs.maxUses == 0 {
				return cs, cidr, false
			}
		case constraintClientCIDR:
			if cidr, ok = decodeClientCIDR(val); !ok {
				return cs, cidr, false
			}
		default:
			return cs, cidr, false
		}
	}
	return cs, cidr, true
}

// decodeClientCIDR decodes the value of a client CIDR constraint: the
// canonical encoding of a valid, masked prefix, IPv4-mapped addresses as
// IPv4 only.
func decodeClientCIDR(val []byte) (netip.Prefix, bool) {
	var a netip.Addr
	switch len(val) {
	case 4 + 1:
		a = netip.AddrFrom4([4]byte(val))
	case 16 + 1:
		if a = netip.AddrFrom16([16]byte(val)); a.Is4In6() {
			return netip.Prefix{}, false
		}
	default:
		return netip.Prefix{}, false
	}
	bits := int(val[len(val)-1])
	if bits > a.BitLen() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, bits)
	return p, p.Masked() == p
}

// ActiveContentType reports whether a browser would run a response of type
// ct as a page or a script (HTML, XHTML, SVG and other XML, XSL,
// JavaScript, multipart), or cannot read it. Signet refuses such types as
// a link's content type, whoever signs it (its rules package, the client
// libraries): a link could otherwise turn any file in its scope into a
// page on the files' origin.
func ActiveContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true
	}
	switch {
	case strings.Contains(mt, "html"), strings.HasSuffix(mt, "/xml"), strings.HasSuffix(mt, "+xml"),
		strings.Contains(mt, "javascript"), strings.Contains(mt, "ecmascript"), strings.HasPrefix(mt, "multipart/"),
		mt == "text/xsl":
		return true
	}
	return false
}
