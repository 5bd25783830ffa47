package rules

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/caddy-signet/signet/verifier"
)

// PolicyRequest is the part of a signing request that sets a link's
// policies (POST {api}/files/{path}/signed-url, POST /signet/sign). Every
// field is optional; each is bound into the link's token.
type PolicyRequest struct {
	// DownloadName makes the response a download with this file name
	// (Content-Disposition: attachment, with an RFC 8187 filename* for
	// names that are not plain ASCII).
	DownloadName string `json:"download_name"`
	// Inline asks for Content-Disposition: inline instead of attachment.
	Inline bool `json:"inline"`
	// ContentType replaces the response's Content-Type.
	ContentType string `json:"content_type"`
	// MaxUses is how many downloads the link allows, counted across every
	// instance sharing the store.
	MaxUses json.RawMessage `json:"max_uses"`
	// ClientCIDR is the address or network (IPv4 or IPv6) the link works
	// from, as Caddy sees the client (trusted_proxies honoured).
	ClientCIDR string `json:"client_cidr"`
}

// MaxMaxUses is the largest max_uses a link may have.
const MaxMaxUses = 1_000_000

// Policy checks req for a file link or (folder true) a folder link and
// returns the policy to sign. A folder link cannot carry response headers
// (download_name, inline, content_type): they would apply to every file
// in it alike. Content types that a browser runs as a page or a script
// (HTML, XHTML, SVG, XML, JavaScript) are refused, since a link could
// otherwise turn any file in its scope into a page on the files' origin.
func Policy(req PolicyRequest, folder bool) (verifier.Policy, error) {
	var p verifier.Policy
	if folder {
		for field, set := range map[string]bool{"download_name": req.DownloadName != "", "inline": req.Inline, "content_type": req.ContentType != ""} {
			if set {
				return p, BadField(field, "a folder link cannot set response headers for its files; sign a file link")
			}
		}
	}
	if req.DownloadName != "" {
		if err := verifier.CheckDownloadName(req.DownloadName); err != nil {
			return p, BadField("download_name", "%v", err)
		}
		p.DownloadName = req.DownloadName
	}
	p.Inline = req.Inline
	if req.ContentType != "" {
		if err := verifier.CheckContentType(req.ContentType); err != nil {
			return p, BadField("content_type", "%v", err)
		}
		if verifier.ActiveContentType(req.ContentType) {
			return p, BadField("content_type", "types a browser runs as a page or a script (HTML, XHTML, SVG, XML, JavaScript) cannot be set by a link")
		}
		p.ContentType = req.ContentType
	}
	if len(req.MaxUses) > 0 && string(req.MaxUses) != "null" {
		n, err := strconv.ParseInt(string(req.MaxUses), 10, 64)
		if err != nil || n < 1 || n > MaxMaxUses || n > math.MaxUint32 {
			return p, BadField("max_uses", "must be a whole number from 1 to %d", MaxMaxUses)
		}
		p.MaxUses = uint32(n)
	}
	if req.ClientCIDR != "" {
		cidr, err := verifier.ParseClientCIDR(req.ClientCIDR)
		if err != nil {
			return p, BadField("client_cidr", "%v", err)
		}
		p.ClientCIDR = cidr
	}
	return p, nil
}

// OfflineLink checks, on use, what Grant and Policy check when the server
// issues a link, for a link its key signed offline (the verifier checked
// the format): prefix is a folder link's ("" for a file link), p its
// policy. It returns why the link is refused, or "".
func OfflineLink(prefix string, p verifier.Policy) string {
	switch {
	case strings.Contains(prefix, ";"):
		return "a folder link's folder must be a clean path without ';'"
	case prefix != "" && (p.DownloadName != "" || p.Inline || p.ContentType != ""):
		return "a folder link cannot set response headers for its files"
	case p.MaxUses > MaxMaxUses:
		return "this link's max_uses is over the most a link may have"
	case p.ContentType != "" && verifier.ActiveContentType(p.ContentType):
		return "types a browser runs as a page or a script (HTML, XHTML, SVG, XML, JavaScript) cannot be set by a link"
	}
	return ""
}
