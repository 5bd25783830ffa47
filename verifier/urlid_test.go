package verifier

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestURLIDText(t *testing.T) {
	if got := testURLID.String(); got != "AAECAwQFBgcICQoLDA0ODw" {
		t.Fatalf("String() = %q", got)
	}
	seen := map[URLID]bool{}
	for range 100 {
		id, err := NewURLID()
		if err != nil {
			t.Fatal(err)
		}
		s := id.String()
		back, err := ParseURLID(s)
		if len(s) != URLIDLen || err != nil || back != id || seen[id] {
			t.Fatalf("URL id %q: length %d, parsed %v, %v; repeated %v", s, len(s), back, err, seen[id])
		}
		seen[id] = true
	}
}

func TestParseURLIDStrict(t *testing.T) {
	const good = "AAECAwQFBgcICQoLDA0ODw"
	for _, s := range []string{
		"",
		good[:21],
		good + "A",
		good[:21] + "x", // non-zero trailing bits: the same bytes as …w under another spelling
		good[:21] + "z",
		good[:21] + "=",
		good[:20] + "==",
		strings.Replace(good, "A", "+", 1), // standard alphabet
		strings.Replace(good, "A", "/", 1),
		good[:10] + "\n" + good[11:],
		good[:10] + " " + good[11:],
		base64.URLEncoding.EncodeToString(testURLID[:]), // padded
	} {
		id, err := ParseURLID(s)
		if !errors.Is(err, ErrMalformedURLID) || id != (URLID{}) {
			t.Errorf("ParseURLID(%q) = %v, %v; want ErrMalformedURLID", s, id, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseURLID(good) }); n != 0 {
		t.Errorf("ParseURLID allocates %v times", n)
	}
}

// TestNewURLIDNoDash: no new id's text starts with "-" (1 in 64 would).
func TestNewURLIDNoDash(t *testing.T) {
	for range 5000 {
		id, err := NewURLID()
		if err != nil {
			t.Fatal(err)
		}
		if s := id.String(); s[0] == '-' {
			t.Fatalf("NewURLID gave %s", s)
		}
	}
	if !(URLID{0xf8}).dashFirst() || (URLID{0xfc}).dashFirst() || (URLID{0xf4}).dashFirst() {
		t.Fatal("dashFirst is not the text's first character")
	}
}
