package keystore

import (
	"testing"
	"time"
)

// FuzzParseIdent: whatever a store hands back, parsing a revocation ident
// never panics, and an accepted record is valid and round-trips.
func FuzzParseIdent(f *testing.F) {
	for _, s := range []string{
		"url|0|AAAAAAAAAAAAAAAAAAAAAA", "key|1768000000|key_aaaaaaaaaaaaaaaa", "prefix|1768000000|/reports/",
		"", "|", "||", "url|x|y", "prefix|1|/a/../b", "key|-1|key_aaaaaaaaaaaaaaaa",
	} {
		f.Add(s)
	}
	exp := time.Unix(1800000000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseIdent(s, exp)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid record %+v: %v", r, err)
		}
		if r.Ident() != s {
			t.Fatalf("ident %q round-trips to %q", s, r.Ident())
		}
	})
}
