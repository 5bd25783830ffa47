package verifier

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
)

// ktRefParse is an independent reading of the token format: prefix, 48
// characters from the base64url alphabet (nothing else, not even the CR/LF
// that encoding/base64 skips), canonical encoding, CRC-32 of prefix||random.
func ktRefParse(tok string) (KeyType, bool) {
	if len(tok) != 51 {
		return "", false
	}
	var typ KeyType
	switch tok[:3] {
	case "sk_":
		typ = KeySecret
	case "pk_":
		typ = KeyPublic
	default:
		return "", false
	}
	body := tok[3:]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(ktAlphabet, body[i]) < 0 {
			return "", false
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) != 36 || base64.RawURLEncoding.EncodeToString(raw) != body {
		return "", false
	}
	if binary.BigEndian.Uint32(raw[32:]) != crc32.ChecksumIEEE(append([]byte(tok[:3]), raw[:32]...)) {
		return "", false
	}
	return typ, true
}

func FuzzParseKeyToken(f *testing.F) {
	var random [32]byte
	for i := range random {
		random[i] = byte(255 - i)
	}
	sk := ktBuildToken("sk_", random)
	pk := ktBuildToken("pk_", random)
	for _, s := range []string{
		sk, pk,
		ktNewToken(f, KeySecret), ktNewToken(f, KeyPublic),
		"", "sk_", "pk_", "sk_" + strings.Repeat("A", 48), "pk_" + strings.Repeat("_", 48),
		sk[:50], sk + "A", " " + sk[:50], sk[:50] + "\n", sk[:20] + "\n" + sk[21:],
		sk[:49] + "==", "xk_" + sk[3:], "pk_" + sk[3:], sk[:10] + "+" + sk[11:],
		sk[:30] + "\x00" + sk[31:], sk[:40] + "é" + sk[42:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		// Mutation rarely produces a valid checksum, so also build a valid
		// token from the input and check that it is accepted.
		prefix := "sk_"
		if len(tok)%2 == 1 {
			prefix = "pk_"
		}
		built := ktBuildToken(prefix, sha256.Sum256([]byte(tok)))
		if typ, _, err := ParseKeyToken(built); err != nil || typ.Prefix() != prefix {
			t.Fatalf("valid token %q rejected: %q, %v", built, typ, err)
		}

		typ, d, err := ParseKeyToken(tok)
		refTyp, refOK := ktRefParse(tok)
		if (err == nil) != refOK {
			t.Fatalf("ParseKeyToken(%q) err = %v, reference accepts = %v", tok, err, refOK)
		}
		if err != nil {
			if typ != "" || d != (Digest{}) {
				t.Fatalf("rejected %q but returned type %q digest %x", tok, typ, d)
			}
			return
		}
		if len(tok) != KeyTokenLen || tok[:3] != typ.Prefix() || typ != refTyp || !typ.Valid() {
			t.Fatalf("accepted %q: len %d, type %q (reference %q)", tok, len(tok), typ, refTyp)
		}
		if d != sha256.Sum256([]byte(tok)) {
			t.Fatalf("accepted %q: digest is not its SHA-256", tok)
		}
		// Accepted tokens re-encode to themselves: one spelling per key.
		raw, _ := base64.RawURLEncoding.DecodeString(tok[3:])
		if again := tok[:3] + base64.RawURLEncoding.EncodeToString(raw); again != tok {
			t.Fatalf("accepted %q re-encodes to %q", tok, again)
		}
	})
}
