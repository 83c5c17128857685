package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/device"
)

// app is what every command shares: the streams and the global flags.
type app struct {
	streams

	repo     string
	remote   string // the other store of push and pull
	s3       s3Flags
	config   string
	stateDir string
	json     bool
	quiet    bool
	verbose  bool

	kmsEndpoint string // --kms-endpoint: overrides AWS_ENDPOINT_URL_KMS
	identity    string // --identity: this device's age identity file ("": the default, if it exists)
	maxAge      time.Duration
	maxAgeText  string // rotation.max_age as the user wrote it

	// newKMS makes the KMS client (tests put a fake behind it); nil: awskms.New.
	newKMS    func(ctx context.Context) (*awskms.Client, error)
	kmsOnce   sync.Once
	kmsClient *awskms.Client
	kmsErr    error

	vault vaultState // --vault-mount and the Vault Transit client (vault.go)

	aud auditState // --audit-log and the operator of audit records (audit.go)

	deviceOnce sync.Once
	deviceID   *device.Identity
	deviceErr  error

	outMu     sync.Mutex          // serializes warnings and records from goroutines
	warnedAge map[archive.ID]bool // wrappers already warned about (rotation.max_age)
	noAgeWarn bool                // rotate: no max_age warnings (it is the remedy)

	// started is set when a command's run function begins; errors before
	// that are usage errors.
	started bool
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{streams: newStreams(stdin, stdout, stderr)}
}

const rootLong = `chatvault backs up chat history into encrypted, versioned archives.

An archive lives in a store (--repo: a local directory, or s3://bucket/prefix
for S3 and S3-compatible servers; push and pull copy archives between
stores). ARCHIVE arguments are
an archive id, a unique id prefix (at least 6 hex digits) or a label this
device knows.

Flags can also be set in the config file (--config, YAML, keys named like the
flags) or as CHATVAULT_<FLAG> environment variables (CHATVAULT_REPO,
CHATVAULT_STATE_DIR, …); flags on the command line win. Secret and confirmation
flags (passphrase*, recovery-key*, yes) are never read from the environment or
the config file, and a config file that holds one is refused. Passphrases come
from --passphrase-file, --passphrase-command, CHATVAULT_PASSPHRASE or a prompt.

Opening an archive needs no prompt when this device can: its device key
(--identity, default ~/.config/chatvault/device.key if it exists; see
` + "`chatvault device init`" + `), AWS KMS (the standard AWS configuration:
AWS_REGION, profiles, AWS_ENDPOINT_URL_KMS or --kms-endpoint) and HashiCorp
Vault Transit (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT; the mount
each wrapper records) are tried first, then a recovery key or a passphrase.

The config setting rotation.max_age (e.g. "90d" or "2160h"; env
CHATVAULT_ROTATION_MAX_AGE) makes every command that opens an archive warn
about wrappers older than that (see ` + "`chatvault rotate`" + `).`

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "chatvault",
		Short:         "Back up chat history into encrypted archives",
		Long:          rootLong,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.loadConfig(cmd)
		},
	}
	root.SetIn(a.in)
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetHelpTemplate(root.HelpTemplate() + "{{if not .HasParent}}" + exitStatusHelp() + "{{end}}")

	pf := root.PersistentFlags()
	pf.StringVar(&a.repo, "repo", defaultDir("XDG_DATA_HOME", ".local/share"), "store holding the archives (a directory or s3://bucket/prefix)")
	pf.StringVar(&a.remote, "remote", "", "the other store of push and pull (usually set in the config file)")
	a.s3.register(pf)
	pf.StringVar(&a.config, "config", "", "config file (default $XDG_CONFIG_HOME/chatvault/config.yaml if it exists)")
	pf.StringVar(&a.stateDir, "state-dir", defaultDir("XDG_STATE_HOME", ".local/state"), "where this device remembers archives (pins, label cache)")
	pf.BoolVar(&a.json, "json", false, "print JSON Lines on stdout")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "no progress bars, warnings or summaries")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "print extra notes on stderr")
	pf.StringVar(&a.kmsEndpoint, "kms-endpoint", "", "AWS KMS endpoint `URL` (default: AWS_ENDPOINT_URL_KMS or the standard AWS configuration)")
	pf.StringVar(&a.identity, "identity", "", "this device's key `FILE` (default ~/.config/chatvault/device.key if it exists)")
	a.vault.register(pf)
	pf.StringVar(&a.aud.store, "audit-log", "", "also write every audit record to the store `STORE` (a directory or s3://bucket/prefix; the log is always kept in the state dir's audit.log)")

	root.AddCommand(
		newInitCmd(a, nil),
		newExportCmd(a, nil),
		newLsCmd(a, nil),
		newRestoreCmd(a, nil),
		newVerifyCmd(a, nil),
		newPruneCmd(a, nil),
		newPushCmd(a, nil),
		newPullCmd(a, nil),
		newKeysCmd(a),
		newRotateCmd(a, nil),
		newDeviceCmd(a),
		newShredCmd(a, nil),
		newVerifyShredCmd(a, nil),
	)
	return root
}

// defaultDir returns $env/chatvault, or ~/fallback/chatvault when env is unset
// or not absolute (as the XDG base directory spec asks).
func defaultDir(env, fallback string) string {
	if d := os.Getenv(env); filepath.IsAbs(d) {
		return filepath.Join(d, "chatvault")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, filepath.FromSlash(fallback), "chatvault")
}

