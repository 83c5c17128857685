package secret

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const secret = "s3cret-Pa55-XYZ"

// fakePrompt answers prompts from a script and records what it was asked.
type fakePrompt struct {
	mu      sync.Mutex
	answers []string
	err     error
	asked   []string
}

func (f *fakePrompt) prompt(p string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, p)
	if f.err != nil {
		return nil, f.err
	}
	if len(f.answers) == 0 {
		return nil, io.EOF
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}

func writeFile(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask-proof
		t.Fatal(err)
	}
	return path
}

func noEnv(string) (string, bool) { return "", false }

func TestFile(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"plain", secret, secret},
		{"LF", secret + "\n", secret},
		{"CRLF", secret + "\r\n", secret},
		{"only one newline stripped", secret + "\n\n", secret + "\n"},
		{"only one CRLF stripped", secret + "\r\n\r\n", secret + "\r\n"},
		{"lone CR kept", secret + "\r", secret + "\r"},
		{"spaces kept", "  " + secret + "  \n", "  " + secret + "  "},
		{"inner newline kept", "line1\nline2\n", "line1\nline2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			s := Source{File: writeFile(t, tt.content, 0o600), Stderr: &stderr}
			got, err := s.Passphrase(context.Background(), "", false)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("passphrase = %q, want %q", got, tt.want)
			}
			if stderr.Len() != 0 {
				t.Errorf("unexpected output for a 0600 file: %q", stderr.String())
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name    string
		path    string
		wantIs  error
		wantMsg string
	}{
		{"empty", writeFile(t, "", 0o600), ErrEmpty, "is empty passphrase"},
		{"only newline", writeFile(t, "\n", 0o600), ErrEmpty, "empty passphrase"},
		{"only CRLF", writeFile(t, "\r\n", 0o600), ErrEmpty, "empty passphrase"},
		{"missing", missing, os.ErrNotExist, missing},
		{"too large", writeFile(t, strings.Repeat(secret, MaxSize/len(secret)+1), 0o600), ErrTooLarge, "more than 65536 bytes"},
		{"directory", t.TempDir(), nil, "--passphrase-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Source{File: tt.path, Env: DefaultEnv, Getenv: func(string) (string, bool) { return secret, true }}
			got, err := s.Passphrase(context.Background(), "archive passphrase", false)
			if err == nil {
				t.Fatalf("Passphrase = %q, want an error (and no fall-through to the environment)", got)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) || !strings.Contains(msg, "archive passphrase") {
				t.Errorf("err = %q, want it to mention %q and the purpose", msg, tt.wantMsg)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error contains the secret: %q", msg)
			}
		})
	}
}

