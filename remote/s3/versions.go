package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is one stored version of an object, or a delete marker, in a
// versioned bucket.
type Version struct {
	Name         string // object name, relative to the store's prefix
	VersionID    string // "null" for a version written while versioning was off
	DeleteMarker bool
	Latest       bool // the current version (or marker) of its name
	Size         int64
	ModTime      time.Time
}

// errStop ends a listing early without error.
var errStop = errors.New("stop listing")

// Versions calls fn for every version and delete marker of every object whose
// name starts with prefix: names in lexical order, and the versions of one name
// newest first. It lists what is kept of deleted objects, e.g. to prove that
// Delete left nothing. An error returned by fn stops the listing and is returned.
// On an unversioned bucket each object has one version, "null".
func (s *Store) Versions(ctx context.Context, prefix string, fn func(Version) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3 store %s: versions %q: %w", s.url, prefix, err)
	}
	var fnErr error
	err := s.versions(ctx, s.prefix+prefix, func(v Version) error {
		if fnErr = fn(v); fnErr != nil {
			return errStop
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil && err != errStop {
		return s.fail(ctx, "versions", fmt.Sprintf("%q", prefix), err)
	}
	return nil
}

// versions lists the versions and delete markers of the keys starting with
// keyPrefix, in order (see Versions). It returns fn's error as it is, and the
// SDK's unclassified.
func (s *Store) versions(ctx context.Context, keyPrefix string, fn func(Version) error) error {
	pages := awss3.NewListObjectVersionsPaginator(s.client, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(keyPrefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		// The answer interleaves versions and markers in order; the SDK
		// splits them into two lists, so they are merged back here.
		var vs []Version
		for _, v := range page.Versions {
			vs = append(vs, s.version(aws.ToString(v.Key), aws.ToString(v.VersionId), false, aws.ToBool(v.IsLatest), aws.ToInt64(v.Size), aws.ToTime(v.LastModified)))
		}
		for _, m := range page.DeleteMarkers {
			vs = append(vs, s.version(aws.ToString(m.Key), aws.ToString(m.VersionId), true, aws.ToBool(m.IsLatest), 0, aws.ToTime(m.LastModified)))
		}
		slices.SortStableFunc(vs, func(a, b Version) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			switch {
			case a.Latest && !b.Latest:
				return -1
			case b.Latest && !a.Latest:
				return 1
			}
			return b.ModTime.Compare(a.ModTime) // newest first
		})
		for _, v := range vs {
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Store) version(key, id string, marker, latest bool, size int64, mod time.Time) Version {
	return Version{Name: strings.TrimPrefix(key, s.prefix), VersionID: id, DeleteMarker: marker, Latest: latest, Size: size, ModTime: mod}
}
