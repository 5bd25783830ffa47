package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
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

type vectorFile struct {
	Comment []string `json:"comment"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	Name   string `json:"name"`
	Secret struct {
		ID     string `json:"id"`
		KeyHex string `json:"key_hex"`
	} `json:"secret"`
	Claims struct {
		ExpiresAt int64        `json:"expires_at"`
		IssuedAt  int64        `json:"issued_at"`
		ID        string       `json:"id"`
		KeyID     string       `json:"key_id"`
		Prefix    string       `json:"prefix"`
		Policy    vectorPolicy `json:"policy"`
	} `json:"claims"`
	Target struct {
		Host     string `json:"host"`
		Method   string `json:"method"`
		Path     string `json:"path"`
		RawPath  string `json:"raw_path"`
		RawQuery string `json:"raw_query"`
	} `json:"target"`
	CanonicalQuery string        `json:"canonical_query"`
	MACInputHex    string        `json:"mac_input_hex"`
	Token          string        `json:"token"`
	Checks         []vectorCheck `json:"checks"`
}

// vectorPolicy is a Policy as the vectors spell it: every field omitted or
// zero when unset, the client CIDR in its canonical text form.
type vectorPolicy struct {
	DownloadName string `json:"download_name"`
	Inline       bool   `json:"inline"`
	ContentType  string `json:"content_type"`
	MaxUses      uint32 `json:"max_uses"`
	ClientCIDR   string `json:"client_cidr"`
}

func (vp vectorPolicy) policy(tb testing.TB) Policy {
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

type vectorCheck struct {
	Method      string `json:"method"`
	Host        string `json:"host"`
	RequestURI  string `json:"request_uri"`
	Now         int64  `json:"now"`
	SkewSeconds int64  `json:"skew_seconds"`
	Error       string `json:"error"`
}

func TestSignedURLVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/signed-url-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 16 {
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
				KeyID: vec.Claims.KeyID, Prefix: vec.Claims.Prefix, Policy: vec.Claims.Policy.policy(t),
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

			for i, chk := range vec.Checks {
				v := mustVerifier(t, "", time.Duration(chk.SkewSeconds)*time.Second, s)
				got, err := v.Verify(reqTarget(t, chk.Method, chk.Host, chk.RequestURI), time.Unix(chk.Now, 0))
				want, ok := errNames[chk.Error]
				if !ok {
					t.Fatalf("check %d: unknown error name %q", i, chk.Error)
				}
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Errorf("check %d (%s %s %s): err = %v, want %v", i, chk.Method, chk.Host, chk.RequestURI, err, want)
					continue
				}
				wantClaims := verified(c, s)
				if err == nil && got != wantClaims {
					t.Errorf("check %d: claims %+v, want %+v", i, got, wantClaims)
				}
			}
		})
	}
}
