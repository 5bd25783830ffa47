package tests

import (
	"bufio"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUsersCLI drives users with the built binary's CLI: `caddy signet
// users create|list|get|update|delete` (text and --json), keys that follow
// their user, and the errors, each one clear line.
func TestUsersCLI(t *testing.T) {
	in := newInstance(t, t.TempDir())
	in.start()
	notes, report := in.site+"/alice/notes.txt", in.site+"/reports/q1.txt"

	// create: a line and the user as a table.
	out := in.mustCLI("users", "create", "alice", "--scope", "/alice/", "--permissions", "sign", "--self-service")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "Created user alice" || strings.Join(strings.Fields(lines[1]), " ") != "NAME PERMISSIONS SCOPES SELF-SERVICE UPDATED" {
		t.Fatalf("users create:\n%s", out)
	}
	row := strings.Fields(lines[2])
	if len(row) != 5 || row[0] != "alice" || row[1] != "sign" || row[2] != "/alice/" || row[3] != "true" {
		t.Fatalf("users create row %q", lines[2])
	}
	if _, err := time.Parse(time.RFC3339, row[4]); err != nil {
		t.Errorf("UPDATED %q: %v", row[4], err)
	}
	// --json prints the API's record.
	var bob userRecord
	if err := json.Unmarshal([]byte(in.mustCLI("users", "create", "bob", "--scope", "/bob/", "--scope", "/shared/", "--json")), &bob); err != nil {
		t.Fatal(err)
	}
	if bob.Name != "bob" || bob.Permissions != "read" || bob.SelfService || !slices.Equal(bob.Scopes, []string{"/bob/", "/shared/"}) {
		t.Errorf("users create --json: %+v", bob)
	}
	out = in.mustCLI("users", "list")
	if !strings.Contains(out, "SELF-SERVICE") || !regexp.MustCompile(`(?m)^alice\s+sign\s+/alice/\s+true\s`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^bob\s+read\s+/bob/,/shared/\s+false\s`).MatchString(out) {
		t.Errorf("users list:\n%s", out)
	}
	var list struct {
		Users []userRecord `json:"users"`
	}
	if err := json.Unmarshal([]byte(in.mustCLI("users", "list", "--json")), &list); err != nil || len(list.Users) != 2 {
		t.Errorf("users list --json: %v %+v", err, list)
	}
	var got userRecord
	if err := json.Unmarshal([]byte(in.mustCLI("users", "get", "alice", "--json")), &got); err != nil || got.Name != "alice" || !got.SelfService || got.Permissions != "sign" {
		t.Errorf("users get --json: %v %+v", err, got)
	}
	if out := in.mustCLI("users", "get", "bob"); !regexp.MustCompile(`(?m)^bob\s+read\s`).MatchString(out) {
		t.Errorf("users get:\n%s", out)
	}

	// A user key follows its user; the key commands show its access.
	var k keyRecord
	if err := json.Unmarshal([]byte(in.mustCLI("keys", "create", "--name", "alice laptop", "--user", "alice", "--json")), &k); err != nil || !strings.HasPrefix(k.Key, "sk_") {
		t.Fatalf("keys create --user --json: %v %+v", err, k)
	}
	if k.User != "alice" || len(k.Scopes) != 0 || k.Permissions != "" {
		t.Errorf("a key that follows its user: %+v", k)
	}
	expectAccess(t, "alice laptop", k, "sign", "/alice/")
	out = in.mustCLI("keys", "create", "--name", "alice tablet", "--user", "alice")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^Created secret key key_[a-z2-7]{16} \("alice tablet"\): permissions sign, scopes /alice/$`).MatchString(lines[0]) ||
		!strings.HasPrefix(lines[len(lines)-1], "sk_") {
		t.Errorf("keys create --user:\n%s", out)
	}
	if out := in.mustCLI("keys", "list"); !regexp.MustCompile(`(?m)^` + k.ID + `\s+alice laptop\s+secret\s+alice\s+sign\s+/alice/\s`).MatchString(out) {
		t.Errorf("keys list shows the access of a user key:\n%s", out)
	}
	expectStatus(t, "alice's key at home", do(t, "GET", notes, k.Key, nil), 200, "")
	expectStatus(t, "alice's key elsewhere", do(t, "GET", report, k.Key, nil), 403, "forbidden")

	in.mustCLI("users", "update", "alice", "--permissions", "none")
	eventually(t, propagation, "a disabled user's key stops", func() bool { return do(t, "GET", notes, k.Key, nil).status == 403 })
	out = in.mustCLI("users", "update", "alice", "--permissions", "sign", "--scope", "/alice/", "--scope", "/reports/")
	if !strings.HasPrefix(out, "Updated user alice\n") || !regexp.MustCompile(`(?m)^alice\s+sign\s+/alice/,/reports/\s+true\s`).MatchString(out) {
		t.Errorf("users update:\n%s", out)
	}
	eventually(t, propagation, "a widened user's key reads the new folder", func() bool { return do(t, "GET", report, k.Key, nil).status == 200 })
	expectStatus(t, "re-enabled", do(t, "GET", notes, k.Key, nil), 200, "")
	if err := json.Unmarshal([]byte(in.mustCLI("users", "update", "alice", "--self-service=false", "--json")), &got); err != nil ||
		got.SelfService || !slices.Equal(got.Scopes, []string{"/alice/", "/reports/"}) {
		t.Errorf("users update --self-service=false --json: %v %+v", err, got)
	}

	// delete: the user and its keys.
	if out := in.mustCLI("users", "delete", "alice"); out != "Deleted user alice and 2 key(s)\n" {
		t.Errorf("users delete: %q", out)
	}
	eventually(t, propagation, "a deleted user's key is gone", func() bool { return do(t, "GET", notes, k.Key, nil).status == 401 })
	if out := in.mustCLI("keys", "list", "--json"); strings.Contains(out, k.ID) {
		t.Errorf("keys list after the user's deletion:\n%s", out)
	}
	if out := in.mustCLI("keys", "list"); out != "No keys.\n" {
		t.Errorf("keys list: %q", out)
	}
	var d deletedUser
	if err := json.Unmarshal([]byte(in.mustCLI("users", "delete", "bob", "--json")), &d); err != nil || d.Deleted.Name != "bob" || d.DeletedKeys == nil || len(d.DeletedKeys) != 0 {
		t.Errorf("users delete --json: %v %+v", err, d)
	}
	if out := in.mustCLI("users", "list"); out != "No users.\n" {
		t.Errorf("users list when empty: %q", out)
	}

	// Errors: one clear line on stderr, non-zero exit.
	in.mustCLI("users", "create", "carol", "--scope", "/carol/")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"users", "get", "alice"}, "no such user (HTTP 404)"},
		{[]string{"users", "update", "alice", "--permissions", "read"}, "no such user (HTTP 404)"},
		{[]string{"users", "delete", "alice"}, "no such user (HTTP 404)"},
		{[]string{"keys", "create", "--name", "x", "--user", "nobody"}, `no such user "nobody"`},
		{[]string{"keys", "update", "key_aaaaaaaaaaaaaaaa", "--user", "nobody"}, "(HTTP 404)"},
		{[]string{"users", "create", "Carol", "--scope", "/c/"}, "name:"},
		{[]string{"users", "create", "dave"}, "scopes:"},
		{[]string{"users", "create", "dave", "--scope", "/a/../b/"}, "scopes:"},
		{[]string{"users", "create", "dave", "--scope", "/a;b/"}, "scopes:"},
		{[]string{"users", "create", "dave", "--scope", "/d/", "--permissions", "root"}, "permissions:"},
		{[]string{"users", "create", "dave", "--scope", "/d/", "--permissions", "admin"}, "scopes:"},
		{[]string{"users", "create", "carol", "--scope", "/c/"}, "(HTTP 409)"},
		{[]string{"users", "update", "carol"}, "nothing to update"},
		{[]string{"users", "update", "carol", "--scope", "relative/"}, "scopes:"},
		{[]string{"users", "create"}, "create takes 1 argument(s), got 0"},
		{[]string{"users", "get"}, "get takes 1 argument(s), got 0"},
		{[]string{"users", "delete", "a", "b"}, "delete takes 1 argument(s), got 2"},
		{[]string{"users", "list", "x"}, "list takes 0 argument(s), got 1"},
		{[]string{"users", "frobnicate"}, `unknown command "frobnicate"`},
	} {
		out, errOut, err := in.cli(c.args...)
		if err == nil {
			t.Errorf("%v: exit 0, want failure (stdout %q)", c.args, out)
			continue
		}
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: stderr %q, want one line containing %q", c.args, errOut, c.want)
		}
	}
}