func TestFilePermissionWarning(t *testing.T) {
	for _, tt := range []struct {
		perm os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o644, true}, {0o606, true}} {
		var stderr bytes.Buffer
		path := writeFile(t, secret+"\n", tt.perm)
		got, err := Source{File: path, Stderr: &stderr}.Passphrase(context.Background(), "", false)
		if err != nil || string(got) != secret {
			t.Fatalf("mode %04o: Passphrase = %q, %v; want the secret (a warning, not a refusal)", tt.perm, got, err)
		}
		warned := strings.Contains(stderr.String(), "warning: passphrase file "+path+" can be accessed by other users")
		if warned != tt.warn {
			t.Errorf("mode %04o: warned = %v, want %v (stderr %q)", tt.perm, warned, tt.warn, stderr.String())
		}
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("warning contains the secret")
		}
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name, cmd, want string
	}{
		{"printf", "printf '%s' '" + secret + "'", secret},
		{"echo", "echo '" + secret + "'", secret},
		{"CRLF", "printf '%s\\r\\n' '" + secret + "'", secret},
		{"one newline stripped", "printf '%s\\n\\n' '" + secret + "'", secret + "\n"},
		{"shell features", "x=" + secret + "; echo \"$x\" | tr a-z A-Z", strings.ToUpper(secret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, err := Source{Command: tt.cmd, Stderr: &stderr}.Passphrase(context.Background(), "", false)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("passphrase = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommandStderrPassesThrough(t *testing.T) {
	var stderr bytes.Buffer
	got, err := Source{Command: "echo 'touch your key' >&2; echo " + secret, Stderr: &stderr}.
		Passphrase(context.Background(), "", false)
	if err != nil || string(got) != secret {
		t.Fatalf("Passphrase = %q, %v", got, err)
	}
	if stderr.String() != "touch your key\n" {
		t.Errorf("stderr = %q, want the command's message", stderr.String())
	}
}

func TestCommandStdin(t *testing.T) {
	got, err := Source{Command: "cat", Stdin: strings.NewReader(secret + "\n")}.
		Passphrase(context.Background(), "", false)
	if err != nil || string(got) != secret {
		t.Errorf("with Stdin: Passphrase = %q, %v; want %q", got, err, secret)
	}
	// Without Stdin the command reads the null device: EOF, not the test's stdin.
	_, err = Source{Command: "cat"}.Passphrase(context.Background(), "", false)
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("without Stdin: err = %v, want ErrEmpty", err)
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		name    string
		cmd     string
		wantIs  error
		wantMsg string
	}{
		{"prints secret then fails", "echo " + secret + "; echo " + secret + " >&2; exit 1", nil, "exit status 1"},
		{"exit 3", "exit 3", nil, "exit status 3"},
		{"empty output", "true", ErrEmpty, "command printed an empty passphrase"},
		{"only newline", "echo", ErrEmpty, "empty passphrase"},
		{"too large", "i=0; while [ $i -lt 5000 ]; do echo " + secret + "; i=$((i+1)); done", ErrTooLarge, "more than 65536 bytes"},
		{"not found", "/nonexistent/" + secret, nil, "exit status 127"},
		{"secret in command line", "exit 2 # " + secret, nil, "exit status 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			s := Source{Command: tt.cmd, Stderr: &stderr, Env: DefaultEnv, Getenv: func(string) (string, bool) { return "from-env", true }}
			got, err := s.Passphrase(context.Background(), "archive passphrase", false)
			if err == nil {
				t.Fatalf("Passphrase = %q, want an error (and no fall-through to the environment)", got)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) || !strings.Contains(msg, "--passphrase-command") {
				t.Errorf("err = %q, want it to mention %q and the flag", msg, tt.wantMsg)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error contains the secret: %q", msg)
			}
		})
	}
}

func TestCommandContext(t *testing.T) {
	for name, cmd := range map[string]string{
		"sleep": "exec sleep 30",
		// A grandchild keeps stdout open after sh is killed; WaitDelay must
		// still let Passphrase return (the grandchild is left to finish).
		"grandchild holds stdout": "sleep 10; echo late",
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := Source{Command: cmd}.Passphrase(ctx, "", false)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > commandWaitDelay+5*time.Second {
				t.Errorf("took %v after cancellation", d)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := Source{Command: "touch " + marker}.Passphrase(ctx, "", false)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("command ran despite a cancelled context")
	}
}

func TestEnv(t *testing.T) {
	t.Run("set", func(t *testing.T) {
		t.Setenv("CHATVAULT_TEST_PASSPHRASE", secret)
		got, err := Source{Env: "CHATVAULT_TEST_PASSPHRASE"}.Passphrase(context.Background(), "", false)
		if err != nil || string(got) != secret {
			t.Errorf("Passphrase = %q, %v; want %q (default Getenv is os.LookupEnv)", got, err, secret)
		}
	})
	t.Run("set but empty", func(t *testing.T) {
		p := &fakePrompt{answers: []string{"typed"}}
		s := Source{Env: DefaultEnv, Getenv: func(string) (string, bool) { return "", true }, Prompt: p.prompt}
		_, err := s.Passphrase(context.Background(), "", false)
		if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "$CHATVAULT_PASSPHRASE is set but empty") {
			t.Errorf("err = %v, want ErrEmpty naming the variable", err)
		}
		if len(p.asked) != 0 {
			t.Error("prompted although the variable is set")
		}
	})
	t.Run("unset falls through to prompt", func(t *testing.T) {
		p := &fakePrompt{answers: []string{"typed"}}
		var looked []string
		s := Source{Env: DefaultEnv, Getenv: func(n string) (string, bool) { looked = append(looked, n); return "", false }, Prompt: p.prompt}
		got, err := s.Passphrase(context.Background(), "", false)
		if err != nil || string(got) != "typed" {
			t.Errorf("Passphrase = %q, %v; want the typed passphrase", got, err)
		}
		if len(looked) != 1 || looked[0] != DefaultEnv {
			t.Errorf("looked up %q, want [%s]", looked, DefaultEnv)
		}
	})
	t.Run("Env empty means not consulted", func(t *testing.T) {
		s := Source{Getenv: func(string) (string, bool) { t.Error("Getenv called"); return secret, true }}
		if _, err := s.Passphrase(context.Background(), "", false); !errors.Is(err, ErrNoSecret) {
			t.Errorf("err = %v, want ErrNoSecret", err)
		}
	})
}

func TestPrompt(t *testing.T) {
	t.Run("no confirm", func(t *testing.T) {
		p := &fakePrompt{answers: []string{secret}}
		got, err := Source{Prompt: p.prompt}.Passphrase(context.Background(), "passphrase for archive A1", false)
		if err != nil || string(got) != secret {
			t.Fatalf("Passphrase = %q, %v", got, err)
		}
		if want := []string{"Enter passphrase for archive A1: "}; !equal(p.asked, want) {
			t.Errorf("asked %q, want %q", p.asked, want)
		}
	})
	t.Run("default purpose", func(t *testing.T) {
		p := &fakePrompt{answers: []string{secret}}
		if _, err := (Source{Prompt: p.prompt}).Passphrase(context.Background(), "", false); err != nil {
			t.Fatal(err)
		}
		if want := []string{"Enter passphrase: "}; !equal(p.asked, want) {
			t.Errorf("asked %q, want %q", p.asked, want)
		}
	})
	t.Run("confirm match", func(t *testing.T) {
		p := &fakePrompt{answers: []string{secret, secret}}
		got, err := Source{Prompt: p.prompt}.Passphrase(context.Background(), "new passphrase", true)
		if err != nil || string(got) != secret {
			t.Fatalf("Passphrase = %q, %v", got, err)
		}
		if want := []string{"Enter new passphrase: ", "Repeat new passphrase: "}; !equal(p.asked, want) {
			t.Errorf("asked %q, want %q", p.asked, want)
		}
	})
	t.Run("confirm mismatch then match", func(t *testing.T) {
		p := &fakePrompt{answers: []string{secret, "typo", secret + "2", secret + "2"}}
		got, err := Source{Prompt: p.prompt}.Passphrase(context.Background(), "new passphrase", true)
		if err != nil || string(got) != secret+"2" {
			t.Fatalf("Passphrase = %q, %v; want the second, matching pair", got, err)
		}
		want := []string{
			"Enter new passphrase: ", "Repeat new passphrase: ",
			"The entries do not match, try again.\nEnter new passphrase: ", "Repeat new passphrase: ",
		}
		if !equal(p.asked, want) {
			t.Errorf("asked %q, want %q", p.asked, want)
		}
	})
	t.Run("confirm mismatch every time", func(t *testing.T) {
		p := &fakePrompt{answers: []string{secret, "a", secret, "b", secret, "c", secret, secret}}
		_, err := Source{Prompt: p.prompt}.Passphrase(context.Background(), "new passphrase", true)
		if !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v, want ErrMismatch", err)
		}
		if len(p.asked) != 2*MaxAttempts {
			t.Errorf("asked %d times, want %d", len(p.asked), 2*MaxAttempts)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error contains the secret: %q", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		p := &fakePrompt{answers: []string{""}}
		_, err := Source{Prompt: p.prompt}.Passphrase(context.Background(), "", true)
		if !errors.Is(err, ErrEmpty) {
			t.Errorf("err = %v, want ErrEmpty", err)
		}
	})
	t.Run("prompt error", func(t *testing.T) {
		p := &fakePrompt{}
		_, err := Source{Prompt: p.prompt}.Passphrase(context.Background(), "", false)
		if !errors.Is(err, io.EOF) {
			t.Errorf("err = %v, want io.EOF", err)
		}
		p = &fakePrompt{answers: []string{secret}}
		_, err = Source{Prompt: p.prompt}.Passphrase(context.Background(), "", true)
		if !errors.Is(err, io.EOF) || strings.Contains(err.Error(), secret) {
			t.Errorf("err on the confirmation = %v, want io.EOF without the secret", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		p := &fakePrompt{answers: []string{secret}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Source{Prompt: p.prompt}.Passphrase(ctx, "", false)
		if !errors.Is(err, context.Canceled) || len(p.asked) != 0 {
			t.Errorf("err = %v after %d prompts, want context.Canceled without prompting", err, len(p.asked))
		}
	})
}

// TestPrecedence configures several sources and checks that the first in the
// order File, Command, Env, Prompt wins and that later ones are not consulted.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "from-file\n", 0o600)
	tests := []struct {
		name                         string
		file, command, env, prompted bool
		want                         string
	}{
		{"all", true, true, true, true, "from-file"},
		{"file and env", true, false, true, true, "from-file"},
		{"command env prompt", false, true, true, true, "from-command"},
		{"env prompt", false, false, true, true, "from-env"},
		{"prompt only", false, false, false, true, "from-prompt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "command-ran")
			var envLooked bool
			p := &fakePrompt{answers: []string{"from-prompt"}}
			s := Source{Getenv: func(string) (string, bool) { envLooked = true; return "from-env", true }}
			if tt.file {
				s.File = file
			}
			if tt.command {
				s.Command = "touch '" + marker + "'; echo from-command"
			}
			if tt.env {
				s.Env = DefaultEnv
			}
			if tt.prompted {
				s.Prompt = p.prompt
			}
			got, err := s.Passphrase(context.Background(), "", false)
			if err != nil || string(got) != tt.want {
				t.Fatalf("Passphrase = %q, %v; want %q", got, err, tt.want)
			}
			_, statErr := os.Stat(marker)
			if ran := statErr == nil; ran != (tt.want == "from-command") {
				t.Errorf("command ran = %v", ran)
			}
			if envLooked && tt.want != "from-env" && tt.want != "from-prompt" {
				t.Error("environment consulted although an earlier source was configured")
			}
			if len(p.asked) != 0 && tt.want != "from-prompt" {
				t.Error("prompted although an earlier source was configured")
			}
		})
	}
}

func TestNoSecret(t *testing.T) {
	s := Source{Env: DefaultEnv, Getenv: noEnv}
	_, err := s.Passphrase(context.Background(), "passphrase for archive A1", false)
	if !errors.Is(err, ErrNoSecret) {
		t.Fatalf("err = %v, want ErrNoSecret", err)
	}
	for _, want := range []string{"passphrase for archive A1", "CHATVAULT_PASSPHRASE", "--passphrase-file", "--passphrase-command", "terminal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	s = Source{Env: "CHATVAULT_NEW_PASSPHRASE", Getenv: noEnv, FileFlag: "--new-passphrase-file", CommandFlag: "--new-passphrase-command"}
	_, err = s.Passphrase(context.Background(), "new passphrase", false)
	for _, want := range []string{"CHATVAULT_NEW_PASSPHRASE", "--new-passphrase-file", "--new-passphrase-command"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = Source{File: filepath.Join(t.TempDir(), "x"), FileFlag: "--new-passphrase-file"}.Passphrase(context.Background(), "", false)
	if err == nil || !strings.Contains(err.Error(), "--new-passphrase-file") {
		t.Errorf("file error %v does not name the custom flag", err)
	}

	_, err = Source{}.Passphrase(context.Background(), "", false)
	if !errors.Is(err, ErrNoSecret) || strings.Contains(err.Error(), "CHATVAULT_PASSPHRASE") {
		t.Errorf("zero Source: err = %v, want ErrNoSecret not suggesting an unconsulted variable", err)
	}
}

func TestTerminalPromptNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "not-a-tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if TerminalPrompt(f, io.Discard) != nil {
		t.Error("TerminalPrompt(regular file) != nil")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if TerminalPrompt(r, io.Discard) != nil {
		t.Error("TerminalPrompt(pipe) != nil")
	}
	if TerminalPrompt(nil, io.Discard) != nil {
		t.Error("TerminalPrompt(nil) != nil")
	}
}

func TestForCLI(t *testing.T) {
	s := ForCLI("f", "c")
	if s.File != "f" || s.Command != "c" || s.Env != DefaultEnv {
		t.Errorf("ForCLI = %+v", s)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
