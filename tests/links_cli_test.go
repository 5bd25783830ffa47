package tests

import (
	"encoding/json"
	"mime"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLinksCLI drives signing with policies and the ledger with the built
// binary's CLI: caddy signet sign --download-name/--max-uses, then
// caddy signet links list|get|extend|revoke.
func TestLinksCLI(t *testing.T) {
	in := newInstance(t, t.TempDir())
	in.start()
	listJSON := func(args ...string) []ledgerLink {
		t.Helper()
		var p ledgerPage
		out := in.mustCLI(append([]string{"links", "list", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &p); err != nil || p.Links == nil || p.Next == nil {
			t.Fatalf("links list --json %v: %v\n%s", args, err, out)
		}
		return p.Links
	}
	getJSON := func(id string) ledgerLink {
		t.Helper()
		var l ledgerLink
		out := in.mustCLI("links", "get", "--json", "--", id)
		if err := json.Unmarshal([]byte(out), &l); err != nil || l.ID != id {
			t.Fatalf("links get %s --json: %v\n%s", id, err, out)
		}
		return l
	}

	if out := strings.TrimSpace(in.mustCLI("links", "list")); out != "No links." {
		t.Errorf("links list on an empty ledger: %q", out)
	}
	url1 := strings.TrimSpace(in.mustCLI("sign", "/reports/q1.txt", "--expires-in", "1h", "--download-name", "Q1 report.txt",
		"--max-uses", "2", "--base-url", in.site))
	r := do(t, "GET", url1, "", nil)
	if r.status != 200 || string(r.body) != q1 {
		t.Fatalf("GET the CLI-signed link %q: %s", url1, r)
	}
	if _, p, err := mime.ParseMediaType(r.header.Get("Content-Disposition")); err != nil || p["filename"] != "Q1 report.txt" {
		t.Errorf("Content-Disposition %q", r.header.Get("Content-Disposition"))
	}

	// list --json: the one link, as signed, with its one use.
	ls := listJSON()
	if len(ls) != 1 {
		t.Fatalf("links list --json: %+v", ls)
	}
	l := ls[0]
	id1 := l.ID
	if l.Path != "/reports/q1.txt" || l.KeyID != "" || l.Policy.DownloadName != "Q1 report.txt" || l.Policy.MaxUses != 2 ||
		l.Uses != 1 || !l.Active || l.Revoked || time.Until(l.ExpiresAt) < 59*time.Minute {
		t.Errorf("the CLI-signed link in the ledger: %+v", l)
	}
	// list: a table with it.
	out := in.mustCLI("links", "list")
	row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id1) + `\s+/reports/q1\.txt\s+-\s+-\s+\S+\s+\S+\s+1/2\s+\S+\s+active\s+name="Q1 report.txt"\s*$`)
	if !strings.HasPrefix(out, "ID") || !strings.Contains(out, "USES") || !row.MatchString(out) {
		t.Errorf("links list:\n%s", out)
	}
	if strings.Contains(out, tokenOf(t, url1)) {
		t.Errorf("links list shows the link's token:\n%s", out)
	}
	if out := in.mustCLI("links", "get", "--", id1); !row.MatchString(out) {
		t.Errorf("links get %s:\n%s", id1, out)
	}

	// extend: the expiry moves, the URL stays the same.
	before := getJSON(id1).ExpiresAt
	out = in.mustCLI("links", "extend", "--expires-in", "2h", "--", id1)
	after := getJSON(id1).ExpiresAt
	if d := time.Until(after); d < 2*time.Hour-10*time.Second || d > 2*time.Hour+time.Second || !after.After(before) {
		t.Errorf("after extend --expires-in 2h: expires_at %s (was %s)", after, before)
	}
	if want := "Link " + id1 + " now expires at " + after.UTC().Format(time.RFC3339); strings.TrimSpace(out) != want {
		t.Errorf("extend printed %q, want %q", out, want)
	}
	expectStatus(t, "HEAD after the extension", do(t, "HEAD", url1, "", nil), 200, "")
	at := time.Now().Add(90 * time.Minute).UTC().Truncate(time.Second)
	in.mustCLI("links", "extend", "--expires-at", at.Format(time.RFC3339), "--", id1)
	if got := getJSON(id1).ExpiresAt; !got.Equal(at) {
		t.Errorf("after extend --expires-at %s: %s", at, got)
	}

	// Two more links, one under /reports/; filters.
	var s2, s3 signed
	if err := json.Unmarshal([]byte(in.mustCLI("sign", "/reports/q1.txt", "--expires-in", "1h", "--base-url", in.site, "--json")), &s2); err != nil || s2.ID == "" {
		t.Fatalf("sign --json: %v", err)
	}
	if err := json.Unmarshal([]byte(in.mustCLI("sign", "/alice/notes.txt", "--expires-in", "1h", "--base-url", in.site,
		"--content-type", "text/markdown", "--client-cidr", "127.0.0.0/8", "--json")), &s3); err != nil || s3.ID == "" {
		t.Fatalf("sign --json: %v", err)
	}
	if r := do(t, "GET", s3.URL, "", nil); r.status != 200 || r.header.Get("Content-Type") != "text/markdown" {
		t.Errorf("CLI-signed link with --content-type: %s %v", r, r.header)
	}
	if ls := listJSON("--path", "/alice/"); len(ls) != 1 || ls[0].ID != s3.ID || ls[0].Policy.ClientCIDR != "127.0.0.0/8" {
		t.Errorf("links list --path /alice/: %+v", ls)
	}
	if out := in.mustCLI("links", "list", "--path", "/alice/"); !strings.Contains(out, "type=text/markdown from=127.0.0.0/8") {
		t.Errorf("links list --path /alice/ does not show the policy:\n%s", out)
	}
	if ls := listJSON("--limit", "2"); len(ls) != 2 {
		t.Errorf("links list --limit 2: %d links", len(ls))
	}
	if out := in.mustCLI("links", "list", "--limit", "2"); !strings.Contains(out, "More: --cursor ") {
		t.Errorf("links list --limit 2 does not say how to go on:\n%s", out)
	}

	// revoke one.
	if out := strings.TrimSpace(in.mustCLI("links", "revoke", "--", id1)); out != "Revoked link "+id1+" (/reports/q1.txt)" {
		t.Errorf("links revoke %s printed %q", id1, out)
	}
	expectStatus(t, "revoked by the CLI", do(t, "GET", url1, "", nil), 403, "revoked")
	if l := getJSON(id1); !l.Revoked || l.Active {
		t.Errorf("after links revoke: %+v", l)
	}
	if ls := listJSON("--active"); len(ls) != 2 {
		t.Errorf("links list --active: %v, want the two others", linkIDs(ls))
	}

	// revoke by path: the links under it that still worked.
	if out := strings.TrimSpace(in.mustCLI("links", "revoke", "--path", "/reports/")); out != "Revoked 1 link(s)" {
		t.Errorf("links revoke --path /reports/ (one active link there, one revoked already) printed %q, want \"Revoked 1 link(s)\"", out)
	}
	expectStatus(t, "revoked by path", do(t, "GET", s2.URL, "", nil), 403, "revoked")
	expectStatus(t, "not under the path", do(t, "GET", s3.URL, "", nil), 200, "")

	// extend --expires-in 0s ends a link now.
	in.mustCLI("links", "extend", "--expires-in", "0s", "--", s3.ID)
	expectStatus(t, "ended by extend --expires-in 0s", do(t, "GET", s3.URL, "", nil), 403, "expired")

	// Errors: one clear line on stderr, non-zero exit.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"links", "extend", "--expires-in", "1h", "--expires-at", "2030-01-01T00:00:00Z", "--", s2.ID}, "give one of --expires-in and --expires-at"},
		{[]string{"links", "extend", "--", s2.ID}, "give one of --expires-in and --expires-at"},
		{[]string{"links", "extend", "--expires-in", "soon", "--", s2.ID}, "--expires-in"},
		{[]string{"links", "extend", "--expires-at", "tomorrow", "--", s2.ID}, "--expires-at"},
		{[]string{"links", "extend", "--expires-in", "8d", "--", s2.ID}, "expires_in"},
		{[]string{"links", "extend"}, "extend takes 1 argument(s), got 0"},
		{[]string{"links", "get", "--", randomLinkID()}, "no such link"},
		{[]string{"links", "get", "-aTv6yajd6pZkfGNNqlADQ"}, `a link id that starts with "-" goes after "--"`},
		{[]string{"links", "get"}, "get takes 1 argument(s), got 0"},
		{[]string{"links", "revoke"}, "give one link id, or filters"},
		{[]string{"links", "revoke", "--path", "/reports/", "--", s2.ID}, "give one link id, or filters"},
		{[]string{"links", "list", "--limit", "0"}, "limit"},
		{[]string{"links", "list", "--path", "reports"}, "path"},
		{[]string{"links", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"sign", "/reports/q1.txt", "--expires-in", "1h", "--base-url", in.site, "--max-uses", "-1"}, "max_uses"},
		{[]string{"sign", "/reports/q1.txt", "--expires-in", "1h", "--base-url", in.site, "--content-type", "text/html"}, "content_type"},
		{[]string{"sign", "/reports/", "--folder", "--expires-in", "1h", "--base-url", in.site, "--download-name", "x.txt"}, "download_name"},
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
