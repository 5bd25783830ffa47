package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-signet/signet/client"
	"github.com/caddy-signet/signet/verifier"
)

// The Go client library (client/) against the built binary: links it
// signs offline are served and a one-byte change is refused; the Client
// against every API family, with its typed errors; the example handler of
// docs/client-go.md, built and run.

// gcSignet is a running Signet for these tests: one instance, three
// sites on one store.
type gcSignet struct {
	in      *instance
	admin   string // http://host:port of the admin API
	site    string // the default handler
	limited string // rate_limit key 1 1m
	retry   string // rate_limit client 1 5s
	root    string // the files the sites serve
}

// gcFiles are the files of the sites besides tests/testdata/files: names
// with spaces, reserved and non-ASCII characters, and a folder of a
// stream.
var gcFiles = map[string]string{
	"shared/team a/café+menu (v2) & notes 100%.txt": "the menu\n",
	"shared/фото/лето 2026.txt":                     "summer\n",
	"movie/index.m3u8":                              "#EXTM3U\nhd/seg1.ts\n",
	"movie/hd/seg1.ts":                              "segment one\n",
}

func gcStart(t *testing.T) *gcSignet {
	t.Helper()
	root := t.TempDir()
	for _, rel := range []string{"reports/q1.txt", "alice/notes.txt", "public/hello.txt"} {
		data, err := os.ReadFile(filepath.Join(filesDir(t), rel))
		if err != nil {
			t.Fatal(err)
		}
		gcWrite(t, root, rel, string(data))
	}
	for rel, data := range gcFiles {
		gcWrite(t, root, rel, data)
	}
	store := filepath.Join(t.TempDir(), "signet.db")
	limited, retry := freePort(t), freePort(t)
	in := newInstanceConfig(t, func(admin string, port int) string {
		return fmt.Sprintf(`{
	admin %[1]s
	http_port %[2]d
	persist_config off
	signet {
		store file %[3]s
	}
}
:%[2]d {
	bind 127.0.0.1
	root * %[4]s
	signet
	file_server
}
:%[5]d {
	bind 127.0.0.1
	root * %[4]s
	signet {
		rate_limit key 1 1m
		rate_limit client off
	}
	file_server
}
:%[6]d {
	bind 127.0.0.1
	root * %[4]s
	signet {
		rate_limit client 1 5s
		rate_limit key off
	}
	file_server
}
`, admin, port, store, root, limited, retry)
	})
	in.start()
	return &gcSignet{in: in, admin: "http://" + in.admin, site: in.site, root: root,
		limited: fmt.Sprintf("http://127.0.0.1:%d", limited), retry: fmt.Sprintf("http://127.0.0.1:%d", retry)}
}

