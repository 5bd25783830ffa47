package tests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// Issue 11 end to end: users are records, a user key follows its user, and
// keys and users are managed through the public API ({api}/keys…,
// {api}/users…) as well as the admin API, with no way to gain access.

// apiBase is the public API of the test site (the handler's default prefix).
const apiBase = site + "/_signet/v1"

// userRecord is a user as the APIs show it.
type userRecord struct {
	Name        string    `json:"name"`
	Scopes      []string  `json:"scopes"`
	Permissions string    `json:"permissions"`
	SelfService bool      `json:"self_service"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// keyAccess is the `access` object of a key view: what the key may do now.
type keyAccess struct {
	Scopes      []string `json:"scopes"`
	Permissions string   `json:"permissions"`
}

// keyRecord is a key as the APIs show it (Key only in a create response).
type keyRecord struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	User        string     `json:"user"`
	Scopes      []string   `json:"scopes"`
	Permissions string     `json:"permissions"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Key         string     `json:"key"`
	Access      keyAccess  `json:"access"`
}

// deletedUser is the answer to DELETE …/users/{name}.
type deletedUser struct {
	Deleted     userRecord `json:"deleted"`
	DeletedKeys []string   `json:"deleted_keys"`
}

// decodeAs decodes a JSON response body, failing the test otherwise.
func decodeAs[T any](t testing.TB, what string, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, r)
	}
	return v
}

// createUser creates a user through the admin API at admin.
func createUser(t testing.TB, admin string, req map[string]any) userRecord {
	t.Helper()
	resp := do(t, http.MethodPost, admin+"/signet/users", "", req)
	if resp.status != http.StatusCreated {
		t.Fatalf("create user %v: %s", req, resp)
	}
	return decodeAs[userRecord](t, "create user", resp)
}

// patchUser changes a user through the admin API at admin.
func patchUser(t testing.TB, admin, name string, req map[string]any) userRecord {
	t.Helper()
	resp := do(t, http.MethodPatch, admin+"/signet/users/"+name, "", req)
	if resp.status != http.StatusOK {
		t.Fatalf("patch user %s %v: %s", name, req, resp)
	}
	return decodeAs[userRecord](t, "patch user", resp)
}

// createKeyRecord creates a key through the admin API and returns the
// whole view, access included.
func createKeyRecord(t testing.TB, admin string, req map[string]any) keyRecord {
	t.Helper()
	resp := do(t, http.MethodPost, admin+"/signet/keys", "", req)
	if resp.status != http.StatusCreated {
		t.Fatalf("create key %v: %s", req, resp)
	}
	k := decodeAs[keyRecord](t, "create key", resp)
	if k.Key == "" || k.ID == "" {
		t.Fatalf("create key %v: no id or value: %s", req, resp)
	}
	return k
}

// expectField checks a 400 bad_request naming field.
func expectField(t testing.TB, what string, resp response, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, Field string } `json:"error"`
	}
	_ = json.Unmarshal(resp.body, &e)
	if resp.status != http.StatusBadRequest || e.Error.Code != "bad_request" || e.Error.Field != field || e.Error.Message == "" {
		t.Errorf("%s: got %s, want 400 bad_request naming %q", what, resp, field)
	}
}

