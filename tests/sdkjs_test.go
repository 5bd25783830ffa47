package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The JavaScript library (sdk/js, npm package signet-client) is tested by
// its own tests (node --test), which these Go tests run against a running
// Signet, so that `make test` covers it: the vectors, the input checks,
// links it signs offline served and refused by the real server, and its
// API client against every API family. They also install the package as
// an application would, type-check its index.d.ts, run the complete
// programs of docs/client-js.md and the Express example of
// examples/express.

// jsTool returns the path of a tool the JavaScript tests need. Without it
// they skip, except in CI (CI set), where a missing tool is a failure.
func jsTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is needed to test the JavaScript library (sdk/js): %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	if name == "node" {
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			t.Fatalf("node --version: %v", err)
		}
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		if major < 18 {
			t.Fatalf("signet-client needs Node.js 18 or later, found %s", out)
		}
	}
	return p
}

// jsFiles are the files the test sites serve (root relative path → bytes).
var jsFiles = map[string]string{
	"reports/q1.txt":       "Q1 report: revenue up\n",
	"reports/q2.txt":       "Q2 report\n",
	"docs/café menu.pdf":   "%PDF-1.4 café menu\n",
	"docs/a+b (1).txt":     "reserved characters\n",
	"movie/index.m3u8":     "#EXTM3U\n#EXTINF:4,\nseg1.ts\n",
	"movie/seg1.ts":        "segment one\n",
	"movie/hd/seg7.ts":     "segment seven, hd\n",
	"photos/cat.jpg":       "\xff\xd8\xff\xe0 not really a cat\n",
	"photos/2026/dog.jpg":  "\xff\xd8\xff\xe0 not really a dog\n",
	"downloads/report.pdf": "%PDF-1.7 the quarterly report\n",
	"archive/2025/a.txt":   "archived\n",
	"downloads/setup.bin":  allBytes(),
}

// allBytes is every byte value once, in order.
func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

// jsInstance is a Signet for the JavaScript tests: a site with no rate
// limits, one with a tight per-key limit (429s), one with a per-key limit
// of one a second (retries), serving jsFiles; max_lifetime one day.
type jsInstance struct {
	*instance
	root        string
	limitedSite string
	retrySite   string
}

const jsMaxLifetime = 24 * 3600

func newJSInstance(t *testing.T) *jsInstance {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "files")
	for name, content := range jsFiles {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := &instance{t: t, bin: caddyBinary(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	site, limited, retry := freePort(t), freePort(t), freePort(t)
	in.site = fmt.Sprintf("http://127.0.0.1:%d", site)
	in.config = filepath.Join(dir, "Caddyfile")
	siteBlock := func(port int, keyLimit string) string {
		return fmt.Sprintf(`:%d {
	bind 127.0.0.1
	root * %s
	signet {
		rate_limit key %s
		rate_limit client off
	}
	file_server
}
`, port, root, keyLimit)
	}
	cfg := fmt.Sprintf(`{
	admin %s
	http_port %d
	persist_config off
	signet {
		store file %s
		max_lifetime %ds
	}
}
`, in.admin, site, filepath.Join(dir, "signet.db"), jsMaxLifetime) +
		siteBlock(site, "off") + siteBlock(limited, "2 1h") + siteBlock(retry, "1 1s")
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &jsInstance{
		instance:    in,
		root:        root,
		limitedSite: fmt.Sprintf("http://127.0.0.1:%d", limited),
		retrySite:   fmt.Sprintf("http://127.0.0.1:%d", retry),
	}
}

// env starts the instance, creates the keys the JavaScript tests use
// through the admin API and returns the SIGNET_TEST_* variables that
// sdk/js/testlib/helpers.js reads.
func (in *jsInstance) env() []string {
	t := in.t
	t.Helper()
	in.start()
	admin := "http://" + in.admin
	key := func(req map[string]any) string { return createKey(t, admin, req).Key }
	return append(os.Environ(),
		"SIGNET_TEST_SITE="+in.site,
		"SIGNET_TEST_LIMITED_SITE="+in.limitedSite,
		"SIGNET_TEST_RETRY_SITE="+in.retrySite,
		"SIGNET_TEST_ADMIN="+admin,
		"SIGNET_TEST_ROOT="+in.root,
		"SIGNET_TEST_MAX_LIFETIME="+strconv.Itoa(jsMaxLifetime),
		"SIGNET_TEST_OFFLINE_KEY="+key(map[string]any{"name": "js offline", "permissions": "sign", "scopes": []string{"/"}, "offline_signing": true}),
		"SIGNET_TEST_SIGN_KEY="+key(map[string]any{"name": "js sign", "permissions": "sign", "scopes": []string{"/"}}),
		"SIGNET_TEST_ADMIN_KEY="+key(map[string]any{"name": "js admin", "permissions": "admin", "scopes": []string{"/"}}),
		"SIGNET_TEST_READ_KEY="+key(map[string]any{"name": "js read", "permissions": "read", "scopes": []string{"/"}}),
		"SIGNET_TEST_SCOPED_KEY="+key(map[string]any{"name": "js scoped", "permissions": "sign", "scopes": []string{"/reports/"}, "offline_signing": true}),
	)
}

// runCmd runs cmd with a deadline and returns its combined output; it
// fails the test with that output if the command fails.
func runCmd(t *testing.T, within time.Duration, cmd *exec.Cmd) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s (in %s): %v\n%s", strings.Join(cmd.Args, " "), cmd.Dir, err, out.String())
		}
	case <-time.After(within):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s (in %s): still running after %s\n%s", strings.Join(cmd.Args, " "), cmd.Dir, within, out.String())
	}
	return out.String()
}