func gcWrite(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// file returns the bytes of a file the sites serve.
func (s *gcSignet) file(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(strings.TrimPrefix(path, "/"))))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// gcGet fetches u without following redirects.
func gcGet(t *testing.T, u string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	resp, err := gcNoRedirect.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

var gcNoRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// gcServed fails unless u is answered 200 with the bytes of the file at
// path.
func (s *gcSignet) gcServed(t *testing.T, what, u, path string) response {
	t.Helper()
	r := gcGet(t, u)
	if want := s.file(t, path); r.status != 200 || string(r.body) != want {
		t.Fatalf("%s: GET %s: %s, want 200 %q", what, u, r, want)
	}
	return r
}

// gcRefused fails unless u is answered with status (and code, if not "").
func gcRefused(t *testing.T, what, u string, status int, code string) {
	t.Helper()
	r := gcGet(t, u)
	if r.status != status || (code != "" && r.errorCode() != code) {
		t.Fatalf("%s: GET %s: %s, want %d %s", what, u, r, status, code)
	}
}

// gcChangeByte returns u with the byte at i replaced.
func gcChangeByte(u string, i int) string {
	b := []byte(u)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// gcOfflineKey creates a key that signs offline through the admin API
// and returns its value.
func (s *gcSignet) gcOfflineKey(t *testing.T, name string, scopes ...string) createdKey {
	t.Helper()
	k := createKey(t, s.admin, map[string]any{"name": name, "scopes": scopes, "permissions": "sign", "offline_signing": true})
	if k.ID != verifier.KeyIDOf(k.Key) {
		t.Fatalf("key id %s is not derived from its value", k.ID)
	}
	return k
}

// TestGoClientOfflineLinks: links the library signs offline, with a key
// created with offline_signing, are served with the file's bytes, in
// every form, with their policies; a one-byte change is refused, and so
// are links the key may not sign.
func TestGoClientOfflineLinks(t *testing.T) {
	s := gcStart(t)
	k := s.gcOfflineKey(t, "gallery", "/reports/", "/shared/", "/movie/")
	signer, err := client.NewSigner(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	if signer.KeyID() != k.ID {
		t.Fatalf("signer key id %s, created %s", signer.KeyID(), k.ID)
	}
	ctx := context.Background()

	// File links: served, and refused with any byte changed.
	for _, c := range []struct {
		path string
		opts []client.Option
	}{
		{"/reports/q1.txt", nil},
		{"/shared/team a/café+menu (v2) & notes 100%.txt", nil},
		{"/shared/фото/лето 2026.txt", nil},
		{"/reports/q1.txt", []client.Option{client.QueryPair("b", "x y+z"), client.QueryPair("a", "1&2"), client.QueryPair("é", "")}},
		{"/reports/q1.txt", []client.Option{client.Query(url.Values{"v": {"2"}, "lang": {"fr", "en"}})}},
		{"/reports/q1.txt", []client.Option{client.RawQuery("q=a+b&q=a%20b&x=1;y=2&%7Euser=~me")}},
	} {
		u, err := signer.SignURL(s.site, c.path, time.Hour, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		s.gcServed(t, "offline file link", u, c.path)
		pathAt := len(s.site) + 1
		tokenAt := strings.LastIndex(u, "sig=") + len("sig=")
		for what, i := range map[string]int{"path": pathAt, "token start": tokenAt + 5, "token end": len(u) - 1, "tag": len(u) - 20} {
			gcRefused(t, "one byte of the "+what+" changed", gcChangeByte(u, i), 403, "")
		}
		if q := strings.IndexByte(u, '?'); tokenAt-len("sig=") > q+1 {
			gcRefused(t, "one byte of the query changed", gcChangeByte(u, q+1), 403, "invalid_signature")
		}
	}

	// Folder links: the query form on any file under the folder, with
	// queries of the player's own; the path form with relative references.
	folder, err := signer.Sign(s.site, "/movie", 2*time.Hour, client.Folder())
	if err != nil {
		t.Fatal(err)
	}
	if folder.Path != "/movie/" || !strings.HasPrefix(folder.URL, s.site+"/movie/?sig=") || !strings.HasPrefix(folder.PathURL, s.site+"/_signet/v1/t/") {
		t.Fatalf("folder link %+v", folder)
	}
	tok := folder.URL[strings.LastIndex(folder.URL, "=")+1:]
	s.gcServed(t, "folder link, query form", s.site+"/movie/index.m3u8?sig="+tok, "/movie/index.m3u8")
	s.gcServed(t, "folder link, query form, another file and a query", s.site+"/movie/hd/seg1.ts?_HLS_msn=3&sig="+tok+"&_HLS_part=1", "/movie/hd/seg1.ts")
	gcRefused(t, "folder link outside its folder", s.site+"/reports/q1.txt?sig="+tok, 403, "invalid_signature")
	gcRefused(t, "folder link, one byte changed", s.site+"/movie/index.m3u8?sig="+gcChangeByte(tok, len(tok)-3), 403, "")
	base, err := url.Parse(folder.PathURL + "index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	s.gcServed(t, "folder link, path form", base.String(), "/movie/index.m3u8")
	seg := base.ResolveReference(&url.URL{Path: "hd/seg1.ts"}).String()
	s.gcServed(t, "folder link, path form, a relative reference", seg, "/movie/hd/seg1.ts")
	pathForm, err := signer.SignURL(s.site, "/movie/", 2*time.Hour, client.PathForm())
	if err != nil || !strings.HasPrefix(pathForm, s.site+"/_signet/v1/t/") || !strings.HasSuffix(pathForm, "/movie/") {
		t.Fatalf("PathForm: %s %v", pathForm, err)
	}
	s.gcServed(t, "PathForm link", pathForm+"hd/seg1.ts", "/movie/hd/seg1.ts")
	gcRefused(t, "path form, one byte of the token changed", gcChangeByte(pathForm, len(s.site)+len("/_signet/v1/t/")+30)+"index.m3u8", 403, "")
	nonASCII, err := signer.Sign(s.site, "/shared/фото/", time.Hour, client.Folder())
	if err != nil {
		t.Fatal(err)
	}
	s.gcServed(t, "non-ASCII folder, path form", nonASCII.PathURL+url.PathEscape("лето 2026.txt"), "/shared/фото/лето 2026.txt")

	// Policies: the response headers, max uses, the client network.
	named, err := signer.SignURL(s.site, "/reports/q1.txt", time.Hour, client.DownloadName(`Q1 "final"; report.txt`))
	if err != nil {
		t.Fatal(err)
	}
	r := s.gcServed(t, "download name", named, "/reports/q1.txt")
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="Q1 \"final\"; report.txt"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	utf8Name, err := signer.SignURL(s.site, "/reports/q1.txt", time.Hour, client.DownloadName("Отчёт Q1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r = s.gcServed(t, "non-ASCII download name", utf8Name, "/reports/q1.txt")
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") ||
		!strings.Contains(cd, "filename*=UTF-8''%D0%9E%D1%82%D1%87%D1%91%D1%82%20Q1.txt") {
		t.Errorf("Content-Disposition %q", cd)
	}
	inline, err := signer.SignURL(s.site, "/reports/q1.txt", time.Hour, client.Inline(), client.ContentType("text/markdown; charset=utf-8"))
	if err != nil {
		t.Fatal(err)
	}
	r = s.gcServed(t, "inline with a content type", inline, "/reports/q1.txt")
	if r.header.Get("Content-Disposition") != "inline" || r.header.Get("Content-Type") != "text/markdown; charset=utf-8" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", r.header)
	}
	once, err := signer.Sign(s.site, "/reports/q1.txt", time.Hour, client.MaxUses(1))
	if err != nil {
		t.Fatal(err)
	}
	s.gcServed(t, "max uses 1, first use", once.URL, "/reports/q1.txt")
	gcRefused(t, "max uses 1, second use", once.URL, 403, "max_uses_reached")
	here, err := signer.SignURL(s.site, "/reports/q1.txt", time.Hour, client.ClientCIDR("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	s.gcServed(t, "client CIDR of this client", here, "/reports/q1.txt")
	elsewhere, err := signer.SignURL(s.site, "/reports/q1.txt", time.Hour, client.ClientCIDR("203.0.113.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	gcRefused(t, "client CIDR of another network", elsewhere, 403, "client_not_allowed")

	// What the key may not sign, and what the server never signed.
	outside, err := signer.SignURL(s.site, "/alice/notes.txt", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gcRefused(t, "outside the key's scope", outside, 403, "revoked")
	otherHost, err := signer.SignURL("http://files.example.com", "/reports/q1.txt", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gcRefused(t, "signed for another host", s.site+strings.TrimPrefix(otherHost, "http://files.example.com"), 403, "invalid_signature")
	expired, err := signer.SignURL(s.site, "/reports/q1.txt", time.Hour, client.Now(time.Now().Add(-2*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	gcRefused(t, "expired", expired, 403, "expired")
	plainKey := createKey(t, s.admin, map[string]any{"name": "no offline", "scopes": []string{"/"}, "permissions": "sign"})
	plain, err := client.SignURL(s.site, "/reports/q1.txt", plainKey.Key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gcRefused(t, "a key without offline signing", plain, 403, "invalid_signature")

	// Revoked by its whole URL with the signing key itself (a sign key
	// revokes what it issued), by id with an admin key; and every link
	// of the key ends when offline signing is turned off.
	own := client.New(s.site, k.Key)
	byURL, err := signer.Sign(s.site, "/reports/q1.txt", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.gcServed(t, "before revocation", byURL.URL, "/reports/q1.txt")
	rev, err := own.Revoke(ctx, client.Revocation{URL: byURL.URL})
	if err != nil || rev.Revocation == nil || rev.Revocation.Kind != "url" || rev.Revocation.Target != byURL.ID {
		t.Fatalf("revoke by URL: %+v %v", rev, err)
	}
	gcRefused(t, "revoked by URL", byURL.URL, 403, "revoked")
	adminKey := createKey(t, s.admin, map[string]any{"name": "ops", "scopes": []string{"/"}, "permissions": "admin"})
	admin := client.New(s.site, adminKey.Key)
	byID, err := signer.Sign(s.site, "/reports/q1.txt", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Revoke(ctx, client.Revocation{ID: byID.ID}); err != nil {
		t.Fatal(err)
	}
	gcRefused(t, "revoked by id", byID.URL, 403, "revoked")
	old, err := signer.Sign(s.site, "/reports/q1.txt", time.Hour, client.Now(time.Now().Add(-2*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if rev, err := own.Revoke(ctx, client.Revocation{URL: old.URL}); err != nil || !rev.AlreadyExpired || rev.Revocation != nil {
		t.Fatalf("revoking an expired offline link: %+v %v", rev, err)
	}
	still, err := signer.SignURL(s.site, "/reports/q1.txt", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.gcServed(t, "before offline signing is turned off", still, "/reports/q1.txt")
	if _, err := admin.UpdateKey(ctx, k.ID, client.KeyUpdate{OfflineSigning: client.Ptr(false)}); err != nil {
		t.Fatal(err)
	}
	gcRefused(t, "offline signing turned off", still, 403, "invalid_signature")
}

// TestGoClientAPI: the Client against every API family of a running
// Signet, and each typed error: 400 with the field, 401, 403, 404, 409,
// 429 with Retry-After (and retried).
func TestGoClientAPI(t *testing.T) {
	s := gcStart(t)
	ctx := context.Background()
	adminKey := createKey(t, s.admin, map[string]any{"name": "ops", "scopes": []string{"/"}, "permissions": "admin"})
	admin := client.New(s.site, adminKey.Key, client.WithUserAgent("gc-test/1"))

	expectErr := func(what string, err error, sentinel error, code, field string) *client.Error {
		t.Helper()
		var e *client.Error
		if !errors.Is(err, sentinel) || !errors.As(err, &e) || (code != "" && e.Code != code) || e.Field != field {
			t.Fatalf("%s: %v (%#v), want %v code %q field %q", what, err, e, sentinel, code, field)
		}
		return e
	}

	// Users.
	alice, err := admin.CreateUser(ctx, client.NewUser{Name: "alice", Scopes: []string{"/alice/"}, Permissions: "sign", SelfService: true})
	if err != nil || alice.Name != "alice" || !alice.SelfService || alice.Permissions != "sign" || alice.CreatedAt.IsZero() {
		t.Fatalf("create user: %+v %v", alice, err)
	}
	if _, err := admin.CreateUser(ctx, client.NewUser{Name: "bob", Scopes: []string{"/bob/"}}); err != nil {
		t.Fatal(err)
	}
	_, err = admin.CreateUser(ctx, client.NewUser{Name: "alice", Scopes: []string{"/alice/"}})
	expectErr("user exists", err, client.ErrConflict, "conflict", "")
	_, err = admin.CreateUser(ctx, client.NewUser{Name: "Bob", Scopes: []string{"/bob/"}})
	expectErr("bad user name", err, client.ErrBadRequest, "bad_request", "name")
	users, err := admin.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
		t.Fatalf("list users: %+v %v", users, err)
	}
	alice, err = admin.UpdateUser(ctx, "alice", client.UserUpdate{Scopes: []string{"/alice/", "/shared/"}})
	if err != nil || strings.Join(alice.Scopes, " ") != "/alice/ /shared/" {
		t.Fatalf("update user: %+v %v", alice, err)
	}
	if got, err := admin.GetUser(ctx, "alice"); err != nil || strings.Join(got.Scopes, " ") != "/alice/ /shared/" {
		t.Fatalf("get user: %+v %v", got, err)
	}
	_, err = admin.GetUser(ctx, "nobody")
	expectErr("no such user", err, client.ErrNotFound, "not_found", "")
	_, err = admin.UpdateUser(ctx, "alice", client.UserUpdate{})
	expectErr("empty user update", err, client.ErrBadRequest, "bad_request", "body")

	// Keys, one of them signing offline.
	laptop, err := admin.CreateKey(ctx, client.NewKey{Name: "alice laptop", User: "alice", OfflineSigning: true})
	if err != nil || !strings.HasPrefix(laptop.Value, "sk_") || laptop.ID != verifier.KeyIDOf(laptop.Value) || !laptop.OfflineSigning ||
		laptop.User != "alice" || laptop.Access.Permissions != "sign" || strings.Join(laptop.Access.Scopes, " ") != "/alice/ /shared/" {
		t.Fatalf("create key: %+v %v", laptop, err)
	}
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	reader, err := admin.CreateKey(ctx, client.NewKey{Name: "reader", Scopes: []string{"/reports/"}, Permissions: "read", ExpiresAt: &expires})
	if err != nil || reader.ExpiresAt == nil || !reader.ExpiresAt.Equal(expires) || reader.OfflineSigning {
		t.Fatalf("create key with expiry: %+v %v", reader, err)
	}
	pub, err := admin.CreateKey(ctx, client.NewKey{Name: "widget", Type: "public", Scopes: []string{"/reports/"}})
	if err != nil || !strings.HasPrefix(pub.Value, "pk_") || pub.Type != "public" {
		t.Fatalf("create public key: %+v %v", pub, err)
	}
	_, err = admin.CreateKey(ctx, client.NewKey{Name: "x", Scopes: []string{"../etc"}})
	expectErr("bad scope", err, client.ErrBadRequest, "bad_request", "scopes")
	_, err = admin.CreateKey(ctx, client.NewKey{Name: "x", Type: "public", OfflineSigning: true})
	expectErr("public key signing offline", err, client.ErrBadRequest, "bad_request", "offline_signing")
	keys, err := admin.ListKeys(ctx)
	if err != nil || len(keys) != 4 {
		t.Fatalf("list keys: %d %v", len(keys), err)
	}
	for _, k := range keys {
		if k.ID == laptop.ID && (!k.OfflineSigning || k.Name != "alice laptop") {
			t.Fatalf("listed %+v", k)
		}
	}
	got, err := admin.GetKey(ctx, reader.ID)
	if err != nil || got.Name != "reader" || got.Hint != reader.Value[len(reader.Value)-4:] {
		t.Fatalf("get key: %+v %v", got, err)
	}
	got, err = admin.UpdateKey(ctx, reader.ID, client.KeyUpdate{Name: client.Ptr("reader (renamed)"), ClearExpiry: true})
	if err != nil || got.Name != "reader (renamed)" || got.ExpiresAt != nil {
		t.Fatalf("update key: %+v %v", got, err)
	}
	got, err = admin.UpdateKey(ctx, reader.ID, client.KeyUpdate{ExpiresAt: &expires, Scopes: []string{"/reports/", "/public/"}})
	if err != nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) || len(got.Scopes) != 2 {
		t.Fatalf("update key expiry and scopes: %+v %v", got, err)
	}
	_, err = admin.UpdateKey(ctx, reader.ID, client.KeyUpdate{})
	expectErr("empty key update", err, client.ErrBadRequest, "bad_request", "body")
	_, err = admin.UpdateKey(ctx, reader.ID, client.KeyUpdate{OfflineSigning: client.Ptr(true)})
	expectErr("offline signing added later", err, client.ErrBadRequest, "bad_request", "offline_signing")
	_, err = admin.GetKey(ctx, "key_aaaaaaaaaaaaaaaa")
	expectErr("no such key", err, client.ErrNotFound, "not_found", "")

	// 401: a malformed key, an unknown one, a deleted one.
	for what, key := range map[string]string{"no key": "", "malformed": "sk_nonsense", "unknown": gcKeyToken(t)} {
		_, err := client.New(s.site, key).ListKeys(ctx)
		expectErr("401, "+what, err, client.ErrUnauthorized, "unauthorized", "")
	}
	deleted, err := admin.DeleteKey(ctx, reader.ID)
	if err != nil || deleted.ID != reader.ID {
		t.Fatalf("delete key: %+v %v", deleted, err)
	}
	_, err = client.New(s.site, reader.Value).ListKeys(ctx)
	expectErr("401, deleted key", err, client.ErrUnauthorized, "unauthorized", "")

	// 403: what a user key may not do.
	ac := client.New(s.site, laptop.Value)
	_, err = ac.ListUsers(ctx)
	if e := expectErr("a user key lists users", err, client.ErrForbidden, "forbidden", ""); e.Message != "managing users needs the admin permission" {
		t.Fatalf("message %q", e.Message)
	}
	_, err = ac.CreateKey(ctx, client.NewKey{Name: "wider", Scopes: []string{"/"}})
	expectErr("a user key widens itself", err, client.ErrForbidden, "forbidden", "")
	own, err := ac.ListKeys(ctx) // self-service: its user's keys
	if err != nil || len(own) != 1 || own[0].ID != laptop.ID {
		t.Fatalf("self-service list: %+v %v", own, err)
	}

	// The signing endpoint.
	link, err := ac.Sign(ctx, "/alice/notes.txt", client.SignRequest{ExpiresIn: time.Hour, DownloadName: "notes.txt", MaxUses: 2})
	if err != nil || link.Path != "/alice/notes.txt" || link.Folder || link.ID == "" || link.ExpiresAt.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("sign: %+v %v", link, err)
	}
	r := s.gcServed(t, "endpoint-signed link", link.URL, "/alice/notes.txt")
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="notes.txt"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	menu := "/shared/team a/café+menu (v2) & notes 100%.txt"
	if l, err := ac.Sign(ctx, menu, client.SignRequest{ExpiresIn: time.Minute}); err != nil || l.Path != menu {
		t.Fatalf("sign %s: %+v %v", menu, l, err)
	} else {
		s.gcServed(t, "endpoint-signed link, reserved characters", l.URL, menu)
	}
	folder, err := admin.Sign(ctx, "/movie/", client.SignRequest{ExpiresIn: time.Hour, Folder: true, Check: "index.m3u8"})
	if err != nil || !folder.Folder || folder.Path != "/movie/" || folder.PathURL == "" {
		t.Fatalf("sign folder: %+v %v", folder, err)
	}
	s.gcServed(t, "endpoint-signed folder link, path form", folder.PathURL+"hd/seg1.ts", "/movie/hd/seg1.ts")
	_, err = ac.Sign(ctx, "/alice/missing.txt", client.SignRequest{ExpiresIn: time.Hour})
	expectErr("sign a missing file", err, client.ErrNotFound, "not_found", "")
	_, err = ac.Sign(ctx, "/reports/q1.txt", client.SignRequest{ExpiresIn: time.Hour})
	expectErr("sign outside the scope", err, client.ErrForbidden, "forbidden", "")
	_, err = ac.Sign(ctx, "/alice/notes.txt", client.SignRequest{ExpiresIn: 8 * 24 * time.Hour})
	expectErr("sign for 8 days", err, client.ErrBadRequest, "bad_request", "expires_in")
	_, err = ac.Sign(ctx, "/alice/notes.txt", client.SignRequest{ExpiresIn: time.Hour, ContentType: "text/html"})
	expectErr("sign with an active content type", err, client.ErrBadRequest, "bad_request", "content_type")
	_, err = client.New(s.site, pub.Value).Sign(ctx, "/reports/q1.txt", client.SignRequest{ExpiresIn: time.Hour})
	expectErr("sign with a public key", err, client.ErrForbidden, "forbidden", "")

	// The links API: pages, the iterator, one link, extend, revoke.
	var signed []string
	for range 4 {
		l, err := ac.Sign(ctx, "/alice/notes.txt", client.SignRequest{ExpiresIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		signed = append(signed, l.ID)
	}
	signed = append(signed, link.ID)
	var paged []string
	f := client.LinkFilter{Limit: 2, User: "alice"}
	for pages := 0; ; pages++ {
		page, err := ac.ListLinks(ctx, f)
		if err != nil || len(page.Links) > 2 || pages > 10 {
			t.Fatalf("list links: %+v %v", page, err)
		}
		for _, l := range page.Links {
			paged = append(paged, l.ID)
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	var iterated []string
	for l, err := range ac.AllLinks(ctx, client.LinkFilter{Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		iterated = append(iterated, l.ID)
	}
	if len(paged) != 6 || strings.Join(paged, " ") != strings.Join(iterated, " ") {
		t.Fatalf("paged %v, iterated %v (signed %v)", paged, iterated, signed)
	}
	active, err := admin.ListLinks(ctx, client.LinkFilter{Path: "/movie/", Active: client.Ptr(true)})
	if err != nil || len(active.Links) != 1 || active.Links[0].ID != folder.ID || !active.Links[0].Folder {
		t.Fatalf("list folder links: %+v %v", active, err)
	}
	for _, err := range ac.AllLinks(ctx, client.LinkFilter{Limit: 5000}) {
		expectErr("iterating with a bad limit", err, client.ErrBadRequest, "bad_request", "limit")
	}
	one, err := ac.GetLink(ctx, link.ID)
	if err != nil || one.Policy.DownloadName != "notes.txt" || one.Policy.MaxUses != 2 || one.Uses != 1 || one.KeyID != laptop.ID || !one.Active {
		t.Fatalf("get link: %+v %v", one, err)
	}
	moved, err := ac.UpdateLink(ctx, link.ID, client.LinkUpdate{ExpiresIn: 3 * time.Hour})
	if err != nil || moved.ExpiresAt.Before(time.Now().Add(2*time.Hour)) {
		t.Fatalf("extend link: %+v %v", moved, err)
	}
	moved, err = ac.UpdateLink(ctx, link.ID, client.LinkUpdate{ExpiresAt: time.Now().Add(30 * time.Minute)})
	if err != nil || moved.ExpiresAt.After(time.Now().Add(31*time.Minute)) {
		t.Fatalf("shorten link: %+v %v", moved, err)
	}
	_, err = ac.UpdateLink(ctx, link.ID, client.LinkUpdate{})
	expectErr("empty link update", err, client.ErrBadRequest, "bad_request", "body")
	_, err = ac.UpdateLink(ctx, link.ID, client.LinkUpdate{ExpiresIn: 8 * 24 * time.Hour})
	expectErr("link extended too far", err, client.ErrBadRequest, "bad_request", "expires_in")
	_, err = ac.GetLink(ctx, "AAAAAAAAAAAAAAAAAAAAAA")
	expectErr("no such link", err, client.ErrNotFound, "not_found", "")
	_, err = ac.GetLink(ctx, folder.ID)
	expectErr("another key's link", err, client.ErrForbidden, "forbidden", "")
	_, err = ac.ListLinks(ctx, client.LinkFilter{User: "bob"})
	expectErr("another user's links", err, client.ErrForbidden, "forbidden", "")
	revoked, err := ac.DeleteLink(ctx, link.ID)
	if err != nil || !revoked.Revoked || revoked.Active {
		t.Fatalf("revoke link: %+v %v", revoked, err)
	}
	gcRefused(t, "revoked through the links API", link.URL, 403, "revoked")
	// Six links of alice's, one revoked already: only the five revoked
	// now are counted.
	n, err := ac.RevokeLinks(ctx, client.LinkSelection{User: "alice"})
	if err != nil || n != 5 {
		t.Fatalf("bulk revoke: %d %v", n, err)
	}
	_, err = ac.RevokeLinks(ctx, client.LinkSelection{})
	expectErr("bulk revoke without a filter", err, client.ErrBadRequest, "bad_request", "body")

	// Revocations.
	rec, err := admin.Revoke(ctx, client.Revocation{Prefix: "/movie/"})
	if err != nil || rec.Revocation == nil || rec.Revocation.Kind != "prefix" || rec.Revocation.Target != "/movie/" || rec.Revocation.Before == nil {
		t.Fatalf("revoke prefix: %+v %v", rec, err)
	}
	gcRefused(t, "revoked by prefix", folder.PathURL+"index.m3u8", 403, "revoked")
	rec, err = admin.Revoke(ctx, client.Revocation{KeyID: laptop.ID})
	if err != nil || rec.Revocation.Kind != "key" || rec.Revocation.Target != laptop.ID {
		t.Fatalf("revoke key: %+v %v", rec, err)
	}
	_, err = admin.Revoke(ctx, client.Revocation{})
	expectErr("revoke nothing", err, client.ErrBadRequest, "bad_request", "body")
	_, err = admin.Revoke(ctx, client.Revocation{ID: "short"})
	expectErr("revoke a bad id", err, client.ErrBadRequest, "bad_request", "id")
	_, err = ac.Revoke(ctx, client.Revocation{ID: folder.ID})
	expectErr("a sign key revokes by id", err, client.ErrForbidden, "forbidden", "")

	// Users deleted with their keys.
	gone, err := admin.DeleteUser(ctx, "alice")
	if err != nil || gone.Deleted.Name != "alice" || len(gone.DeletedKeys) != 1 || gone.DeletedKeys[0] != laptop.ID {
		t.Fatalf("delete user: %+v %v", gone, err)
	}
	_, err = ac.ListKeys(ctx)
	expectErr("a key of a deleted user", err, client.ErrUnauthorized, "unauthorized", "")

	// 429: a per-key limit of 1 a minute; a retry waits only as long as
	// allowed.
	limited := client.New(s.limited, adminKey.Key, client.WithRetry(3, 5*time.Second))
	if _, err := limited.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = limited.ListUsers(ctx)
	e := expectErr("over the key's rate limit", err, client.ErrRateLimited, "rate_limit_exceeded", "")
	if e.RetryAfter < time.Second || e.RetryAfter > time.Minute {
		t.Fatalf("RetryAfter %s", e.RetryAfter)
	}

	// Retried: a per-client limit of 1 every 5 s, and a client that
	// retries after Retry-After.
	var mu sync.Mutex
	var statuses []int
	hc := &http.Client{Timeout: 10 * time.Second, Transport: gcRecorder{http.DefaultTransport, func(status int) {
		mu.Lock()
		statuses = append(statuses, status)
		mu.Unlock()
	}}}
	plain := client.New(s.retry, adminKey.Key, client.WithHTTPClient(hc))
	if _, err := plain.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = plain.ListUsers(ctx)
	e = expectErr("over the client's rate limit", err, client.ErrRateLimited, "rate_limit_exceeded", "")
	if e.RetryAfter < time.Second || e.RetryAfter > 5*time.Second {
		t.Fatalf("RetryAfter %s", e.RetryAfter)
	}
	mu.Lock()
	statuses = nil
	mu.Unlock()
	retrying := client.New(s.retry, adminKey.Key, client.WithHTTPClient(hc), client.WithRetry(3, 10*time.Second))
	if _, err := retrying.ListUsers(ctx); err != nil {
		t.Fatalf("retried: %v (statuses %v)", err, statuses)
	}
	if len(statuses) < 2 || statuses[0] != 429 || statuses[len(statuses)-1] != 200 {
		t.Fatalf("statuses of a retried call: %v", statuses)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := retrying.ListUsers(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

// gcRecorder is a transport that reports the status of every answer.
type gcRecorder struct {
	next   http.RoundTripper
	status func(int)
}

func (g gcRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(r)
	if err == nil {
		g.status(resp.StatusCode)
	}
	return resp, err
}

func gcKeyToken(t *testing.T) string {
	t.Helper()
	k, err := verifier.NewKeyToken(verifier.KeySecret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestGoClientExample builds and runs examples/gohandler against a
// running Signet: GET /download/{id} redirects (302) to a link Signet
// serves with the file's bytes and name; an unknown id is 404.
func TestGoClientExample(t *testing.T) {
	s := gcStart(t)
	k := s.gcOfflineKey(t, "web app", "/reports/", "/alice/")
	bin := filepath.Join(t.TempDir(), "gohandler")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/gohandler").CombinedOutput(); err != nil {
		t.Fatalf("go build ../examples/gohandler: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "SIGNET_KEY="+k.Key, "SIGNET_URL="+s.site, "ADDR="+addr)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("gohandler output:\n%s", logs.String())
		}
	})
	app := "http://" + addr
	eventually(t, 30*time.Second, "gohandler answers on "+app, func() bool {
		resp, err := gcNoRedirect.Get(app + "/download/nothing")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	for id, c := range map[string]struct{ path, name string }{
		"q1-report": {"/reports/q1.txt", "Q1 report.txt"},
		"notes":     {"/alice/notes.txt", "notes.txt"},
	} {
		r := gcGet(t, app+"/download/"+id)
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || !strings.HasPrefix(loc, s.site+c.path+"?sig=") {
			t.Fatalf("GET /download/%s: %d Location %q", id, r.status, loc)
		}
		served := s.gcServed(t, "the example's link for "+id, loc, c.path)
		if cd := served.header.Get("Content-Disposition"); cd != `attachment; filename="`+c.name+`"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		tok := loc[strings.LastIndex(loc, "=")+1:]
		if life := gcLifetime(t, tok); life != 300 {
			t.Errorf("the link is signed for %d s, want 5 minutes", life)
		}
	}
	for _, u := range []string{"/download/nothing", "/download/", "/other"} {
		if r := gcGet(t, app+u); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", u, r)
		}
	}
	if r := gcGet(t, app+"/download/q1-report"); r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
}

// gcLifetime reads the lifetime a token was signed with (expires_at −
// issued_at, after the version and the secret id), without verifying it.
func gcLifetime(t *testing.T, tok string) int64 {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 2 || len(raw) < 2+int(raw[1])+16 {
		t.Fatalf("token %q: %v", tok, err)
	}
	b := raw[2+int(raw[1]):]
	return int64(binary.BigEndian.Uint64(b)) - int64(binary.BigEndian.Uint64(b[8:]))
}

// TestGoClientDocExample: the handler in docs/client-go.md is
// examples/gohandler/main.go, byte for byte, and the doc's other Go
// snippets name only what the package exports.
func TestGoClientDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/client-go.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../examples/gohandler/main.go")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- examples/gohandler/main.go -->\n```go\n"
	i := bytes.Index(doc, []byte(marker))
	if i < 0 {
		t.Fatalf("docs/client-go.md has no %q", marker)
	}
	block := doc[i+len(marker):]
	end := bytes.Index(block, []byte("\n```\n"))
	if end < 0 {
		t.Fatal("the example's block in docs/client-go.md is not closed")
	}
	if got := string(block[:end+1]); got != string(src) {
		t.Fatalf("docs/client-go.md's copy of examples/gohandler/main.go differs:\n%s", gcFirstDiff(got, string(src)))
	}

	// Every client.X the doc names exists in the package.
	exported := gcExported(t)
	for _, m := range regexp.MustCompile(`\bclient\.([A-Z][A-Za-z]*)`).FindAllSubmatch(doc, -1) {
		if !exported[string(m[1])] {
			t.Errorf("docs/client-go.md names client.%s, which the package does not export", m[1])
		}
	}
}

// gcExported lists the package's exported identifiers and methods, as
// go doc -short and -all name them.
func gcExported(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "doc", "-all", "../client").CombinedOutput()
	if err != nil {
		t.Fatalf("go doc: %v\n%s", err, out)
	}
	names := map[string]bool{}
	re := regexp.MustCompile(`(?m)^(?:func|type|var|const)\s+(?:\([^)]*\)\s*)?([A-Z][A-Za-z0-9]*)|^\s+(Err[A-Za-z]+|Default[A-Za-z]+|Max[A-Za-z]+|Version)\b`)
	for _, m := range re.FindAllSubmatch(out, -1) {
		names[string(m[1])+string(m[2])] = true
	}
	return names
}

func gcFirstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n doc:  %q\n file: %q", i+1, x, y)
		}
	}
	return "(same lines)"
}
