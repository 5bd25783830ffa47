package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
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
	Comment []string        `json:"comment"`
	Vectors []vector        `json:"vectors"`
	Offline []offlineVector `json:"offline"`
}

// offlineVector is a link signed with an API key (see the file's comment).
type offlineVector struct {
	Name      string `json:"name"`
	APIKey    string `json:"api_key"`
	KeyID     string `json:"key_id"`
	SecretHex string `json:"secret_hex"`
	Inputs    struct {
		BaseURL    string       `json:"base_url"`
		Path       string       `json:"path"`
		Query      string       `json:"query"`
		QueryPairs [][2]string  `json:"query_pairs"`
		Folder     bool         `json:"folder"`
		Now        int64        `json:"now"`
		ExpiresIn  int64        `json:"expires_in"`
		URLID      string       `json:"url_id"`
		Param      string       `json:"param"`
		API        string       `json:"api"`
		Policies   vectorPolicy `json:"policies"`
	} `json:"inputs"`
	Claims struct {
		ExpiresAt int64  `json:"expires_at"`
		IssuedAt  int64  `json:"issued_at"`
		Prefix    string `json:"prefix"`
	} `json:"claims"`
	MACInputHex string        `json:"mac_input_hex"`
	Token       string        `json:"token"`
	URL         string        `json:"url"`
	PathURL     string        `json:"path_url"`
	Checks      []vectorCheck `json:"checks"`
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

func readVectors(t *testing.T) vectorFile {
	t.Helper()
	data, err := os.ReadFile("testdata/signed-url-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
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
			c := Claims{IssuedAt: in.Now, ExpiresAt: in.Now + in.ExpiresIn, ID: id, Prefix: vec.Claims.Prefix, Policy: in.Policies.policy(t)}
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
			for i, chk := range vec.Checks {
				v := mustVerifierOpts(t, in.Param, time.Duration(chk.SkewSeconds)*time.Second, []Option{WithOfflineKeys(func(id KeyRef) *OfflineKey {
					if id.String() == k.KeyID() {
						return k
					}
					return nil
				})}, testSecret(k.KeyID(), 9))
				got, err := v.Verify(reqTarget(t, chk.Method, chk.Host, chk.RequestURI), time.Unix(chk.Now, 0))
				wantErr := errNames[chk.Error]
				if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
					t.Errorf("check %d (%s): err = %v, want %v", i, chk.RequestURI, err, wantErr)
					continue
				}
				if err == nil && got != want {
					t.Errorf("check %d: claims %+v, want %+v", i, got, want)
				}
			}
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