// TestJSLibrary runs `node --test sdk/js/test/` against a running Signet:
// the vectors, the input checks, offline links served and refused, and the
// API client against every family with its typed errors. With the
// variables set, no test may skip.
func TestJSLibrary(t *testing.T) {
	node := jsTool(t, "node")
	in := newJSInstance(t)
	env := in.env()
	tests, err := filepath.Glob(filepath.Join("..", "sdk", "js", "test", "*.test.js"))
	if err != nil || len(tests) < 5 {
		t.Fatalf("sdk/js/test: want the test files, got %v (%v)", tests, err)
	}
	for i := range tests {
		tests[i] = filepath.Base(tests[i])
	}
	cmd := exec.Command(node, append([]string{"--test", "--test-reporter=tap"}, tests...)...)
	cmd.Dir = filepath.Join("..", "sdk", "js", "test")
	cmd.Env = env
	out := runCmd(t, 5*time.Minute, cmd)
	summary := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^# (tests|pass|fail|skipped|cancelled|todo) (\d+)$`).FindAllStringSubmatch(out, -1) {
		summary[m[1]], _ = strconv.Atoi(m[2])
	}
	if summary["tests"] < 100 || summary["fail"] != 0 || summary["skipped"] != 0 || summary["cancelled"] != 0 || summary["todo"] != 0 {
		t.Fatalf("node --test: %v (want no failure and no skip with a running Signet)\n%s", summary, out)
	}
	t.Logf("node --test sdk/js/test/: %d tests passed", summary["pass"])
}

// jsProject makes an application's project in a temp dir that installs
// signet-client as npm would from a registry: `npm pack` of sdk/js, then
// `npm install` of the tarball. It returns the project directory.
func jsProject(t *testing.T) string {
	t.Helper()
	npm := jsTool(t, "npm")
	dir := t.TempDir()
	sdk, err := filepath.Abs(filepath.Join("..", "sdk", "js"))
	if err != nil {
		t.Fatal(err)
	}
	packed := runCmd(t, 2*time.Minute, npmCmd(npm, dir, "pack", "--json", "--pack-destination", dir, sdk))
	var pack []struct {
		Filename string `json:"filename"`
		Files    []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if i := strings.Index(packed, "["); i < 0 || json.Unmarshal([]byte(packed[i:]), &pack) != nil || len(pack) != 1 {
		t.Fatalf("npm pack --json: %s", packed)
	}
	var names []string
	for _, f := range pack[0].Files {
		names = append(names, f.Path)
	}
	for _, want := range []string{"package.json", "index.d.ts", "src/index.js", "src/sign.js", "src/client.js", "src/errors.js", "src/checks.js", "README.md"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("npm pack: %s is not in the package (files: %v)", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "test") || n == "bench.mjs" {
			t.Errorf("npm pack: %s should not be in the package", n)
		}
	}
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"name": "app", "private": true, "type": "module"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, 2*time.Minute, npmCmd(npm, app, "install", "--no-audit", "--no-fund", filepath.Join(dir, pack[0].Filename)))
	return app
}