// listedKeyIDs returns the ids of a {"keys":[…]} response, sorted.
func listedKeyIDs(t testing.TB, resp response) []string {
	t.Helper()
	if resp.status != http.StatusOK {
		t.Fatalf("list keys: %s", resp)
	}
	l := decodeAs[struct {
		Keys []keyRecord `json:"keys"`
	}](t, "list keys", resp)
	ids := []string{}
	for _, k := range l.Keys {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	return ids
}

// listedUserNames returns the names of a {"users":[…]} response, sorted.
func listedUserNames(t testing.TB, resp response) []string {
	t.Helper()
	if resp.status != http.StatusOK {
		t.Fatalf("list users: %s", resp)
	}
	l := decodeAs[struct {
		Users []userRecord `json:"users"`
	}](t, "list users", resp)
	names := []string{}
	for _, u := range l.Users {
		names = append(names, u.Name)
	}
	slices.Sort(names)
	return names
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// expectAccess checks a key view's effective access.
func expectAccess(t testing.TB, what string, k keyRecord, perm string, scopes ...string) {
	t.Helper()
	if k.Access.Permissions != perm || !slices.Equal(k.Access.Scopes, scopes) {
		t.Errorf("%s: access %+v, want %s %v", what, k.Access, perm, scopes)
	}
}

// getKeyRecord reads one key through the admin API.
func getKeyRecord(t testing.TB, admin, id string) keyRecord {
	t.Helper()
	resp := do(t, http.MethodGet, admin+"/signet/keys/"+id, "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("get key %s: %s", id, resp)
	}
	return decodeAs[keyRecord](t, "get key", resp)
}

// TestUsersAdminAPI: users are records with a name, scopes, permissions and
// self_service, created, read, changed and deleted on the admin API, with
// every malformed request refused naming its field.
func TestUsersAdminAPI(t *testing.T) {
	startCaddy(t, baseConfig)
	users := caddytestAdmin + "/signet/users"
	before := time.Now().Add(-time.Second)

	resp := do(t, "POST", users, "", map[string]any{"name": "alice", "scopes": []string{"/alice/"}, "permissions": "sign", "self_service": true})
	expectStatus(t, "create alice", resp, 201, "")
	if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var fields map[string]any
	if err := json.Unmarshal(resp.body, &fields); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"created_at", "name", "permissions", "scopes", "self_service", "updated_at"}; !slices.Equal(names, want) {
		t.Errorf("a user has the fields %v, want %v", names, want)
	}
	alice := decodeAs[userRecord](t, "alice", resp)
	if alice.Name != "alice" || !slices.Equal(alice.Scopes, []string{"/alice/"}) || alice.Permissions != "sign" || !alice.SelfService ||
		alice.CreatedAt.Before(before) || alice.CreatedAt.After(time.Now().Add(time.Second)) || !alice.UpdatedAt.Equal(alice.CreatedAt) {
		t.Errorf("created %+v", alice)
	}

	// Defaults: permissions read, self_service off; admin means scope /.
	bob := createUser(t, caddytestAdmin, map[string]any{"name": "bob", "scopes": []string{"/bob/", "/shared/"}})
	if bob.Permissions != "read" || bob.SelfService || !slices.Equal(bob.Scopes, []string{"/bob/", "/shared/"}) {
		t.Errorf("defaults: %+v", bob)
	}
	root := createUser(t, caddytestAdmin, map[string]any{"name": "root", "permissions": "admin"})
	if !slices.Equal(root.Scopes, []string{"/"}) || root.Permissions != "admin" {
		t.Errorf("an admin user: %+v, want scopes [/]", root)
	}
	if u := createUser(t, caddytestAdmin, map[string]any{"name": "root2", "permissions": "admin", "scopes": []string{"/"}}); !slices.Equal(u.Scopes, []string{"/"}) {
		t.Errorf("admin with scopes [/]: %+v", u)
	}
	if u := createUser(t, caddytestAdmin, map[string]any{"name": "off", "scopes": []string{"/off/"}, "permissions": "none"}); u.Permissions != "none" {
		t.Errorf("a disabled user: %+v", u)
	}

	// Names: 1–64 of a–z 0–9 . _ -, nothing else.
	valid := []string{"a", "0", "a.b_c-9", strings.Repeat("z", 64)}
	for _, name := range valid {
		createUser(t, caddytestAdmin, map[string]any{"name": name, "scopes": []string{"/x/"}})
	}
	for _, name := range []string{"", strings.Repeat("z", 65), "Alice", "al ice", "al/ice", "ålice", "alice!", `al\ice`, "al@ice", "al:ice", "al%2Fice", " alice"} {
		expectField(t, "name "+strconv.Quote(name), do(t, "POST", users, "", map[string]any{"name": name, "scopes": []string{"/x/"}}), "name")
	}
	expectField(t, "no name", do(t, "POST", users, "", map[string]any{"scopes": []string{"/x/"}}), "name")
	expectField(t, "a number as name", do(t, "POST", users, "", `{"name": 7, "scopes": ["/x/"]}`), "name")

	// Scopes: at least one, each a clean path prefix without ';'.
	expectField(t, "no scopes", do(t, "POST", users, "", map[string]any{"name": "carol"}), "scopes")
	for what, scopes := range map[string]any{
		"empty":        []string{},
		"relative":     []string{"carol/"},
		"dot-dot":      []string{"/carol/../bob/"},
		"dot":          []string{"/carol/./x/"},
		"double slash": []string{"/carol//x/"},
		"semicolon":    []string{"/carol;x/"},
		"backslash":    []string{`/carol\x/`},
		"NUL":          []string{"/carol\x00/"},
		"not a list":   "/carol/",
		"admin not /":  nil,
	} {
		body := map[string]any{"name": "carol", "scopes": scopes}
		if what == "admin not /" {
			body = map[string]any{"name": "carol", "scopes": []string{"/carol/"}, "permissions": "admin"}
		}
		expectField(t, "scopes "+what, do(t, "POST", users, "", body), "scopes")
	}
	for _, p := range []string{"root", "write", "ADMIN", "disabled"} {
		expectField(t, "permissions "+p, do(t, "POST", users, "", map[string]any{"name": "carol", "scopes": []string{"/c/"}, "permissions": p}), "permissions")
	}
	expectField(t, "self_service not a boolean", do(t, "POST", users, "", `{"name": "carol", "scopes": ["/c/"], "self_service": "yes"}`), "self_service")
	expectField(t, "unknown field", do(t, "POST", users, "", map[string]any{"name": "carol", "scopes": []string{"/c/"}, "colour": "red"}), "colour")
	expectField(t, "field in another case", do(t, "POST", users, "", `{"Name": "carol", "scopes": ["/c/"]}`), "Name")
	expectField(t, "not JSON", do(t, "POST", users, "", "{not json"), "body")
	expectField(t, "not an object", do(t, "POST", users, "", `["carol"]`), "body")

	// A name is taken once.
	expectStatus(t, "duplicate name", do(t, "POST", users, "", map[string]any{"name": "alice", "scopes": []string{"/other/"}, "permissions": "read"}), 409, "conflict")
	got := decodeAs[userRecord](t, "get alice", do(t, "GET", users+"/alice", "", nil))
	if !usersEqual(got, alice) {
		t.Errorf("after the duplicate: %+v, want %+v", got, alice)
	}

	// Read one, read all.
	resp = do(t, "GET", users+"/bob", "", nil)
	expectStatus(t, "get bob", resp, 200, "")
	if got := decodeAs[userRecord](t, "get bob", resp); !usersEqual(got, bob) {
		t.Errorf("get bob: %+v, want %+v", got, bob)
	}
	want := sorted(append([]string{"alice", "bob", "root", "root2", "off"}, valid...)...)
	if got := listedUserNames(t, do(t, "GET", users, "", nil)); !slices.Equal(got, want) {
		t.Errorf("list: %v, want %v", got, want)
	}
	for _, name := range []string{"nobody", "Alice", "al%20ice", ""} {
		resp := do(t, "GET", users+"/"+name, "", nil)
		expectStatus(t, "get "+strconv.Quote(name), resp, 404, "not_found")
		if resp.errorMessage() != "no such user" {
			t.Errorf("get %q: message %q, want no such user", name, resp.errorMessage())
		}
	}

	// PATCH: absent fields stay as they are.
	u := patchUser(t, caddytestAdmin, "alice", map[string]any{"scopes": []string{"/alice/", "/shared/"}})
	if !slices.Equal(u.Scopes, []string{"/alice/", "/shared/"}) || u.Permissions != "sign" || !u.SelfService ||
		!u.CreatedAt.Equal(alice.CreatedAt) || u.UpdatedAt.Before(u.CreatedAt) {
		t.Errorf("patch scopes: %+v", u)
	}
	u = patchUser(t, caddytestAdmin, "alice", map[string]any{"self_service": false})
	if u.SelfService || !slices.Equal(u.Scopes, []string{"/alice/", "/shared/"}) || u.Permissions != "sign" {
		t.Errorf("patch self_service: %+v", u)
	}
	if u := patchUser(t, caddytestAdmin, "bob", map[string]any{"permissions": "admin"}); !slices.Equal(u.Scopes, []string{"/"}) {
		t.Errorf("promoted to admin: scopes %v, want [/]", u.Scopes)
	}
	expectField(t, "an admin's scope is /", do(t, "PATCH", users+"/bob", "", map[string]any{"scopes": []string{"/bob/"}}), "scopes")
	expectField(t, "admin with another scope", do(t, "PATCH", users+"/bob", "", map[string]any{"permissions": "admin", "scopes": []string{"/bob/"}}), "scopes")
	if u := patchUser(t, caddytestAdmin, "bob", map[string]any{"permissions": "read", "scopes": []string{"/bob/"}}); u.Permissions != "read" || !slices.Equal(u.Scopes, []string{"/bob/"}) {
		t.Errorf("demoted: %+v", u)
	}
	if u := patchUser(t, caddytestAdmin, "off", map[string]any{"permissions": "sign"}); u.Permissions != "sign" {
		t.Errorf("re-enabled: %+v", u)
	}
	last := decodeAs[userRecord](t, "alice", do(t, "GET", users+"/alice", "", nil))
	for _, b := range []struct {
		what  string
		body  any
		field string
	}{
		{"nothing", map[string]any{}, "body"},
		{"rename", map[string]any{"name": "alice2"}, "name"},
		{"no scopes", map[string]any{"scopes": []string{}}, "scopes"},
		{"dot-dot", map[string]any{"scopes": []string{"/alice/../bob/"}}, "scopes"},
		{"semicolon", map[string]any{"scopes": []string{"/alice;x/"}}, "scopes"},
		{"bad permissions", map[string]any{"permissions": "root"}, "permissions"},
		{"self_service not a boolean", `{"self_service": "no"}`, "self_service"},
		{"not JSON", "{", "body"},
	} {
		expectField(t, "patch "+b.what, do(t, "PATCH", users+"/alice", "", b.body), b.field)
	}
	if got := decodeAs[userRecord](t, "alice", do(t, "GET", users+"/alice", "", nil)); !usersEqual(got, last) {
		t.Errorf("refused patches changed alice: %+v, want %+v", got, last)
	}
	expectStatus(t, "patch nobody", do(t, "PATCH", users+"/nobody", "", map[string]any{"permissions": "read"}), 404, "not_found")

	// Methods.
	for _, m := range []struct{ method, url, allow string }{
		{"PUT", users, "GET, POST"},
		{"DELETE", users, "GET, POST"},
		{"POST", users + "/alice", "GET, PATCH, DELETE"},
		{"PUT", users + "/alice", "GET, PATCH, DELETE"},
	} {
		resp := do(t, m.method, m.url, "", nil)
		expectStatus(t, m.method+" "+m.url, resp, 405, "method_not_allowed")
		if got := resp.header.Get("Allow"); got != m.allow {
			t.Errorf("%s %s: Allow %q, want %q", m.method, m.url, got, m.allow)
		}
	}

	// DELETE answers the record and the keys deleted with it.
	bobNow := decodeAs[userRecord](t, "bob", do(t, "GET", users+"/bob", "", nil))
	resp = do(t, "DELETE", users+"/bob", "", nil)
	expectStatus(t, "delete bob", resp, 200, "")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(resp.body, &raw); err != nil || len(raw) != 2 || string(raw["deleted_keys"]) != "[]" {
		t.Errorf("delete response %s, want {deleted, deleted_keys: []}", resp.body)
	}
	if d := decodeAs[deletedUser](t, "delete bob", resp); !usersEqual(d.Deleted, bobNow) {
		t.Errorf("deleted %+v, want %+v", d.Deleted, bobNow)
	}
	expectStatus(t, "delete bob again", do(t, "DELETE", users+"/bob", "", nil), 404, "not_found")
	expectStatus(t, "get deleted bob", do(t, "GET", users+"/bob", "", nil), 404, "not_found")
	if got := listedUserNames(t, do(t, "GET", users, "", nil)); slices.Contains(got, "bob") {
		t.Errorf("bob still listed: %v", got)
	}
}

func usersEqual(a, b userRecord) bool {
	return a.Name == b.Name && slices.Equal(a.Scopes, b.Scopes) && a.Permissions == b.Permissions &&
		a.SelfService == b.SelfService && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// TestUserKeysFollowUser: a user key needs its user, has the user's access
// unless it has its own (then the intersection), and follows every change
// of the user on the next request, with every link it issued; deleting the
// user deletes its keys.
func TestUserKeysFollowUser(t *testing.T) {
	startCaddy(t, baseConfig)
	admin := caddytestAdmin
	createUser(t, admin, map[string]any{"name": "alice", "scopes": []string{"/alice/", "/reports/"}, "permissions": "sign"})
	siteKey := createKey(t, admin, map[string]any{"name": "site reader"})

	// A user key needs its user record.
	resp := do(t, "POST", admin+"/signet/keys", "", map[string]any{"name": "ghost", "user": "nobody"})
	expectField(t, "key of a missing user", resp, "user")
	if !strings.Contains(resp.errorMessage(), "no such user") {
		t.Errorf("message %q, want it to say no such user", resp.errorMessage())
	}
	expectField(t, "move a key to a missing user", do(t, "PATCH", admin+"/signet/keys/"+siteKey.ID, "", map[string]any{"user": "nobody"}), "user")
	if k := getKeyRecord(t, admin, siteKey.ID); k.User != "" {
		t.Errorf("the refused move changed the key: %+v", k)
	}

	// By default a user key has nothing of its own: its access is the user's.
	k := createKeyRecord(t, admin, map[string]any{"name": "alice laptop", "user": "alice"})
	if k.User != "alice" || len(k.Scopes) != 0 || k.Permissions != "" {
		t.Errorf("a key that follows its user: %+v, want no scopes or permission of its own", k)
	}
	expectAccess(t, "follows alice", k, "sign", "/alice/", "/reports/")
	narrow := createKeyRecord(t, admin, map[string]any{"name": "alice reader", "user": "alice", "scopes": []string{"/alice/"}, "permissions": "read"})
	expectAccess(t, "narrower than alice", narrow, "read", "/alice/")
	wide := createKeyRecord(t, admin, map[string]any{"name": "alice wide", "user": "alice", "scopes": []string{"/"}, "permissions": "admin"})
	expectAccess(t, "cut to alice", wide, "sign", "/alice/", "/reports/")

	for _, c := range []struct {
		what, token, path string
		status            int
	}{
		{"follows: home", k.Key, "/alice/notes.txt", 200},
		{"follows: second scope", k.Key, "/reports/q1.txt", 200},
		{"follows: sibling folder", k.Key, "/alice2/secret.txt", 403},
		{"narrow: its scope", narrow.Key, "/alice/notes.txt", 200},
		{"narrow: the user's other scope", narrow.Key, "/reports/q1.txt", 403},
		{"wide: the user's scope", wide.Key, "/reports/q1.txt", 200},
		{"wide: cut to the user's", wide.Key, "/alice2/secret.txt", 403},
	} {
		expectStatus(t, c.what, do(t, "GET", site+c.path, c.token, nil), c.status, map[int]string{200: "", 403: "forbidden"}[c.status])
	}
	expectStatus(t, "a read key cannot sign", do(t, "POST", signPrefix+"/alice/notes.txt/signed-url", narrow.Key, `{"expires_in": 60}`), 403, "forbidden")
	report := signURL(t, k.Key, "/reports/q1.txt", 3600)
	notes := signURL(t, k.Key, "/alice/notes.txt", 3600)
	expectStatus(t, "report link", do(t, "GET", report.URL, "", nil), 200, "")
	expectStatus(t, "notes link", do(t, "GET", notes.URL, "", nil), 200, "")

	// Narrow the user: its keys and their links follow on the next request.
	patchUser(t, admin, "alice", map[string]any{"scopes": []string{"/alice/"}})
	eventually(t, propagation, "a narrowed user's key loses /reports/", func() bool {
		return do(t, "GET", site+"/reports/q1.txt", k.Key, nil).status == 403
	})
	expectStatus(t, "narrowed: key outside", do(t, "GET", site+"/reports/q1.txt", k.Key, nil), 403, "forbidden")
	expectStatus(t, "narrowed: wide key outside", do(t, "GET", site+"/reports/q1.txt", wide.Key, nil), 403, "forbidden")
	expectStatus(t, "narrowed: key inside", do(t, "GET", site+"/alice/notes.txt", k.Key, nil), 200, "")
	resp = do(t, "GET", report.URL, "", nil)
	expectStatus(t, "narrowed: link outside", resp, 403, "revoked")
	if !strings.Contains(resp.errorMessage(), "no longer covers") {
		t.Errorf("narrowed link: message %q", resp.errorMessage())
	}
	expectStatus(t, "narrowed: link inside", do(t, "GET", notes.URL, "", nil), 200, "")
	expectStatus(t, "narrowed: sign outside", do(t, "POST", signPrefix+"/reports/q1.txt/signed-url", k.Key, `{"expires_in": 60}`), 403, "forbidden")
	expectAccess(t, "narrowed view", getKeyRecord(t, admin, k.ID), "sign", "/alice/")
	expectAccess(t, "narrowed wide view", getKeyRecord(t, admin, wide.ID), "sign", "/alice/")

	// Lower it to read: its keys may read, their links (which need sign) stop.
	patchUser(t, admin, "alice", map[string]any{"permissions": "read"})
	eventually(t, propagation, "a user lowered to read: links stop", func() bool {
		return do(t, "GET", notes.URL, "", nil).status == 403
	})
	expectStatus(t, "read user: link", do(t, "GET", notes.URL, "", nil), 403, "revoked")
	expectStatus(t, "read user: key reads", do(t, "GET", site+"/alice/notes.txt", k.Key, nil), 200, "")
	expectStatus(t, "read user: key cannot sign", do(t, "POST", signPrefix+"/alice/notes.txt/signed-url", k.Key, `{"expires_in": 60}`), 403, "forbidden")

	// Disable it: every key and link of the user stops.
	patchUser(t, admin, "alice", map[string]any{"permissions": "none"})
	eventually(t, propagation, "a disabled user's key stops", func() bool {
		return do(t, "GET", site+"/alice/notes.txt", k.Key, nil).status == 403
	})
	for name, key := range map[string]string{"follows": k.Key, "narrow": narrow.Key, "wide": wide.Key} {
		resp := do(t, "GET", site+"/alice/notes.txt", key, nil)
		expectStatus(t, "disabled user: "+name, resp, 403, "forbidden")
		if !strings.Contains(resp.errorMessage(), "disabled") {
			t.Errorf("disabled user: %s: message %q", name, resp.errorMessage())
		}
	}
	resp = do(t, "GET", notes.URL, "", nil)
	expectStatus(t, "disabled user: link", resp, 403, "revoked")
	if !strings.Contains(resp.errorMessage(), "disabled") {
		t.Errorf("disabled user's link: message %q", resp.errorMessage())
	}
	expectAccess(t, "disabled view", getKeyRecord(t, admin, k.ID), "none", "/alice/")
	expectStatus(t, "disabled user: the site key is untouched", do(t, "GET", site+"/reports/q1.txt", siteKey.Key, nil), 200, "")

	// Re-enable it: the same keys and links work again.
	patchUser(t, admin, "alice", map[string]any{"permissions": "sign", "scopes": []string{"/alice/", "/reports/"}})
	eventually(t, propagation, "a re-enabled user's key works", func() bool {
		return do(t, "GET", site+"/alice/notes.txt", k.Key, nil).status == 200
	})
	expectStatus(t, "re-enabled: key", do(t, "GET", site+"/reports/q1.txt", k.Key, nil), 200, "")
	expectStatus(t, "re-enabled: narrow key", do(t, "GET", site+"/alice/notes.txt", narrow.Key, nil), 200, "")
	expectStatus(t, "re-enabled: report link", do(t, "GET", report.URL, "", nil), 200, "")
	expectStatus(t, "re-enabled: notes link", do(t, "GET", notes.URL, "", nil), 200, "")
	expectAccess(t, "re-enabled view", getKeyRecord(t, admin, k.ID), "sign", "/alice/", "/reports/")

	// Delete it: its keys are deleted with it, and their links die.
	resp = do(t, "DELETE", admin+"/signet/users/alice", "", nil)
	expectStatus(t, "delete alice", resp, 200, "")
	d := decodeAs[deletedUser](t, "delete alice", resp)
	if d.Deleted.Name != "alice" || !slices.Equal(sorted(d.DeletedKeys...), sorted(k.ID, narrow.ID, wide.ID)) {
		t.Errorf("deleted %+v, want alice and her three keys %s %s %s", d, k.ID, narrow.ID, wide.ID)
	}
	eventually(t, propagation, "a deleted user's key is gone", func() bool {
		return do(t, "GET", site+"/alice/notes.txt", k.Key, nil).status == 401
	})
	for name, key := range map[string]string{"follows": k.Key, "narrow": narrow.Key, "wide": wide.Key} {
		resp := do(t, "GET", site+"/alice/notes.txt", key, nil)
		expectStatus(t, "deleted user: "+name, resp, 401, "unauthorized")
		if resp.errorMessage() != "unknown API key" || resp.header.Get("WWW-Authenticate") != `Bearer realm="signet", error="invalid_token"` {
			t.Errorf("deleted user: %s: %s (WWW-Authenticate %q)", name, resp, resp.header.Get("WWW-Authenticate"))
		}
	}
	for name, u := range map[string]string{"report": report.URL, "notes": notes.URL} {
		resp := do(t, "GET", u, "", nil)
		expectStatus(t, "deleted user: "+name+" link", resp, 403, "revoked")
		if !strings.Contains(resp.errorMessage(), "deleted") {
			t.Errorf("deleted user's %s link: message %q", name, resp.errorMessage())
		}
	}
	if got := listedKeyIDs(t, do(t, "GET", admin+"/signet/keys", "", nil)); !slices.Equal(got, []string{siteKey.ID}) {
		t.Errorf("keys after deleting alice: %v, want only %s", got, siteKey.ID)
	}
	expectStatus(t, "get a deleted user's key", do(t, "GET", admin+"/signet/keys/"+k.ID, "", nil), 404, "not_found")
	expectStatus(t, "get the deleted user", do(t, "GET", admin+"/signet/users/alice", "", nil), 404, "not_found")

	// A new user of the same name does not bring them back.
	createUser(t, admin, map[string]any{"name": "alice", "scopes": []string{"/alice/", "/reports/"}, "permissions": "sign"})
	expectStatus(t, "new alice: old key", do(t, "GET", site+"/alice/notes.txt", k.Key, nil), 401, "unauthorized")
	expectStatus(t, "new alice: old link", do(t, "GET", notes.URL, "", nil), 403, "revoked")
	expectStatus(t, "the site key still works", do(t, "GET", site+"/reports/q1.txt", siteKey.Key, nil), 200, "")
}

// keyAPIRoutes are the key and user API's routes, for checks that hold on
// all of them (methods and a body that would be accepted).
func keyAPIRoutes(keyID string) []struct {
	method, path string
	body         any
} {
	return []struct {
		method, path string
		body         any
	}{
		{"GET", "/keys", nil},
		{"POST", "/keys", map[string]any{"name": "x"}},
		{"GET", "/keys/" + keyID, nil},
		{"PATCH", "/keys/" + keyID, map[string]any{"name": "x"}},
		{"DELETE", "/keys/" + keyID, nil},
		{"GET", "/users", nil},
		{"POST", "/users", map[string]any{"name": "x", "scopes": []string{"/x/"}}},
		{"GET", "/users/alice", nil},
		{"PATCH", "/users/alice", map[string]any{"permissions": "read"}},
		{"DELETE", "/users/alice", nil},
	}
}

// TestKeyAPI: keys and users through the public API, authenticated with an
// API key: site administrators (site-wide admin keys, keys of admin users)
// do everything; a self-service user key manages its own user's keys;
// public keys and keys without these rights get 403, missing or bad keys
// 401; a key's value is only ever in its create response.
func TestKeyAPI(t *testing.T) {
	startCaddy(t, baseConfig)
	admin := createKey(t, caddytestAdmin, map[string]any{"name": "site admin", "permissions": "admin"})
	keys, users := apiBase+"/keys", apiBase+"/users"
	var values []string // every key value created, none to be shown again
	values = append(values, admin.Key)

	// Missing and bad credentials: 401 with a challenge, on every route.
	gone := createKey(t, caddytestAdmin, map[string]any{"name": "gone", "permissions": "admin"})
	expectStatus(t, "delete gone", do(t, "DELETE", caddytestAdmin+"/signet/keys/"+gone.ID, "", nil), 200, "")
	flipped := []byte(admin.Key)
	flipped[10] ^= 1
	for _, r := range keyAPIRoutes(admin.ID) {
		resp := do(t, r.method, apiBase+r.path, "", r.body)
		expectStatus(t, r.method+" "+r.path+" without a key", resp, 401, "unauthorized")
		if got := resp.header.Get("WWW-Authenticate"); got != `Bearer realm="signet"` {
			t.Errorf("%s %s without a key: WWW-Authenticate %q", r.method, r.path, got)
		}
		for what, token := range map[string]string{"malformed": "sk_nope", "checksum": string(flipped), "deleted": gone.Key} {
			resp := do(t, r.method, apiBase+r.path, token, r.body)
			expectStatus(t, r.method+" "+r.path+" with a "+what+" key", resp, 401, "unauthorized")
			if got := resp.header.Get("WWW-Authenticate"); got != `Bearer realm="signet", error="invalid_token"` {
				t.Errorf("%s %s with a %s key: WWW-Authenticate %q", r.method, r.path, what, got)
			}
		}
	}
	// Methods are checked first.
	for _, m := range []struct{ method, path, allow string }{
		{"PUT", "/keys", "GET, POST"},
		{"DELETE", "/keys", "GET, POST"},
		{"POST", "/keys/" + admin.ID, "GET, PATCH, DELETE"},
		{"PUT", "/users", "GET, POST"},
		{"POST", "/users/alice", "GET, PATCH, DELETE"},
	} {
		resp := do(t, m.method, apiBase+m.path, admin.Key, nil)
		expectStatus(t, m.method+" "+m.path, resp, 405, "method_not_allowed")
		if got := resp.header.Get("Allow"); got != m.allow {
			t.Errorf("%s %s: Allow %q, want %q", m.method, m.path, got, m.allow)
		}
	}

	// A site administrator manages every key...
	resp := do(t, "POST", keys, admin.Key, map[string]any{"name": "ci", "permissions": "sign"})
	expectStatus(t, "admin creates a key", resp, 201, "")
	ci := decodeAs[keyRecord](t, "ci", resp)
	values = append(values, ci.Key)
	if !strings.HasPrefix(ci.Key, "sk_") || ci.Type != "secret" || ci.User != "" || !slices.Equal(ci.Scopes, []string{"/"}) || ci.Permissions != "sign" {
		t.Errorf("created %+v", ci)
	}
	expectAccess(t, "ci", ci, "sign", "/")
	expectStatus(t, "the new key works", do(t, "GET", site+"/reports/q1.txt", ci.Key, nil), 200, "")
	if got := listedKeyIDs(t, do(t, "GET", keys, admin.Key, nil)); !slices.Equal(got, sorted(admin.ID, ci.ID)) {
		t.Errorf("admin lists %v, want %v", got, sorted(admin.ID, ci.ID))
	}
	resp = do(t, "GET", keys+"/"+ci.ID, admin.Key, nil)
	expectStatus(t, "admin reads a key", resp, 200, "")
	if got := decodeAs[keyRecord](t, "get ci", resp); got.ID != ci.ID || got.Name != "ci" || got.Key != "" {
		t.Errorf("get ci: %+v", got)
	}
	resp = do(t, "PATCH", keys+"/"+ci.ID, admin.Key, map[string]any{"name": "ci renamed", "permissions": "read", "scopes": []string{"/reports/"}})
	expectStatus(t, "admin updates a key", resp, 200, "")
	if got := decodeAs[keyRecord](t, "patch ci", resp); got.Name != "ci renamed" || got.Permissions != "read" {
		t.Errorf("patched %+v", got)
	} else {
		expectAccess(t, "patched ci", got, "read", "/reports/")
	}
	expectStatus(t, "the narrowed key", do(t, "GET", site+"/alice/notes.txt", ci.Key, nil), 403, "forbidden")
	resp = do(t, "DELETE", keys+"/"+ci.ID, admin.Key, nil)
	expectStatus(t, "admin deletes a key", resp, 200, "")
	if got := decodeAs[struct {
		Deleted keyRecord `json:"deleted"`
	}](t, "delete ci", resp); got.Deleted.ID != ci.ID {
		t.Errorf("deleted %+v", got)
	}
	expectStatus(t, "the deleted key", do(t, "GET", site+"/reports/q1.txt", ci.Key, nil), 401, "unauthorized")
	expectStatus(t, "get the deleted key", do(t, "GET", keys+"/"+ci.ID, admin.Key, nil), 404, "not_found")
	expectStatus(t, "get an unknown id", do(t, "GET", keys+"/key_aaaaaaaaaaaaaaaa", admin.Key, nil), 404, "not_found")
	expectStatus(t, "get a malformed id", do(t, "GET", keys+"/nonsense", admin.Key, nil), 404, "not_found")
	expectStatus(t, "delete an unknown id", do(t, "DELETE", keys+"/key_aaaaaaaaaaaaaaaa", admin.Key, nil), 404, "not_found")
	expectField(t, "create without a name", do(t, "POST", keys, admin.Key, map[string]any{"name": ""}), "name")
	expectField(t, "create for a missing user", do(t, "POST", keys, admin.Key, map[string]any{"name": "x", "user": "nobody"}), "user")
	expectField(t, "create with a bad scope", do(t, "POST", keys, admin.Key, map[string]any{"name": "x", "scopes": []string{"/a/../b/"}}), "scopes")
	expectField(t, "update nothing", do(t, "PATCH", keys+"/"+admin.ID, admin.Key, map[string]any{}), "body")
	expectField(t, "not JSON", do(t, "POST", keys, admin.Key, "{not json"), "body")

	// ...and users.
	resp = do(t, "POST", users, admin.Key, map[string]any{"name": "alice", "scopes": []string{"/alice/"}, "permissions": "sign"})
	expectStatus(t, "admin creates a user", resp, 201, "")
	if u := decodeAs[userRecord](t, "alice", resp); u.Name != "alice" || u.Permissions != "sign" || u.SelfService {
		t.Errorf("created %+v", u)
	}
	expectStatus(t, "a taken name", do(t, "POST", users, admin.Key, map[string]any{"name": "alice", "scopes": []string{"/x/"}}), 409, "conflict")
	expectField(t, "a bad name", do(t, "POST", users, admin.Key, map[string]any{"name": "Bad", "scopes": []string{"/x/"}}), "name")
	if got := listedUserNames(t, do(t, "GET", users, admin.Key, nil)); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("users %v", got)
	}
	expectStatus(t, "admin reads a user", do(t, "GET", users+"/alice", admin.Key, nil), 200, "")
	resp = do(t, "GET", users+"/nobody", admin.Key, nil)
	expectStatus(t, "a missing user", resp, 404, "not_found")
	if resp.errorMessage() != "no such user" {
		t.Errorf("message %q", resp.errorMessage())
	}
	resp = do(t, "PATCH", users+"/alice", admin.Key, map[string]any{"self_service": true})
	expectStatus(t, "admin updates a user", resp, 200, "")
	if u := decodeAs[userRecord](t, "alice", resp); !u.SelfService || u.Permissions != "sign" {
		t.Errorf("patched %+v", u)
	}
	resp = do(t, "POST", keys, admin.Key, map[string]any{"name": "alice laptop", "user": "alice"})
	expectStatus(t, "admin creates a user key", resp, 201, "")
	aliceKey := decodeAs[keyRecord](t, "alice laptop", resp)
	values = append(values, aliceKey.Key)
	expectAccess(t, "alice laptop", aliceKey, "sign", "/alice/")

	// A key of an admin user is a site administrator too (not if it is
	// narrowed below admin).
	createUser(t, caddytestAdmin, map[string]any{"name": "ops", "permissions": "admin"})
	ops := createKey(t, caddytestAdmin, map[string]any{"name": "ops laptop", "user": "ops"})
	opsRead := createKey(t, caddytestAdmin, map[string]any{"name": "ops reader", "user": "ops", "permissions": "read"})
	values = append(values, ops.Key, opsRead.Key)
	resp = do(t, "POST", keys, ops.Key, map[string]any{"name": "made by ops", "permissions": "admin"})
	expectStatus(t, "an admin user's key creates an admin key", resp, 201, "")
	madeByOps := decodeAs[keyRecord](t, "made by ops", resp)
	values = append(values, madeByOps.Key)
	expectAccess(t, "made by ops", madeByOps, "admin", "/")
	expectStatus(t, "an admin user's key creates a user", do(t, "POST", users, ops.Key, map[string]any{"name": "temp", "scopes": []string{"/temp/"}}), 201, "")
	expectStatus(t, "an admin user's key lists users", do(t, "GET", users, ops.Key, nil), 200, "")
	expectStatus(t, "an admin user's key updates a user", do(t, "PATCH", users+"/temp", ops.Key, map[string]any{"permissions": "none"}), 200, "")
	resp = do(t, "DELETE", users+"/temp", ops.Key, nil)
	expectStatus(t, "an admin user's key deletes a user", resp, 200, "")
	if d := decodeAs[deletedUser](t, "delete temp", resp); d.Deleted.Name != "temp" || len(d.DeletedKeys) != 0 {
		t.Errorf("deleted %+v", d)
	}
	expectStatus(t, "an admin user's read key lists users", do(t, "GET", users, opsRead.Key, nil), 403, "forbidden")
	expectStatus(t, "an admin user's read key lists keys", do(t, "GET", keys, opsRead.Key, nil), 403, "forbidden")

	// Self-service: alice's key manages alice's keys, never wider than itself.
	if got := listedKeyIDs(t, do(t, "GET", keys, aliceKey.Key, nil)); !slices.Equal(got, []string{aliceKey.ID}) {
		t.Errorf("alice lists %v, want only her own key", got)
	}
	resp = do(t, "POST", keys, aliceKey.Key, map[string]any{"name": "alice phone"})
	expectStatus(t, "self-service create", resp, 201, "")
	phone := decodeAs[keyRecord](t, "alice phone", resp)
	values = append(values, phone.Key)
	if phone.User != "alice" || phone.Type != "secret" || phone.ExpiresAt != nil || !strings.HasPrefix(phone.Key, "sk_") {
		t.Errorf("self-service default key %+v: want alice's, secret, no expiry", phone)
	}
	expectAccess(t, "alice phone", phone, "sign", "/alice/")
	expectStatus(t, "the self-service key reads", do(t, "GET", site+"/alice/notes.txt", phone.Key, nil), 200, "")
	expectStatus(t, "the self-service key stays in alice's folder", do(t, "GET", site+"/reports/q1.txt", phone.Key, nil), 403, "forbidden")
	hour := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	resp = do(t, "POST", keys, aliceKey.Key, map[string]any{"name": "alice ro", "scopes": []string{"/alice/"}, "permissions": "read", "expires_at": hour.Format(time.RFC3339)})
	expectStatus(t, "self-service create within itself", resp, 201, "")
	ro := decodeAs[keyRecord](t, "alice ro", resp)
	values = append(values, ro.Key)
	expectAccess(t, "alice ro", ro, "read", "/alice/")
	// A read key with an expiry passes both on to the keys it makes.
	resp = do(t, "POST", keys, ro.Key, map[string]any{"name": "ro child"})
	expectStatus(t, "a read key creates a key", resp, 201, "")
	child := decodeAs[keyRecord](t, "ro child", resp)
	values = append(values, child.Key)
	if child.ExpiresAt == nil || !child.ExpiresAt.Equal(hour) || child.Permissions != "read" {
		t.Errorf("child of a read key expiring at %s: %+v", hour, child)
	}
	if got := listedKeyIDs(t, do(t, "GET", keys, aliceKey.Key, nil)); !slices.Equal(got, sorted(aliceKey.ID, phone.ID, ro.ID, child.ID)) {
		t.Errorf("alice lists %v", got)
	}
	expectStatus(t, "self-service get", do(t, "GET", keys+"/"+phone.ID, aliceKey.Key, nil), 200, "")
	resp = do(t, "PATCH", keys+"/"+phone.ID, aliceKey.Key, map[string]any{"name": "alice phone 2", "permissions": "read", "scopes": []string{"/alice/"}})
	expectStatus(t, "self-service update", resp, 200, "")
	expectAccess(t, "updated phone", decodeAs[keyRecord](t, "phone", resp), "read", "/alice/")
	expectStatus(t, "self-service delete", do(t, "DELETE", keys+"/"+phone.ID, aliceKey.Key, nil), 200, "")
	expectStatus(t, "the deleted phone key", do(t, "GET", site+"/alice/notes.txt", phone.Key, nil), 401, "unauthorized")
	expectStatus(t, "self-service: read a site key", do(t, "GET", keys+"/"+admin.ID, aliceKey.Key, nil), 403, "forbidden")
	expectStatus(t, "self-service: delete a site key", do(t, "DELETE", keys+"/"+admin.ID, aliceKey.Key, nil), 403, "forbidden")
	expectStatus(t, "self-service: users", do(t, "GET", users, aliceKey.Key, nil), 403, "forbidden")

	// Public keys and keys without the rights manage nothing.
	alicePub := createKey(t, caddytestAdmin, map[string]any{"name": "alice pub", "type": "public", "user": "alice"})
	sitePub := createKey(t, caddytestAdmin, map[string]any{"name": "site pub", "type": "public"})
	signKey := createKey(t, caddytestAdmin, map[string]any{"name": "signer", "permissions": "sign"})
	values = append(values, alicePub.Key, sitePub.Key, signKey.Key)
	for name, token := range map[string]string{"alice's public key": alicePub.Key, "a site-wide public key": sitePub.Key, "a site-wide sign key": signKey.Key} {
		for _, r := range keyAPIRoutes(aliceKey.ID) {
			expectStatus(t, name+": "+r.method+" "+r.path, do(t, r.method, apiBase+r.path, token, r.body), 403, "forbidden")
		}
	}
	// Turning self-service off for alice ends hers.
	patchUser(t, caddytestAdmin, "alice", map[string]any{"self_service": false})
	eventually(t, propagation, "self-service off", func() bool { return do(t, "GET", keys, aliceKey.Key, nil).status == 403 })
	resp = do(t, "POST", keys, aliceKey.Key, map[string]any{"name": "late"})
	expectStatus(t, "self-service off: create", resp, 403, "forbidden")
	if !strings.Contains(resp.errorMessage(), "self-service") {
		t.Errorf("self-service off: message %q", resp.errorMessage())
	}
	expectStatus(t, "self-service off: the key still reads", do(t, "GET", site+"/alice/notes.txt", aliceKey.Key, nil), 200, "")

	// A value is shown in its create response only.
	for _, url := range []string{caddytestAdmin + "/signet/keys", caddytestAdmin + "/signet/keys/" + aliceKey.ID, keys, keys + "/" + aliceKey.ID, keys + "/" + ro.ID} {
		token := admin.Key
		if strings.HasPrefix(url, caddytestAdmin) {
			token = ""
		}
		resp := do(t, "GET", url, token, nil)
		if resp.status != 200 || bytes.Contains(resp.body, []byte(`"key":`)) {
			t.Errorf("GET %s: %s", url, resp)
		}
		for _, v := range values {
			if bytes.Contains(resp.body, []byte(v)) || bytes.Contains(resp.body, []byte(v[3:])) {
				t.Errorf("GET %s shows a key value", url)
			}
		}
	}
}

// TestKeyAPISiteSelfService: the global option `self_service on` lets every
// secret user key manage its own user's keys, within itself; site-wide and
// public keys still may not, and users stay for administrators.
func TestKeyAPISiteSelfService(t *testing.T) {
	caddytest.AssertLoadError(t, `{
	admin localhost:2999
	http_port 9080
	signet {
		store file `+t.TempDir()+`/signet.db
		self_service maybe
	}
}
http://localhost:9080 {
	signet
	respond ok
}
`, "caddyfile", "self_service: want on or off")

	startCaddy(t, strings.Replace(baseConfig, "store file {STORE}", "store file {STORE}\n\t\tself_service on", 1))
	keys := apiBase + "/keys"
	createUser(t, caddytestAdmin, map[string]any{"name": "bob", "scopes": []string{"/bob/"}}) // read, no self_service of its own
	createUser(t, caddytestAdmin, map[string]any{"name": "carol", "scopes": []string{"/carol/"}, "permissions": "sign"})
	bob := createKey(t, caddytestAdmin, map[string]any{"name": "bob laptop", "user": "bob"})
	carol := createKey(t, caddytestAdmin, map[string]any{"name": "carol laptop", "user": "carol"})
	bobPub := createKey(t, caddytestAdmin, map[string]any{"name": "bob pub", "type": "public", "user": "bob"})
	signKey := createKey(t, caddytestAdmin, map[string]any{"name": "signer", "permissions": "sign"})

	if got := listedKeyIDs(t, do(t, "GET", keys, bob.Key, nil)); !slices.Equal(got, sorted(bob.ID, bobPub.ID)) {
		t.Errorf("bob lists %v, want only his keys", got)
	}
	resp := do(t, "POST", keys, bob.Key, map[string]any{"name": "bob phone"})
	expectStatus(t, "site self-service create", resp, 201, "")
	phone := decodeAs[keyRecord](t, "bob phone", resp)
	if phone.User != "bob" || !slices.Equal(phone.Scopes, []string{"/bob/"}) || phone.Permissions != "read" {
		t.Errorf("bob's new key %+v", phone)
	}
	if got := listedKeyIDs(t, do(t, "GET", keys, bob.Key, nil)); !slices.Equal(got, sorted(bob.ID, bobPub.ID, phone.ID)) {
		t.Errorf("bob lists %v", got)
	}
	expectStatus(t, "carol sees only hers", do(t, "GET", keys+"/"+bob.ID, carol.Key, nil), 403, "forbidden")
	expectStatus(t, "a key for another user", do(t, "POST", keys, bob.Key, map[string]any{"name": "x", "user": "carol"}), 403, "forbidden")
	expectStatus(t, "a key above itself", do(t, "POST", keys, bob.Key, map[string]any{"name": "x", "permissions": "sign"}), 403, "forbidden")
	expectStatus(t, "another user's key", do(t, "DELETE", keys+"/"+carol.ID, bob.Key, nil), 403, "forbidden")
	expectStatus(t, "a site-wide sign key", do(t, "GET", keys, signKey.Key, nil), 403, "forbidden")
	expectStatus(t, "a public user key", do(t, "GET", keys, bobPub.Key, nil), 403, "forbidden")
	expectStatus(t, "users stay for administrators", do(t, "GET", apiBase+"/users", bob.Key, nil), 403, "forbidden")
	expectStatus(t, "bob's own user", do(t, "PATCH", apiBase+"/users/bob", bob.Key, map[string]any{"permissions": "sign"}), 403, "forbidden")

	// Disabling the user ends it.
	patchUser(t, caddytestAdmin, "bob", map[string]any{"permissions": "none"})
	eventually(t, propagation, "a disabled user's key manages nothing", func() bool { return do(t, "GET", keys, bob.Key, nil).status == 403 })
	resp = do(t, "POST", keys, bob.Key, map[string]any{"name": "y"})
	expectStatus(t, "disabled user: create", resp, 403, "forbidden")
	if resp.errorMessage() != "API key disabled" {
		t.Errorf("disabled user: message %q", resp.errorMessage())
	}
}

// TestKeyAPIRateLimit: the key and user API have the signing endpoint's
// per-key and per-client limits (one budget per key across both APIs).
func TestKeyAPIRateLimit(t *testing.T) {
	startCaddy(t, strings.Replace(baseConfig, "public /public/", "public /public/\n\t\trate_limit key 2 1m\n\t\trate_limit client 5 1m", 1))
	a := createKey(t, caddytestAdmin, map[string]any{"name": "a", "permissions": "admin"})
	b := createKey(t, caddytestAdmin, map[string]any{"name": "b", "permissions": "admin"})
	expectStatus(t, "a #1", do(t, "GET", apiBase+"/keys", a.Key, nil), 200, "")
	expectStatus(t, "a #2", do(t, "GET", apiBase+"/users", a.Key, nil), 200, "")
	resp := do(t, "GET", apiBase+"/keys/"+a.ID, a.Key, nil)
	expectStatus(t, "a #3: over its rate", resp, 429, "rate_limit_exceeded")
	if ra, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", resp.header.Get("Retry-After"))
	}
	// Another key has its own budget, until the client's (5) runs out.
	expectStatus(t, "b #1", do(t, "GET", apiBase+"/keys", b.Key, nil), 200, "")
	expectStatus(t, "b #2", do(t, "POST", apiBase+"/users", b.Key, map[string]any{"name": "rl", "scopes": []string{"/rl/"}}), 201, "")
	resp = do(t, "GET", apiBase+"/keys", "", nil)
	expectStatus(t, "the client over its rate, before authentication", resp, 429, "rate_limit_exceeded")
	if ra, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", resp.header.Get("Retry-After"))
	}
}

