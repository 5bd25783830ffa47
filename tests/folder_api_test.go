package tests

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// signFolderAt asks the signing endpoint of site for a folder link and fails
// the test unless it answers 200.
func signFolderAt(t testing.TB, base, token, folder string, extra map[string]any) signed {
	t.Helper()
	body := map[string]any{"expires_in": 600, "folder": true}
	for k, v := range extra {
		body[k] = v
	}
	resp := do(t, "POST", base+"/_signet/v1/files"+folder+"/signed-url", token, body)
	if resp.status != 200 {
		t.Fatalf("sign folder %s: %s", folder, resp)
	}
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || !s.Folder || s.PathURL == "" {
		t.Fatalf("folder sign response %s: %v", resp.body, err)
	}
	return s
}

// TestFolderSigningEndpoint: a folder link from the signing endpoint grants
// the folder in all three forms through a real Caddy and file_server; the
// endpoint checks scope, the origin (the folder, or the named file) and
// the new fields.
func TestFolderSigningEndpoint(t *testing.T) {
	startCaddy(t, baseConfig)
	k := signer(t, map[string]any{"scopes": []string{"/alice/", "/reports/"}})

	// No index file and no browse: the folder itself is a 404 at the
	// origin, so the endpoint says to name a file in it.
	resp := do(t, "POST", signPrefix+"/alice/signed-url", k.Key, map[string]any{"expires_in": 600, "folder": true})
	expectStatus(t, "folder without index", resp, 404, "not_found")
	if !strings.Contains(resp.errorMessage(), `"check"`) {
		t.Errorf("the 404 does not say how to fix it: %s", resp)
	}
	s := signFolderAt(t, site, k.Key, "/alice", map[string]any{"check": "notes.txt"})
	if s.Path != "/alice/" || s.URL != site+"/alice/?sig="+tokenOf(t, s.URL) || s.PathURL != site+"/_signet/v1/t/"+tokenOf(t, s.URL)+"/alice/" {
		t.Fatalf("folder link %+v", s)
	}
	tok := tokenOf(t, s.URL)

	// The query form, with another parameter, sets the cookie; the path
	// form and the cookie then work; the sibling /alice2/ never does.
	r := do(t, "GET", site+"/alice/notes.txt?x=1&sig="+tok, "", nil)
	if r.status != 200 || string(r.body) != "alice notes\n" {
		t.Fatalf("query form: %s", r)
	}
	var cookie string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if strings.HasPrefix(c.Name, "signet_") && c.Path == "/alice/" && c.HttpOnly && c.MaxAge > 0 && c.MaxAge <= 600 {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("no folder cookie in %v", r.header["Set-Cookie"])
	}
	if r := do(t, "GET", s.PathURL+"notes.txt", "", nil); r.status != 200 || string(r.body) != "alice notes\n" {
		t.Errorf("path form: %s", r)
	}
	withCookie := func(u string) response {
		req := mustRequest(t, "GET", u)
		req.Header.Set("Cookie", cookie)
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, res.Body)
		return response{status: res.StatusCode, header: res.Header, body: []byte(b.String())}
	}
	if r := withCookie(site + "/alice/notes.txt"); r.status != 200 {
		t.Errorf("cookie form: %s", r)
	}
	for what, r := range map[string]response{
		"query, sibling":  do(t, "GET", site+"/alice2/secret.txt?sig="+tok, "", nil),
		"path, sibling":   do(t, "GET", site+"/_signet/v1/t/"+tok+"/alice2/secret.txt", "", nil),
		"path, traversal": do(t, "GET", site+"/_signet/v1/t/"+tok+"/alice/%2e%2e/reports/q1.txt", "", nil),
		"cookie, sibling": withCookie(site + "/alice2/secret.txt"),
	} {
		if r.status != 403 && r.status != 400 && r.status != 401 {
			t.Errorf("%s: %s", what, r)
		}
	}

	// Bad requests name their field.
	for what, body := range map[string]map[string]any{
		"check without folder": {"expires_in": 60, "check": "q1.txt"},
		"absolute check":       {"expires_in": 60, "folder": true, "check": "/q1.txt"},
		"check climbing out":   {"expires_in": 60, "folder": true, "check": "../alice/notes.txt"},
		"folder not a bool":    {"expires_in": 60, "folder": "yes"},
	} {
		r := do(t, "POST", signPrefix+"/reports/signed-url", k.Key, body)
		expectStatus(t, what, r, 400, "bad_request")
	}
	// The scope must cover the folder.
	expectStatus(t, "folder outside the scope", do(t, "POST", signPrefix+"/alice2/signed-url", k.Key,
		map[string]any{"expires_in": 60, "folder": true, "check": "secret.txt"}), 403, "forbidden")
}

// TestFolderAdminAndCLI: the operator signs folder links through the admin
// API and `caddy signet sign --folder`, which prints url and path_url.
func TestFolderAdminAndCLI(t *testing.T) {
	in := newInstance(t, t.TempDir())
	in.start()
	resp := do(t, "POST", "http://"+in.admin+"/signet/sign", "", map[string]any{"path": "/alice/", "expires_in": 600, "folder": true, "base_url": in.site})
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || resp.status != 200 || !s.Folder || s.Path != "/alice/" || !strings.HasPrefix(s.PathURL, in.site+"/_signet/v1/t/") {
		t.Fatalf("admin folder sign: %s", resp)
	}
	if r := do(t, "GET", s.PathURL+"notes.txt", "", nil); r.status != 200 {
		t.Errorf("admin folder link: %s", r)
	}
	out := strings.Fields(in.mustCLI("sign", "/alice", "--folder", "--expires-in", "1h", "--base-url", in.site))
	if len(out) != 2 || !strings.HasPrefix(out[0], in.site+"/alice/?sig=") || !strings.HasPrefix(out[1], in.site+"/_signet/v1/t/") {
		t.Fatalf("sign --folder printed %q", out)
	}
	// (The folder itself has no index file: file_server answers it 404.)
	for _, u := range []string{out[1] + "notes.txt", strings.Replace(out[0], "/alice/?", "/alice/notes.txt?", 1)} {
		if r := do(t, "GET", u, "", nil); r.status != 200 {
			t.Errorf("GET %s: %s", u, r)
		}
	}
}

// tokenOf returns the sig parameter of a signed URL.
func tokenOf(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get("sig") == "" {
		t.Fatalf("no sig in %q", raw)
	}
	return u.Query().Get("sig")
}
