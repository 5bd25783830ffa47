package verifier

import (
	"strings"
	"testing"
)

func TestValidSecretID(t *testing.T) {
	for id, want := range map[string]bool{
		"s1": true, "2026-01_a": true, strings.Repeat("a", 32): true,
		"": false, strings.Repeat("a", 33): false, "a b": false, "a.b": false, "é": false, "a=": false,
	} {
		if ValidSecretID(id) != want {
			t.Errorf("ValidSecretID(%q) = %v", id, !want)
		}
	}
}