func npmCmd(npm, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(npm, args...)
	cmd.Dir = dir
	// No update checks or funding messages; the cache stays the user's.
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	return cmd
}

// jsSmoke is an application's first use of the package: both entry
// points import, and a link signs.
const jsSmoke = `import { signUrl, Client, Signer, SignetError, RateLimitedError } from 'signet-client';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const raw = Buffer.alloc(36);
randomBytes(32).copy(raw);
let c = 0xffffffff;
for (const b of Buffer.concat([Buffer.from('sk_'), raw.subarray(0, 32)])) {
  c ^= b;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
}
raw.writeUInt32BE((c ^ 0xffffffff) >>> 0, 32);
const key = 'sk_' + raw.toString('base64url');
const url = signUrl({ baseUrl: 'https://files.example.com', path: '/a b.pdf', key, expiresIn: 300 });
new Client({ baseUrl: 'https://files.example.com', key });
const pkg = createRequire(import.meta.url)('signet-client/package.json');
console.log(JSON.stringify({ url, keyId: new Signer(key).keyId, errors: new RateLimitedError(429, 'x', 'y') instanceof SignetError, name: pkg.name }));
`

// TestJSPackageInstall installs sdk/js into a fresh project twice, as
// `npm install ./sdk/js` does (a link to the directory) and from its
// `npm pack` tarball (a copy of the published files), and imports it.
func TestJSPackageInstall(t *testing.T) {
	node := jsTool(t, "node")
	npm := jsTool(t, "npm")
	check := func(what, app string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(app, "smoke.mjs"), []byte(jsSmoke), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "smoke.mjs")
		cmd.Dir = app
		out := runCmd(t, time.Minute, cmd)
		var got struct {
			URL    string `json:"url"`
			KeyID  string `json:"keyId"`
			Errors bool   `json:"errors"`
			Name   string `json:"name"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: the smoke program printed %q: %v", what, out, err)
		}
		if !strings.HasPrefix(got.URL, "https://files.example.com/a%20b.pdf?sig=") || !regexp.MustCompile(`^key_[a-z2-7]{16}$`).MatchString(got.KeyID) ||
			!got.Errors || got.Name != "signet-client" {
			t.Fatalf("%s: smoke program: %+v", what, got)
		}
	}

	// npm install ./sdk/js, from the repository's root as the docs say.
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"name": "app", "private": true, "type": "module"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := npmCmd(npm, repo, "install", "--no-audit", "--no-fund", "--prefix", app, "./sdk/js")
	runCmd(t, 2*time.Minute, cmd)
	if _, err := os.Lstat(filepath.Join(app, "node_modules", "signet-client")); err != nil {
		t.Fatalf("npm install ./sdk/js: %v", err)
	}
	check("npm install ./sdk/js", app)

	check("npm pack + npm install", jsProject(t))
}

// jsTypesTest uses the package's types as an application would; tsc
// --strict must accept it, including the lines marked @ts-expect-error
// (each must be an error, or tsc reports the directive as unused).
const jsTypesTest = `import {
  signUrl, signLink, signToken, keyIdOf, canonicalQuery, escapePath, Signer, Client,
  SignetError, BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError, ConflictError,
  RateLimitedError, UnavailableError,
  type SignedLink, type Key, type CreatedKey, type Link, type User, type SignUrlOptions,
} from 'signet-client';

const key: string = process.env.SIGNET_KEY ?? '';
const url: string = signUrl({ baseUrl: 'https://h', path: '/a', key, expiresIn: 300 });
const folder: string = signUrl({ baseUrl: 'https://h', path: '/m/', key, expiresIn: 300, folder: true, pathForm: true, maxUses: 3, clientCidr: '10.0.0.0/8' });
const withQuery: string[] = [
  signUrl({ baseUrl: 'https://h', path: '/a', key, expiresIn: 60, query: 'a=1&b=2' }),
  signUrl({ baseUrl: 'https://h', path: '/a', key, expiresIn: 60, query: { w: 640, tag: ['x', 'y'], hq: true } }),
  signUrl({ baseUrl: 'https://h', path: '/a', key, expiresIn: 60, query: [['a', '1'], ['b', 2]] }),
  signUrl({ baseUrl: 'https://h', path: '/a', key, expiresIn: 60, query: new URLSearchParams('a=1') }),
  signUrl({ baseUrl: 'https://h', path: '/a', key, expiresIn: 60, query: new Map([['a', '1']]) }),
];
const link: SignedLink = signLink({ baseUrl: 'https://h', path: '/a', key, expiresIn: 60, downloadName: 'x.pdf', inline: true, contentType: 'application/pdf', now: new Date(), urlId: new Uint8Array(16) });
const s = new Signer(key);
const id: string = s.keyId;
const opts: SignUrlOptions = { baseUrl: 'https://h', path: '/a', expiresIn: 1 };
const u2: string = s.signUrl(opts);
const l2: string | undefined = s.signLink(opts).path_url;
const tok: string = signToken({ id: 's', key: new Uint8Array(32) }, { expiresAt: 2, issuedAt: 1, id: 'AAAAAAAAAAAAAAAAAAAAAA', policy: { maxUses: 1 } }, { host: 'h', path: '/a', method: 'HEAD' });
const k: string = keyIdOf(key) + canonicalQuery('b=1&a=2', 'sig') + escapePath('/a b');

// @ts-expect-error expiresIn is required
signUrl({ baseUrl: 'https://h', path: '/a', key });
// @ts-expect-error the key is the Signer's
s.signUrl({ baseUrl: 'https://h', path: '/a', expiresIn: 1, key });
// @ts-expect-error a query value is a string, number or boolean
signUrl({ baseUrl: 'https://h', path: '/a', key, expiresIn: 1, query: { a: {} } });
// @ts-expect-error keyId is read-only
s.keyId = 'x';

async function api(): Promise<void> {
  const c = new Client({ baseUrl: 'https://h', key, timeoutMs: 5000, maxRetries: 2, fetch: globalThis.fetch });
  const signed: SignedLink = await c.sign('/a', { expiresIn: 60, folder: true, check: 'index.m3u8', maxUses: 1 });
  const keys: Key[] = (await c.listKeys()).keys;
  const created: CreatedKey = await c.createKey({ name: 'x', permissions: 'sign', scopes: ['/'], offlineSigning: true, expiresAt: new Date() });
  const value: string = created.key;
  const one: Key = await c.updateKey(created.id, { expiresAt: null, offlineSigning: false });
  const gone: Key = (await c.deleteKey(one.id)).deleted;
  const users: User[] = (await c.listUsers()).users;
  const user: User = await c.createUser({ name: 'alice', scopes: ['/alice/'], permissions: 'sign', selfService: true });
  await c.updateUser(user.name, { permissions: 'none' });
  const deletedKeys: string[] = (await c.deleteUser('alice')).deleted_keys;
  const page = await c.listLinks({ path: '/reports/', active: true, limit: 10 });
  const next: string = page.next;
  for await (const l of c.links({ keyId: 'key_aaaaaaaaaaaaaaaa' })) {
    const lk: Link = l;
    const uses: number = lk.uses;
  }
  const moved: Link = await c.updateLink('x', { expiresIn: 60 });
  await c.updateLink('x', { expiresAt: new Date() });
  // @ts-expect-error one of expiresIn and expiresAt
  await c.updateLink('x', { expiresIn: 60, expiresAt: new Date() });
  const revoked: boolean = (await c.revokeLink('x')).revoked;
  const n: number = (await c.revokeLinks({ all: true })).revoked;
  const r = await c.revoke({ keyId: 'key_aaaaaaaaaaaaaaaa' });
  await c.revoke({ url });
  // @ts-expect-error revoke takes one target
  await c.revoke({});
  try {
    await c.getKey('x');
  } catch (e) {
    if (e instanceof RateLimitedError) {
      const after: number = e.retryAfter;
    } else if (e instanceof BadRequestError) {
      const field: string | undefined = e.field;
    } else if (e instanceof SignetError) {
      const status: number = e.status;
      const code: string = e.code;
      const after: number | null = e.retryAfter;
    }
  }
  const all = [UnauthorizedError, ForbiddenError, NotFoundError, ConflictError, UnavailableError];
}
void [url, folder, withQuery, link, id, u2, l2, tok, k, api];
`

// TestJSTypes type-checks index.d.ts with TypeScript (--strict), as an
// application written in TypeScript uses it. TypeScript is installed from
// the npm registry into the test's temp project only: it is no dependency
// of the package.
func TestJSTypes(t *testing.T) {
	node := jsTool(t, "node")
	npm := jsTool(t, "npm")
	app := jsProject(t)
	runCmd(t, 5*time.Minute, npmCmd(npm, app, "install", "--no-audit", "--no-fund", "typescript@5.9.3", "@types/node@20"))
	if err := os.WriteFile(filepath.Join(app, "types.ts"), []byte(jsTypesTest), 0o644); err != nil {
		t.Fatal(err)
	}
	tsc := filepath.Join(app, "node_modules", "typescript", "bin", "tsc")
	cmd := exec.Command(node, tsc, "--noEmit", "--strict", "--noUnusedLocals", "false", "--target", "es2022", "--module", "nodenext",
		"--moduleResolution", "nodenext", "--types", "node", "types.ts")
	cmd.Dir = app
	runCmd(t, 2*time.Minute, cmd)
	// Without @types/node or the DOM library the declarations stand alone.
	standalone := `import { signUrl, Client, type SignedLink } from 'signet-client';
const u: string = signUrl({ baseUrl: 'https://h', path: '/a', key: 'sk_', expiresIn: 1 });
const c = new Client({ baseUrl: 'https://h', key: 'sk_' });
const p: Promise<SignedLink> = c.sign('/a', { expiresIn: 60 });
void [u, p];
`
	tsconfig := `{"compilerOptions": {"noEmit": true, "strict": true, "target": "es2022", "lib": ["es2022"], "module": "nodenext",
  "moduleResolution": "nodenext", "types": []}, "files": ["standalone.ts"]}`
	for name, content := range map[string]string{"standalone.ts": standalone, "tsconfig.standalone.json": tsconfig} {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd = exec.Command(node, tsc, "-p", "tsconfig.standalone.json")
	cmd.Dir = app
	runCmd(t, 2*time.Minute, cmd)
}

// TestJSDocs: docs/client-js.md shows the Express example's files verbatim,
// and every complete program of the page (a js block that starts with an
// import) runs against a running Signet; each line it prints that is a URL
// of the site must then serve its file.
func TestJSDocs(t *testing.T) {
	node := jsTool(t, "node")
	doc, err := os.ReadFile(filepath.Join("..", "docs", "client-js.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, lang string }{{"server.js", "js"}, {"package.json", "json"}} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "express", f.name))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, block := range mdFencedBlocks(string(doc), f.lang) {
			found = found || block == string(b)
		}
		if !found {
			t.Errorf("docs/client-js.md: no %s block is examples/express/%s as it is", f.lang, f.name)
		}
	}

	var programs []string
	for _, block := range mdFencedBlocks(string(doc), "js") {
		if strings.HasPrefix(block, "import ") && !strings.Contains(block, "from 'express'") {
			programs = append(programs, block)
		}
	}
	if len(programs) < 3 {
		t.Fatalf("docs/client-js.md: want its complete programs (js blocks starting with import), found %d", len(programs))
	}
	in := newJSInstance(t)
	env := in.env()
	var offline, admin string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SIGNET_TEST_OFFLINE_KEY="); ok {
			offline = v
		}
		if v, ok := strings.CutPrefix(kv, "SIGNET_TEST_ADMIN_KEY="); ok {
			admin = v
		}
	}
	env = append(env, "SIGNET_BASE_URL="+in.site, "SIGNET_KEY="+offline, "SIGNET_ADMIN_KEY="+admin)
	app := jsProject(t)
	for i, prog := range programs {
		name := fmt.Sprintf("doc-%d.mjs", i+1)
		if err := os.WriteFile(filepath.Join(app, name), []byte(prog), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, name)
		cmd.Dir, cmd.Env = app, env
		out := runCmd(t, time.Minute, cmd)
		urls := 0
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, in.site+"/") {
				continue
			}
			urls++
			resp := do(t, "GET", line, "", nil)
			if resp.status != http.StatusOK {
				t.Errorf("docs/client-js.md program %d printed %s, which answers %s", i+1, line, resp)
			}
		}
		if urls == 0 {
			t.Errorf("docs/client-js.md program %d printed no link of the site:\n%s\n%s", i+1, prog, out)
		}
		t.Logf("docs/client-js.md program %d: ran, %d links printed and served", i+1, urls)
	}
}

// TestJSExpressExample runs examples/express as its README says (npm ci,
// then node server.js with the key in SIGNET_KEY) against a running
// Signet: GET /download/:id redirects to a 5-minute offline-signed link
// that serves the file, and an unknown id is 404. The example is copied
// with sdk/js into a temp tree (its dependency is file:../../sdk/js), so
// that npm ci leaves the repository as it is.
func TestJSExpressExample(t *testing.T) {
	node := jsTool(t, "node")
	npm := jsTool(t, "npm")
	tree := t.TempDir()
	copyTree(t, filepath.Join("..", "examples", "express"), filepath.Join(tree, "examples", "express"), "node_modules")
	copyTree(t, filepath.Join("..", "sdk", "js"), filepath.Join(tree, "sdk", "js"), "node_modules")
	example := filepath.Join(tree, "examples", "express")
	runCmd(t, 5*time.Minute, npmCmd(npm, example, "ci", "--no-audit", "--no-fund"))

	in := newJSInstance(t)
	in.start()
	k := createKey(t, "http://"+in.admin, map[string]any{"name": "express", "permissions": "sign", "scopes": []string{"/downloads/"}, "offline_signing": true})
	port := freePort(t)
	app := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "server.js")
	cmd.Dir = example
	cmd.Env = append(os.Environ(), "SIGNET_KEY="+k.Key, "SIGNET_BASE_URL="+in.site, "PORT="+strconv.Itoa(port), "HOST=127.0.0.1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	eventually(t, 30*time.Second, "the Express example answers on "+app, func() bool {
		resp, err := noRedirect.Get(app + "/download/nothing")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	for id, path := range map[string]string{"q1-2026": "/downloads/report.pdf", "installer": "/downloads/setup.bin"} {
		before := time.Now().Unix()
		resp, err := noRedirect.Get(app + "/download/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, in.site+path+"?sig=") {
			t.Fatalf("GET /download/%s: %d, Location %q; want 302 to %s%s?sig=…\n%s", id, resp.StatusCode, loc, in.site, path, logs.String())
		}
		// The link is the key's own (key-signed) and lives 5 minutes.
		tok := loc[strings.Index(loc, "?sig=")+5:]
		raw, err := decodeTokenForTest(tok)
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		if raw.secretID != k.ID || raw.keyID != k.ID || raw.expiresAt-raw.issuedAt != 300 || raw.issuedAt < before-1 {
			t.Fatalf("%s: token %+v, want signed by %s for 300 s", loc, raw, k.ID)
		}
		got := do(t, "GET", loc, "", nil)
		if got.status != http.StatusOK || string(got.body) != jsFiles[strings.TrimPrefix(path, "/")] {
			t.Fatalf("following %s: %s", loc, got)
		}
		if cd := got.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
			t.Errorf("following %s: Content-Disposition %q, want the download name", loc, cd)
		}
	}
	resp, err := noRedirect.Get(app + "/download/no-such-file")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" {
		t.Fatalf("GET /download/no-such-file: %d %s, want 404", resp.StatusCode, body)
	}
}

// tokenClaims are the fields of a version-1 token the tests look at.
type tokenClaims struct {
	secretID, keyID     string
	expiresAt, issuedAt int64
}

// decodeTokenForTest reads a token's secret id, times and key id
// (docs/signed-urls.md, "Token format").
func decodeTokenForTest(tok string) (tokenClaims, error) {
	var c tokenClaims
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || b[0] != 1 {
		return c, fmt.Errorf("not a version-1 token: %v", err)
	}
	n := int(b[1])
	if len(b) < 2+n+16+16+1 {
		return c, fmt.Errorf("token too short")
	}
	c.secretID = string(b[2 : 2+n])
	at := 2 + n
	c.expiresAt = int64(binary.BigEndian.Uint64(b[at:]))
	c.issuedAt = int64(binary.BigEndian.Uint64(b[at+8:]))
	at += 16 + 16
	m := int(b[at])
	if len(b) < at+1+m {
		return c, fmt.Errorf("token too short")
	}
	c.keyID = string(b[at+1 : at+1+m])
	return c, nil
}

// copyTree copies the regular files under src to dst, skipping the
// directories named in skip.
func copyTree(t *testing.T, src, dst string, skip ...string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		for _, s := range skip {
			if fi.IsDir() && fi.Name() == s {
				return filepath.SkipDir
			}
		}
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
