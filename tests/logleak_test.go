package tests

// Issue 9, "no working link in any log line": the built binary with the
// log config the docs give (debug, every logger filtered), signed-URL and
// bearer requests that end in an upstream error, a 500, a 404 and a 200,
// each with a Referer that is itself a signed URL; then every line of
// stderr is searched for a signature, a key value or a whole signed URL.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// documentedLogConfig is the log configuration docs/security.md gives,
// verbatim but for the ports and paths: %[1]s the admin address, %[2]d the
// site's port, %[3]s the store file, %[4]s the files, %[5]d a closed port
// (the upstream that is down).
const documentedLogConfig = `{
	admin %[1]s
	debug
	log default {
		output stderr
		level DEBUG
		format filter {
			wrap json
			fields {
				request>uri regexp "(?i)(/_signet/v1/t/)[^/?#]*|([?&](?:s|%%73)(?:i|%%69)(?:g|%%67)=)[^&#]*" "${1}${2}REDACTED"
				request>headers>Referer regexp "(?i)(/_signet/v1/t/)[^/?#]*|([?&](?:s|%%73)(?:i|%%69)(?:g|%%67)=)[^&#]*" "${1}${2}REDACTED"
			}
		}
	}
	signet {
		store file %[3]s
	}
}
http://127.0.0.1:%[2]d {
	log {
		output stderr
		format filter {
			wrap json
			fields {
				request>uri regexp "(?i)(/_signet/v1/t/)[^/?#]*|([?&](?:s|%%73)(?:i|%%69)(?:g|%%67)=)[^&#]*" "${1}${2}REDACTED"
				request>headers>Referer regexp "(?i)(/_signet/v1/t/)[^/?#]*|([?&](?:s|%%73)(?:i|%%69)(?:g|%%67)=)[^&#]*" "${1}${2}REDACTED"
			}
		}
	}
	root * %[4]s
	signet
	handle /up/* {
		reverse_proxy 127.0.0.1:%[5]d
	}
	handle /boom/* {
		error "boom" 500
	}
	file_server
}
`

