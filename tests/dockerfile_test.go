package tests

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// No Docker engine runs the tests, so these check what `docker build -f
// xcaddy.Dockerfile .` depends on: the images match go.mod's Caddy, the
// xcaddy module path is this module, every file the plugin needs is copied
// to where the replace points, and the final image is the official one
// with only its binary replaced. The README's Docker steps are then run
// with the built binary in place of the container.

// goModInfo returns the module path and the Caddy version of ../go.mod.
func goModInfo(t *testing.T) (module, caddyVersion string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" {
			module = f[1]
		}
		if len(f) > 0 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) >= 2 && f[0] == "github.com/caddyserver/caddy/v2" {
			caddyVersion = f[1]
		}
	}
	if module == "" || caddyVersion == "" {
		t.Fatalf("go.mod: module %q, caddy %q", module, caddyVersion)
	}
	return module, caddyVersion
}

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	line int
	cmd  string   // upper case: FROM, COPY, …
	args []string // split on white space
}

func (d dockerInstr) String() string {
	return fmt.Sprintf("line %d: %s %s", d.line, d.cmd, strings.Join(d.args, " "))
}

func parseDockerfile(t *testing.T, text string) []dockerInstr {
	t.Helper()
	var out []dockerInstr
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		f := strings.Fields(cur.String())
		cur.Reset()
		if len(f) == 0 {
			continue
		}
		out = append(out, dockerInstr{line: start, cmd: strings.ToUpper(f[0]), args: f[1:]})
	}
	if cur.Len() > 0 {
		t.Fatal("xcaddy.Dockerfile ends in a continuation line")
	}
	return out
}

