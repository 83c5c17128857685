package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmsfake"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/local"
)

// fakeKMSEnv runs CLI commands in this process against an in-memory KMS, in a
// fresh home, store and state directory.
type fakeKMSEnv struct {
	t    *testing.T
	fake *kmsfake.Fake
	dir  string
}

func newFakeKMSEnv(t *testing.T) *fakeKMSEnv {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("CHATVAULT_CONFIG", "")
	t.Setenv("CHATVAULT_PASSPHRASE", "")
	os.Unsetenv("CHATVAULT_PASSPHRASE")
	t.Setenv("CHATVAULT_ROTATION_MAX_AGE", "")
	return &fakeKMSEnv{t: t, fake: kmsfake.New(), dir: dir}
}

func (e *fakeKMSEnv) key() string {
	out, err := e.fake.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// run runs one command line and returns its exit code, stdout and stderr.
func (e *fakeKMSEnv) run(args ...string) (int, string, string) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errOut)
	a.newKMS = func(context.Context) (*awskms.Client, error) { return awskms.NewWithAPI(e.fake), nil }
	root := newRootCmd(a)
	root.SetArgs(append([]string{"--repo", filepath.Join(e.dir, "store")}, args...))
	ctx := context.Background()
	err := root.ExecuteContext(ctx)
	code, hint := exitCode(ctx, err, a.started)
	if err != nil {
		fmt.Fprintf(&errOut, "chatvault: %s\nhint: %s\n", oneLine(err.Error()), hint)
	}
	return code, out.String(), errOut.String()
}