// auditLines returns the JSON log lines of logger signet.audit in logs.
func auditLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["logger"] == "signet.audit" {
			out = append(out, m)
		}
	}
	return out
}

// TestAuditLogNamesActors: every user and key change, through the admin
// API (the CLI) and through the public API, is an audit line in logger
// signet.audit naming its actor ("admin", or the id of the key that made
// it), and no log line holds a key value.
func TestAuditLogNamesActors(t *testing.T) {
	in := newInstance(t, t.TempDir())
	in.start()
	api := in.site + "/_signet/v1"

	in.mustCLI("users", "create", "alice", "--scope", "/alice/", "--permissions", "sign", "--self-service")
	alice := in.createKey(t, "--name", "alice laptop", "--user", "alice")
	root := in.createKey(t, "--name", "root", "--permissions", "admin")

	// Self-service, as alice's key.
	resp := do(t, "POST", api+"/keys", alice.Key, map[string]any{"name": "alice phone"})
	expectStatus(t, "alice creates a key", resp, 201, "")
	phone := decodeAs[keyRecord](t, "alice phone", resp)
	expectStatus(t, "alice renames it", do(t, "PATCH", api+"/keys/"+phone.ID, alice.Key, map[string]any{"name": "alice phone 2"}), 200, "")
	expectStatus(t, "alice deletes it", do(t, "DELETE", api+"/keys/"+phone.ID, alice.Key, nil), 200, "")
	// A user's life, as the admin key.
	expectStatus(t, "root creates bob", do(t, "POST", api+"/users", root.Key, map[string]any{"name": "bob", "scopes": []string{"/bob/"}}), 201, "")
	expectStatus(t, "root updates bob", do(t, "PATCH", api+"/users/bob", root.Key, map[string]any{"permissions": "sign"}), 200, "")
	resp = do(t, "POST", api+"/keys", root.Key, map[string]any{"name": "bob laptop", "user": "bob"})
	expectStatus(t, "root creates bob's key", resp, 201, "")
	bobKey := decodeAs[keyRecord](t, "bob laptop", resp)
	expectStatus(t, "root deletes bob", do(t, "DELETE", api+"/users/bob", root.Key, nil), 200, "")
	// Refusals change nothing and log no change.
	expectStatus(t, "alice tries to create a user", do(t, "POST", api+"/users", alice.Key, map[string]any{"name": "eve", "scopes": []string{"/"}}), 403, "forbidden")
	// The operator again.
	in.mustCLI("users", "update", "alice", "--permissions", "read")
	in.mustCLI("users", "delete", "alice")
	in.stop()

	logs := in.logs.String()
	lines := auditLines(t, logs)
	type want struct {
		msg, api, actor string
		fields          map[string]any
		deletedKey      string // must be among deleted_keys
	}
	for _, w := range []want{
		{"user created", "admin", "admin", map[string]any{"user": "alice", "permissions": "sign", "self_service": true}, ""},
		{"key created", "admin", "admin", map[string]any{"key_id": alice.ID, "user": "alice", "name": "alice laptop"}, ""},
		{"key created", "admin", "admin", map[string]any{"key_id": root.ID, "permissions": "admin"}, ""},
		{"key created", "public", alice.ID, map[string]any{"key_id": phone.ID, "user": "alice", "name": "alice phone"}, ""},
		{"key updated", "public", alice.ID, map[string]any{"key_id": phone.ID, "name": "alice phone 2"}, ""},
		{"key deleted", "public", alice.ID, map[string]any{"key_id": phone.ID}, ""},
		{"user created", "public", root.ID, map[string]any{"user": "bob", "permissions": "read"}, ""},
		{"user updated", "public", root.ID, map[string]any{"user": "bob", "permissions": "sign"}, ""},
		{"key created", "public", root.ID, map[string]any{"key_id": bobKey.ID, "user": "bob"}, ""},
		{"user deleted", "public", root.ID, map[string]any{"user": "bob"}, bobKey.ID},
		{"user updated", "admin", "admin", map[string]any{"user": "alice", "permissions": "read"}, ""},
		{"user deleted", "admin", "admin", map[string]any{"user": "alice"}, alice.ID},
	} {
		found := false
		for _, l := range lines {
			if l["msg"] != w.msg || l["api"] != w.api || l["actor"] != w.actor {
				continue
			}
			ok := true
			for k, v := range w.fields {
				if l[k] != v {
					ok = false
				}
			}
			if w.deletedKey != "" {
				ids, _ := l["deleted_keys"].([]any)
				ok = ok && slices.Contains(ids, any(w.deletedKey))
			}
			if ok {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no audit line %q by %s (%s api) with %v %s", w.msg, w.actor, w.api, w.fields, w.deletedKey)
		}
	}
	actor := regexp.MustCompile(`^(admin|upgrade|key_[a-z2-7]{16})$`)
	for _, l := range lines {
		if a, _ := l["actor"].(string); !actor.MatchString(a) {
			t.Errorf("audit line without a proper actor: %v", l)
		}
		if l["msg"] == "user created" && l["user"] == "eve" {
			t.Errorf("a refused creation was logged as a change: %v", l)
		}
	}
	for what, v := range map[string]string{"alice's key": alice.Key, "root's key": root.Key, "the self-service key": phone.Key, "bob's key": bobKey.Key} {
		if strings.Contains(logs, v) || strings.Contains(logs, v[3:]) {
			t.Errorf("the logs contain %s value", what)
		}
	}
}

// TestUserChangesInStep: with the shared (Redis) store, a user change made
// on one instance applies to the user's keys and their links on the other
// within the propagation time of a key change.
func TestUserChangesInStep(t *testing.T) {
	a, b, _, _ := redisPair(t, "")
	report, notes := "/reports/q1.txt", "/alice/notes.txt"
	a.mustCLI("users", "create", "alice", "--scope", "/alice/", "--scope", "/reports/", "--permissions", "sign")
	k := a.createKey(t, "--name", "alice laptop", "--user", "alice")
	eventually(t, propagation, "alice's key created on A works on B", func() bool {
		return do(t, "GET", b.site+notes, k.Key, nil).status == 200
	})
	s := a.signURL(t, k.Key, report)
	onB, host := onOther(t, s.URL, b)
	expectStatus(t, "A's link on B", getAs(t, onB, host, ""), 200, "")

	// Narrowed on B: A refuses the key and its link outside the new scope.
	b.mustCLI("users", "update", "alice", "--scope", "/alice/")
	start := time.Now()
	eventually(t, propagation, "user narrowed on B: A refuses the key outside", func() bool {
		return do(t, "GET", a.site+report, k.Key, nil).status == 403
	})
	t.Logf("narrowing enforced on A after %s", time.Since(start))
	eventually(t, propagation, "user narrowed on B: A refuses the link outside", func() bool {
		return do(t, "GET", s.URL, "", nil).status == 403
	})
	expectStatus(t, "narrowed: link on A", do(t, "GET", s.URL, "", nil), 403, "revoked")
	expectStatus(t, "narrowed: key inside on A", do(t, "GET", a.site+notes, k.Key, nil), 200, "")

	// Disabled on B, re-enabled on A.
	b.mustCLI("users", "update", "alice", "--permissions", "none")
	eventually(t, propagation, "user disabled on B: A refuses the key", func() bool {
		return do(t, "GET", a.site+notes, k.Key, nil).status == 403
	})
	a.mustCLI("users", "update", "alice", "--permissions", "sign", "--scope", "/alice/", "--scope", "/reports/")
	start = time.Now()
	eventually(t, propagation, "user re-enabled on A: B accepts the key and the link", func() bool {
		return do(t, "GET", b.site+report, k.Key, nil).status == 200 && getAs(t, onB, host, "").status == 200
	})
	t.Logf("re-enabling enforced on B after %s", time.Since(start))

	// Deleted on A: B forgets the key and refuses the link.
	a.mustCLI("users", "delete", "alice")
	start = time.Now()
	eventually(t, propagation, "user deleted on A: B refuses its key", func() bool {
		return do(t, "GET", b.site+notes, k.Key, nil).status == 401
	})
	t.Logf("deletion enforced on B after %s", time.Since(start))
	expectStatus(t, "deleted: the link on B", getAs(t, onB, host, ""), 403, "revoked")
	if out := b.mustCLI("users", "list"); out != "No users.\n" {
		t.Errorf("users on B after the deletion on A: %q", out)
	}
	if out := b.mustCLI("keys", "list", "--json"); strings.Contains(out, k.ID) {
		t.Errorf("B still lists the deleted user's key:\n%s", out)
	}
}
