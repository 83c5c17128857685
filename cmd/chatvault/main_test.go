package main

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"chatvault": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// scriptCmd is a testscript command.
type scriptCmd = func(ts *testscript.TestScript, neg bool, args []string)

// runScripts drives the whole binary through testdata/<dir>/*.txtar. Every
// script starts with HOME and the XDG directories under $WORK, so no run
// touches the real home, and TZ=UTC; scripts set CHATVAULT_PASSPHRASE
// themselves. setup adds what a set needs (a server's endpoint), cmds its own
// commands beside these:
//
//	exitcode N PROG ARGS...   run PROG like exec and require exit status N
//	catglob PATTERN...        print the files matching the patterns (sorted) in turn
//	corrupt PATTERN           flip the last byte of the largest file matching PATTERN
//	capture VAR REGEXP        set $VAR to REGEXP's first group in the last command's stdout
func runScripts(t *testing.T, dir string, setup func(env *testscript.Env) error, cmds map[string]scriptCmd) {
	all := map[string]scriptCmd{"exitcode": cmdExitCode, "catglob": cmdCatGlob, "corrupt": cmdCorrupt, "capture": cmdCapture}
	maps.Copy(all, cmds)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", dir),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
			env.Setenv("TZ", "UTC")
			if setup == nil {
				return nil
			}
			return setup(env)
		},
		Cmds: all,
	})
}

// TestScripts: testdata/script/*.txtar, the local store and passphrases.
func TestScripts(t *testing.T) {
	runScripts(t, "script", func(env *testscript.Env) error {
		// The real sample exports of ../shared/testdata-public, which sits
		// beside the repository here and in CI.
		shared, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "testdata-public"))
		if err != nil {
			return err
		}
		env.Setenv("SAMPLES", shared)
		return nil
	}, nil)
}

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

func cmdCatGlob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: catglob PATTERN...")
	}
	var files []string
	for _, p := range args {
		m, err := filepath.Glob(ts.MkAbs(p))
		ts.Check(err)
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) == 0 {
		ts.Fatalf("catglob: no file matches %q", args)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		ts.Check(err)
		ts.Stdout().Write(b)
	}
}

func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture VAR REGEXP")
	}
	m := regexp.MustCompile(args[1]).FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("capture: %q does not match stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}

func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: corrupt PATTERN")
	}
	files, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	var largest string
	var size int64 = -1
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			largest, size = f, fi.Size()
		}
	}
	if size <= 0 {
		ts.Fatalf("corrupt: no non-empty file matches %q", args[0])
	}
	b, err := os.ReadFile(largest)
	ts.Check(err)
	b[len(b)-1] ^= 0xff
	ts.Check(os.WriteFile(largest, b, 0o600))
}