// newInstanceConfig is an instance of the built binary whose Caddyfile is
// cfg(admin address, site port).
func newInstanceConfig(t *testing.T, cfg func(admin string, sitePort int) string) *instance {
	t.Helper()
	in := &instance{t: t, bin: caddyBinary(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	port := freePort(t)
	in.site = fmt.Sprintf("http://127.0.0.1:%d", port)
	in.config = filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(in.config, []byte(cfg(in.admin, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

// logLine is one line of Caddy's stderr, parsed where it is JSON.
type logLine struct {
	text    string
	Level   string `json:"level"`
	Logger  string `json:"logger"`
	Msg     string `json:"msg"`
	Status  int    `json:"status"`
	Request struct {
		URI     string              `json:"uri"`
		Headers map[string][]string `json:"headers"`
	} `json:"request"`
}

func parseLogLines(out string) []logLine {
	var lines []logLine
	for _, text := range strings.Split(out, "\n") {
		if strings.TrimSpace(text) == "" {
			continue
		}
		l := logLine{text: text}
		_ = json.Unmarshal([]byte(text), &l) // a line that is not JSON is still searched
		lines = append(lines, l)
	}
	return lines
}

// TestLogsHoldNoWorkingLink: with the documented log config at debug
// level, no line Caddy writes (access log, http.log.error, reverse_proxy
// and every other logger) holds a signature value, a key value or a whole
// signed URL, for signed-URL and bearer requests ending in 502, 500, 404
// and 200, each carrying a signed URL of the site as its Referer. The logs
// do hold the lines for those requests, so the test cannot pass by
// logging nothing.
func TestLogsHoldNoWorkingLink(t *testing.T) {
	var folderCookie string
	dir := t.TempDir()
	closed := freePort(t)
	in := newInstanceConfig(t, func(admin string, port int) string {
		return fmt.Sprintf(documentedLogConfig, admin, port, filepath.Join(dir, "signet.db"), filesDir(t), closed)
	})
	if out, err := run(in.bin, "adapt", "--config", in.config, "--adapter", "caddyfile"); err != nil {
		t.Fatalf("the documented log config does not adapt: %v\n%s", err, out)
	}
	in.start()
	admin := "http://" + in.admin

	k := createKey(t, admin, map[string]any{"name": "logged", "permissions": "sign"})
	resp := do(t, "POST", in.site+"/_signet/v1/files/reports/q1.txt/signed-url", k.Key, map[string]any{"expires_in": 3600})
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || resp.status != 200 {
		t.Fatalf("sign /reports/q1.txt: %s", resp)
	}
	links := map[string]string{"/reports/q1.txt": s.URL}
	for _, p := range []string{"/up/x", "/boom/x", "/nope.txt"} {
		links[p] = adminSign(t, admin, in.site, p) // admin signing does not ask the origin
	}
	referer := links["/reports/q1.txt"]
	want := map[string]int{"/reports/q1.txt": 200, "/up/x": 502, "/boom/x": 500, "/nope.txt": 404}

	// A folder link, used in its three forms (query, path, cookie), with a
	// path_url as the Referer, for files that exist, are missing, or fail.
	resp = do(t, "POST", in.site+"/_signet/v1/files/reports/signed-url", k.Key, map[string]any{"expires_in": 3600, "folder": true, "check": "q1.txt"})
	var folder signed
	if err := json.Unmarshal(resp.body, &folder); err != nil || resp.status != 200 || folder.PathURL == "" {
		t.Fatalf("sign the folder /reports/: %s", resp)
	}
	fu, _ := url.Parse(folder.URL)
	folderTok := fu.Query().Get("sig")
	folderGet := func(what, rawURL, cookie string, status int) {
		t.Helper()
		req := mustRequest(t, "GET", rawURL)
		req.Header.Set("Referer", folder.PathURL+"index.html")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		r, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		r.Body.Close()
		if r.StatusCode != status {
			t.Fatalf("%s: got %d, want %d", what, r.StatusCode, status)
		}
		for _, c := range r.Cookies() {
			if strings.HasPrefix(c.Name, "signet_") {
				cookie = c.Name + "=" + c.Value
			}
		}
		if what == "folder query" && cookie == "" {
			t.Fatalf("%s: no folder cookie set", what)
		}
		if what == "folder query" {
			folderCookie = cookie
		}
	}
	folderGet("folder query", in.site+"/reports/q1.txt?sig="+folderTok, "", 200)
	folderGet("folder path", folder.PathURL+"q1.txt", "", 200)
	folderGet("folder path, missing file", folder.PathURL+"nope.txt", "", 404)
	folderGet("folder path, bad token", strings.Replace(folder.PathURL, "/t/"+folderTok[:10], "/t/"+strings.Repeat("A", 10), 1)+"q1.txt", "", 403)
	folderGet("folder cookie", in.site+"/reports/q1.txt", folderCookie, 200)
	folderGet("folder cookie, missing file", in.site+"/reports/nope.txt", folderCookie, 404)

	get := func(what, rawURL, token string) {
		t.Helper()
		req := mustRequest(t, "GET", rawURL)
		req.Header.Set("Referer", referer)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		r, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		r.Body.Close()
		u, _ := url.Parse(rawURL)
		if r.StatusCode != want[u.Path] {
			t.Fatalf("%s: got %d, want %d", what, r.StatusCode, want[u.Path])
		}
	}
	for p, link := range links {
		get("signed "+p, link, "")
		get("bearer "+p, in.site+p, k.Key)
	}
	in.stop()

	// Everything that must not appear: each signature (as sent and
	// percent-encoded), each whole link, the key value and its body.
	secrets := map[string]string{"key value": k.Key, "key body": strings.TrimPrefix(k.Key, "sk_")}
	for p, link := range links {
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		sig := u.Query().Get("sig")
		if sig == "" {
			t.Fatalf("link without sig: %s", link)
		}
		secrets["signature of "+p] = sig
		secrets["escaped signature of "+p] = url.QueryEscape(sig)
		secrets["signed URL of "+p] = link
	}

	secrets["folder token"] = folderTok
	secrets["folder path_url"] = folder.PathURL
	secrets["folder URL"] = folder.URL
	secrets["folder cookie"] = folderCookie

	lines := parseLogLines(in.logs.String())
	for _, l := range lines {
		for what, secret := range secrets {
			if strings.Contains(l.text, secret) {
				t.Errorf("a log line holds the %s: logger %q, level %q, msg %q: %s", what, l.Logger, l.Level, l.Msg,
					clip(redact(l.text, secrets)))
			}
		}
	}

	// The lines for those requests are there: an access line per request
	// with its status, an error line per failed one, and the Referer.
	var referers int
	for p, status := range want {
		var access, errs int
		for _, l := range lines {
			u, _ := url.Parse(l.Request.URI)
			if u == nil || u.Path != p {
				continue
			}
			switch {
			case strings.HasPrefix(l.Logger, "http.log.access") && l.Status == status:
				access++
			case strings.HasPrefix(l.Logger, "http.log.error") && l.Status == status:
				errs++
			}
			if len(l.Request.Headers["Referer"]) > 0 {
				referers++
			}
		}
		wantAccess := 2 // signed and bearer
		if p == "/reports/q1.txt" {
			wantAccess = 4 // and the folder link's query and cookie forms
		}
		if access != wantAccess {
			t.Errorf("%d access-log lines for %s with status %d, want %d", access, p, status, wantAccess)
		}
		if status >= 400 && errs != 2 {
			t.Errorf("%d http.log.error lines for %s with status %d, want 2", errs, p, status)
		}
	}
	// The folder requests are logged too, their token redacted.
	var folderLines int
	for _, l := range lines {
		if strings.HasPrefix(l.Logger, "http.log.access") && (strings.HasPrefix(l.Request.URI, "/_signet/v1/t/REDACTED/reports/") ||
			strings.HasPrefix(l.Request.URI, "/reports/q1.txt?sig=REDACTED")) {
			folderLines++
		}
	}
	// The file link's request, the folder query, and three path forms.
	if folderLines != 5 {
		t.Errorf("%d access-log lines for links with their token redacted, want 5", folderLines)
	}
	if referers == 0 {
		t.Errorf("no log line records the Referer header: the Referer case was not exercised")
	}
	var proxyDebug bool
	for _, l := range lines {
		proxyDebug = proxyDebug || l.Logger == "http.handlers.reverse_proxy" && l.Level == "debug"
	}
	if !proxyDebug {
		t.Errorf("no debug line from http.handlers.reverse_proxy: debug logging is not on")
	}
	if t.Failed() {
		t.Logf("%d log lines searched", len(lines))
	}
}

// redact replaces every secret in s, so a failure message does not print a
// working link.
func redact(s string, secrets map[string]string) string {
	for what, secret := range secrets {
		s = strings.ReplaceAll(s, secret, "<"+what+">")
	}
	return s
}
