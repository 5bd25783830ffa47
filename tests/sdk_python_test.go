package tests

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The Python client library (sdk/python, issue 14) is tested by its own
// unittest suite, which this file runs against a real Signet: the suite's
// server tests read the site, its files and the keys from SIGNET_TEST_*
// variables, and fail (never skip) when they are set. The package is also
// installed with pip into a fresh venv, the programs of
// docs/client-python.md are run with it, and the Flask example serves its
// page from it.

// pyFiles writes the files the Python tests ask for: paths with non-ASCII
// and reserved characters, a video folder, images for the Flask example.
func pyFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"reports/q1.txt":            []byte("Q1 2026: revenue up\n"),
		"docs/café menu.txt":        []byte("café au lait\n"),
		"odd/a+b;c=d [1] 100%.txt":  []byte("reserved characters\n"),
		"movie/index.m3u8":          []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\nseg1.ts\n#EXT-X-ENDLIST\n"),
		"movie/seg1.ts":             bytes.Repeat([]byte{0x47, 1, 2, 3}, 47),
		"movie/hd/seg7.ts":          bytes.Repeat([]byte{0x47, 7, 7, 7}, 47),
		"alice/notes.txt":           []byte("alice notes\n"),
		"revoked/by-url.txt":        []byte("revoked by url\n"),
		"revoked/by-prefix.txt":     []byte("revoked by prefix\n"),
		"images/cat.png":            pyPNG(t, color.RGBA{200, 120, 40, 255}),
		"images/dog photo.png":      pyPNG(t, color.RGBA{40, 90, 200, 255}),
		"images/notes-not-an-image": []byte("skipped by the example\n"),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pyPNG is a small image of one colour with a border.
