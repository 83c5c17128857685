package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cli runs a real chatvault binary against one store and state directory.
type cli struct {
	t   *testing.T
	bin string
	env []string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "chatvault")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return &cli{t: t, bin: bin, env: append(os.Environ(),
		"CHATVAULT_REPO="+filepath.Join(dir, "store"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"CHATVAULT_PASSPHRASE=kill -9 proof",
	)}
}

func (c *cli) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	return cmd
}

// run runs chatvault and returns its exit code and output.
func (c *cli) run(args ...string) (int, string) {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	c.t.Fatal(err)
	return -1, ""
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	code, out := c.run(args...)
	if code != 0 {
		c.t.Fatalf("chatvault %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// writeCorpus writes n messages over a few conversations.
func writeCorpus(t *testing.T, path string, n int, tag string) {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"conversation":"c%d","id":"%s-%d","time":"2024-01-01T00:%02d:%02dZ","kind":"message","text":"%s %d %s"}`+"\n",
			i%7, tag, i, (i/60)%60, i%60, tag, i, strings.Repeat("lorem ipsum ", 20))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// kill -9 at any moment of an export leaves the previous version fully
// readable, and the next run succeeds; prune then removes the leftovers.
func TestKillDuringExport(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.must("init", "crash")
	first := filepath.Join(dir, "first.jsonl")
	writeCorpus(t, first, 100, "first")
	c.must("export", "crash", first)
	big := filepath.Join(dir, "big.jsonl")
	writeCorpus(t, big, 60000, "big")

	// How long does a whole export take here? Kill at points spread over it.
	c2 := &cli{t: t, bin: c.bin, env: append(c.env, "CHATVAULT_REPO="+filepath.Join(dir, "probe-store"), "XDG_STATE_HOME="+filepath.Join(dir, "probe-state"))}
	c2.must("init", "crash")
	start := time.Now()
	c2.must("export", "crash", big, "--segment-size", "256KiB")
	full := time.Since(start)

	committed := false
	for i := range 5 {
		cmd := c.cmd("export", "crash", big, "--segment-size", "256KiB")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(full * time.Duration(2*i+1) / 10)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			committed = true // it finished before the kill
		}
		out := c.must("ls", "crash")
		if !strings.Contains(out, "\n2 ") {
			t.Fatalf("kill %d: version 2 is gone:\n%s", i, out)
		}
		c.must("verify", "crash", "--read-data")
		c.must("restore", "crash", "-o", filepath.Join(dir, fmt.Sprint("restore", i)), "--version", "2")
	}
	// A run killed after writing its commit but before exiting committed too.
	if strings.Contains(c.must("ls", "crash"), "\n3 ") {
		committed = true
	}
	out := c.must("export", "crash", big, "--segment-size", "256KiB")
	if committed {
		if !strings.Contains(out, "nothing new") {
			t.Fatalf("rerun after a completed export: %s", out)
		}
	} else if !strings.Contains(out, "added 60000 messages") {
		t.Fatalf("rerun: %s", out)
	}
	// A killed export cannot delete its lease: prune waits until it expires
	// (10 minutes) rather than risk deleting a live writer's objects. The
	// engine's tests cover prune removing crash leftovers once it may.
	code, out := c.run("prune", "crash", "--grace", "1s")
	if code != 6 || !strings.Contains(out, "lease") {
		t.Fatalf("prune right after a killed export: exit %d\n%s", code, out)
	}
	c.must("verify", "crash", "--read-data")
	t.Logf("a whole export takes %s here", full)
}

// Two exports racing on one archive: no commit is lost; a loser exits 6 and
// its rerun works.
func TestRacingExportsCLI(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.must("init", "race")
	var inputs []string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprint("in", i, ".jsonl"))
		writeCorpus(t, p, 20000, fmt.Sprint("w", i))
		inputs = append(inputs, p)
	}
	codes := make([]int, 2)
	outs := make([]string, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], outs[i] = c.run("export", "race", inputs[i])
		}()
	}
	wg.Wait()
	for i, code := range codes {
		switch code {
		case 0:
		case 6:
			if !strings.Contains(outs[i], "committed version") || !strings.Contains(outs[i], "first") {
				t.Fatalf("loser's message: %s", outs[i])
			}
			c.must("export", "race", inputs[i]) // the rerun works
		default:
			t.Fatalf("export %d: exit %d\n%s", i, code, outs[i])
		}
	}
	t.Logf("exit codes of the racing exports: %v", codes)
	out := c.must("ls", "race")
	if !strings.Contains(out, " 40000\n") {
		t.Fatalf("a commit was lost:\n%s", out)
	}
	c.must("verify", "race", "--read-data")
}
