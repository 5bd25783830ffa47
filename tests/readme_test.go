//go:build unix

package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The README sections TestReadmeTour runs, in this order, in one shell.
const (
	readmeTour  = "## A five-minute tour"
	readmeVideo = "## Share a video stream"
)

// tourStep is a stretch of a README section the test runs: commands, then
// the output the README shows for them (the "#   …" comment lines after
// them).
type tourStep struct {
	section string   // the section's heading
	script  string   // the lines as written
	want    []string // expected output lines, "..." or "…" standing for anything
}

// tourSteps cuts the ```sh blocks of the README section under heading
// after every run of expected-output lines.
func tourSteps(t *testing.T, readme, heading string) []tourStep {
	t.Helper()
	blocks := mdFencedBlocks(readmeSection(t, readme, heading), "sh")
	if len(blocks) == 0 {
		t.Fatalf(`README.md: no sh block under %q`, heading)
	}
	var steps []tourStep
	cur := tourStep{section: heading}
	for _, line := range strings.Split(strings.Join(blocks, ""), "\n") {
		if w, ok := strings.CutPrefix(line, "#   "); ok {
			cur.want = append(cur.want, strings.TrimSpace(w))
		} else if len(cur.want) > 0 {
			steps = append(steps, cur)
			cur = tourStep{section: heading}
		}
		cur.script += line + "\n"
	}
	if strings.TrimSpace(cur.script) != "" {
		steps = append(steps, cur)
	}
	return steps
}

// wantPattern turns an expected line into a regexp: "..." and "…" (with the
// spaces around them) match anything.
func wantPattern(want string) *regexp.Regexp {
	parts := regexp.MustCompile(`\s*(\.\.\.|…)\s*`).Split(want, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`)
}

// copyCheckout copies the repository's files (tracked, and new ones that
// .gitignore does not exclude: no bin/, no .signet/) into a new directory.
func copyCheckout(t *testing.T) string {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = ".."
	out, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files (the README tour runs in a copy of the checkout): %v", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join("..", filepath.FromSlash(name))
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		to := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyRegularFile(src, to, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func copyRegularFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tourLog collects a process's output while the test may read it.
type tourLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *tourLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *tourLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestReadmeTour runs the README's five-minute tour and then its video
// stream section as written, in one shell, in a copy of the checkout (the
// stream the section makes goes there too), against `make run`, and checks
// the output the README shows. `make run` serves on the fixed ports 8080
// and 2019.
func TestReadmeTour(t *testing.T) {
	for _, tool := range []string{"bash", "make", "git", "curl", "python3", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README tour needs %s on PATH: %v", tool, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.1:2019"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("port %s is busy (%v): the README tour runs `make run`, which serves on localhost:8080 with the admin API on localhost:2019; stop whatever uses it", addr, err)
		}
		l.Close()
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tour := tourSteps(t, string(readme), readmeTour)
	steps := slices.Concat(tour, tourSteps(t, string(readme), readmeVideo))
	dir := copyCheckout(t)

	// "With `make run` going in one terminal": the build is cached, so it
	// only links.
	var runLog tourLog
	makeRun := exec.Command("make", "run")
	makeRun.Dir = dir
	makeRun.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	makeRun.Stdout, makeRun.Stderr = &runLog, &runLog
	makeRun.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := makeRun.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- makeRun.Wait() }()
	t.Cleanup(func() {
		stop := exec.Command("./bin/caddy", "stop")
		stop.Dir = dir
		if out, err := stop.CombinedOutput(); err != nil {
			t.Logf("./bin/caddy stop: %v %s", err, out)
		}
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Log("make run did not end after caddy stop; killing its process group")
			_ = syscall.Kill(-makeRun.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for _, addr := range []string{"localhost:2019", "localhost:8080"} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("make run ended (%v) before serving %s:\n%s", err, addr, runLog.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("make run does not serve %s after 3 minutes:\n%s", addr, runLog.String())
			}
		}
	}

	// The sections in one shell, so their variables carry over, with a
	// marker between steps to tell their outputs apart.
	const marker = "@@signet-readme-tour-step@@"
	var script strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&script, "echo %s\n%s", marker, s.script)
	}
	file := filepath.Join(t.TempDir(), "tour.sh")
	if err := os.WriteFile(file, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-euo", "pipefail", file)
	sh.Dir = dir
	var stdout, stderr bytes.Buffer
	sh.Stdout, sh.Stderr = &stdout, &stderr
	err = sh.Run()
	outs := strings.Split(stdout.String(), marker+"\n")[1:]
	// stepNo numbers the steps of each section from 1.
	stepNo := func(i int) int {
		if i >= len(tour) {
			return i - len(tour) + 1
		}
		return i + 1
	}
	if err != nil {
		i := max(len(outs)-1, 0)
		t.Fatalf("README %q failed in step %d: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s",
			steps[i].section, stepNo(i), err, steps[i].script, stdout.String(), stderr.String())
	}
	if len(outs) != len(steps) {
		t.Fatalf("%d step outputs for %d steps:\n%s", len(outs), len(steps), stdout.String())
	}
	for i, s := range steps {
		lines := strings.Split(strings.ReplaceAll(outs[i], "\r", ""), "\n")
		next := 0
		for _, w := range s.want {
			re := wantPattern(w)
			found := false
			for ; next < len(lines); next++ {
				if re.MatchString(strings.TrimSpace(lines[next])) {
					found = true
					next++
					break
				}
			}
			if !found {
				t.Errorf("README %q, step %d: the output does not show %q (in this order)\nstep:\n%s\noutput:\n%s", s.section, stepNo(i), w, s.script, outs[i])
			}
		}
	}
	// The tour ends at a revoked link: the last command is `curl "$URL"`
	// after the key that issued it was deleted.
	last := strings.TrimSpace(outs[len(tour)-1])
	lastCommand := ""
	for _, line := range strings.Split(tour[len(tour)-1].script, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			lastCommand = l
		}
	}
	if lastCommand != `curl "$URL"` ||
		!strings.Contains(last[strings.LastIndex(last, "\n")+1:], `"code":"revoked"`) {
		t.Errorf("the tour should end with curl \"$URL\" refused as revoked; the last step printed:\n%s", outs[len(tour)-1])
	}
	// The video section cleans up after itself: the stream it made is gone.
	if _, err := os.Stat(filepath.Join(dir, "example", "files", "movie")); !os.IsNotExist(err) {
		t.Errorf("example/files/movie is still there after the README's video section (%v)", err)
	}
	if t.Failed() {
		t.Logf("make run log:\n%s", runLog.String())
	}
}
