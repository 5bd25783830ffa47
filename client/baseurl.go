package client

import (
	"fmt"
	"net/netip"
	"strings"
)

// splitBaseURL checks a base URL, scheme://host[:port] with the scheme
// http or https (any case), and returns its authority (host and port, as
// given), which the token binds. It refuses a path (a trailing "/"
// included), a query, a fragment, user information, an empty host, a
// host of other characters than a DNS name or an IP address has, and a
// bad port. It does not allocate unless it fails.
func splitBaseURL(base string) (string, error) {
	var rest string
	switch {
	case len(base) > 8 && strings.EqualFold(base[:8], "https://"):
		rest = base[8:]
	case len(base) > 7 && strings.EqualFold(base[:7], "http://"):
		rest = base[7:]
	default:
		return "", baseErr(base, "must start with https:// or http:// and name a host")
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		what := map[byte]string{'/': "a path", '?': "a query", '#': "a fragment"}[rest[i]]
		return "", baseErr(base, "must be scheme://host[:port] without "+what+" (drop everything after the host and port)")
	}
	auth := rest
	if strings.IndexByte(rest, '@') >= 0 {
		return "", baseErr(base, "must not hold user information (user@)")
	}
	host, port := rest, ""
	if rest != "" && rest[0] == '[' {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", baseErr(base, "has an unclosed [ in its host")
		}
		a, err := netip.ParseAddr(rest[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", baseErr(base, "has an invalid IPv6 address in its host")
		}
		rest = rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", baseErr(base, "has something other than :port after its IPv6 host")
			}
			port = rest[1:]
			if port == "" {
				return "", baseErr(base, "has an empty port")
			}
		}
	} else {
		if i := strings.LastIndexByte(rest, ':'); i >= 0 {
			host, port = rest[:i], rest[i+1:]
			if port == "" {
				return "", baseErr(base, "has an empty port")
			}
		}
		if host == "" {
			return "", baseErr(base, "has no host")
		}
		for i := 0; i < len(host); i++ {
			if c := host[i]; !isUnreserved(c) {
				return "", baseErr(base, "has a host with a character other than A-Z a-z 0-9 - . _ ~ (give an IDN in its punycode form, xn--…)")
			}
		}
	}
	if port != "" {
		n := 0
		for i := 0; i < len(port); i++ {
			c := port[i]
			if c < '0' || c > '9' || i >= 5 {
				return "", baseErr(base, "has a port that is not a number from 1 to 65535")
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > 65535 {
			return "", baseErr(base, "has a port that is not a number from 1 to 65535")
		}
	}
	return auth, nil
}

func baseErr(base, why string) error {
	return fmt.Errorf("client: base URL %q %s", clip(base), why)
}
