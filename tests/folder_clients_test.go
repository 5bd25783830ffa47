package tests

// Folder links with real clients: ffmpeg following an HLS manifest's
// relative segment URLs, headless Chromium loading a page's relative
// subresources, and a cookie-jar HTTP client walking a file_server browse
// listing. Each client is given only the link (url or path_url form) and
// must reach every file under the folder, and nothing outside it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// plainSite is the second, unguarded site some tests compare against.
const plainSite = "http://localhost:9081"

// folderLink is the signing endpoint's answer for a folder link, and its token.
type folderLink struct {
	signed
	token string
}

// signFolder issues a folder link for folder (e.g. "/movie", no trailing
// slash) and checks the shape of the answer: url is {site}{folder}/?sig=T,
// path_url is {site}/_signet/v1/t/T{folder}/, path is {folder}/.
func signFolder(t testing.TB, key, folder string, expiresIn int, check string) folderLink {
	t.Helper()
	body := map[string]any{"expires_in": expiresIn, "folder": true}
	if check != "" {
		body["check"] = check
	}
	before := time.Now()
	resp := do(t, "POST", signPrefix+folder+"/signed-url", key, body)
	if resp.status != 200 {
		t.Fatalf("sign folder %s: %s", folder, resp)
	}
	var l folderLink
	if err := json.Unmarshal(resp.body, &l); err != nil {
		t.Fatalf("folder link response %s: %v", resp.body, err)
	}
	u, err := url.Parse(l.URL)
	if err != nil {
		t.Fatalf("folder link url %q: %v", l.URL, err)
	}
	l.token = u.Query().Get("sig")
	if l.token == "" || u.Scheme+"://"+u.Host != site || u.Path != folder+"/" || u.RawQuery != "sig="+l.token {
		t.Fatalf("folder link url %q, want %s%s/?sig=TOKEN", l.URL, site, folder)
	}
	if want := site + "/_signet/v1/t/" + l.token + folder + "/"; l.PathURL != want {
		t.Fatalf("folder link path_url %q, want %q", l.PathURL, want)
	}
	if l.Path != folder+"/" || !l.Folder || l.ID == "" {
		t.Fatalf("folder link %s: want path %s/, folder true and an id", resp.body, folder)
	}
	if d := l.ExpiresAt.Sub(before); d < time.Duration(expiresIn-1)*time.Second || d > time.Duration(expiresIn+1)*time.Second {
		t.Fatalf("folder link expires_at %s is not %ds from now", l.ExpiresAt, expiresIn)
	}
	return l
}

// withFile returns the url form of l for the file rel under its folder,
// keeping the query (the sig) and adding extra, if any.
func (l folderLink) withFile(t testing.TB, rel, extra string) string {
	t.Helper()
	u, err := url.Parse(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path += rel
	if extra != "" {
		u.RawQuery += "&" + extra
	}
	return u.String()
}

// needTool finds a client program: missing is a failure on CI, a skip
// elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := osexec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI is set, so this test must run): %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	return p
}

// runFor runs a program with a deadline and returns its combined output,
// how long it ran and its error.
func runFor(within time.Duration, name string, args ...string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := osexec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if ctx.Err() != nil {
		err = fmt.Errorf("%v (killed after %s)", err, within)
	}
	return string(out), d, err
}

// countFrames counts the video frames of a file or URL with ffprobe.
func countFrames(t *testing.T, ffprobe, input string) int {
	t.Helper()
	out, _, err := runFor(15*time.Second, ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", input)
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", input, err, out)
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		t.Fatalf("ffprobe %s: no frame count in %q", input, out)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(f[0], ","))
	if err != nil {
		t.Fatalf("ffprobe %s: frame count %q: %v", input, out, err)
	}
	return n
}

// wantStatus GETs u without credentials of its own and reports unless
// the answer has the status (bodies may be binary: only their size is
// shown).
func wantStatus(t testing.TB, what, u string, status int) {
	t.Helper()
	if r := do(t, "GET", u, "", nil); r.status != status {
		t.Errorf("%s: %d %s (%d bytes), want %d", what, r.status, r.errorCode(), len(r.body), status)
	}
}

