package client

import (
	"bufio"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/vectorfile"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// The test vectors of the format (verifier/testdata/signed-url-vectors.json):
// the "vectors" (a ring secret, claims, a target, the token) and the
// "offline" cases (an API key, the signer's inputs, the token and URLs).

const vectorsFile = "../verifier/testdata/signed-url-vectors.json"

// policyOptions returns the Options that set p.
func policyOptions(p vectorfile.Policy) []Option {
	var opts []Option
	if p.DownloadName != "" {
		opts = append(opts, DownloadName(p.DownloadName))
	}
	if p.Inline {
		opts = append(opts, Inline())
	}
	if p.ContentType != "" {
		opts = append(opts, ContentType(p.ContentType))
	}
	if p.MaxUses != 0 {
		opts = append(opts, MaxUses(int(p.MaxUses)))
	}
	if p.ClientCIDR != "" {
		opts = append(opts, ClientCIDR(p.ClientCIDR))
	}
	return opts
}

// vectorPolicy is the verifier's Policy for p.
func vectorPolicy(t *testing.T, p vectorfile.Policy) verifier.Policy {
	t.Helper()
	vp := verifier.Policy{DownloadName: p.DownloadName, Inline: p.Inline, ContentType: p.ContentType, MaxUses: p.MaxUses}
	if p.ClientCIDR != "" {
		var err error
		if vp.ClientCIDR, err = verifier.ParseClientCIDR(p.ClientCIDR); err != nil {
			t.Fatal(err)
		}
	}
	return vp
}

var errNames = map[string]error{
	"":                   nil,
	"malformed":          verifier.ErrMalformedToken,
	"bad_signature":      verifier.ErrBadSignature,
	"expired":            verifier.ErrExpired,
	"not_yet_valid":      verifier.ErrNotYetValid,
	"method_not_allowed": verifier.ErrMethodNotAllowed,
	"no_token":           verifier.ErrNoToken,
	"ambiguous_path":     verifier.ErrAmbiguousPath,
}

func readVectors(t *testing.T) vectorfile.File {
	t.Helper()
	f, err := vectorfile.Read(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 16 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	return f
}

// ringSigner signs with a ring secret and a key id of its own choosing,
// as the server's endpoint does: the vectors' tokens.
type ringSigner struct {
	secret verifier.Secret
	keyID  string
}

func (r ringSigner) Sign(c verifier.Claims, t verifier.Target) (string, error) {
	c.KeyID = r.keyID
	return verifier.Sign(r.secret, c, t)
}

// TestVectors signs every vector through the Signer (with the vector's
// ring secret in place of a key's offline secret): the same token, a URL
// that decodes to the vector's path and query and that a verifier with
// the secret accepts. Vectors that break a rule of the server's signing
// (header policies on a folder) must be refused before signing, as the
// server's own rules refuse them.
func TestVectors(t *testing.T) {
	for _, vec := range readVectors(t).Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			key, err := hex.DecodeString(vec.Secret.KeyHex)
			if err != nil {
				t.Fatal(err)
			}
			secret := verifier.Secret{ID: vec.Secret.ID, Key: key}
			s := &Signer{key: ringSigner{secret, vec.Claims.KeyID}, keyID: vec.Claims.KeyID}
			id, err := verifier.ParseURLID(vec.Claims.ID)
			if err != nil {
				t.Fatal(err)
			}

			// The lowest level: claims and target as the vector gives them.
			c := verifier.Claims{ExpiresAt: vec.Claims.ExpiresAt, IssuedAt: vec.Claims.IssuedAt, ID: id,
				Prefix: vec.Claims.Prefix, Policy: vectorPolicy(t, vec.Claims.Policy)}
			tok, err := s.key.Sign(c, verifier.Target(vec.Target))
			if err != nil || tok != vec.Token {
				t.Fatalf("token:\n got %s %v\nwant %s", tok, err, vec.Token)
			}

			// The Signer: base URL, path, lifetime and options.
			base := "https://" + vec.Target.Host
			path := vec.Target.Path
			opts := []Option{Now(time.Unix(vec.Claims.IssuedAt, 0)), URLID(id)}
			if vec.Claims.Prefix != "" {
				path = vec.Claims.Prefix // a folder token depends on its prefix only
				opts = append(opts, Folder())
			} else if vec.Target.RawQuery != "" {
				opts = append(opts, RawQuery(vec.Target.RawQuery))
			}
			opts = append(opts, policyOptions(vec.Claims.Policy)...)
			life := time.Duration(vec.Claims.ExpiresAt-vec.Claims.IssuedAt) * time.Second
			link, err := s.Sign(base, path, life, opts...)
			if why := rules.OfflineLink(vec.Claims.Prefix, c.Policy); why != "" {
				if err == nil {
					t.Fatalf("signed %s, which the server refuses (%s)", link.URL, why)
				}
				t.Logf("refused as the server would (%s): %v", why, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tokenOf(t, link.URL, DefaultParam); got != vec.Token {
				t.Fatalf("URL %s:\n token %s\n want  %s", link.URL, got, vec.Token)
			}
			checkURL(t, link.URL, secret, vec.Claims.IssuedAt, path, vec.Target.RawQuery)
			if link.Folder {
				checkPathURL(t, link.PathURL, DefaultAPI, secret, vec.Claims.IssuedAt, path)
			}
			if link.ID != vec.Claims.ID || link.ExpiresAt.Unix() != vec.Claims.ExpiresAt || link.Path != path {
				t.Fatalf("link %+v", link)
			}
		})
	}
}

// TestOfflineVectors signs every offline vector with its API key: the
// derived key id and secret, the token, the URL and the path form.
func TestOfflineVectors(t *testing.T) {
	f := readVectors(t)
	if len(f.Offline) < 11 {
		t.Fatalf("only %d offline vectors", len(f.Offline))
	}
	for _, vec := range f.Offline {
		t.Run(vec.Name, func(t *testing.T) {
			s, err := NewSigner(vec.APIKey)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != vec.KeyID {
				t.Fatalf("key id %s, want %s", s.KeyID(), vec.KeyID)
			}
			if got := hex.EncodeToString(verifier.OfflineSecret(vec.APIKey)); got != vec.SecretHex {
				t.Fatalf("secret %s, want %s", got, vec.SecretHex)
			}
			in := vec.Inputs
			opts := []Option{Now(time.Unix(in.Now, 0))}
			id, err := verifier.ParseURLID(in.URLID)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, URLID(id))
			if in.Folder {
				opts = append(opts, Folder())
			}
			if in.Param != "" {
				opts = append(opts, Param(in.Param))
			}
			if in.API != "" {
				opts = append(opts, API(in.API))
			}
			if in.Query != "" {
				opts = append(opts, RawQuery(in.Query))
			}
			for _, p := range in.QueryPairs {
				opts = append(opts, QueryPair(p[0], p[1]))
			}
			opts = append(opts, policyOptions(in.Policies)...)
			life := time.Duration(in.ExpiresIn) * time.Second

			got, err := s.SignURL(in.BaseURL, in.Path, life, opts...)
			if err != nil || got != vec.URL {
				t.Fatalf("url:\n got %s %v\nwant %s", got, err, vec.URL)
			}
			link, err := s.Sign(in.BaseURL, in.Path, life, opts...)
			if err != nil {
				t.Fatal(err)
			}
			param := in.Param
			if param == "" {
				param = DefaultParam
			}
			if link.URL != vec.URL || link.PathURL != vec.PathURL || tokenOf(t, link.URL, param) != vec.Token {
				t.Fatalf("link %+v\nwant url %s\n path_url %q\n token %s", link, vec.URL, vec.PathURL, vec.Token)
			}
			if in.Folder {
				pf, err := s.SignURL(in.BaseURL, in.Path, life, append(opts, PathForm())...)
				if err != nil || pf != vec.PathURL {
					t.Fatalf("path form:\n got %s %v\nwant %s", pf, err, vec.PathURL)
				}
			}
			grants := in.Path
			if in.Folder && !strings.HasSuffix(grants, "/") {
				grants += "/"
			}
			if link.Path != grants || link.ExpiresAt.Unix() != vec.Claims.ExpiresAt || vec.Claims.IssuedAt != in.Now ||
				link.ID != in.URLID || (in.Folder && vec.Claims.Prefix != grants) {
				t.Fatalf("link %+v, claims %+v", link, vec.Claims)
			}

			// The checks, with a verifier that knows only this key.
			k, err := verifier.OfflineKeyOf(vec.APIKey)
			if err != nil {
				t.Fatal(err)
			}
			for i, ch := range vec.Checks {
				v, err := verifier.NewVerifier([]verifier.Secret{{ID: "unrelated", Key: make([]byte, 32)}}, param,
					time.Duration(ch.SkewSeconds)*time.Second,
					verifier.WithOfflineKeys(func(verifier.KeyRef) *verifier.OfflineKey { return k }))
				if err != nil {
					t.Fatal(err)
				}
				req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(ch.Method + " " + ch.RequestURI + " HTTP/1.1\r\nHost: " + ch.Host + "\r\n\r\n")))
				if err != nil {
					t.Fatalf("check %d: %v", i, err)
				}
				tg := verifier.Target{Host: req.Host, Method: req.Method, Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
				var c verifier.Claims
				if pf := verifier.NewPathForm(apiOr(in.API)); pf.Is(tg.Path) {
					tok, rest, restRaw, cerr := pf.Cut(tg.Path, tg.RawPath)
					if err = cerr; err == nil {
						tg.Path, tg.RawPath = rest, restRaw
						c, err = v.VerifyToken(tok, tg, time.Unix(ch.Now, 0))
					}
				} else {
					c, err = v.Verify(tg, time.Unix(ch.Now, 0))
				}
				want, ok := errNames[ch.Error]
				if !ok {
					t.Fatalf("check %d: unknown error %q", i, ch.Error)
				}
				if !errors.Is(err, want) || (want == nil && (!c.KeySigned() || c.KeyID != vec.KeyID || c.Prefix != vec.Claims.Prefix)) {
					t.Errorf("check %d %s %s at %d: %v %+v, want %q", i, ch.Method, ch.RequestURI, ch.Now, err, c, ch.Error)
				}
			}
		})
	}
}

