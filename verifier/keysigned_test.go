package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
	"testing"
)

// testAPIKey is a fixed secret key value (32 bytes 0x00…0x1f, checksum).
const testAPIKey = "sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-V_cIg"

func mustOfflineKey(tb testing.TB, token string) *OfflineKey {
	tb.Helper()
	ok, err := OfflineKeyOf(token)
	if err != nil {
		tb.Fatalf("OfflineKeyOf: %v", err)
	}
	return ok
}

// offlineVerifier verifies with ring and the offline keys given.
func offlineVerifier(tb testing.TB, ring Secret, keys ...*OfflineKey) *Verifier {
	tb.Helper()
	byID := map[string]*OfflineKey{}
	for _, k := range keys {
		byID[k.KeyID()] = k
	}
	return mustVerifierOpts(tb, "", 0, []Option{WithOfflineKeys(func(id KeyRef) *OfflineKey {
		return byID[string(id.Bytes())]
	})}, ring)
}

func TestKeyIDOfAndOfflineSecret(t *testing.T) {
	if _, _, err := ParseKeyToken(testAPIKey); err != nil {
		t.Fatalf("test key: %v", err)
	}
	// The derivations, spelled out independently.
	sum := sha256.Sum256([]byte("signet-key-id-v1\x00" + testAPIKey))
	wantID := "key_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
	if got := KeyIDOf(testAPIKey); got != wantID || len(got) != KeyIDLen || !ValidSecretID(got) {
		t.Fatalf("KeyIDOf = %q, want %q (%d chars, a valid secret id)", got, wantID, KeyIDLen)
	}
	m := hmac.New(sha256.New, []byte(testAPIKey))
	m.Write([]byte("signet-offline-v1"))
	if got := OfflineSecret(testAPIKey); !hmac.Equal(got, m.Sum(nil)) || len(got) != 32 {
		t.Fatalf("OfflineSecret = %x", got)
	}
	if d := DigestToken(testAPIKey); hmac.Equal(d[:], OfflineSecret(testAPIKey)) {
		t.Fatal("the offline secret equals the stored digest")
	}
	k := mustOfflineKey(t, testAPIKey)
	if k.KeyID() != wantID {
		t.Fatalf("KeyID = %q", k.KeyID())
	}
}

func TestOfflineKeyOfRefuses(t *testing.T) {
	pk, err := NewKeyToken(KeyPublic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OfflineKeyOf(pk); !errors.Is(err, ErrNotSigningKey) {
		t.Errorf("public key: %v", err)
	}
	bad := testAPIKey[:10] + "A" + testAPIKey[11:]
	for _, tok := range []string{"", "sk_", bad, testAPIKey + "x"} {
		if _, err := OfflineKeyOf(tok); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("OfflineKeyOf(%q) = %v, want ErrMalformedKey", tok, err)
		}
	}
	if _, err := NewOfflineKey("key_x", make([]byte, 31), nil); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := NewOfflineKey("key x", make([]byte, 32), nil); err == nil {
		t.Error("bad id accepted")
	}
}

// A key-signed token verifies with its key's secret and nothing else.
func TestVerifyKeySigned(t *testing.T) {
	ring := testSecret("2026-01", 7)
	k := mustOfflineKey(t, testAPIKey)
	c := testClaims()
	c.Policy = Policy{DownloadName: "r.pdf"}
	tg := reqTarget(t, "GET", "files.example.com", "/reports/q1.pdf?v=2")
	tok, err := k.Sign(c, tg)
	if err != nil {
		t.Fatal(err)
	}
	signed := tg
	signed.RawQuery = AppendToken(tg.RawQuery, DefaultParam, tok)

	got, err := offlineVerifier(t, ring, k).Verify(signed, testNow)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.KeyID != k.KeyID() || got.SecretID != k.KeyID() || !got.KeySigned() || got.Policy != c.Policy || got.Offline != k {
		t.Fatalf("claims %+v", got)
	}
	// The same token made with Sign and the derived secret.
	if tok2 := mustSign(t, Secret{ID: k.KeyID(), Key: OfflineSecret(testAPIKey)}, Claims{
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, ID: c.ID, KeyID: k.KeyID(), Policy: c.Policy}, tg); tok2 != tok {
		t.Fatalf("Sign with the derived secret = %q, want %q", tok2, tok)
	}

	other := mustOfflineKey(t, mustKeyToken(t))
	lying := func(KeyRef) *OfflineKey { return other } // a hook that answers with another key
	// A ring secret with the key's id is never consulted for it.
	sameID := Secret{ID: k.KeyID(), Key: OfflineSecret(testAPIKey)}
	cases := []struct {
		name string
		v    *Verifier
	}{
		{"no hook", mustVerifier(t, "", 0, ring)},
		{"unknown key", offlineVerifier(t, ring, other)},
		{"hook answers another key", mustVerifierOpts(t, "", 0, []Option{WithOfflineKeys(lying)}, ring)},
		{"ring secret with the key's id, no hook", mustVerifier(t, "", 0, sameID)},
		{"ring secret with the key's id, unknown key", offlineVerifier(t, sameID, other)},
	}
	for _, tc := range cases {
		if _, err := tc.v.Verify(signed, testNow); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", tc.name, err)
		}
	}
	// One byte of the token changed.
	mut := []byte(tok)
	mut[len(mut)/2] ^= 1
	if mut[len(mut)/2] == '-' || mut[len(mut)/2] == '_' {
		mut[len(mut)/2] = 'A'
	}
	signed.RawQuery = AppendToken(tg.RawQuery, DefaultParam, string(mut))
	if _, err := offlineVerifier(t, ring, k).Verify(signed, testNow); err == nil {
		t.Error("a changed token verified")
	}
}