func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFolderLinkHLSWithFFmpeg: ffmpeg plays a whole HLS stream from a
// folder link, in both forms: through path_url the manifest's relative
// segment URLs carry the token in their path; through the url form the
// sig is only on the manifest and the cookie Signet sets carries the
// segments. Without a link, or with a file link for the manifest only,
// ffmpeg gets no stream.
func TestFolderLinkHLSWithFFmpeg(t *testing.T) {
	ffmpeg := needTool(t, "ffmpeg")
	ffprobe := needTool(t, "ffprobe")
	dir := t.TempDir()
	movie := filepath.Join(dir, "movie")
	if err := os.MkdirAll(movie, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runFor(30*time.Second, ffmpeg, "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=duration=6:size=160x120:rate=10", "-g", "10",
		"-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(movie, "seg%d.ts"), filepath.Join(movie, "index.m3u8")); err != nil {
		t.Fatalf("generating HLS: %v\n%s", err, out)
	}
	segs, _ := filepath.Glob(filepath.Join(movie, "seg*.ts"))
	if len(segs) < 4 {
		t.Fatalf("ffmpeg wrote %d segments, want several: %v", len(segs), segs)
	}
	manifest, err := os.ReadFile(filepath.Join(movie, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(manifest, []byte("\nseg1.ts\n")) || bytes.Contains(manifest, []byte("/seg1.ts")) {
		t.Fatalf("the manifest does not reference its segments relatively:\n%s", manifest)
	}
	source := countFrames(t, ffprobe, filepath.Join(movie, "index.m3u8"))
	if source != 60 {
		t.Fatalf("source has %d frames, want 60 (6 s at 10 fps)", source)
	}
	seg0, err := os.ReadFile(filepath.Join(movie, "seg0.ts"))
	if err != nil {
		t.Fatal(err)
	}
	// A sibling whose name extends the folder's: never covered.
	writeFile(t, filepath.Join(dir, "movie2", "seg0.ts"), seg0)

	startCaddy(t, testGlobal+`http://localhost:9080 {
	root * `+dir+`
	signet
	file_server
}
http://localhost:9081 {
	root * `+dir+`
	file_server
}
`)
	k := signer(t, nil)
	link := signFolder(t, k.Key, "/movie", 3600, "index.m3u8")

	// fetch has ffmpeg copy the stream at in into a file and returns the
	// file's frame count (-1 if ffmpeg failed), ffmpeg's output and how
	// long it took.
	n := 0
	fetch := func(in string) (int, string, time.Duration) {
		n++
		out := filepath.Join(t.TempDir(), fmt.Sprintf("out%d.ts", n))
		log, d, err := runFor(20*time.Second, ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
			"-i", in, "-c", "copy", "-y", out)
		if err != nil {
			return -1, log + err.Error(), d
		}
		return countFrames(t, ffprobe, out), log, d
	}

	// (a) path_url: relative segment URLs keep the token in the path.
	// (b) url form: sig on the manifest only; segments ride on the cookie.
	// Each runs three times (a fresh ffmpeg each, so a fresh cookie jar);
	// the log gives the fastest run next to a plain file_server's.
	var timings []string
	for _, c := range []struct{ what, url string }{
		{"Signet path_url", link.PathURL + "index.m3u8"},
		{"Signet url form + cookie", link.withFile(t, "index.m3u8", "")},
		{"plain file_server", plainSite + "/movie/index.m3u8"},
	} {
		var best time.Duration
		for range 3 {
			got, log, d := fetch(c.url)
			if got != source {
				t.Fatalf("ffmpeg via %s: %d frames, want %d\n%s", c.what, got, source, log)
			}
			if best == 0 || d < best {
				best = d
			}
		}
		timings = append(timings, fmt.Sprintf("%s %s", c.what, best.Round(time.Millisecond)))
	}
	t.Logf("ffmpeg -c copy of %d segments (fastest of 3): %s", len(segs), strings.Join(timings, ", "))

	// The url form's token also works on a segment directly, with other
	// query parameters; the manifest's answer sets the folder cookie.
	resp := do(t, "GET", link.withFile(t, "seg1.ts", "_=123&player=test"), "", nil)
	if want, _ := os.ReadFile(filepath.Join(movie, "seg1.ts")); resp.status != 200 || !bytes.Equal(resp.body, want) {
		t.Errorf("segment with sig and other parameters: %d, %d bytes, want 200 and %d bytes", resp.status, len(resp.body), len(want))
	}
	resp = do(t, "GET", link.withFile(t, "index.m3u8", ""), "", nil)
	if resp.status != 200 || !bytes.Equal(resp.body, manifest) {
		t.Errorf("manifest via url form: %s", resp)
	}
	folderCookie, _ := tokenCookie(t, resp.header, link.token)
	if folderCookie == nil || folderCookie.Path != "/movie/" {
		t.Errorf("manifest via url form: Set-Cookie %q, want a cookie holding the token with Path=/movie/", resp.header.Values("Set-Cookie"))
	}

	// Never the sibling /movie2/, in any form.
	wantStatus(t, "sibling folder, url form", site+"/movie2/seg0.ts?sig="+link.token, 403)
	wantStatus(t, "sibling folder, path_url form", site+"/_signet/v1/t/"+link.token+"/movie2/seg0.ts", 403)
	if folderCookie != nil {
		req := mustRequest(t, "GET", site+"/movie2/seg0.ts")
		req.AddCookie(&http.Cookie{Name: folderCookie.Name, Value: folderCookie.Value})
		r, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Errorf("sibling folder with the /movie/ cookie sent anyway: 200, want a refusal")
		}
	}

	// (c) No link: the manifest is refused and ffmpeg gets nothing.
	expectStatus(t, "manifest without a link", do(t, "GET", site+"/movie/index.m3u8", "", nil), 401, "unauthorized")
	if got, log, _ := fetch(site + "/movie/index.m3u8"); got != -1 {
		t.Errorf("ffmpeg without a link: %d frames and success, want failure\n%s", got, log)
	}

	// (d) A file link for the manifest grants the manifest only.
	file := signURL(t, k.Key, "/movie/index.m3u8", 3600)
	resp = do(t, "GET", file.URL, "", nil)
	if resp.status != 200 || !bytes.Equal(resp.body, manifest) {
		t.Errorf("manifest via a file link: %s", resp)
	}
	if v := resp.header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("a file link set a cookie: %q", v)
	}
	if got, log, _ := fetch(file.URL); got != -1 {
		t.Errorf("ffmpeg with a file link for the manifest: %d frames and success, want failure (segments refused)\n%s", got, log)
	}
	wantStatus(t, "segment without credentials", site+"/movie/seg0.ts", 401)
	fileTok, _ := url.Parse(file.URL)
	wantStatus(t, "segment with the file link's sig", site+"/movie/seg0.ts?"+fileTok.RawQuery, 403)
	wantStatus(t, "file link's token in the path form", site+"/_signet/v1/t/"+fileTok.Query().Get("sig")+"/movie/index.m3u8", 403)
}

// chromiumPage is the page every Chromium test loads: a relative image,
// stylesheet and fetch of a file in a subfolder. Once all have settled it
// writes what loaded into <pre id=result> and sets the title to the
// success marker (built at run time, so the page's source never holds it)
// only if everything did.
const chromiumPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>pending</title>
<link rel="stylesheet" href="style.css">
</head><body>
<img id="img" src="img/a.png" alt="">
<pre id="result">pending</pre>
<script>
(function () {
  var img = document.getElementById('img');
  var imgDone = new Promise(function (res) {
    if (img.complete) { res(img.naturalWidth > 0 ? 'load' : 'error'); return; }
    img.onload = function () { res('load'); };
    img.onerror = function () { res('error'); };
  });
  var loaded = new Promise(function (res) {
    if (document.readyState === 'complete') { res(); } else { window.addEventListener('load', function () { res(); }); }
  });
  var fetched = fetch('data/info.json').then(function (r) {
    return r.text().then(function (t) { return {status: r.status, body: t}; });
  }, function (e) { return {status: 0, body: String(e)}; });
  Promise.all([imgDone, fetched, loaded]).then(function (v) {
    var r = {img: v[0], width: img.naturalWidth, fetch: v[1].status, json: v[1].body.trim(),
      bg: getComputedStyle(document.body).backgroundColor};
    var ok = r.img === 'load' && r.width === 3 && r.fetch === 200 && r.json === INFO && r.bg === 'rgb(1, 2, 3)';
    document.getElementById('result').textContent = JSON.stringify(r);
    document.title = ok ? ['FOLDER', 'LINK', 'OK'].join('-') : 'failed';
  });
})();
</script>
</body></html>
`

const (
	chromiumMarker = "<title>FOLDER-LINK-OK</title>"
	chromiumInfo   = `{"folder":"site","ok":true}`
)

// tinyPNG is a 3×2 PNG.
func tinyPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for x := range 3 {
		for y := range 2 {
			img.Set(x, y, color.NRGBA{R: uint8(80 * x), G: uint8(100 * y), B: 200, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeChromiumSite writes the page and its resources under dir/name/.
func writeChromiumSite(t testing.TB, dir, name string, pngData []byte) {
	page := strings.Replace(chromiumPage, "INFO", strconv.Quote(chromiumInfo), 1)
	writeFile(t, filepath.Join(dir, name, "index.html"), []byte(page))
	writeFile(t, filepath.Join(dir, name, "style.css"), []byte("body { background-color: rgb(1, 2, 3); }\n"))
	writeFile(t, filepath.Join(dir, name, "img", "a.png"), pngData)
	writeFile(t, filepath.Join(dir, name, "data", "info.json"), []byte(chromiumInfo+"\n"))
}

var resultRE = regexp.MustCompile(`(?s)<title>(.*?)</title>.*?<pre id="result">(.*?)</pre>`)

// TestFolderLinkInChromium: headless Chromium opens a page through a
// folder link, in both forms, and every relative subresource (image,
// stylesheet, fetch) loads; the same token opens no page outside the
// folder.
func TestFolderLinkInChromium(t *testing.T) {
	chromium := needTool(t, "chromium")
	dir := t.TempDir()
	pngData := tinyPNG(t)
	writeChromiumSite(t, dir, "site", pngData)
	writeChromiumSite(t, dir, "other", pngData)
	startCaddy(t, testGlobal+`http://localhost:9080 {
	root * `+dir+`
	signet
	file_server
}
`)
	link := signFolder(t, signer(t, nil).Key, "/site", 600, "index.html")

	// Each run gets a fresh profile, so no cookie carries over.
	dump := func(what, u string) string {
		t.Helper()
		out, d, err := runFor(20*time.Second, chromium, "--headless", "--no-sandbox", "--disable-gpu",
			"--no-first-run", "--disable-extensions", "--user-data-dir="+t.TempDir(),
			"--virtual-time-budget=10000", "--dump-dom", u)
		if err != nil {
			t.Fatalf("chromium %s: %v\n%s", what, err, out)
		}
		t.Logf("chromium %s: %s", what, d)
		return out
	}
	for _, c := range []struct{ what, url string }{
		{"path_url", link.PathURL},
		{"url form (cookie)", link.URL},
	} {
		dom := dump(c.what, c.url)
		m := resultRE.FindStringSubmatch(dom)
		if m == nil {
			t.Errorf("%s: the page did not render:\n%s", c.what, dom)
			continue
		}
		if !strings.Contains(dom, chromiumMarker) {
			t.Errorf("%s: not every resource loaded: title %q, result %s", c.what, m[1], html.UnescapeString(m[2]))
		}
	}
	// Proof the resources needed the link: none is public.
	for _, p := range []string{"/site/index.html", "/site/style.css", "/site/img/a.png", "/site/data/info.json"} {
		expectStatus(t, p+" without credentials", do(t, "GET", site+p, "", nil), 401, "unauthorized")
	}
	resp := do(t, "GET", link.PathURL+"img/a.png", "", nil)
	if resp.status != 200 || !bytes.Equal(resp.body, pngData) {
		t.Errorf("image via path_url: %d, %d bytes", resp.status, len(resp.body))
	}

	// (c) The /site/ token opens nothing under /other/.
	for _, c := range []struct{ what, url string }{
		{"other folder, url form", site + "/other/index.html?sig=" + link.token},
		{"other folder, path_url form", site + "/_signet/v1/t/" + link.token + "/other/index.html"},
	} {
		dom := dump(c.what, c.url)
		if strings.Contains(dom, chromiumMarker) || strings.Contains(dom, `<pre id="result">`) {
			t.Errorf("%s: the page outside the folder loaded:\n%s", c.what, dom)
		}
		if resp := do(t, "GET", c.url, "", nil); resp.status != 403 {
			t.Errorf("%s: %s, want 403", c.what, resp)
		}
	}
}

// originLog records what an origin behind Signet was asked.
type originLog struct {
	mu   sync.Mutex
	reqs []string // "METHOD PATH?QUERY | Cookie: …"
}

func (o *originLog) add(r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := r.Method + " " + r.URL.RequestURI() + " | Cookie: " + strings.Join(r.Header.Values("Cookie"), "; ")
	if a := r.Header.Get("Authorization"); a != "" {
		s += " | Authorization: " + a
	}
	o.reqs = append(o.reqs, s)
}

func (o *originLog) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.reqs...)
}

// tokenCookie returns the cookie (parsed and as sent) among h's Set-Cookie
// lines whose value is the token tok, or nil.
func tokenCookie(t testing.TB, h http.Header, tok string) (*http.Cookie, string) {
	t.Helper()
	var found *http.Cookie
	var raw string
	for _, v := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(v)
		if err != nil || c.Value != tok {
			continue
		}
		if found != nil {
			t.Errorf("more than one cookie holds the token: %q", h.Values("Set-Cookie"))
		}
		found, raw = c, v
	}
	return found, raw
}

var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

// relativeHrefs returns the listing's links to its entries ("./name"),
// deduplicated and sorted.
func relativeHrefs(listing []byte) []string {
	seen := map[string]bool{}
	for _, m := range hrefRE.FindAllSubmatch(listing, -1) {
		if h := html.UnescapeString(string(m[1])); strings.HasPrefix(h, "./") {
			seen[h] = true
		}
	}
	var hs []string
	for h := range seen {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	return hs
}

// TestFolderLinkBrowse: a cookie-jar client opens a file_server browse
// listing through a folder link's url form and follows every relative link
// with the cookie alone; the path_url form's listing links resolve with
// the token in their path. The origin (a recorder in front of file_server
// browse) never sees the folder cookie, the sig or the path form, while
// the client's own cookies still reach it.
func TestFolderLinkBrowse(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.txt":      "alpha\n",
		"b file.txt": "bravo with a space\n",
		"sub/c.txt":  "charlie in sub\n",
	}
	for name, body := range files {
		writeFile(t, filepath.Join(dir, "folder", name), []byte(body))
	}
	writeFile(t, filepath.Join(dir, "folder2", "secret.txt"), []byte("not in the folder\n"))

	// Signet → reverse_proxy → recorder → file_server browse (9081).
	var origin originLog
	browse, _ := url.Parse(plainSite)
	recorder := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		origin.add(pr.In)
		pr.SetURL(browse)
	}})
	defer recorder.Close()
	startCaddy(t, testGlobal+`http://localhost:9080 {
	signet
	reverse_proxy `+recorder.Listener.Addr().String()+`
}
http://localhost:9081 {
	root * `+dir+`
	file_server browse
}
`)
	const lifetime = 600
	link := signFolder(t, signer(t, nil).Key, "/folder", lifetime, "")

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	siteURL, _ := url.Parse(site + "/")
	jar.SetCookies(siteURL, []*http.Cookie{{Name: "theme", Value: "dark", Path: "/"}})
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(c *http.Client, u string) (*http.Response, []byte) {
		t.Helper()
		r, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		return r, b
	}

	// The url form: a listing and the folder cookie.
	r, listing := get(client, link.URL)
	if r.StatusCode != 200 {
		t.Fatalf("listing via url form: %d %s", r.StatusCode, listing)
	}
	sc, raw := tokenCookie(t, r.Header, link.token)
	if sc == nil {
		t.Fatalf("listing via url form: no cookie holding the token in Set-Cookie %q", r.Header.Values("Set-Cookie"))
	}
	if n := len(r.Header.Values("Set-Cookie")); n != 1 {
		t.Errorf("listing via url form: %d Set-Cookie lines, want the folder cookie only: %q", n, r.Header.Values("Set-Cookie"))
	}
	untilExpiry := int(time.Until(link.ExpiresAt)/time.Second) + 1
	switch {
	case sc.Path != "/folder/":
		t.Errorf("cookie Path %q, want /folder/: %s", sc.Path, raw)
	case !sc.HttpOnly:
		t.Errorf("cookie not HttpOnly: %s", raw)
	case sc.SameSite != http.SameSiteLaxMode || !strings.Contains(raw, "SameSite=Lax"):
		t.Errorf("cookie not SameSite=Lax: %s", raw)
	case sc.MaxAge <= 0 || sc.MaxAge > lifetime || sc.MaxAge > untilExpiry:
		t.Errorf("cookie Max-Age %d, want 1..%d (the link's lifetime): %s", sc.MaxAge, min(lifetime, untilExpiry), raw)
	case sc.Secure:
		t.Errorf("cookie Secure on plain http: %s", raw)
	case sc.Domain != "":
		t.Errorf("cookie has a Domain (%q); it should stay host-only: %s", sc.Domain, raw)
	}

	// Every entry, with the jar alone (the resolved links carry no sig).
	want := []string{"./a.txt", "./b%20file.txt", "./sub/"}
	if got := relativeHrefs(listing); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("listing links %q, want %q\n%s", got, want, listing)
	}
	base := r.Request.URL
	for _, h := range want {
		ref, _ := url.Parse(h)
		u := base.ResolveReference(ref)
		if u.RawQuery != "" {
			t.Fatalf("resolved %s to %s, which carries a query", h, u)
		}
		r, body := get(client, u.String())
		if r.StatusCode != 200 {
			t.Errorf("GET %s with the cookie: %d %s", u, r.StatusCode, body)
			continue
		}
		if name, _ := url.PathUnescape(strings.TrimPrefix(h, "./")); !strings.HasSuffix(name, "/") && string(body) != files[name] {
			t.Errorf("GET %s with the cookie: %q, want %q", u, body, files[name])
		}
		if h == "./sub/" {
			if got := relativeHrefs(body); len(got) != 1 || got[0] != "./c.txt" {
				t.Errorf("sub listing links %q, want [./c.txt]", got)
			}
			r, body = get(client, u.String()+"c.txt")
			if r.StatusCode != 200 || string(body) != files["sub/c.txt"] {
				t.Errorf("GET sub/c.txt with the cookie: %d %q", r.StatusCode, body)
			}
		}
	}
	// Sorting adds a query of its own; the cookie still grants it.
	r, body := get(client, site+"/folder/?sort=size&order=desc")
	if r.StatusCode != 200 || len(relativeHrefs(body)) != 3 {
		t.Errorf("sorted listing with the cookie: %d", r.StatusCode)
	}
	// The jar keeps the cookie to /folder/; and the server refuses it
	// outside /folder/ even when a client sends it there.
	r, body = get(client, site+"/folder2/secret.txt")
	if r.StatusCode != 401 {
		t.Errorf("sibling folder through the jar: %d %s, want 401", r.StatusCode, body)
	}
	req := mustRequest(t, "GET", site+"/folder2/secret.txt")
	req.AddCookie(&http.Cookie{Name: sc.Name, Value: sc.Value})
	if r, err := httpClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Errorf("sibling folder with the /folder/ cookie sent anyway: 200, want a refusal")
		}
	}

	// The path_url form: the listing's links resolve under path_url.
	plainClient := &http.Client{Timeout: 10 * time.Second} // no jar
	r, listing = get(plainClient, link.PathURL)
	if r.StatusCode != 200 {
		t.Fatalf("listing via path_url: %d %s", r.StatusCode, listing)
	}
	if v := r.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("path_url answer set a cookie: %q", v)
	}
	if got := relativeHrefs(listing); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("path_url listing links %q, want %q", got, want)
	}
	pbase, _ := url.Parse(link.PathURL)
	for _, h := range []string{"./b%20file.txt", "./sub/c.txt", "./sub/", "?sort=name&order=desc"} {
		ref, _ := url.Parse(h)
		u := pbase.ResolveReference(ref)
		if !strings.HasPrefix(u.String(), link.PathURL) {
			t.Fatalf("%s resolved to %s, outside path_url", h, u)
		}
		r, body := get(plainClient, u.String())
		if r.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", u, r.StatusCode, body)
			continue
		}
		if name, _ := url.PathUnescape(strings.TrimPrefix(h, "./")); files[name] != "" && string(body) != files[name] {
			t.Errorf("GET %s: %q, want %q", u, body, files[name])
		}
	}
	expectStatus(t, "sibling via path_url", do(t, "GET", site+"/_signet/v1/t/"+link.token+"/folder2/secret.txt", "", nil), 403, "")

	// What the origin saw.
	seen := origin.all()
	themed := 0
	for _, s := range seen {
		if strings.Contains(s, sc.Name) || strings.Contains(s, "/_signet/") || strings.Contains(s, "sig=") || strings.Contains(s, link.token) ||
			strings.Contains(s, "Authorization") {
			t.Errorf("the origin saw a credential: %s", s)
		}
		if strings.Contains(s, "theme=dark") {
			themed++
		}
	}
	if themed == 0 {
		t.Errorf("the client's own cookie theme=dark never reached the origin: %q", seen)
	}
	if len(seen) < 8 {
		t.Errorf("the origin saw only %d requests: %q", len(seen), seen)
	}
}
