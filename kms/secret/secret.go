// Package secret obtains passphrases for the chatvault CLI without them ever
// appearing in argv, logs, error messages or files written by chatvault.
//
// # Sources and precedence
//
// A [Source] names where a passphrase may come from. [Source.Passphrase] uses the
// first one that is configured, in this order:
//
//  1. File (--passphrase-file): the file's contents, minus one trailing "\n" or
//     "\r\n" (so `echo secret > file` works, while a passphrase that really ends in
//     a newline can still be stored by adding one more).
//  2. Command (--passphrase-command): the standard output of `sh -c COMMAND`, minus
//     one trailing newline, as with a file. Its standard error goes to the user.
//  3. Env (CHATVAULT_PASSPHRASE): the variable's value, if it is set.
//  4. Prompt: ask on the terminal without echo, twice when confirming a new
//     passphrase.
//
// Explicit options come before the environment, and the environment before asking,
// so a flag given for one run overrides a variable exported in a profile. Once a
// source is chosen, a failure is final: an unreadable file or a failing command is
// an error, never a silent fall-through to the next source, which would use a
// different passphrase than the user intended. With nothing configured the
// error wraps [ErrNoSecret] and lists the options. An empty passphrase is refused
// from every source ([ErrEmpty]); in particular a variable that is set but empty is
// an error, not a reason to prompt.
//
// # Keeping the secret secret
//
// No error returned by this package contains a passphrase or any output of the
// passphrase command: a failing command is reported by its exit status only (its
// own standard error has already gone to the user), and the command line itself is
// not repeated either, since users sometimes put secrets in it. Files and command
// output larger than [MaxSize] are refused rather than read whole.
//
// A passphrase file is read even if other users may read it: permission bits are
// often outside the user's control (Kubernetes secret volumes default to 0644,
// some filesystems have no Unix permissions), and refusing would only push users
// to less safe sources such as the environment. Instead, on Unix, a regular file
// accessible to group or others draws a one-line warning on Stderr.
//
// # The passphrase command
//
// The command runs with the user's environment and working directory, standard
// input from [Source.Stdin] (none by default) and standard error passed through,
// and in chatvault's process group, so that it can prompt on the terminal (as
// pinentry or a password manager's CLI may) and receives the user's Ctrl-C. When
// the context is cancelled, sh is killed; a descendant that still holds its output
// open is abandoned after two seconds rather than waited for.
//
// The returned slice belongs to the caller, who should clear it once the key is
// derived. Intermediate copies made here are cleared on a best-effort basis; Go
// cannot guarantee that no copy survives (environment strings, for one, are
// immutable).
package secret

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"
)

const (
	// DefaultEnv is the environment variable chatvault reads a passphrase from.
	DefaultEnv = "CHATVAULT_PASSPHRASE"
	// DefaultFileFlag and DefaultCommandFlag are the flag names used in messages
	// when a Source does not name its own.
	DefaultFileFlag    = "--passphrase-file"
	DefaultCommandFlag = "--passphrase-command"

	// MaxAttempts is how many times a new passphrase is asked for (twice each)
	// before giving up because the two entries keep differing.
	MaxAttempts = 3
	// MaxSize is the largest passphrase accepted from a file or a command.
	MaxSize = 64 << 10

	// commandWaitDelay bounds how long a cancelled passphrase command may keep its
	// output open (e.g. through a background grandchild) before it is abandoned.
	commandWaitDelay = 2 * time.Second
)

var (
	// ErrNoSecret: no source of a passphrase is configured or usable (no file, no
	// command, variable unset, and no terminal to ask on).
	ErrNoSecret = errors.New("no passphrase available")
	// ErrEmpty: the chosen source gave an empty passphrase.
	ErrEmpty = errors.New("empty passphrase")
	// ErrMismatch: the two entries of a new passphrase differed MaxAttempts times.
	ErrMismatch = errors.New("passphrases do not match")
	// ErrTooLarge: a passphrase file or command output exceeds MaxSize.
	ErrTooLarge = errors.New("passphrase too large")
)

// Source says where a passphrase may come from; see the package documentation for
// the order in which the fields are consulted. The zero Source has no source at
// all. [ForCLI] returns the one chatvault's commands use.
type Source struct {
	// File is a file holding the passphrase (--passphrase-file), or "".
	File string
	// Command is a shell command printing the passphrase on its standard
	// output (--passphrase-command), run as `sh -c Command`, or "".
	Command string
	// Env is the name of an environment variable holding the passphrase,
	// usually DefaultEnv, or "" not to consult the environment.
	Env string
	// Prompt asks the user for a passphrase without echoing it, showing the
	// given prompt. nil means there is no terminal to ask on. See
	// [TerminalPrompt].
	Prompt func(prompt string) ([]byte, error)

	// Getenv looks up Env; nil means os.LookupEnv.
	Getenv func(name string) (string, bool)
	// Stdin is the standard input of Command; nil means none (the null device).
	Stdin io.Reader
	// Stderr receives Command's standard error and this package's warnings;
	// nil means os.Stderr.
	Stderr io.Writer

	// FileFlag and CommandFlag are the names of the flags that set File and
	// Command, for messages; "" means DefaultFileFlag and DefaultCommandFlag.
	// A command that needs a second passphrase (say, a new one) uses a second
	// Source with its own flags and variable.
	FileFlag, CommandFlag string
}