// Tokens signed by the ring are unaffected by the hook, even when their key
// id is a key that signs offline.
func TestVerifyRingWithOfflineKeys(t *testing.T) {
	ring := testSecret("2026-01", 7)
	k := mustOfflineKey(t, testAPIKey)
	c := testClaims()
	c.KeyID = k.KeyID()
	calls := 0
	v := mustVerifierOpts(t, "", 0, []Option{WithOfflineKeys(func(KeyRef) *OfflineKey { calls++; return k })}, ring)
	tg := signedTarget(t, ring, c, reqTarget(t, "GET", "files.example.com", "/a.pdf"))
	got, err := v.Verify(tg, testNow)
	if err != nil || got.KeySigned() || got.SecretID != ring.ID || got.Offline != nil || calls != 0 {
		t.Fatalf("Verify = %+v, %v; hook calls %d", got, err, calls)
	}
	// The server's own signer refuses a key id equal to its secret id.
	vs := mustVerifier(t, "", 0, testSecret(k.KeyID(), 3))
	if _, err := vs.Sign(c, reqTarget(t, "GET", "h", "/a.pdf")); err == nil {
		t.Fatal("Verifier.Sign made a token whose key id is its secret id")
	}
}

// A key-signed folder token works in the path form too.
func TestVerifyTokenKeySigned(t *testing.T) {
	k := mustOfflineKey(t, testAPIKey)
	c := testClaims()
	c.Prefix = "/movie/"
	tok, err := k.Sign(c, reqTarget(t, "GET", "h", "/movie/"))
	if err != nil {
		t.Fatal(err)
	}
	v := offlineVerifier(t, testSecret("r", 1), k)
	if got, err := v.VerifyToken(tok, reqTarget(t, "GET", "h", "/movie/seg1.ts?x=1"), testNow); err != nil || got.Prefix != "/movie/" || !got.KeySigned() {
		t.Fatalf("VerifyToken = %+v, %v", got, err)
	}
}

func TestVerifyKeySignedAllocs(t *testing.T) {
	k := mustOfflineKey(t, testAPIKey)
	c := testClaims()
	tg := reqTarget(t, "GET", "files.example.com", "/reports/q1.pdf")
	tok, err := k.Sign(c, tg)
	if err != nil {
		t.Fatal(err)
	}
	tg.RawQuery = AppendToken("", DefaultParam, tok)
	v := offlineVerifier(t, testSecret("r", 1), k)
	if _, err := v.Verify(tg, testNow); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = v.Verify(tg, testNow) }); n != 0 {
		t.Fatalf("Verify of a key-signed token: %v allocs", n)
	}
}

func mustKeyToken(tb testing.TB) string {
	tb.Helper()
	tok, err := NewKeyToken(KeySecret)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// BenchmarkVerifyKeySigned compares verifying a link the server signed for
// a key (ring) with one the key signed itself (key): the same claims, the
// same key id; the hook is a map lookup among 10,000 keys, as the
// server's view does.
func BenchmarkVerifyKeySigned(b *testing.B) {
	k := mustOfflineKey(b, testAPIKey)
	keys := map[string]*OfflineKey{k.KeyID(): k}
	for range 10_000 {
		o := mustOfflineKey(b, mustKeyToken(b))
		keys[o.KeyID()] = o
	}
	ring := testSecret("2026-01", 7)
	v := mustVerifierOpts(b, "", 0, []Option{WithOfflineKeys(func(id KeyRef) *OfflineKey {
		return keys[string(id.Bytes())]
	})}, ring, testSecret("2025-12", 8))
	c := testClaims()
	c.KeyID = k.KeyID()
	tg := reqTarget(b, "GET", "files.example.com", "/reports/2026/q1.pdf")
	ringTok := mustSign(b, ring, c, tg)
	keyTok, err := k.Sign(c, tg)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, tok string }{{"ring", ringTok}, {"key", keyTok}} {
		b.Run(bc.name, func(b *testing.B) {
			t := tg
			t.RawQuery = AppendToken("", DefaultParam, bc.tok)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(t, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOfflineKeySign is an application signing with its key.
func BenchmarkOfflineKeySign(b *testing.B) {
	k := mustOfflineKey(b, testAPIKey)
	c := testClaims()
	tg := reqTarget(b, "GET", "files.example.com", "/reports/2026/q1.pdf")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(c, tg); err != nil {
			b.Fatal(err)
		}
	}
}
