package verifier

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

const ktAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// ktNewToken returns a fresh token of type typ or fails the test.
func ktNewToken(t testing.TB, typ KeyType) string {
	t.Helper()
	tok, err := NewKeyToken(typ)
	if err != nil {
		t.Fatalf("NewKeyToken(%q): %v", typ, err)
	}
	return tok
}

// ktBuildToken assembles a token by hand from the documented layout:
// prefix + base64url(random || big-endian CRC-32 IEEE of prefix||random).
func ktBuildToken(prefix string, random [32]byte) string {
	var raw [36]byte
	copy(raw[:], random[:])
	binary.BigEndian.PutUint32(raw[32:], crc32.ChecksumIEEE(append([]byte(prefix), random[:]...)))
	return prefix + base64.RawURLEncoding.EncodeToString(raw[:])
}

func TestKeyTokenRoundTrip(t *testing.T) {
	for _, typ := range []KeyType{KeySecret, KeyPublic} {
		t.Run(string(typ), func(t *testing.T) {
			tok := ktNewToken(t, typ)
			if len(tok) != KeyTokenLen || KeyTokenLen != 51 {
				t.Fatalf("len(token) = %d, KeyTokenLen = %d, want 51", len(tok), KeyTokenLen)
			}
			if !strings.HasPrefix(tok, typ.Prefix()) {
				t.Fatalf("token %q lacks prefix %q", tok, typ.Prefix())
			}
			for _, c := range tok[3:] {
				if !strings.ContainsRune(ktAlphabet, c) {
					t.Fatalf("token body has %q outside the base64url alphabet", c)
				}
			}
			got, d, err := ParseKeyToken(tok)
			if err != nil {
				t.Fatalf("ParseKeyToken(NewKeyToken(%q)): %v", typ, err)
			}
			if got != typ {
				t.Errorf("type = %q, want %q", got, typ)
			}
			if want := Digest(sha256.Sum256([]byte(tok))); d != want || DigestToken(tok) != want {
				t.Errorf("digest = %x, DigestToken = %x, want SHA-256 %x", d, DigestToken(tok), want)
			}
		})
	}
}

func TestKeyTypePrefixAndValid(t *testing.T) {
	tests := []struct {
		typ    KeyType
		prefix string
		valid  bool
	}{
		{KeySecret, "sk_", true},
		{KeyPublic, "pk_", true},
		{"", "sk_", false},
		{"Secret", "sk_", false},
		{"bogus", "sk_", false},
	}
	for _, tt := range tests {
		if got := tt.typ.Prefix(); got != tt.prefix {
			t.Errorf("KeyType(%q).Prefix() = %q, want %q", tt.typ, got, tt.prefix)
		}
		if got := tt.typ.Valid(); got != tt.valid {
			t.Errorf("KeyType(%q).Valid() = %v, want %v", tt.typ, got, tt.valid)
		}
	}
}

// TestKeyTokenLayout pins the wire format, so tokens issued by one version
// stay valid in the next.
func TestKeyTokenLayout(t *testing.T) {
	var random [32]byte
	for i := range random {
		random[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		prefix string
		typ    KeyType
	}{{"sk_", KeySecret}, {"pk_", KeyPublic}} {
		tok := ktBuildToken(tt.prefix, random)
		typ, _, err := ParseKeyToken(tok)
		if err != nil || typ != tt.typ {
			t.Errorf("ParseKeyToken(%q) = %q, %v; want %q, nil", tok, typ, err, tt.typ)
		}
	}
	// The checksum binds the prefix: the same body under the other prefix
	// is not a key.
	tok := ktBuildToken("sk_", random)
	if _, _, err := ParseKeyToken("pk_" + tok[3:]); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("secret body under pk_ prefix: err = %v, want ErrMalformedKey", err)
	}
}