// ForCLI returns the Source chatvault's commands use: the values of
// --passphrase-file and --passphrase-command (either may be ""), then
// $CHATVAULT_PASSPHRASE, then a prompt on the controlling terminal if standard
// input is one, with messages on standard error.
func ForCLI(file, command string) Source {
	return Source{
		File:    file,
		Command: command,
		Env:     DefaultEnv,
		Prompt:  TerminalPrompt(os.Stdin, os.Stderr),
	}
}

// Passphrase returns a passphrase from the first configured source. purpose names
// what is asked for, as a noun phrase such as "passphrase for archive 01JQ7"
// or "new passphrase" ("" means "passphrase"); it appears in prompts and errors.
// If confirm is set and the passphrase is typed at the prompt, it is asked for
// twice, up to MaxAttempts times until both entries match. (A passphrase from a
// file, command or variable is not confirmed: it was not typed blind.)
//
// Errors wrap [ErrNoSecret], [ErrEmpty], [ErrMismatch], [ErrTooLarge], the
// context's error, or the underlying I/O or exec error; they never contain the
// passphrase.
func (s Source) Passphrase(ctx context.Context, purpose string, confirm bool) ([]byte, error) {
	if purpose == "" {
		purpose = "passphrase"
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", purpose, err)
	}
	switch {
	case s.File != "":
		return s.fromFile(purpose)
	case s.Command != "":
		return s.fromCommand(ctx, purpose)
	}
	if s.Env != "" {
		getenv := s.Getenv
		if getenv == nil {
			getenv = os.LookupEnv
		}
		if v, ok := getenv(s.Env); ok {
			if v == "" {
				return nil, fmt.Errorf("reading %s: $%s is set but %w", purpose, s.Env, ErrEmpty)
			}
			return []byte(v), nil
		}
	}
	if s.Prompt != nil {
		return s.fromPrompt(ctx, purpose, confirm)
	}
	return nil, s.noSecret(purpose)
}

func (s Source) noSecret(purpose string) error {
	fileFlag, cmdFlag := s.FileFlag, s.CommandFlag
	if fileFlag == "" {
		fileFlag = DefaultFileFlag
	}
	if cmdFlag == "" {
		cmdFlag = DefaultCommandFlag
	}
	var opts []string
	if s.Env != "" {
		opts = append(opts, "set "+s.Env)
	}
	opts = append(opts,
		fmt.Sprintf("use %s FILE or %s COMMAND", fileFlag, cmdFlag),
		"run chatvault on a terminal to be asked")
	return fmt.Errorf("reading %s: %w: %s", purpose, ErrNoSecret, strings.Join(opts, ", or "))
}

func (s Source) stderr() io.Writer {
	if s.Stderr == nil {
		return os.Stderr
	}
	return s.Stderr
}

func (s Source) fromFile(purpose string) ([]byte, error) {
	flag := s.FileFlag
	if flag == "" {
		flag = DefaultFileFlag
	}
	wrap := func(err error) error {
		return fmt.Errorf("reading %s from %s: %w", purpose, flag, err)
	}
	f, err := os.Open(s.File)
	if err != nil {
		return nil, wrap(err) // *PathError: names the file, not its contents
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(s.stderr(), "warning: passphrase file %s can be accessed by other users (mode %04o); consider chmod 600\n",
			s.File, fi.Mode().Perm())
	}
	var buf limitedBuffer
	if _, err := io.Copy(&buf, f); err != nil {
		buf.clear()
		if buf.overflow {
			return nil, wrap(fmt.Errorf("file %s: %w (more than %d bytes)", s.File, ErrTooLarge, MaxSize))
		}
		return nil, wrap(err)
	}
	p := trimNewline(buf.b)
	if len(p) == 0 {
		buf.clear()
		return nil, wrap(fmt.Errorf("file %s is %w", s.File, ErrEmpty))
	}
	return p, nil
}

