package verifier

import (
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// TestDecodeBase64URL checks the decoder against encoding/base64 at every
// length up to a whole token, and that one byte outside the alphabet at any
// position, in the eight-character steps or the tail, makes it fail.
func TestDecodeBase64URL(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= maxRawTokenLen; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		s := base64.RawURLEncoding.EncodeToString(b)
		dst := make([]byte, n)
		if got, ok := decodeBase64URL(dst, s); !ok || got != n || string(dst) != string(b) {
			t.Fatalf("%d bytes: decoded %d, %v, %x; want %x", n, got, ok, dst[:got], b)
		}
		for i := 0; i < len(s); i++ {
			for _, c := range []byte{'=', '+', '/', '.', '\n', 0, 0x80, 0xFF} {
				bad := []byte(s)
				bad[i] = c
				if _, ok := decodeBase64URL(dst, string(bad)); ok {
					t.Fatalf("%d bytes: %q accepted with %q at %d", n, bad, c, i)
				}
			}
		}
	}
	// Room for exactly the decoded bytes is enough; one byte less is not.
	s := base64.RawURLEncoding.EncodeToString(make([]byte, 22))
	if n, ok := decodeBase64URL(make([]byte, 22), s); !ok || n != 22 {
		t.Errorf("exact room: %d, %v", n, ok)
	}
	if _, ok := decodeBase64URL(make([]byte, 21), s); ok {
		t.Error("accepted input longer than dst")
	}
}
