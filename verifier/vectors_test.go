package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/vectorfile"
)

// errName maps the error names used in testdata to errors.
var errNames = map[string]error{
	"":                   nil,
	"malformed":          ErrMalformedToken,
	"bad_signature":      ErrBadSignature,
	"expired":            ErrExpired,
	"not_yet_valid":      ErrNotYetValid,
	"method_not_allowed": ErrMethodNotAllowed,
	"no_token":           ErrNoToken,
	"ambiguous_path":     ErrAmbiguousPath,
}

// vectorPolicy is the Policy a vector spells (the client CIDR must be in
// its canonical form).
func vectorPolicy(tb testing.TB, vp vectorfile.Policy) Policy {
	tb.Helper()
	p := Policy{DownloadName: vp.DownloadName, Inline: vp.Inline, ContentType: vp.ContentType, MaxUses: vp.MaxUses}
	if vp.ClientCIDR != "" {
		var err error
		if p.ClientCIDR, err = ParseClientCIDR(vp.ClientCIDR); err != nil || p.ClientCIDR.String() != vp.ClientCIDR {
			tb.Fatalf("client_cidr %q: %v, %v (it must be in its canonical form)", vp.ClientCIDR, p.ClientCIDR, err)
		}
	}
	return p
}

func readVectors(t *testing.T) vectorfile.File {
	t.Helper()
	f, err := vectorfile.Read("testdata/signed-url-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOfflineVectors: the key id and secret derive from the API key, the
// key signs the claims into the token, the URLs carry it, and a verifier
// that knows only the key's offline secret accepts exactly what the checks
// say.
func TestOfflineVectors(t *testing.T) {
	f := readVectors(t)
	if len(f.Offline) < 11 {
		t.Fatalf("only %d offline vectors", len(f.Offline))
	}
	for _, vec := range f.Offline {
		t.Run(vec.Name, func(t *testing.T) {
			in := vec.Inputs
			if got := KeyIDOf(vec.APIKey); got != vec.KeyID {
				t.Fatalf("KeyIDOf = %q, want %q", got, vec.KeyID)
			}
			if got := hex.EncodeToString(OfflineSecret(vec.APIKey)); got != vec.SecretHex {
				t.Fatalf("OfflineSecret = %s, want %s", got, vec.SecretHex)
			}
			k := mustOfflineKey(t, vec.APIKey)
			id, err := ParseURLID(in.URLID)
			if err != nil {
				t.Fatal(err)
			}
			c := Claims{IssuedAt: in.Now, ExpiresAt: in.Now + in.ExpiresIn, ID: id, Prefix: vec.Claims.Prefix, Policy: vectorPolicy(t, in.Policies)}
			if c.IssuedAt != vec.Claims.IssuedAt || c.ExpiresAt != vec.Claims.ExpiresAt {
				t.Fatalf("claims times %d-%d, want %d-%d", c.IssuedAt, c.ExpiresAt, vec.Claims.IssuedAt, vec.Claims.ExpiresAt)
			}
			u, err := url.Parse(vec.URL)
			if err != nil {
				t.Fatal(err)
			}
			signed := Target{Host: u.Host, Method: "GET", Path: u.Path, RawQuery: StripParam(u.RawQuery, in.Param)}
			if c.Prefix != "" {
				signed.Path, signed.RawQuery = c.Prefix, ""
			}
			tok, err := k.Sign(c, signed)
			if err != nil || tok != vec.Token {
				t.Fatalf("Sign = %q, %v\nwant %s", tok, err, vec.Token)
			}
			if got := QueryToken(u.RawQuery, in.Param); got != tok {
				t.Fatalf("the URL carries %q", got)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(tok)
			msg, _ := hex.DecodeString(vec.MACInputHex)
			m := hmac.New(sha256.New, OfflineSecret(vec.APIKey))
			m.Write(msg)
			if !hmac.Equal(m.Sum(nil), raw[len(raw)-tagLen:]) {
				t.Error("tag is not HMAC-SHA256(offline secret, MAC input)")
			}
			if c.Prefix != "" {
				pu, err := url.Parse(vec.PathURL)
				if err != nil {
					t.Fatal(err)
				}
				ptok, rest, _, err := NewPathForm(in.API).Cut(pu.Path, pu.RawPath)
				if err != nil || ptok != tok || rest != u.Path {
					t.Fatalf("path_url %s: token %q rest %q: %v", vec.PathURL, ptok, rest, err)
				}
			}
			// A verifier holding this key's secret, and a ring secret with
			// the key's id that must never be used for it.
			want := c
			want.KeyID, want.SecretID, want.SignedExpiresAt, want.Offline = k.KeyID(), k.KeyID(), c.ExpiresAt, k
			offline := []Option{WithOfflineKeys(func(id KeyRef) *OfflineKey {
				if id.String() == k.KeyID() {
					return k
				}
				return nil
			})}
			runChecks(t, vec.Checks, want, func(skew time.Duration) *Verifier {
				return mustVerifierOpts(t, in.Param, skew, offline, testSecret(k.KeyID(), 9))
			})
		})
	}
}

func TestSignedURLVectors(t *testing.T) {
	f := readVectors(t)
	if len(f.Vectors) < 23 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	for _, vec := range f.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			key, err := hex.DecodeString(vec.Secret.KeyHex)
			if err != nil {
				t.Fatal(err)
			}
			s := Secret{ID: vec.Secret.ID, Key: key}
			id, err := ParseURLID(vec.Claims.ID)
			if err != nil {
				t.Fatal(err)
			}
			if id.String() != vec.Claims.ID {
				t.Fatalf("URL id %q reads back as %q", vec.Claims.ID, id)
			}
			c := Claims{
				ExpiresAt: vec.Claims.ExpiresAt, IssuedAt: vec.Claims.IssuedAt, ID: id,
				KeyID: vec.Claims.KeyID, Prefix: vec.Claims.Prefix, Policy: vectorPolicy(t, vec.Claims.Policy),
			}
			tg := Target(vec.Target)
			tok, err := Sign(s, c, tg)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if tok != vec.Token {
				t.Fatalf("token\n got %s\nwant %s", tok, vec.Token)
			}

			// The documented intermediate values.
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				t.Fatal(err)
			}
			signed := raw[:len(raw)-tagLen]
			cq, _, _ := appendQueryField(nil, tg.RawQuery, "", nil)
			if got := string(cq[2:]); got != vec.CanonicalQuery {
				t.Errorf("canonical query %q, want %q", got, vec.CanonicalQuery)
			}
			bound := tg.Path
			if c.Prefix != "" {
				bound = c.Prefix
			}
			msg, _, _ := appendMACInput(nil, signed, tg.Host, bound, tg.RawQuery, "", nil)
			if got := hex.EncodeToString(msg); got != vec.MACInputHex {
				t.Errorf("MAC input\n got %s\nwant %s", got, vec.MACInputHex)
			}
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			if !hmac.Equal(m.Sum(nil), raw[len(raw)-tagLen:]) {
				t.Error("tag is not HMAC-SHA256(key, MAC input)")
			}

			runChecks(t, vec.Checks, verified(c, s), func(skew time.Duration) *Verifier {
				return mustVerifier(t, "", skew, s)
			})
		})
	}
}

// runChecks verifies each check's request with the verifier newV makes for
// its skew, at its time: the error it names, and the claims want on
// success.
func runChecks(t *testing.T, checks []vectorfile.Check, want Claims, newV func(skew time.Duration) *Verifier) {
	t.Helper()
	for i, chk := range checks {
		wantErr, ok := errNames[chk.Error]
		if !ok {
			t.Fatalf("check %d: unknown error name %q", i, chk.Error)
		}
		v := newV(time.Duration(chk.SkewSeconds) * time.Second)
		got, err := v.Verify(reqTarget(t, chk.Method, chk.Host, chk.RequestURI), time.Unix(chk.Now, 0))
		if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
			t.Errorf("check %d (%s %s %s): err = %v, want %v", i, chk.Method, chk.Host, chk.RequestURI, err, wantErr)
			continue
		}
		if err == nil && got != want {
			t.Errorf("check %d: claims %+v, want %+v", i, got, want)
		}
	}
}
