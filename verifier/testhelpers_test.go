package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/url"
	"runtime/debug"
	"testing"
	"time"
)

// testNow is 2026-01-01T10:00:00Z.
var testNow = time.Unix(1767261600, 0)

// testURLID is the URL id of bytes 0x00…0x0f, "AAECAwQFBgcICQoLDA0ODw".
var testURLID = URLID{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// mustVerifier returns NewVerifier(ring, param, skew) or fails the test.
func mustVerifier(tb testing.TB, param string, skew time.Duration, ring ...Secret) *Verifier {
	tb.Helper()
	v, err := NewVerifier(ring, param, skew)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// mustVerifierOpts is mustVerifier with options.
func mustVerifierOpts(tb testing.TB, param string, skew time.Duration, opts []Option, ring ...Secret) *Verifier {
	tb.Helper()
	v, err := NewVerifier(ring, param, skew, opts...)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func testSecret(id string, fill byte) Secret {
	k := make([]byte, 32)
	for i := range k {
		k[i] = fill + byte(i)
	}
	return Secret{ID: id, Key: k}
}

func testClaims() Claims {
	return Claims{
		IssuedAt:  testNow.Unix(),
		ExpiresAt: testNow.Unix() + 3600,
		ID:        testURLID,
		KeyID:     "key_7Qm2",
	}
}

// reqTarget builds a Target the way net/http does from a request line.
func reqTarget(tb testing.TB, method, host, uri string) Target {
	tb.Helper()
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		tb.Fatalf("ParseRequestURI(%q): %v", uri, err)
	}
	return Target{Host: host, Method: method, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
}

// verified returns c as Verify returns it when s signed it and no expiry
// hook is set: with SecretID and SignedExpiresAt.
func verified(c Claims, s Secret) Claims {
	c.SecretID = s.ID
	c.SignedExpiresAt = c.ExpiresAt
	return c
}

func mustSign(tb testing.TB, s Secret, c Claims, t Target) string {
	tb.Helper()
	tok, err := Sign(s, c, t)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return tok
}

// signedTarget signs c for t and returns t with the token in its query.
func signedTarget(tb testing.TB, s Secret, c Claims, t Target) Target {
	tb.Helper()
	t.RawQuery = AppendToken(t.RawQuery, DefaultParam, mustSign(tb, s, c, t))
	return t
}

// craftToken builds a token from a hand-made payload with a valid tag, to
// reach the checks made after the tag (claims and constraints).
func craftToken(s Secret, exp, iat uint64, keyID string, constraints []byte, bound string, t Target) string {
	raw := []byte{tokenVersion, byte(len(s.ID))}
	raw = append(raw, s.ID...)
	raw = binary.BigEndian.AppendUint64(raw, exp)
	raw = binary.BigEndian.AppendUint64(raw, iat)
	raw = append(raw, testURLID[:]...)
	raw = append(raw, byte(len(keyID)))
	raw = append(raw, keyID...)
	raw = append(raw, constraints...)
	msg, _, _ := appendMACInput(nil, raw, t.Host, bound, t.RawQuery, DefaultParam, nil)
	m := hmac.New(sha256.New, s.Key)
	m.Write(msg)
	return base64.RawURLEncoding.EncodeToString(m.Sum(raw))
}

func constraint(typ byte, v string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// raceEnabled reports whether the test binary was built with -race, where
// sync.Pool deliberately drops items and allocation counts mean nothing.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