func TestParseKeyTokenMalformed(t *testing.T) {
	sk := ktNewToken(t, KeySecret)
	pk := ktNewToken(t, KeyPublic)
	body := sk[3:]
	swap := func(s string, i int, r string) string { return s[:i] + r + s[i+len(r):] }

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"prefix only", "sk_"},
		{"one short", sk[:len(sk)-1]},
		{"one long", sk + "A"},
		{"body only", body},
		{"doubled", sk + sk},
		{"unknown prefix", "xk_" + body},
		{"upper-case prefix", "SK_" + body},
		{"dash prefix", "sk-" + body},
		{"prefix without underscore", "skk" + body},
		{"prefix swapped sk to pk", "pk_" + body},
		{"prefix swapped pk to sk", "sk_" + pk[3:]},
		{"plus", swap(sk, 10, "+")},
		{"slash", swap(sk, 10, "/")},
		{"dot", swap(sk, 10, ".")},
		{"bang", swap(sk, 3, "!")},
		{"percent-encoded", swap(sk, 20, "%2D")},
		{"non-ASCII", swap(sk, 20, "é")},
		{"NUL", swap(sk, 30, "\x00")},
		{"high byte", swap(sk, 50, "\xff")},
		{"padding", sk[:len(sk)-2] + "=="},
		{"single pad", sk[:len(sk)-1] + "="},
		{"std padded form", "sk_" + base64.URLEncoding.EncodeToString(make([]byte, 35))},
		{"leading space", " " + sk[:len(sk)-1]},
		{"trailing space", sk[:len(sk)-1] + " "},
		{"trailing newline", sk[:len(sk)-1] + "\n"},
		{"trailing CR", sk[:len(sk)-1] + "\r"},
		{"newline inside", swap(sk, 25, "\n")},
		{"CR inside", swap(sk, 25, "\r")},
		{"tab inside", swap(sk, 25, "\t")},
		{"space inside", swap(sk, 25, " ")},
		{"whitespace around", " " + sk + " "},
		{"bearer prefix", "Bearer " + sk},
		{"all zeros body", "sk_" + strings.Repeat("A", 48)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, d, err := ParseKeyToken(tt.token)
			if !errors.Is(err, ErrMalformedKey) {
				t.Fatalf("ParseKeyToken(%q) err = %v, want ErrMalformedKey", tt.token, err)
			}
			if typ != "" || d != (Digest{}) {
				t.Errorf("rejected token returned type %q, digest %x; want zero values", typ, d)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

// TestParseKeyTokenEverySubstitution replaces each body character with
// every other alphabet character: the checksum must catch all of them. The
// checksum is linear, so what holds for one token holds for all.
func TestParseKeyTokenEverySubstitution(t *testing.T) {
	for _, typ := range []KeyType{KeySecret, KeyPublic} {
		tok := ktNewToken(t, typ)
		b := []byte(tok)
		for i := 3; i < len(b); i++ {
			orig := b[i]
			for j := 0; j < len(ktAlphabet); j++ {
				if ktAlphabet[j] == orig {
					continue
				}
				b[i] = ktAlphabet[j]
				if _, _, err := ParseKeyToken(string(b)); !errors.Is(err, ErrMalformedKey) {
					t.Errorf("%s: character %d changed %q→%q accepted (err = %v)", typ, i, orig, ktAlphabet[j], err)
				}
			}
			b[i] = orig
		}
		if _, _, err := ParseKeyToken(string(b)); err != nil {
			t.Fatalf("restored token rejected: %v", err)
		}
	}
}

// TestKeyTokenNoTrailingBits: 36 bytes fill 48 base64 characters exactly,
// so a token has no unused bits to vary; the decoder still rejects
// non-canonical trailing bits for the lengths where they exist.
func TestKeyTokenNoTrailingBits(t *testing.T) {
	if got := base64.RawURLEncoding.EncodedLen(keyRandomLen + keyChecksumLen); got != keyBodyLen || (keyRandomLen+keyChecksumLen)%3 != 0 {
		t.Fatalf("body is %d characters for %d bytes: the layout has trailing bits", got, keyRandomLen+keyChecksumLen)
	}
	tests := []struct {
		in string
		ok bool
	}{
		{"AA", true},    // 1 byte, trailing 4 bits zero
		{"AB", false},   // trailing bits 0001
		{"AP", false},   // trailing bits 1111
		{"AAA", true},   // 2 bytes, trailing 2 bits zero
		{"AAB", false},  // trailing bits 01
		{"AAD", false},  // trailing bits 11
		{"AAAA", true},  // 3 bytes, no trailing bits
		{"A", false},    // impossible length
		{"AA==", false}, // padding is not part of the raw alphabet
	}
	for _, tt := range tests {
		var dst [36]byte
		if _, ok := decodeBase64URL(dst[:], tt.in); ok != tt.ok {
			t.Errorf("decodeBase64URL(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
	}
	// Too long for the destination.
	var dst [36]byte
	if _, ok := decodeBase64URL(dst[:], strings.Repeat("A", 52)); ok {
		t.Error("decodeBase64URL accepted input longer than dst")
	}
	if n, ok := decodeBase64URL(dst[:], strings.Repeat("A", 48)); !ok || n != 36 {
		t.Errorf("decodeBase64URL of 48 characters into 36 bytes = %d, %v", n, ok)
	}
}

// TestKeyChecksum checks the eight-bytes-at-a-time CRC against
// hash/crc32 for both prefixes and every length of input.
func TestKeyChecksum(t *testing.T) {
	var b [70]byte
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	for _, prefix := range []string{"sk_", "pk_", "", "xyz_"} {
		for n := 0; n <= len(b); n++ {
			want := crc32.ChecksumIEEE(append([]byte(prefix), b[:n]...))
			if got := keyChecksum(prefix, b[:n]); got != want {
				t.Fatalf("keyChecksum(%q, %d bytes) = %08x, want %08x", prefix, n, got, want)
			}
		}
	}
}

func TestKeyTokensAndDigestsAreUnique(t *testing.T) {
	const n = 200
	tokens := make(map[string]bool, n)
	digests := make(map[Digest]bool, n)
	for i := 0; i < n; i++ {
		typ := KeySecret
		if i%2 == 1 {
			typ = KeyPublic
		}
		tok := ktNewToken(t, typ)
		_, d, err := ParseKeyToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		if tokens[tok] || digests[d] {
			t.Fatalf("duplicate token or digest after %d tokens", i)
		}
		tokens[tok], digests[d] = true, true
	}
	// The digest covers the prefix too.
	sk := ktNewToken(t, KeySecret)
	if DigestToken(sk) == DigestToken("pk_"+sk[3:]) {
		t.Error("digest ignores the prefix")
	}
}

func TestKeyHint(t *testing.T) {
	tok := ktNewToken(t, KeySecret)
	tests := []struct{ in, want string }{
		{tok, tok[len(tok)-4:]},
		{"sk_abcd", "abcd"},
		{"abcd", "abcd"},
		{"abc", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := KeyHint(tt.in); got != tt.want {
			t.Errorf("KeyHint(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseKeyTokenDoesNotAllocate(t *testing.T) {
	sk := ktNewToken(t, KeySecret)
	pk := ktNewToken(t, KeyPublic)
	bad := sk[:len(sk)-1] + string(ktAlphabet[(strings.IndexByte(ktAlphabet, sk[len(sk)-1])+1)%64])
	for _, tok := range []string{sk, pk, bad, "", "sk_short", sk + "x", "xx_" + sk[3:], sk[:len(sk)-2] + "=="} {
		allocs := testing.AllocsPerRun(100, func() {
			_, _, _ = ParseKeyToken(tok)
		})
		if allocs != 0 {
			t.Errorf("ParseKeyToken(%q) allocates %v times per call, want 0", tok, allocs)
		}
	}
}

func BenchmarkParseKeyToken(b *testing.B) {
	tok := ktNewToken(b, KeySecret)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseKeyToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}
