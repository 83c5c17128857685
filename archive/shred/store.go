package shred

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3"
)

// versionedStore is what an S3 store adds to remote.Store: listing and
// deleting single versions and delete markers, and reading Object Lock
// retention. *s3.Store implements it; any other store is treated as holding
// one version per object, listed with List and removed with Delete.
type versionedStore interface {
	remote.Store
	Versions(ctx context.Context, prefix string, fn func(s3.Version) error) error
	DeleteVersion(ctx context.Context, name, versionID string) error
	Retention(ctx context.Context, name, versionID string) (mode string, until time.Time, err error)
	DefaultRetention(ctx context.Context) (mode string, period time.Duration, err error)
	Versioned(ctx context.Context) (bool, error)
}

// uploadAborter is an S3 store's removal of multipart uploads in progress.
type uploadAborter interface {
	AbortUploads(ctx context.Context, prefix string, abort func(name string, initiated time.Time) bool) (int, error)
}

var _ versionedStore = (*s3.Store)(nil)
var _ uploadAborter = (*s3.Store)(nil)

// item is one stored object version (or delete marker).
type item struct {
	Name      string
	VersionID string // "" in a store without versions
	Marker    bool
	ModTime   time.Time
}

func (it item) key() string { return it.Name + "\x00" + it.VersionID }

// listItems lists every object version and delete marker whose name starts
// with prefix.
func listItems(ctx context.Context, st remote.Store, prefix string) ([]item, error) {
	var out []item
	if vs, ok := st.(versionedStore); ok {
		err := vs.Versions(ctx, prefix, func(v s3.Version) error {
			out = append(out, item{Name: v.Name, VersionID: v.VersionID, Marker: v.DeleteMarker, ModTime: v.ModTime})
			return nil
		})
		return out, err
	}
	err := st.List(ctx, prefix, func(info remote.Info) error {
		out = append(out, item{Name: info.Name, ModTime: info.ModTime})
		return nil
	})
	return out, err
}

// deleteItem deletes one object version for good. A missing one is not an
// error (the stores say so themselves).
func deleteItem(ctx context.Context, st remote.Store, it item) error {
	if vs, ok := st.(versionedStore); ok && it.VersionID != "" {
		return vs.DeleteVersion(ctx, it.Name, it.VersionID)
	}
	return st.Delete(ctx, it.Name)
}

// isVersioned reports whether a store keeps versions (an S3 bucket whose
// versioning is or was on).
func isVersioned(ctx context.Context, st remote.Store) bool {
	vs, ok := st.(versionedStore)
	if !ok {
		return false
	}
	v, err := vs.Versioned(ctx)
	return err == nil && v
}

// retention describes why Object Lock kept a version: its own retention, or
// the bucket default (whose date versitygw does not tell).
func retention(ctx context.Context, st remote.Store, it item) Retained {
	x := Retained{Store: st.String(), Name: it.Name, VersionID: it.VersionID, Until: "unknown"}
	vs, ok := st.(versionedStore)
	if !ok {
		return x
	}
	mode, until, err := vs.Retention(ctx, it.Name, it.VersionID)
	switch {
	case err == nil && !until.IsZero():
		x.Mode, x.RetainUntil, x.Until = mode, until.UTC(), until.UTC().Format(time.RFC3339)
		return x
	case err != nil && !errors.Is(err, s3.ErrNoRetention):
		x.Note = "the retention could not be read: " + oneLine(err)
		return x
	}
	x.Until = UntilUnknownDefault
	if mode, period, err := vs.DefaultRetention(ctx); err == nil {
		x.Mode = mode
		x.Note = fmt.Sprintf("the bucket's default retention is %s for %s", mode, days(period))
		if !it.ModTime.IsZero() {
			x.Note += fmt.Sprintf(" from the version's time, so about until %s", it.ModTime.Add(period).UTC().Format(time.RFC3339))
		}
	} else {
		x.Note = "the version has a legal hold or a retention the server does not tell"
	}
	return x
}

func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// commitsFirst orders items for the data step: the commits first, newest
// first (the archive disappears from listings at once and a reader never sees
// a chain with a hole), then everything else by name.
func commitsFirst(items []item, prefix string) {
	commits := prefix + "commits/"
	sort.SliceStable(items, func(i, j int) bool {
		ci, cj := strings.HasPrefix(items[i].Name, commits), strings.HasPrefix(items[j].Name, commits)
		switch {
		case ci && !cj:
			return true
		case cj && !ci:
			return false
		case ci && cj:
			return items[i].Name > items[j].Name
		}
		return items[i].Name < items[j].Name
	})
}

// oneLine is an error message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