// TestDockerfile checks xcaddy.Dockerfile against the repository.
func TestDockerfile(t *testing.T) {
	module, caddyVersion := goModInfo(t)
	version := strings.TrimPrefix(caddyVersion, "v")
	raw, err := os.ReadFile(filepath.Join("..", "xcaddy.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	instrs := parseDockerfile(t, string(raw))

	// ARG CADDY_VERSION before the first FROM, equal to go.mod's Caddy.
	args := map[string]string{}
	var stages [][]dockerInstr
	for _, in := range instrs {
		switch {
		case in.cmd == "FROM":
			stages = append(stages, []dockerInstr{in})
		case len(stages) == 0 && in.cmd == "ARG":
			for _, a := range in.args {
				k, v, _ := strings.Cut(a, "=")
				args[k] = v
			}
		case len(stages) == 0:
			t.Fatalf("%s: only ARG may come before FROM", in)
		default:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if args["CADDY_VERSION"] != version {
		t.Errorf("ARG CADDY_VERSION=%s, but go.mod requires Caddy %s", args["CADDY_VERSION"], caddyVersion)
	}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return args[k] })
	}
	if len(stages) != 2 {
		t.Fatalf("want two stages (builder, final), got %d", len(stages))
	}

	// Stage 1: the official builder image, named builder.
	builder := stages[0]
	if f := builder[0].args; len(f) != 3 || expand(f[0]) != "caddy:"+version+"-builder" || !strings.EqualFold(f[1], "AS") || f[2] != "builder" {
		t.Errorf("%s: want FROM caddy:${CADDY_VERSION}-builder AS builder (caddy:%s-builder)", builder[0], version)
	}
	workdir := "/"
	type copied struct{ src, dst string } // repo path → image path (directories end in /)
	var copies []copied
	var xcaddy []string
	for _, in := range builder[1:] {
		switch in.cmd {
		case "WORKDIR":
			workdir = path.Join(workdir, expand(in.args[0]))
		case "COPY", "ADD":
			if in.cmd == "ADD" || len(in.args) < 2 || strings.HasPrefix(in.args[0], "--") {
				t.Errorf("%s: use plain COPY <src>... <dest> in the builder", in)
				continue
			}
			srcs, dst := in.args[:len(in.args)-1], path.Join(workdir, in.args[len(in.args)-1])
			dstDir := len(srcs) > 1 || strings.HasSuffix(in.args[len(in.args)-1], "/")
			for _, src := range srcs {
				if strings.ContainsAny(src, "*?[") || path.IsAbs(src) || strings.HasPrefix(path.Clean(src), "..") {
					t.Errorf("%s: %q: name a path inside the repository, without wildcards", in, src)
					continue
				}
				fi, err := os.Stat(filepath.Join("..", filepath.FromSlash(src)))
				if err != nil {
					t.Errorf("%s: COPY source %q does not exist in the repository", in, src)
					continue
				}
				switch {
				case fi.IsDir():
					copies = append(copies, copied{path.Clean(src) + "/", dst + "/"})
				case dstDir:
					copies = append(copies, copied{path.Clean(src), path.Join(dst, path.Base(src))})
				default:
					copies = append(copies, copied{path.Clean(src), dst})
				}
			}
		case "RUN":
			if len(in.args) >= 2 && in.args[0] == "xcaddy" && in.args[1] == "build" {
				if xcaddy != nil {
					t.Errorf("%s: xcaddy build runs twice", in)
				}
				xcaddy = in.args[2:]
			}
		case "ENV", "ARG":
		default:
			t.Errorf("%s: unexpected in the builder stage", in)
		}
	}

	// xcaddy build --with <module>=<dir> --output /usr/bin/caddy, where <dir>
	// is where go.mod was copied.
	var with, output string
	for i := 0; i < len(xcaddy); i++ {
		switch a := xcaddy[i]; {
		case a == "--with" && i+1 < len(xcaddy):
			if with != "" {
				t.Errorf("xcaddy build: more than one --with: Signet needs only itself")
			}
			with = xcaddy[i+1]
			i++
		case a == "--output" && i+1 < len(xcaddy):
			output = xcaddy[i+1]
			i++
		default:
			t.Errorf("xcaddy build: unexpected argument %q (the builder image's CADDY_VERSION picks Caddy's version)", a)
		}
	}
	modPath, dir, ok := strings.Cut(with, "=")
	if !ok || modPath != module {
		t.Errorf("xcaddy build --with %q: want %s=<the copied source>", with, module)
	}
	if output != "/usr/bin/caddy" {
		t.Errorf("xcaddy build --output %q: want /usr/bin/caddy (the official image's binary)", output)
	}
	modRoot := path.Join(workdir, dir)
	imagePath := func(repoPath string) string {
		for _, c := range copies {
			if c.src == repoPath && !strings.HasSuffix(c.src, "/") {
				return c.dst
			}
			if strings.HasSuffix(c.src, "/") && (c.src == "./" || strings.HasPrefix(repoPath, c.src)) {
				return path.Join(c.dst, strings.TrimPrefix(repoPath, strings.TrimPrefix(c.src, "./")))
			}
		}
		return ""
	}

	// Every file the plugin is built from must land under modRoot at its
	// repository path.
	need := []string{"go.mod", "go.sum"}
	list := exec.Command("go", "list", "-deps", "-f",
		`{{with .Module}}{{if eq .Path "`+module+`"}}{{$.Dir}}|{{join $.GoFiles ","}},{{join $.CgoFiles ","}},{{join $.EmbedFiles ","}},{{join $.SFiles ","}},{{join $.CFiles ","}},{{join $.HFiles ","}}{{end}}{{end}}`,
		module)
	list.Dir = ".."
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", module, err)
	}
	repoRoot, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkgDir, files, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		rel, err := filepath.Rel(repoRoot, pkgDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Split(files, ",") {
			if f != "" {
				need = append(need, path.Join(filepath.ToSlash(rel), f))
			}
		}
	}
	if len(need) < 4 {
		t.Fatalf("go list found too little: %q", need)
	}
	for _, f := range need {
		if got, want := imagePath(f), path.Join(modRoot, f); got != want {
			t.Errorf("%s: the builder has it at %q, want %q (COPY it so that the xcaddy replace %s finds it)", f, got, want, dir)
		}
	}

	// Stage 2: the official image, its binary replaced, nothing else.
	final := stages[1]
	if f := final[0].args; len(f) != 1 || expand(f[0]) != "caddy:"+version {
		t.Errorf("%s: want FROM caddy:${CADDY_VERSION} (caddy:%s)", final[0], version)
	}
	if len(final) != 2 || strings.Join(final[1].args, " ") != "--from=builder /usr/bin/caddy /usr/bin/caddy" || final[1].cmd != "COPY" {
		t.Errorf("the final stage must be only COPY --from=builder /usr/bin/caddy /usr/bin/caddy, keeping the official image's user, paths and command; got %v", final[1:])
	}
}

