// Package audit keeps chatvault's append-only audit log: one JSON object per
// line (JSON Lines) for every command that changes who can open an archive or
// destroys one — init, keys add, keys remove, rotate, rekey, shred and
// conversation shred.
//
// # Record
//
//	{"time":"2026-11-28T15:52:58.123Z","action":"shred","archive":"<id>",
//	 "operator":"arn:aws:iam::123456789012:user/alice","identity_source":"aws-sts",
//	 "details":{"grade":"pending-until","report":"/home/alice/shred.json"}}
//
// Its members:
//
//   - time: when the record was made, UTC, RFC 3339;
//   - action: init | keys-add | keys-remove | rotate | rekey | shred |
//     shred-conversation;
//   - archive: the archive id (hex);
//   - operator, identity_source: who ran it — an AWS caller ARN ("aws-sts")
//     or user@host ("local-user"), as the shred report names its operator;
//   - details: what the command did, without secrets: wrapper ids and types,
//     KMS key ARNs, commit numbers, conversation ids, a report's path and
//     grade. Details whose key names a secret (passphrase, password, secret,
//     token, credential, private, plaintext, recovery key, archive key) and
//     byte strings are refused with ErrSecret before anything is written:
//     the log is for people who must not learn any key.
//
// # Sinks
//
// The file (Log.Path) is opened with O_APPEND|O_CREATE, created with mode
// 0600, and each record is one write(2) of one complete line (preceded by a
// newline if an earlier write was cut short), then fsync: existing lines are
// never rewritten, and concurrent writers on a local file system do not
// interleave records. The permissions of an existing file are left as they
// are.
//
// A store (Log.Store, e.g. for --audit-log s3://bucket/prefix) receives each
// record as its own object, audit/<time>-<random>.json, written
// create-exclusive: a record once written is never replaced, and names sort
// by time.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// Actions.
const (
	ActionInit              = "init"
	ActionKeysAdd           = "keys-add"
	ActionKeysRemove        = "keys-remove"
	ActionRotate            = "rotate"
	ActionRekey             = "rekey"
	ActionShred             = "shred"
	ActionShredConversation = "shred-conversation"
)

var actions = map[string]bool{
	ActionInit: true, ActionKeysAdd: true, ActionKeysRemove: true, ActionRotate: true,
	ActionRekey: true, ActionShred: true, ActionShredConversation: true,
}

// ErrSecret: a record's details hold what looks like a secret.
var ErrSecret = errors.New("audit record would hold a secret")

// Record is one line of the log.
type Record struct {
	Time           time.Time      `json:"time"`
	Action         string         `json:"action"`
	Archive        string         `json:"archive"`
	Operator       string         `json:"operator,omitempty"`
	IdentitySource string         `json:"identity_source,omitempty"`
	Details        map[string]any `json:"details,omitempty"`
}

// Log writes records to a file, a store, or both.
type Log struct {
	Path  string       // JSON Lines file; "" for none
	Store remote.Store // a store receiving one object per record; nil for none
	// Prefix is the name prefix of the store's objects; "" means "audit/".
	Prefix string
	Now    func() time.Time // clock for records without a time; nil: time.Now
	Rand   io.Reader        // randomness of object names; nil: crypto/rand
}

// Append adds one record to every sink. A record without a time gets the
// current one. An unknown action or a detail that looks secret is refused
// before anything is written.
func (l *Log) Append(ctx context.Context, rec Record) error {
	if !actions[rec.Action] {
		return fmt.Errorf("audit: unknown action %q", rec.Action)
	}
	if rec.Archive == "" {
		return errors.New("audit: record without an archive id")
	}
	if err := checkDetails("details", rec.Details); err != nil {
		return err
	}
	if rec.Time.IsZero() {
		now := time.Now
		if l.Now != nil {
			now = l.Now
		}
		rec.Time = now()
	}
	rec.Time = rec.Time.UTC()
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	line = append(line, '\n')
	var errs []error
	if l.Path != "" {
		if err := appendLine(l.Path, line); err != nil {
			errs = append(errs, fmt.Errorf("audit log %s: %w", l.Path, err))
		}
	}
	if l.Store != nil {
		if err := l.putObject(ctx, rec.Time, line); err != nil {
			errs = append(errs, fmt.Errorf("audit log in %s: %w", l.Store, err))
		}
	}
	return errors.Join(errs...)
}

// appendLine appends one complete line with a single write.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	if size := info.Size(); size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			return err
		}
		if last[0] != '\n' {
			line = append([]byte{'\n'}, line...) // an earlier write was cut short
		}
	}
	if _, err := f.Write(line); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// putObject stores one record as its own object, create-exclusive.
func (l *Log) putObject(ctx context.Context, t time.Time, line []byte) error {
	prefix := l.Prefix
	if prefix == "" {
		prefix = "audit/"
	}
	rnd := l.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	for attempt := 0; ; attempt++ {
		var b [8]byte
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return err
		}
		name := prefix + t.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:]) + ".json"
		err := l.Store.Create(ctx, name, bytes.NewReader(line), int64(len(line)))
		if errors.Is(err, remote.ErrExists) && attempt < 3 {
			continue
		}
		return err
	}
}

// secretWords are the words of detail keys that name a secret.
var secretWords = []string{"passphrase", "password", "secret", "token", "credential", "private", "plaintext", "recoverykey", "archivekey", "seed"}

// checkDetails refuses details that look like secrets: keys naming one,
// byte strings anywhere.
func checkDetails(path string, v any) error {
	switch x := v.(type) {
	case nil, string, bool, float64, float32, int, int32, int64, uint, uint32, uint64, json.Number, time.Time:
		return nil
	case []byte:
		return fmt.Errorf("%w: %s is a byte string (key material is never logged)", ErrSecret, path)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			norm := strings.NewReplacer("_", "", "-", "", " ", "", ".", "").Replace(strings.ToLower(k))
			for _, w := range secretWords {
				if strings.Contains(norm, w) && !strings.HasSuffix(norm, "id") {
					return fmt.Errorf("%w: %s.%s", ErrSecret, path, k)
				}
			}
			if err := checkDetails(path+"."+k, x[k]); err != nil {
				return err
			}
		}
		return nil
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return checkDetails(path, m)
	case []string:
		return nil
	case []any:
		for i, e := range x {
			if err := checkDetails(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("audit: %s: a %T; details hold strings, numbers, booleans, times, lists and maps", path, v)
}

// ReadFile reads every record of a log file. A line that does not parse is
// an error naming its number.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
