package shred_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/local"
	"github.com/chatvault/chatvault/remote/s3"
)

var testKey = recovery.Key{1, 2, 3}

var testOperator = &shred.Operator{IdentitySource: shred.IdentityLocal, User: "tester", Note: "test"}

// device is one machine: its state dir and a local store.
type device struct {
	t     *testing.T
	ctx   context.Context
	st    *local.Store
	state archive.State
}

func newDevice(t *testing.T) *device {
	t.Helper()
	dir := t.TempDir()
	st, err := local.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	return &device{t: t, ctx: context.Background(), st: st, state: archive.State{Dir: filepath.Join(dir, "state")}}
}

func (d *device) opts() archive.Options { return archive.Options{State: d.state} }

// create makes an archive in st (the device's store if nil) with the lockers
// (a recovery key if none).
func (d *device) create(st remote.Store, lockers ...archive.Locker) *archive.Archive {
	d.t.Helper()
	if st == nil {
		st = d.st
	}
	if len(lockers) == 0 {
		lockers = []archive.Locker{archive.RecoveryLocker{Key: testKey}}
	}
	a, err := archive.Create(d.ctx, st, archive.CreateOptions{Label: "shred test", Lockers: lockers}, d.opts())
	if err != nil {
		d.t.Fatal(err)
	}
	return a
}

func (d *device) open(st remote.Store, id archive.ID) *archive.Archive {
	d.t.Helper()
	a, err := archive.Open(d.ctx, st, id, d.opts())
	if err != nil {
		d.t.Fatal(err)
	}
	return a
}

func (d *device) export(a *archive.Archive, jsonl string) {
	d.t.Helper()
	if a.Locked() {
		if err := a.Unlock(d.ctx, archive.RecoveryUnlocker{Key: testKey}); err != nil {
			d.t.Fatal(err)
		}
	}
	if _, err := a.Export(d.ctx, canon.NewReader(strings.NewReader(jsonl), "input.jsonl"), archive.ExportOptions{}); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) push(src, dst remote.Store, id archive.ID) {
	d.t.Helper()
	if _, err := archive.Push(d.ctx, src, dst, id, d.opts(), archive.TransferOptions{}); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) shredOpts() shred.Options {
	return shred.Options{State: d.state, Operator: testOperator}
}

func msg(conv, id, time, text string) string {
	return fmt.Sprintf(`{"conversation":%q,"id":%q,"time":%q,"kind":"message","text":%q}`, conv, id, time, text) + "\n"
}

// chats is two conversations over two exports.
const chats = `{"conversation":"alice","id":"1","time":"2020-01-01T00:00:00Z","kind":"message","text":"hello"}
{"conversation":"bob","id":"1","time":"2020-01-01T00:00:00Z","kind":"message","text":"secret"}
`

// rawVersions lists, with the raw S3 client, every version and delete marker
// of the bucket under the store's key for prefix.
func rawVersions(t *testing.T, st *s3.Store, prefix string) []string {
	t.Helper()
	var out []string
	pages := awss3.NewListObjectVersionsPaginator(st.Client(), &awss3.ListObjectVersionsInput{Bucket: aws.String(st.Bucket()), Prefix: aws.String(st.Key(prefix))})
	for pages.HasMorePages() {
		page, err := pages.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			out = append(out, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, aws.ToString(m.Key)+"@"+aws.ToString(m.VersionId)+" (delete marker)")
		}
	}
	return out
}

// names lists a store's object names under prefix.
func names(t *testing.T, st remote.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := st.List(t.Context(), prefix, func(i remote.Info) error { out = append(out, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// failingStore is an S3 store whose deletes fail after the first n, as if
// the network dropped (or the process died) in the middle of a shred.
type failingStore struct {
	*s3.Store
	n     int64
	calls atomic.Int64
}

func (f *failingStore) fail() error {
	if f.calls.Add(1) > f.n {
		return fmt.Errorf("s3 store %s: delete: %w: connection reset (simulated)", f.Store, remote.ErrUnavailable)
	}
	return nil
}

func (f *failingStore) Delete(ctx context.Context, name string) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, name)
}

func (f *failingStore) DeleteVersion(ctx context.Context, name, versionID string) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.DeleteVersion(ctx, name, versionID)
}