// TestReadmeDocker checks the README's Docker section and runs its steps
// with the built binary standing in for the container: the Caddyfile it
// shows, served from example/files, and the key it creates.
func TestReadmeDocker(t *testing.T) {
	_, caddyVersion := goModInfo(t)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := readmeSection(t, string(readme), "## Docker")
	if i, j := strings.Index(string(readme), "## Use it in your own Caddy"), strings.Index(string(readme), "## Docker"); i < 0 || j < i {
		t.Errorf(`"## Docker" must follow "## Use it in your own Caddy"`)
	}
	for _, m := range regexp.MustCompile(`caddy:(\d[\d.]*\d)`).FindAllStringSubmatch(sec, -1) {
		if "v"+m[1] != caddyVersion {
			t.Errorf("README Docker section names %s, but go.mod has Caddy %s", m[0], caddyVersion)
		}
	}
	caddyfiles := mdFencedBlocks(sec, "caddyfile")
	shells := mdFencedBlocks(sec, "sh")
	if len(caddyfiles) != 1 || len(shells) != 1 {
		t.Fatalf("README Docker section: want one caddyfile and one sh block, got %d and %d", len(caddyfiles), len(shells))
	}
	var build, run, exe []string
	for _, cmd := range mdShellCommands(shells[0]) {
		f := strings.Fields(cmd)
		switch {
		case len(f) > 2 && f[0] == "docker" && f[1] == "build":
			build = f[2:]
		case len(f) > 2 && f[0] == "docker" && f[1] == "run":
			run = f[2:]
		case len(f) > 3 && f[0] == "docker" && f[1] == "exec":
			exe = f[2:]
		default:
			t.Errorf("README Docker section: unexpected command %q", cmd)
		}
	}
	// docker build -f xcaddy.Dockerfile -t <tag> .
	tag := ""
	for i := 0; i < len(build); i++ {
		switch build[i] {
		case "-f":
			if i+1 >= len(build) || build[i+1] != "xcaddy.Dockerfile" {
				t.Errorf("docker build: want -f xcaddy.Dockerfile")
			}
			i++
		case "-t":
			if i+1 < len(build) {
				tag = build[i+1]
			}
			i++
		}
	}
	if len(build) == 0 || build[len(build)-1] != "." || tag == "" || !strings.Contains(strings.Join(build, " "), "-f xcaddy.Dockerfile") {
		t.Errorf("want docker build -f xcaddy.Dockerfile -t <tag> . , got %q", build)
	}
	// docker run … -v "$PWD/<repo path>:<container path>" … <tag>
	mounts := map[string]string{}
	name := ""
	for i := 0; i < len(run); i++ {
		switch run[i] {
		case "-v":
			host, ctr, _ := strings.Cut(strings.Trim(run[i+1], `"`), ":")
			ctr = strings.TrimSuffix(ctr, ":ro")
			mounts[ctr] = host
			if p, ok := strings.CutPrefix(host, "$PWD/"); ok && p != "Caddyfile" {
				if _, err := os.Stat(filepath.Join("..", p)); err != nil {
					t.Errorf("docker run mounts %s, which is not in the repository", host)
				}
			}
			i++
		case "--name":
			name = run[i+1]
			i++
		case "-p":
			i++
		}
	}
	if len(run) == 0 || run[len(run)-1] != tag {
		t.Errorf("docker run must run the image docker build tagged (%q): %q", tag, run)
	}
	if mounts["/etc/caddy/Caddyfile"] != "$PWD/Caddyfile" || mounts["/data"] == "" || mounts["/config"] == "" {
		t.Errorf("docker run must mount the Caddyfile at /etc/caddy/Caddyfile, and volumes at /data and /config: %v", mounts)
	}
	files, ok := strings.CutPrefix(mounts["/srv"], "$PWD/")
	if !ok {
		t.Fatalf("docker run must mount a folder of the repository at /srv: %v", mounts)
	}
	if len(exe) < 4 || exe[0] != name || exe[1] != "caddy" || exe[2] != "signet" {
		t.Fatalf("docker exec must run caddy signet … in the container %q: %q", name, exe)
	}

	// The container, simulated: the Caddyfile as shown, with /srv and :80
	// pointing at the repository folder and a free port.
	sitePort := freePort(t)
	filesAbs, err := filepath.Abs(filepath.Join("..", files))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := &instance{
		t:      t,
		bin:    caddyBinary(t),
		admin:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		site:   fmt.Sprintf("http://127.0.0.1:%d", sitePort),
		config: filepath.Join(dir, "Caddyfile"),
	}
	cf := caddyfiles[0]
	if !strings.Contains(cf, ":80 {") || !strings.Contains(cf, "root * /srv") {
		t.Fatalf("the Docker Caddyfile should serve :80 from /srv (the mounts):\n%s", cf)
	}
	cf = strings.Replace(cf, ":80 {", fmt.Sprintf(":%d {\n\tbind 127.0.0.1", sitePort), 1)
	cf = strings.Replace(cf, "root * /srv", "root * "+filesAbs, 1)
	cf = fmt.Sprintf("{\n\tadmin %s\n\thttp_port %d\n\tpersist_config off\n}\n", in.admin, sitePort) + cf
	if err := os.WriteFile(in.config, []byte(cf), 0o600); err != nil {
		t.Fatal(err)
	}
	in.start() // the store goes to the default place, the data directory (XDG_DATA_HOME)
	out := in.mustCLI(exe[3:]...)
	m := regexp.MustCompile(`(?m)^(sk|pk)_\S+$`).FindString(out)
	if m == "" {
		t.Fatalf("%s printed no key:\n%s", strings.Join(exe[1:], " "), out)
	}
	expectStatus(t, "public file", do(t, http.MethodGet, in.site+"/public/hello.txt", "", nil), http.StatusOK, "")
	expectStatus(t, "no key", do(t, http.MethodGet, in.site+"/reports/q1.txt", "", nil), http.StatusUnauthorized, "unauthorized")
	expectStatus(t, "the created key", do(t, http.MethodGet, in.site+"/reports/q1.txt", m, nil), http.StatusOK, "")
	resp := do(t, http.MethodPost, in.site+"/_signet/v1/files/reports/q1.txt/signed-url", m, map[string]any{"expires_in": 60})
	expectStatus(t, "sign with the created key", resp, http.StatusOK, "")
}

// readmeSection returns the text under heading up to the next "## ".
func readmeSection(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	sec := readme[i+len(heading)+2:]
	if j := strings.Index(sec, "\n## "); j >= 0 {
		sec = sec[:j]
	}
	return sec
}

// fencedBlocks returns the bodies of the ```lang blocks of text.
func mdFencedBlocks(text, lang string) []string {
	var out []string
	re := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(lang) + "\\s*\n(.*?)^```\\s*$")
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// shellCommands joins continuation lines and drops comments and blank lines.
func mdShellCommands(block string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}