func (s Source) fromCommand(ctx context.Context, purpose string) ([]byte, error) {
	flag := s.CommandFlag
	if flag == "" {
		flag = DefaultCommandFlag
	}
	wrap := func(err error) error {
		return fmt.Errorf("reading %s from %s: %w", purpose, flag, err)
	}
	var out limitedBuffer
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Command)
	cmd.Stdin = s.Stdin
	cmd.Stdout = &out
	cmd.Stderr = s.stderr()
	cmd.WaitDelay = commandWaitDelay
	err := cmd.Run()
	if err != nil {
		out.clear()
		var exitErr *exec.ExitError
		switch {
		case ctx.Err() != nil:
			return nil, wrap(fmt.Errorf("command interrupted: %w", ctx.Err()))
		case out.overflow:
			return nil, wrap(fmt.Errorf("command output: %w (more than %d bytes)", ErrTooLarge, MaxSize))
		case errors.As(err, &exitErr):
			// ExitError's message is only the exit status; its Stderr field is
			// empty because Stderr was redirected. Never add the output here.
			return nil, wrap(fmt.Errorf("command failed (see its messages above): %w", err))
		default:
			return nil, wrap(fmt.Errorf("running command: %w", err))
		}
	}
	p := trimNewline(out.b)
	if len(p) == 0 {
		out.clear()
		return nil, wrap(fmt.Errorf("command printed an %w", ErrEmpty))
	}
	return p, nil
}

func (s Source) fromPrompt(ctx context.Context, purpose string, confirm bool) ([]byte, error) {
	ask := "Enter " + purpose + ": "
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", purpose, err)
		}
		p, err := s.Prompt(ask)
		if err != nil {
			clear(p)
			return nil, fmt.Errorf("reading %s from the terminal: %w", purpose, err)
		}
		if len(p) == 0 {
			return nil, fmt.Errorf("reading %s from the terminal: %w", purpose, ErrEmpty)
		}
		if !confirm {
			return p, nil
		}
		again, err := s.Prompt("Repeat " + purpose + ": ")
		if err != nil {
			clear(p)
			clear(again)
			return nil, fmt.Errorf("reading %s from the terminal: %w", purpose, err)
		}
		match := subtle.ConstantTimeCompare(p, again) == 1
		clear(again)
		if match {
			return p, nil
		}
		clear(p)
		if attempt == MaxAttempts {
			return nil, fmt.Errorf("reading %s from the terminal: %w (%d attempts)", purpose, ErrMismatch, MaxAttempts)
		}
		ask = "The entries do not match, try again.\nEnter " + purpose + ": "
	}
}

// trimNewline removes one trailing "\n" or "\r\n".
func trimNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		return b[:len(b)-1]
	}
	return b
}

// limitedBuffer collects at most MaxSize bytes, failing with ErrTooLarge beyond.
// It grows by copying into a fresh array and clearing the old one, so that no
// stale copy of the secret is left behind for the garbage collector.
type limitedBuffer struct {
	b        []byte
	overflow bool
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if w.overflow || len(w.b)+len(p) > MaxSize {
		w.overflow = true
		w.clear()
		return 0, ErrTooLarge
	}
	if len(w.b)+len(p) > cap(w.b) {
		nb := make([]byte, len(w.b), max(2*cap(w.b), len(w.b)+len(p), 64))
		copy(nb, w.b)
		clear(w.b)
		w.b = nb
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *limitedBuffer) clear() {
	clear(w.b[:cap(w.b)])
	w.b = w.b[:0]
}

// TerminalPrompt returns a Prompt function that writes the prompt to out and
// reads a line from the terminal in without echo (golang.org/x/term), or nil if in
// is not a terminal. in is typically os.Stdin; a caller that reads data from a
// redirected standard input can pass an opened /dev/tty instead.
//
// While it waits for input, an interrupt (Ctrl-C) or SIGTERM restores the terminal
// echo before ending the process with the conventional status (130 or 143); by
// default the Go runtime would exit with echo still off, leaving the user's shell
// unusable. A line cannot be abandoned half-read, so the process exits even if the
// caller has its own signal handling.
func TerminalPrompt(in *os.File, out io.Writer) func(prompt string) ([]byte, error) {
	if in == nil || !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	fd := int(in.Fd())
	return func(prompt string) ([]byte, error) {
		if _, err := io.WriteString(out, prompt); err != nil {
			return nil, err
		}
		stop := restoreOnSignal(fd, out)
		p, err := term.ReadPassword(fd)
		stop()
		io.WriteString(out, "\n") // the user's Enter was not echoed
		if err != nil {
			clear(p)
			return nil, err
		}
		return p, nil
	}
}

// restoreOnSignal arranges for an interrupt or termination signal to restore the
// terminal state of fd and exit; the returned function undoes the arrangement.
func restoreOnSignal(fd int, out io.Writer) (stop func()) {
	state, err := term.GetState(fd)
	if err != nil {
		return func() {}
	}
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			_ = term.Restore(fd, state)
			io.WriteString(out, "\n")
			code := 130 // 128 + SIGINT
			if sig == syscall.SIGTERM {
				code = 143
			}
			os.Exit(code)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
