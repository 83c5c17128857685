// Command chatvault backs up chat history into encrypted, versioned archives.
//
// Each command is a thin cobra shell that fills an options struct and calls a
// run function (runInit, runExport, …), so tests can drive a run function
// directly or the whole binary through testscript (testdata/script).
// Exit codes live in one table (exitcodes.go), printed by --help.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; when
// empty the module version from the build info is used.
var version string

// defaultMemoryLimit is the soft memory limit of the Go runtime unless the
// GOMEMLIMIT variable sets another: it makes the garbage collector work
// harder as the heap nears it, which keeps the peak RSS of an export or a
// restore of any size near 256 MiB (docs/PERFORMANCE.md).
const defaultMemoryLimit = 176 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one chatvault command line and returns its exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	app := newApp(stdin, stdout, stderr)
	root := newRootCmd(app)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code, hint := exitCode(ctx, err, app.started)
	if code != exitOK {
		msg := oneLine(err.Error())
		if code == exitInterrupted {
			msg = "interrupted"
		}
		fmt.Fprintf(stderr, "chatvault: %s\n", msg)
		if hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", hint)
		}
	}
	return code
}

// streams are the command's standard streams and what they are connected to.
type streams struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer

	stdinTTY  *os.File // stdin if it is a terminal, for prompts; else nil
	stdoutTTY bool
	stderrTTY bool
}

func newStreams(stdin io.Reader, stdout, stderr io.Writer) streams {
	s := streams{in: stdin, out: stdout, errOut: stderr}
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		s.stdinTTY = f
	}
	s.stdoutTTY = isTerminal(stdout)
	s.stderrTTY = isTerminal(stderr)
	return s
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