func apiOr(api string) string {
	if api == "" {
		return DefaultAPI
	}
	return api
}

// tokenOf returns the token in the query of the URL u.
func tokenOf(t *testing.T, u, param string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	tok := verifier.QueryToken(p.RawQuery, param)
	if tok == "" {
		t.Fatalf("%s: no single %s parameter", u, param)
	}
	return tok
}

// checkURL parses u as net/http would and verifies it with a ring of
// secret at now: its decoded path must be path, its query (less the
// token) rawQuery.
func checkURL(t *testing.T, u string, secret verifier.Secret, now int64, path, rawQuery string) verifier.Claims {
	t.Helper()
	p, err := url.ParseRequestURI(u)
	if err != nil {
		t.Fatal(err)
	}
	if p.Path != path {
		t.Fatalf("%s decodes to the path %q, want %q", u, p.Path, path)
	}
	if q := verifier.StripParam(p.RawQuery, DefaultParam); q != rawQuery {
		t.Fatalf("%s has the query %q, want %q", u, q, rawQuery)
	}
	v, err := verifier.NewVerifier([]verifier.Secret{secret}, DefaultParam, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(verifier.Target{Host: p.Host, Method: "GET", Path: p.Path, RawPath: p.RawPath, RawQuery: p.RawQuery}, time.Unix(now, 0))
	if err != nil {
		t.Fatalf("%s does not verify: %v", u, err)
	}
	return c
}

// checkPathURL verifies a folder link's path form u, as the server cuts
// it.
func checkPathURL(t *testing.T, u, api string, secret verifier.Secret, now int64, prefix string) {
	t.Helper()
	p, err := url.ParseRequestURI(u)
	if err != nil {
		t.Fatal(err)
	}
	tok, rest, restRaw, err := verifier.NewPathForm(api).Cut(p.Path, p.RawPath)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	if rest != prefix {
		t.Fatalf("%s: the path after the token is %q, want %q", u, rest, prefix)
	}
	v, err := verifier.NewVerifier([]verifier.Secret{secret}, DefaultParam, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyToken(tok, verifier.Target{Host: p.Host, Method: "GET", Path: rest, RawPath: restRaw}, time.Unix(now, 0)); err != nil {
		t.Fatalf("%s does not verify: %v", u, err)
	}
}