func (e *fakeKMSEnv) mustRun(args ...string) string {
	e.t.Helper()
	code, out, errOut := e.run(args...)
	if code != 0 {
		e.t.Fatalf("chatvault %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *fakeKMSEnv) writeFile(name, content string) string {
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

const testChats = `{"conversation":"c","id":"1","time":"2024-03-01T08:00:00Z","kind":"message","text":"one"}
{"conversation":"c","id":"2","time":"2024-03-01T09:00:00Z","kind":"message","text":"two"}
`

// TestKMSCallsPerRun counts the KMS calls of each command: an export of a
// KMS archive is one Decrypt; commands that need no key make none; a device
// key tried first makes KMS unnecessary.
func TestKMSCallsPerRun(t *testing.T) {
	e := newFakeKMSEnv(t)
	arn := e.key()
	e.fake.ResetCalls()
	e.mustRun("init", "Work", "--kms", arn)
	// One Encrypt, and the engine may Decrypt once to check the new wrapper.
	if n := e.fake.Calls("Encrypt"); n != 1 || e.fake.TotalCalls() > 2 {
		t.Errorf("init --kms: %d Encrypt calls, %v in all; want 1 and at most 2", n, e.fake.CallCounts())
	}
	chats := e.writeFile("chats.jsonl", testChats)

	for _, tc := range []struct {
		args    []string
		decrypt int
	}{
		{[]string{"export", "Work", chats}, 1},
		{[]string{"export", "Work", chats}, 1},
		{[]string{"restore", "Work", "-o", filepath.Join(e.dir, "out")}, 1},
		{[]string{"ls"}, 0},
		{[]string{"keys", "list", "Work"}, 0},
		{[]string{"verify", "Work", "--keyless"}, 0},
	} {
		e.fake.ResetCalls()
		e.mustRun(tc.args...)
		if got := e.fake.Calls("Decrypt"); got != tc.decrypt || e.fake.TotalCalls() != tc.decrypt {
			t.Errorf("%v: %d Decrypt calls, %d in all; want %d", tc.args, got, e.fake.TotalCalls(), tc.decrypt)
		}
	}

	// With this device's key on the archive, nothing asks KMS.
	out := e.mustRun("device", "init")
	rec := strings.Fields(strings.SplitAfter(out, "recipient ")[1])[0]
	e.mustRun("keys", "add", "Work", "--recipient", rec)
	e.fake.ResetCalls()
	e.mustRun("export", "Work", chats)
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("export with a device key: %d KMS calls, want 0", n)
	}
}

// TestKMSFailuresExitCodes checks the exit codes and hints of KMS failures
// against the fake: an outage is 5, a refused key 4 with a hint about KMS.
func TestKMSFailuresExitCodes(t *testing.T) {
	e := newFakeKMSEnv(t)
	arn := e.key()
	e.mustRun("init", "Work", "--kms", arn)

	e.fake.SetHook(func(ctx context.Context, op string) error {
		return &smithyhttp.RequestSendError{Err: errors.New("dial tcp: connection refused")}
	})
	code, _, errOut := e.run("ls", "Work")
	if code != exitUnavailable || !strings.Contains(errOut, "KMS unreachable") || !strings.Contains(errOut, "hint: check the network and the KMS endpoint") {
		t.Errorf("KMS down: exit %d\n%s", code, errOut)
	}
	e.fake.SetHook(nil)

	if _, err := e.fake.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = e.run("ls", "Work")
	if code != exitKey || !strings.Contains(errOut, arn) || !strings.Contains(errOut, "key disabled") ||
		!strings.Contains(errOut, "hint: the AWS KMS key named above refused") || strings.Contains(errOut, "check the passphrase") {
		t.Errorf("disabled key: exit %d\n%s", code, errOut)
	}

	// Pending deletion, then gone: still key failures (4).
	if _, err := e.fake.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = e.run("ls", "Work"); code != exitKey || !strings.Contains(errOut, "pending deletion") {
		t.Errorf("key pending deletion: exit %d\n%s", code, errOut)
	}
	e.fake.Advance(8 * 24 * time.Hour)
	if code, _, errOut = e.run("ls", "Work"); code != exitKey || !strings.Contains(errOut, "key not found") {
		t.Errorf("deleted key: exit %d\n%s", code, errOut)
	}
}

// TestKMSCreateDedicatedRollback: when the archive cannot be created after its
// dedicated key was made, the key is scheduled for deletion.
func TestKMSCreateDedicated(t *testing.T) {
	e := newFakeKMSEnv(t)
	out := e.mustRun("--json", "init", "Shreddable", "--kms-create")
	if !strings.Contains(out, `"dedicated":true`) || !strings.Contains(out, `"kms_alias":"alias/chatvault-`) {
		t.Errorf("init --kms-create --json = %s", out)
	}
	out = e.mustRun("--json", "keys", "list", "Shreddable")
	if !strings.Contains(out, `"wrapper_type":"aws-kms"`) || !strings.Contains(out, `"dedicated":true`) {
		t.Errorf("keys list = %s", out)
	}

	// A failure after CreateDedicated (here: the alias exists already, so the
	// key is destroyed by awskms) leaves no usable key behind.
	e.fake.SetHook(func(ctx context.Context, op string) error {
		if op == "Encrypt" {
			return &smithyhttp.RequestSendError{Err: errors.New("connection reset")}
		}
		return nil
	})
	code, _, errOut := e.run("init", "Broken", "--kms-create")
	if code != exitUnavailable || !strings.Contains(errOut, "scheduled for deletion") {
		t.Errorf("init --kms-create with Encrypt failing: exit %d\n%s", code, errOut)
	}
}

func TestParseMaxAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "90d": 90 * 24 * time.Hour, "1d": 24 * time.Hour, "2160h": 2160 * time.Hour, " 30m ": 30 * time.Minute,
	} {
		got, err := parseMaxAge(in)
		if err != nil || got != want {
			t.Errorf("parseMaxAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "-1h", "d", "1.5d", "-3d", "90 d"} {
		if _, err := parseMaxAge(in); err == nil {
			t.Errorf("parseMaxAge(%q): no error", in)
		}
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0m", 0: "0m", 59 * time.Second: "0m", 5 * time.Minute: "5m", 2*time.Hour + 5*time.Minute: "2h",
		24 * time.Hour: "1d", 41*24*time.Hour + 23*time.Hour: "41d",
	} {
		if got := formatAge(d); got != want {
			t.Errorf("formatAge(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestWarnOldWrappers(t *testing.T) {
	var errOut bytes.Buffer
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &errOut)
	a.maxAge, a.maxAgeText = 90*24*time.Hour, "90d"
	now := time.Now()
	old := &archive.Wrapper{ID: archive.ID{1, 2, 3, 4, 5, 6}, Type: archive.WrapperKMS, KeyID: "arn:aws:kms:eu-west-1:1:key/k", Created: now.Add(-100 * 24 * time.Hour)}
	young := &archive.Wrapper{ID: archive.ID{9}, Type: archive.WrapperPassphrase, Created: now.Add(-time.Hour)}
	a.warnOldWrappers([]*archive.Wrapper{old, young})
	a.warnOldWrappers([]*archive.Wrapper{old})
	want := "warning: wrapper 010203040506 (aws-kms, arn:aws:kms:eu-west-1:1:key/k) is 100 days old, older than rotation.max_age (90d): rotate it (`chatvault rotate`)\n"
	if errOut.String() != want {
		t.Errorf("warnings:\n%s\nwant once:\n%s", errOut.String(), want)
	}
	a.quiet = true
	a.warnedAge = nil
	errOut.Reset()
	a.warnOldWrappers([]*archive.Wrapper{old})
	if errOut.Len() != 0 {
		t.Errorf("--quiet: %q", errOut.String())
	}
}

func TestFindWrapper(t *testing.T) {
	ws := []*archive.Wrapper{
		{ID: archive.ID{0xab, 0xcd, 0x01}, Type: archive.WrapperPassphrase},
		{ID: archive.ID{0xab, 0xcd, 0x02}, Type: archive.WrapperRecovery},
	}
	if w, err := findWrapper(archive.ID{}, ws, "ABCD02"); err != nil || w != ws[1] {
		t.Errorf("findWrapper(ABCD02) = %v, %v", w, err)
	}
	if _, err := findWrapper(archive.ID{}, ws, "abcd"); !errors.Is(err, archive.ErrAmbiguous) {
		t.Errorf("findWrapper(abcd) = %v, want ambiguous", err)
	} else if code, _ := exitCode(context.Background(), err, true); code != exitUsage {
		t.Errorf("ambiguous wrapper: exit %d", code)
	}
	if _, err := findWrapper(archive.ID{}, ws, "abc"); err == nil {
		t.Error("a 3-digit prefix was accepted")
	}
	if _, err := findWrapper(archive.ID{}, ws, "ffff"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("findWrapper(ffff) = %v", err)
	}
}

// failDelete is a store whose deletions fail, like a store that went away
// just after a commit was written.
type failDelete struct{ remote.Store }

func (failDelete) Delete(ctx context.Context, name string) error {
	return fmt.Errorf("%w: connection reset", remote.ErrUnavailable)
}

// TestInterruptedKeysChange: a keys change whose deletions fail after its
// commit is exit 6; the same command run again finishes the deletions and
// changes nothing more.
func TestInterruptedKeysChange(t *testing.T) {
	e := newFakeKMSEnv(t)
	ctx := context.Background()
	e.mustRun("init", "Work", "--kms", e.key())
	e.mustRun("keys", "add", "Work", "--kms", e.key())

	st, err := local.Open(filepath.Join(e.dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	state := archive.State{Dir: filepath.Join(e.dir, "home", "state", "chatvault")}
	id, err := archive.Resolve(ctx, st, "Work", state)
	if err != nil {
		t.Fatal(err)
	}
	ar, err := archive.Open(ctx, failDelete{st}, id, archive.Options{State: state})
	if err != nil {
		t.Fatal(err)
	}
	if err := ar.Unlock(ctx, archive.KMSUnlocker{KMS: awskms.NewWithAPI(e.fake)}); err != nil {
		t.Fatal(err)
	}
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ar.ChangeWrappers(ctx, archive.WrapperChange{Remove: []archive.ID{ws[0].ID}})
	if code, _ := exitCode(ctx, err, true); code != exitConflict {
		t.Fatalf("deletion failing after the commit: %v, exit %d; want 6", err, code)
	}
	wrapperFile := filepath.Join(e.dir, "store", "archives", id.String(), "keys", ws[0].ID.String())
	if _, err := os.Stat(wrapperFile); err != nil {
		t.Fatalf("the removed wrapper should still be in the store: %v", err)
	}

	code, out, errOut := e.run("keys", "remove", "Work", ws[0].ID.String())
	if code != 0 || !strings.Contains(out, "finished an interrupted change") || !strings.Contains(out, "commit 3 (keys)") {
		t.Fatalf("rerun: exit %d\nstdout: %q\nstderr: %q", code, out, errOut)
	}
	if _, err := os.Stat(wrapperFile); !os.IsNotExist(err) {
		t.Errorf("the removed wrapper is still in the store after the rerun (%v)", err)
	}
	out = e.mustRun("--json", "keys", "list", "Work")
	if n := strings.Count(out, `"type":"wrapper"`); n != 1 {
		t.Errorf("after the rerun: %d wrappers, want 1\n%s", n, out)
	}
}

// TestKMSRefusedThenPassphrase: KMS refusing does not stop the unlock; a
// passphrase still opens the archive, and when it does not either, the
// message names both and the hint is about KMS.
func TestKMSRefusedThenPassphrase(t *testing.T) {
	e := newFakeKMSEnv(t)
	arn := e.key()
	e.mustRun("init", "Work", "--kms", arn)
	pass := e.writeFile("pass.txt", "right")
	wrong := e.writeFile("wrong.txt", "wrong")
	e.mustRun("keys", "add", "Work", "--passphrase", "--new-passphrase-file", pass)
	if _, err := e.fake.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	e.mustRun("ls", "Work", "--passphrase-file", pass)
	code, _, errOut := e.run("ls", "Work", "--passphrase-file", wrong)
	if code != exitKey || !strings.Contains(errOut, "key disabled") || !strings.Contains(errOut, "passphrase does not open") ||
		!strings.Contains(errOut, "hint: the AWS KMS key named above refused") {
		t.Errorf("KMS refused and a wrong passphrase: exit %d\n%s", code, errOut)
	}
}
