package verifier

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecodeURLID(t *testing.T) {
	for range 100 {
		id, err := NewURLID()
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := DecodeURLID(id)
		if !ok || base64.RawURLEncoding.EncodeToString(raw[:]) != id {
			t.Fatalf("DecodeURLID(%q) = %x, %v; want its bytes", id, raw, ok)
		}
	}
	zero := strings.Repeat("A", URLIDLen)
	if raw, ok := DecodeURLID(zero); !ok || raw != [16]byte{} {
		t.Errorf("DecodeURLID(%q) = %x, %v; want 16 zero bytes", zero, raw, ok)
	}
	for name, id := range map[string]string{
		// The last character carries 2 bits of the 16th byte and 4 unused
		// bits: "B" sets an unused bit. A lenient decoder reads the same
		// bytes as "…AAA", so one link would have two ids.
		"non-zero trailing bits": strings.Repeat("A", URLIDLen-1) + "B",
		"trailing bits, last":    strings.Repeat("A", URLIDLen-1) + "P",
		"short":                  zero[1:],
		"long":                   zero + "A",
		"padding":                zero[2:] + "==",
		"standard alphabet":      zero[1:] + "+",
		"line break":             zero[:10] + "\n" + zero[11:],
		"empty":                  "",
	} {
		if raw, ok := DecodeURLID(id); ok {
			t.Errorf("%s: DecodeURLID(%q) accepted as %x", name, id, raw)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeURLID(zero) }); n != 0 {
		t.Errorf("DecodeURLID allocates %v times", n)
	}
}