// escalation is one attempt to get more than the caller has.
type escalation struct {
	what, method, path, token string
	body                      any
	status                    int    // 403, or 400 for malformed input
	field                     string // for 400s
}

// storeSnapshot is the admin API's view of every key, user and
// revocation, with last-used times (the only thing a refused request could
// legitimately touch) removed.
func storeSnapshot(t *testing.T) string {
	t.Helper()
	lastUsed := regexp.MustCompile(`,"last_used_at":"[^"]*"`)
	var b strings.Builder
	for _, p := range []string{"/signet/keys", "/signet/users", "/signet/revocations"} {
		resp := do(t, "GET", caddytestAdmin+p, "", nil)
		if resp.status != 200 {
			t.Fatalf("GET %s: %s", p, resp)
		}
		b.Write(lastUsed.ReplaceAll(resp.body, nil))
	}
	return b.String()
}

// TestKeyAPIEscalation: every attempt through the public API to get more
// access than the caller has is refused (403, or 400 for malformed input),
// and afterwards the store holds exactly what it held before.
func TestKeyAPIEscalation(t *testing.T) {
	startCaddy(t, baseConfig)
	adm := caddytestAdmin
	createUser(t, adm, map[string]any{"name": "alice", "scopes": []string{"/alice/"}, "permissions": "sign", "self_service": true})
	createUser(t, adm, map[string]any{"name": "bob", "scopes": []string{"/bob/"}, "permissions": "read"}) // no self-service
	createUser(t, adm, map[string]any{"name": "carol", "scopes": []string{"/carol/"}, "permissions": "sign", "self_service": true})
	hour := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	later := hour.Add(time.Hour).Format(time.RFC3339)
	alice := createKey(t, adm, map[string]any{"name": "alice laptop", "user": "alice"}) // follows alice: sign, /alice/
	narrow := createKey(t, adm, map[string]any{"name": "alice docs", "user": "alice", "scopes": []string{"/alice/docs/"},
		"permissions": "read", "expires_at": hour.Format(time.RFC3339)})
	alicePub := createKey(t, adm, map[string]any{"name": "alice pub", "type": "public", "user": "alice"})
	aliceOff := createKey(t, adm, map[string]any{"name": "alice old", "user": "alice", "permissions": "none"})
	bob := createKey(t, adm, map[string]any{"name": "bob laptop", "user": "bob"})
	carol := createKey(t, adm, map[string]any{"name": "carol laptop", "user": "carol"})
	siteSign := createKey(t, adm, map[string]any{"name": "site signer", "permissions": "sign"})
	siteRead := createKey(t, adm, map[string]any{"name": "site reader"})
	sitePub := createKey(t, adm, map[string]any{"name": "site pub", "type": "public"})
	siteAdmin := createKey(t, adm, map[string]any{"name": "site admin", "permissions": "admin"})
	patchUser(t, adm, "carol", map[string]any{"permissions": "none"}) // carol's key: a key of a disabled user
	values := []string{alice.Key, narrow.Key, alicePub.Key, aliceOff.Key, bob.Key, carol.Key, siteSign.Key, siteRead.Key, sitePub.Key, siteAdmin.Key}

	eventually(t, propagation, "carol is disabled", func() bool {
		return do(t, "GET", site+"/carol/x", carol.Key, nil).status == 403
	})
	before := storeSnapshot(t)

	k := func(id string) string { return "/keys/" + id }
	attempts := []escalation{
		// Site-wide keys below admin.
		{"a sign key creates an admin key", "POST", "/keys", siteSign.Key, map[string]any{"name": "x", "permissions": "admin"}, 403, ""},
		{"a sign key creates a read key", "POST", "/keys", siteSign.Key, map[string]any{"name": "x", "permissions": "read"}, 403, ""},
		{"a sign key raises itself to admin", "PATCH", k(siteSign.ID), siteSign.Key, map[string]any{"permissions": "admin"}, 403, ""},
		{"a sign key deletes an admin key", "DELETE", k(siteAdmin.ID), siteSign.Key, nil, 403, ""},
		{"a sign key lists keys", "GET", "/keys", siteSign.Key, nil, 403, ""},
		{"a sign key revokes every link under /", "POST", "/revocations", siteSign.Key, map[string]any{"prefix": "/"}, 403, ""},
		{"a read key lists keys", "GET", "/keys", siteRead.Key, nil, 403, ""},
		{"a read key creates a key", "POST", "/keys", siteRead.Key, map[string]any{"name": "x", "permissions": "read"}, 403, ""},
		{"a read key lists users", "GET", "/users", siteRead.Key, nil, 403, ""},
		// A self-service user key, wider than itself.
		{"a user key creates an admin key for its user", "POST", "/keys", alice.Key, map[string]any{"name": "x", "permissions": "admin"}, 403, ""},
		{"a user key creates a key for /", "POST", "/keys", alice.Key, map[string]any{"name": "x", "scopes": []string{"/"}}, 403, ""},
		{"a user key creates a key for another user's folder", "POST", "/keys", alice.Key, map[string]any{"name": "x", "scopes": []string{"/bob/"}}, 403, ""},
		{"a user key creates a key for another user", "POST", "/keys", alice.Key, map[string]any{"name": "x", "user": "bob"}, 403, ""},
		{"a user key creates a key for a user that does not exist", "POST", "/keys", alice.Key, map[string]any{"name": "x", "user": "mallory"}, 403, ""},
		{"a user key raises itself to admin", "PATCH", k(alice.ID), alice.Key, map[string]any{"permissions": "admin"}, 403, ""},
		{"a user key widens itself to /", "PATCH", k(alice.ID), alice.Key, map[string]any{"scopes": []string{"/"}}, 403, ""},
		{"a narrowed key creates a key for its user's whole folder", "POST", "/keys", narrow.Key, map[string]any{"name": "x", "scopes": []string{"/alice/"}}, 403, ""},
		{"a read key creates a sign key", "POST", "/keys", narrow.Key, map[string]any{"name": "x", "permissions": "sign"}, 403, ""},
		{"an expiring key creates a key that outlives it", "POST", "/keys", narrow.Key, map[string]any{"name": "x", "expires_at": later}, 403, ""},
		{"a key extends its own expiry", "PATCH", k(narrow.ID), narrow.Key, map[string]any{"expires_at": later}, 403, ""},
		{"a key removes its own expiry", "PATCH", k(narrow.ID), narrow.Key, map[string]any{"expires_at": nil}, 403, ""},
		{"a key widens its own scope", "PATCH", k(narrow.ID), narrow.Key, map[string]any{"scopes": []string{"/alice/"}}, 403, ""},
		{"a key raises its own permission", "PATCH", k(narrow.ID), narrow.Key, map[string]any{"permissions": "sign"}, 403, ""},
		{"a read key re-enables a sibling above itself", "PATCH", k(aliceOff.ID), narrow.Key, map[string]any{"permissions": "sign"}, 403, ""},
		{"a read key re-enables a sibling that follows the user", "PATCH", k(aliceOff.ID), narrow.Key, map[string]any{"permissions": "read"}, 403, ""},
		{"a user key raises a sibling to admin", "PATCH", k(aliceOff.ID), alice.Key, map[string]any{"permissions": "admin"}, 403, ""},
		{"a user key moves a sibling to another user", "PATCH", k(narrow.ID), alice.Key, map[string]any{"user": "bob"}, 403, ""},
		{"a user key moves itself to another user", "PATCH", k(alice.ID), alice.Key, map[string]any{"user": "bob"}, 403, ""},
		{"a user key makes a sibling site-wide", "PATCH", k(narrow.ID), alice.Key, map[string]any{"user": "", "scopes": []string{"/"}, "permissions": "read"}, 403, ""},
		{"a user key makes itself site-wide", "PATCH", k(alice.ID), alice.Key, map[string]any{"user": "", "scopes": []string{"/alice/"}, "permissions": "sign"}, 403, ""},
		{"a user key reads another user's key", "GET", k(bob.ID), alice.Key, nil, 403, ""},
		{"a user key reads a site-wide key", "GET", k(siteAdmin.ID), alice.Key, nil, 403, ""},
		{"a user key updates another user's key", "PATCH", k(bob.ID), alice.Key, map[string]any{"name": "mine"}, 403, ""},
		{"a user key updates a site-wide key", "PATCH", k(siteSign.ID), alice.Key, map[string]any{"name": "mine"}, 403, ""},
		{"a user key takes another user's key", "PATCH", k(bob.ID), alice.Key, map[string]any{"user": "alice"}, 403, ""},
		{"a user key deletes another user's key", "DELETE", k(bob.ID), alice.Key, nil, 403, ""},
		{"a user key deletes a site-wide key", "DELETE", k(siteAdmin.ID), alice.Key, nil, 403, ""},
		// Users are for site administrators.
		{"a user key creates a user", "POST", "/users", alice.Key, map[string]any{"name": "eve", "scopes": []string{"/"}, "permissions": "admin"}, 403, ""},
		{"a user key makes its user an admin", "PATCH", "/users/alice", alice.Key, map[string]any{"permissions": "admin"}, 403, ""},
		{"a user key widens its user", "PATCH", "/users/alice", alice.Key, map[string]any{"scopes": []string{"/"}}, 403, ""},
		{"a user key re-enables a disabled user", "PATCH", "/users/carol", alice.Key, map[string]any{"permissions": "sign"}, 403, ""},
		{"a user key deletes a user", "DELETE", "/users/bob", alice.Key, nil, 403, ""},
		{"a user key lists users", "GET", "/users", alice.Key, nil, 403, ""},
		{"a user key reads its user", "GET", "/users/alice", alice.Key, nil, 403, ""},
		{"a user turns on its own self-service", "PATCH", "/users/bob", bob.Key, map[string]any{"self_service": true}, 403, ""},
		// Public keys do nothing on /keys and /users.
		{"a public user key lists keys", "GET", "/keys", alicePub.Key, nil, 403, ""},
		{"a public user key creates a key", "POST", "/keys", alicePub.Key, map[string]any{"name": "x"}, 403, ""},
		{"a public user key reads itself", "GET", k(alicePub.ID), alicePub.Key, nil, 403, ""},
		{"a public user key makes itself secret-like", "PATCH", k(alicePub.ID), alicePub.Key, map[string]any{"permissions": "sign"}, 403, ""},
		{"a public user key deletes a sibling", "DELETE", k(narrow.ID), alicePub.Key, nil, 403, ""},
		{"a public user key lists users", "GET", "/users", alicePub.Key, nil, 403, ""},
		{"a site-wide public key lists keys", "GET", "/keys", sitePub.Key, nil, 403, ""},
		{"a site-wide public key creates a key", "POST", "/keys", sitePub.Key, map[string]any{"name": "x"}, 403, ""},
		{"a site-wide public key deletes a key", "DELETE", k(siteSign.ID), sitePub.Key, nil, 403, ""},
		{"a site-wide public key creates a user", "POST", "/users", sitePub.Key, map[string]any{"name": "eve", "scopes": []string{"/"}}, 403, ""},
		{"a site-wide public key deletes a user", "DELETE", "/users/alice", sitePub.Key, nil, 403, ""},
		// Users without self-service, disabled keys, keys of disabled users.
		{"a user without self-service lists keys", "GET", "/keys", bob.Key, nil, 403, ""},
		{"a user without self-service creates a key", "POST", "/keys", bob.Key, map[string]any{"name": "x"}, 403, ""},
		{"a user without self-service renames its key", "PATCH", k(bob.ID), bob.Key, map[string]any{"name": "y"}, 403, ""},
		{"a user without self-service deletes its key", "DELETE", k(bob.ID), bob.Key, nil, 403, ""},
		{"a disabled key creates a key", "POST", "/keys", aliceOff.Key, map[string]any{"name": "x"}, 403, ""},
		{"a disabled key re-enables itself", "PATCH", k(aliceOff.ID), aliceOff.Key, map[string]any{"permissions": "sign"}, 403, ""},
		{"a key of a disabled user lists keys", "GET", "/keys", carol.Key, nil, 403, ""},
		{"a key of a disabled user creates a key", "POST", "/keys", carol.Key, map[string]any{"name": "x"}, 403, ""},
		{"a key of a disabled user re-enables its user", "PATCH", "/users/carol", carol.Key, map[string]any{"permissions": "sign"}, 403, ""},
		// Malformed input: 400 naming the field, nothing stored.
		{"a user key escapes its folder with ..", "POST", "/keys", alice.Key, map[string]any{"name": "x", "scopes": []string{"/alice/../bob/"}}, 400, "scopes"},
		{"a user key escapes its folder with encoded ..", "POST", "/keys", alice.Key, map[string]any{"name": "x", "scopes": []string{"/alice/%2e%2e/bob/"}}, 400, "scopes"},
		{"a user key uses ; in a scope", "POST", "/keys", alice.Key, map[string]any{"name": "x", "scopes": []string{"/alice;/bob/"}}, 400, "scopes"},
		{"a key widens itself with ..", "PATCH", k(narrow.ID), narrow.Key, map[string]any{"scopes": []string{"/alice/docs/../../bob/"}}, 400, "scopes"},
		{"a user key names a field twice", "POST", "/keys", alice.Key, `{"name": "x", "permissions": "read", "permissions": "admin"}`, 400, "permissions"},
		{"a user key names a field in another case", "POST", "/keys", alice.Key, `{"name": "x", "Permissions": "admin"}`, 400, "Permissions"},
	}
	if len(attempts) < 25 {
		t.Fatalf("only %d escalation attempts", len(attempts))
	}
	for _, a := range attempts {
		resp := do(t, a.method, apiBase+a.path, a.token, a.body)
		switch a.status {
		case 400:
			expectField(t, a.what, resp, a.field)
		default:
			if resp.status != a.status || resp.errorCode() != "forbidden" {
				t.Errorf("%s: got %s, want %d forbidden", a.what, resp, a.status)
			}
		}
		for _, v := range values {
			if bytes.Contains(resp.body, []byte(v[3:])) {
				t.Errorf("%s: the refusal shows a key value", a.what)
			}
		}
	}
	if after := storeSnapshot(t); after != before {
		t.Errorf("the store changed:\nbefore %s\nafter  %s", before, after)
	}

	// The callers were refused for what they asked, not for who they are.
	expectStatus(t, "alice lists her keys", do(t, "GET", apiBase+"/keys", alice.Key, nil), 200, "")
	expectStatus(t, "the narrowed key lists alice's keys", do(t, "GET", apiBase+"/keys", narrow.Key, nil), 200, "")
	expectStatus(t, "the sign key signs", do(t, "POST", signPrefix+"/reports/q1.txt/signed-url", siteSign.Key, `{"expires_in": 60}`), 200, "")
	expectStatus(t, "the public key reads", do(t, "GET", site+"/alice/notes.txt", alicePub.Key, nil), 200, "")
	expectStatus(t, "the admin key lists users", do(t, "GET", apiBase+"/users", siteAdmin.Key, nil), 200, "")
}