func pyPNG(t *testing.T, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for y := 0; y < 12; y++ {
		for x := 0; x < 16; x++ {
			if x == 0 || y == 0 || x == 15 || y == 11 {
				img.Set(x, y, color.Black)
			} else {
				img.Set(x, y, c)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pyInstance is a Signet with two sites: the main one (default limits,
// /broken/ proxied to a port nothing listens on, so that signing there
// answers 502), and one with rate_limit key 1 1s for the 429 tests.
func pyInstance(t *testing.T, files string) (in *instance, limitedSite string) {
	t.Helper()
	in = &instance{t: t, bin: caddyBinary(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	dir := t.TempDir()
	sitePort, limitedPort, deadPort := freePort(t), freePort(t), freePort(t)
	in.site = fmt.Sprintf("http://127.0.0.1:%d", sitePort)
	limitedSite = fmt.Sprintf("http://127.0.0.1:%d", limitedPort)
	in.config = filepath.Join(dir, "Caddyfile")
	cfg := fmt.Sprintf(`{
	admin %s
	http_port %d
	persist_config off
	signet {
		store file %s
	}
}
:%d {
	bind 127.0.0.1
	root * %s
	signet
	reverse_proxy /broken/* 127.0.0.1:%d
	file_server
}
:%d {
	bind 127.0.0.1
	root * %s
	signet {
		rate_limit key 1 1s
	}
	file_server
}
`, in.admin, sitePort, filepath.Join(dir, "signet.db"), sitePort, files, deadPort, limitedPort, files)
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return in, limitedSite
}

// pyTool finds a command the Python tests need. Outside CI a missing one
// skips the test; in CI (CI=true) it fails it.
func pyTool(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is needed %s: %v", name, why, err)
		}
		t.Skipf("%s is not installed (%s): %v", name, why, err)
	}
	return p
}

// pyWithFlask returns the first interpreter that imports flask: the one
// SIGNET_FLASK_PYTHON names, python3 on PATH, then Debian's
// /usr/bin/python3 (with python3-flask); "" if none does.
func pyWithFlask() string {
	var candidates []string
	if p := os.Getenv("SIGNET_FLASK_PYTHON"); p != "" {
		candidates = append(candidates, p)
	}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	for _, p := range candidates {
		if err := exec.Command(p, "-c", "import flask").Run(); err == nil {
			return p
		}
	}
	return ""
}

// pyRun runs a command from the repository's root with env added, and
// returns its combined output.
func pyRun(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = ".."
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPythonClient runs the Python library's tests against a running
// Signet, installs it with pip into a fresh venv, runs the programs of
// docs/client-python.md with it, and runs the Flask example.
func TestPythonClient(t *testing.T) {
	python := pyTool(t, "python3", "for the Python client library's tests (sdk/python)")
	files := pyFiles(t)
	in, limitedSite := pyInstance(t, files)
	in.start()
	admin := "http://" + in.admin
	adminKey := createKey(t, admin, map[string]any{"name": "py admin", "scopes": []string{"/"}, "permissions": "admin"})
	offlineKey := createKey(t, admin, map[string]any{"name": "py offline", "scopes": []string{"/"}, "permissions": "sign", "offline_signing": true})
	readKey := createKey(t, admin, map[string]any{"name": "py read", "scopes": []string{"/"}, "permissions": "read"})
	limitedKey := createKey(t, admin, map[string]any{"name": "py limited", "scopes": []string{"/"}, "permissions": "sign"})
	env := []string{
		"SIGNET_TEST_SITE=" + in.site,
		"SIGNET_TEST_FILES=" + files,
		"SIGNET_TEST_ADMIN_KEY=" + adminKey.Key,
		"SIGNET_TEST_OFFLINE_KEY=" + offlineKey.Key,
		"SIGNET_TEST_READ_KEY=" + readKey.Key,
		"SIGNET_TEST_LIMITED_SITE=" + limitedSite,
		"SIGNET_TEST_LIMITED_KEY=" + limitedKey.Key,
	}

	t.Run("unittest", func(t *testing.T) {
		out, err := pyRun(t, env, python, "-m", "unittest", "discover", "-v", "-s", "sdk/python/tests")
		if err != nil {
			t.Fatalf("python3 -m unittest discover -s sdk/python/tests: %v\n%s", err, out)
		}
		// Every test ran: the server tests fail rather than skip with the
		// variables set, and nothing else skips.
		if strings.Contains(out, "no running Signet") || !regexp.MustCompile(`(?m)^OK$`).MatchString(out) {
			t.Fatalf("not every test ran:\n%s", out)
		}
		for _, name := range []string{"test_one_byte_changed", "test_folder_path_form", "test_rate_limited", "test_links",
			"test_vectors", "test_offline", "test_random_file_links"} {
			if !regexp.MustCompile(`(?m)^` + name + ` .* \.\.\. ok$`).MatchString(out) {
				t.Errorf("%s did not pass:\n%s", name, out)
			}
		}
		t.Log(lastLines(out, 3))
	})

	// One venv for the rest: from an interpreter with flask if there is
	// one (its site-packages visible), so that the Flask example runs with
	// the installed package.
	base := python
	if p := pyWithFlask(); p != "" {
		base = p
	}
	venv := filepath.Join(t.TempDir(), "venv")
	venvPython := filepath.Join(venv, "bin", "python")
	installed := t.Run("install", func(t *testing.T) {
		if out, err := pyRun(t, nil, base, "-m", "venv", "--system-site-packages", venv); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s -m venv (Debian: python3-venv): %v\n%s", base, err, out)
			}
			t.Skipf("%s -m venv: %v\n%s", base, err, out)
		}
		// No package index at all: the build backend is in the tree and
		// needs nothing.
		out, err := pyRun(t, []string{"PIP_NO_INDEX=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"}, venvPython, "-m", "pip", "install", "./sdk/python")
		if err != nil {
			t.Fatalf("pip install ./sdk/python: %v\n%s", err, out)
		}
		// Imported from the venv, not from the tree: run it elsewhere.
		cmd := exec.Command(venvPython, "-c", `import signet_client, sys
from signet_client import sign_url, Client, Signer
assert "site-packages" in signet_client.__file__, signet_client.__file__
print(signet_client.__version__, sign_url("https://h.example", "/a.txt", sys.argv[1], 60))`, offlineKey.Key)
		cmd.Dir = t.TempDir()
		got, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(got), "0.1.0 https://h.example/a.txt?sig=") {
			t.Fatalf("import the installed package: %v\n%s", err, got)
		}
	})

	docEnv := []string{"SIGNET_URL=" + in.site, "SIGNET_KEY=" + offlineKey.Key, "SIGNET_ADMIN_KEY=" + adminKey.Key}
	t.Run("docs", func(t *testing.T) {
		if !installed {
			t.Fatal("the package did not install")
		}
		doc, err := os.ReadFile(filepath.Join("..", "docs", "client-python.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "pip install ./sdk/python\n") {
			t.Error("docs/client-python.md does not show pip install ./sdk/python")
		}
		app, err := os.ReadFile(filepath.Join("..", "examples", "flask", "app.py"))
		if err != nil {
			t.Fatal(err)
		}
		programs, included := 0, false
		for i, block := range mdFencedBlocks(string(doc), "python") {
			if strings.HasPrefix(block, "# examples/flask/app.py\n") {
				// The example is in the page as it is in the file.
				if block != string(app) {
					t.Errorf("docs/client-python.md block %d differs from examples/flask/app.py", i+1)
				}
				included = true
				continue
			}
			programs++
			cmd := exec.Command(venvPython, "-")
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), docEnv...)
			cmd.Stdin = strings.NewReader(block)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("docs/client-python.md, python block %d failed: %v\n--- program\n%s--- output\n%s", i+1, err, block, out)
			} else {
				t.Logf("python block %d:\n%s", i+1, out)
			}
		}
		if !included || programs < 8 {
			t.Errorf("docs/client-python.md: %d programs, Flask example included: %v", programs, included)
		}
	})

	t.Run("flask", func(t *testing.T) {
		if !installed {
			t.Fatal("the package did not install")
		}
		if err := exec.Command(venvPython, "-c", "import flask").Run(); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("no python3 with flask (Debian: python3-flask) for examples/flask: %v", err)
			}
			t.Skipf("no python3 with flask: %v", err)
		}
		port := freePort(t)
		var logs bytes.Buffer
		cmd := exec.Command(venvPython, filepath.Join("examples", "flask", "app.py"))
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), append(docEnv, "IMAGES_DIR="+filepath.Join(files, "images"), fmt.Sprintf("PORT=%d", port))...)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		page := fmt.Sprintf("http://127.0.0.1:%d/", port)
		var resp response
		eventually(t, 30*time.Second, "the Flask example answers on "+page, func() bool {
			r, err := httpClient.Get(page)
			if err != nil {
				return false
			}
			r.Body.Close()
			return true
		})
		resp = do(t, http.MethodGet, page, "", nil)
		if resp.status != 200 {
			t.Fatalf("GET %s: %s\n%s", page, resp, logs.String())
		}
		body := string(resp.body)
		srcs := regexp.MustCompile(`<img src="([^"]+)" alt="([^"]+)"`).FindAllStringSubmatch(body, -1)
		downloads := regexp.MustCompile(`<a href="([^"]+)" download>`).FindAllStringSubmatch(body, -1)
		if len(srcs) != 2 || len(downloads) != 2 {
			t.Fatalf("want 2 previews and 2 downloads in the page:\n%s", body)
		}
		for i, want := range []string{"cat.png", "dog photo.png"} {
			img := html.UnescapeString(srcs[i][1])
			if !strings.HasPrefix(img, in.site+"/images/") || html.UnescapeString(srcs[i][2]) != want {
				t.Fatalf("image %d: %q %q", i, img, srcs[i][2])
			}
			if life := pyLifetime(t, img); life != 300 {
				t.Errorf("%s: a link of %d s, want 300 (5 minutes)", img, life)
			}
			data, _ := os.ReadFile(filepath.Join(files, "images", want))
			got := do(t, http.MethodGet, img, "", nil)
			if got.status != 200 || !bytes.Equal(got.body, data) || got.header.Get("Content-Type") != "image/png" {
				t.Fatalf("GET %s: %d %s, %d bytes, want the image (%d bytes)", img, got.status, got.header.Get("Content-Type"), len(got.body), len(data))
			}
			dl := do(t, http.MethodGet, html.UnescapeString(downloads[i][1]), "", nil)
			if dl.status != 200 || !bytes.Equal(dl.body, data) || !strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("download %s: %d %q", want, dl.status, dl.header.Get("Content-Disposition"))
			}
			// Unsigned, or changed, the image is refused.
			expectStatus(t, "unsigned image", do(t, http.MethodGet, strings.SplitN(img, "?", 2)[0], "", nil), 401, "unauthorized")
			expectStatus(t, "changed link", do(t, http.MethodGet, strings.Replace(img, "/images/", "/reports/", 1), "", nil), 403, "")
		}
	})
}

// pyLifetime reads expires_at − issued_at from the token in url's sig.
func pyLifetime(t *testing.T, url string) int64 {
	t.Helper()
	i := strings.Index(url, "sig=")
	if i < 0 {
		t.Fatalf("no sig in %s", url)
	}
	raw, err := base64.RawURLEncoding.DecodeString(url[i+4:])
	if err != nil || len(raw) < 2 || len(raw) < 2+int(raw[1])+16 {
		t.Fatalf("token of %s: %v", url, err)
	}
	n := 2 + int(raw[1])
	expires, issued := binary.BigEndian.Uint64(raw[n:n+8]), binary.BigEndian.Uint64(raw[n+8:n+16])
	return int64(expires) - int64(issued)
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