// isSecretFlag reports whether a flag (or config key) names a secret or a
// confirmation: those are never taken from the environment or a config file.
// (--new-passphrase-file and --unlock-recovery-key-file are secret flags too.)
func isSecretFlag(name string) bool {
	name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return strings.Contains(name, "passphrase") || strings.Contains(name, "recovery-key") || name == "yes"
}

// loadConfig reads the config file and the CHATVAULT_* environment into a new
// viper and copies the values into the flags the user did not set, so that
// commands read typed options only.
func (a *app) loadConfig(cmd *cobra.Command) error {
	v := viper.New()
	v.SetEnvPrefix("CHATVAULT")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()

	path := a.config
	if !cmd.Flags().Changed("config") {
		path = os.Getenv("CHATVAULT_CONFIG")
	}
	if path != "" {
		v.SetConfigFile(path)
	} else if dir, err := os.UserConfigDir(); err == nil {
		v.SetConfigName("config")
		v.SetConfigType("yaml")
		v.AddConfigPath(filepath.Join(dir, "chatvault"))
	}
	if err := v.ReadInConfig(); err != nil {
		var notFound viper.ConfigFileNotFoundError
		if !errors.As(err, &notFound) {
			return usageErrorf("config file: %w", err)
		}
	}
	if used := v.ConfigFileUsed(); used != "" {
		if err := checkConfigKeys(v, used); err != nil {
			return err
		}
		a.config = used
		defer a.notef("config file %s", used) // after --verbose is set from it
	}

	var firstErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if firstErr != nil || f.Changed || isSecretFlag(f.Name) || f.Name == "config" || f.Name == "help" || f.Name == "version" {
			return
		}
		if !v.IsSet(f.Name) {
			return
		}
		if err := setFlag(f, v.Get(f.Name)); err != nil {
			firstErr = usageErrorf("%s (from the environment or %s): %w", f.Name, orNone(v.ConfigFileUsed()), err)
		}
	})
	if firstErr != nil {
		return firstErr
	}
	if v.IsSet(maxAgeKey) {
		s, err := scalar(v.Get(maxAgeKey))
		if err == nil {
			a.maxAge, err = parseMaxAge(s)
		}
		if err != nil {
			return usageErrorf("%s (CHATVAULT_ROTATION_MAX_AGE or %s): %w", maxAgeKey, orNone(v.ConfigFileUsed()), err)
		}
		a.maxAgeText = strings.TrimSpace(s)
	}
	return nil
}

// maxAgeKey is the config setting above which wrappers draw a warning.
const maxAgeKey = "rotation.max_age"

// parseMaxAge reads rotation.max_age: whole days ("90d") or a Go duration
// ("2160h"); "" or "0" turns the warning off.
func parseMaxAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("%q: want days (\"90d\") or a duration (\"2160h\")", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want days (\"90d\") or a duration (\"2160h\")", s)
	}
	return d, nil
}

// checkConfigKeys refuses a config file that sets a secret or confirmation
// flag, at any nesting level.
func checkConfigKeys(v *viper.Viper, file string) error {
	// Env values are not in AllKeys unless bound, so these are the file's keys.
	keys := v.AllKeys()
	slices.Sort(keys)
	for _, k := range keys {
		for part := range strings.SplitSeq(k, ".") {
			if isSecretFlag(part) {
				return usageErrorf("config file %s sets %q: secrets and confirmations are never read from a config file", file, k)
			}
		}
	}
	return nil
}

func orNone(file string) string {
	if file == "" {
		return "no config file"
	}
	return file
}

// setFlag sets a flag from a config or environment value: a scalar, or for
// list flags a YAML list or a comma-separated string.
func setFlag(f *pflag.Flag, val any) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		var items []string
		switch val := val.(type) {
		case []any:
			for _, item := range val {
				s, err := scalar(item)
				if err != nil {
					return err
				}
				items = append(items, s)
			}
		default:
			s, err := scalar(val)
			if err != nil {
				return err
			}
			items = strings.Split(s, ",")
		}
		return sv.Replace(items)
	}
	s, err := scalar(val)
	if err != nil {
		return err
	}
	return f.Value.Set(s)
}

func scalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("want a single value, got %v", v)
}

// begin marks the start of a command's run.
func (a *app) begin() { a.started = true }

// archiveOptions are the engine options for this run.
func (a *app) archiveOptions(pin string) archive.Options {
	return archive.Options{
		State: a.state(),
		Warn:  a.warn,
		Log:   a.notef,
		Pin:   pin,
	}
}

func (a *app) state() archive.State { return archive.State{Dir: a.stateDir} }

// warn prints a warning on stderr unless --quiet. It is safe for concurrent use.
func (a *app) warn(msg string) {
	if !a.quiet {
		a.outMu.Lock()
		defer a.outMu.Unlock()
		fmt.Fprintf(a.errOut, "warning: %s\n", msg)
	}
}

// notef prints a note on stderr with --verbose.
func (a *app) notef(format string, args ...any) {
	if a.verbose {
		fmt.Fprintf(a.errOut, format+"\n", args...)
	}
}

// printf prints a human summary on stdout, unless --json or --quiet.
func (a *app) printf(format string, args ...any) {
	if !a.json && !a.quiet {
		fmt.Fprintf(a.out, format, args...)
	}
}

// plural renders a count with its noun: "1 message", "2 messages".
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// emit prints one JSON Lines record on stdout. It is safe for concurrent use.
func (a *app) emit(v any) error {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	enc := json.NewEncoder(a.out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
