package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/remote"
)

// Deleting single versions and reading Object Lock retention: what a shred
// needs to delete every version of an archive's objects and to say which of
// them a retention period keeps.

var (
	// ErrRetained: the server refused to delete an object version because
	// S3 Object Lock protects it (a retention period or a legal hold). S3
	// answers 403 AccessDenied "Access Denied because object protected by
	// object lock."; the error also matches [ErrDenied].
	ErrRetained = errors.New("protected by object lock")
	// ErrNoRetention: the object version has no retention of its own
	// (NoSuchObjectLockConfiguration). A bucket's default retention may still
	// protect it: versitygw answers so for versions locked by the bucket
	// default, see [Store.DefaultRetention].
	ErrNoRetention = errors.New("no object lock retention on the object")
)

// Versioned reports whether the bucket's versioning is or was enabled (asked
// once per Store; a server without versioning counts as unversioned, a
// refused GetBucketVersioning as versioned).
func (s *Store) Versioned(ctx context.Context) (bool, error) {
	v, err := s.isVersioned(ctx)
	if err != nil {
		return false, s.fail(ctx, "versioning", "", err)
	}
	return v, nil
}

// DeleteVersion deletes one version (or delete marker) of the object name,
// for good. versionID is a VersionID from [Store.Versions]; "" deletes the
// current object without a version id (on a versioned bucket that only adds a
// delete marker: give the id). A version that is already gone is not an
// error. A version Object Lock protects is an error wrapping [ErrRetained]
// (and [ErrDenied]); the retention is not bypassed, even where the
// credentials would allow bypassing a GOVERNANCE one.
func (s *Store) DeleteVersion(ctx context.Context, name, versionID string) error {
	if err := s.check(ctx, "delete", name); err != nil {
		return err
	}
	in := &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.Key(name))}
	what := name
	if versionID != "" {
		in.VersionId = aws.String(versionID)
		what = fmt.Sprintf("%s (version %s)", name, versionID)
	}
	_, err := s.client.DeleteObject(ctx, in)
	switch {
	case err == nil, notFound(err):
		return nil
	case versionGone(err, versionID):
		return nil
	case objectLocked(err):
		return fmt.Errorf("s3 store %s: delete %s: %w: %w", s.url, what, ErrRetained, s.classify(ctx, err))
	}
	return s.fail(ctx, "delete", what, err)
}

// objectLocked reports whether err is S3 refusing a delete because of Object
// Lock: a 403 AccessDenied whose message names the object lock (AWS: "Access
// Denied because object protected by object lock."; versitygw the same).
func objectLocked(err error) bool {
	code, status := apiError(err)
	if code != "AccessDenied" && status != 403 {
		return false
	}
	return strings.Contains(strings.ToLower(err.Error()), "object lock")
}

// versionGone reports whether err is versitygw's answer to a delete naming a
// version id it does not know (400 InvalidArgument "Invalid version id
// specified"), which is what it says of a version already deleted. AWS answers
// such a delete with success.
func versionGone(err error, versionID string) bool {
	if versionID == "" {
		return false
	}
	code, _ := apiError(err)
	return code == "InvalidArgument" && strings.Contains(strings.ToLower(err.Error()), "version id")
}

// Retention returns the Object Lock retention of one version of name
// (versionID "" for the current one): its mode (GOVERNANCE or COMPLIANCE) and
// the date until which it is kept. A version without a retention of its own
// is [ErrNoRetention]; a missing object [remote.ErrNotFound].
func (s *Store) Retention(ctx context.Context, name, versionID string) (mode string, until time.Time, err error) {
	if err := s.check(ctx, "retention of", name); err != nil {
		return "", time.Time{}, err
	}
	in := &awss3.GetObjectRetentionInput{Bucket: aws.String(s.bucket), Key: aws.String(s.Key(name))}
	what := name
	if versionID != "" {
		in.VersionId = aws.String(versionID)
		what = fmt.Sprintf("%s (version %s)", name, versionID)
	}
	out, err := s.client.GetObjectRetention(ctx, in)
	if err != nil {
		code, _ := apiError(err)
		switch {
		case code == "NoSuchObjectLockConfiguration" || code == "ObjectLockConfigurationNotFoundError":
			return "", time.Time{}, fmt.Errorf("s3 store %s: retention of %s: %w", s.url, what, ErrNoRetention)
		case notFound(err):
			return "", time.Time{}, s.fail(ctx, "retention of", what, remote.ErrNotFound)
		}
		return "", time.Time{}, s.fail(ctx, "retention of", what, err)
	}
	if out.Retention == nil {
		return "", time.Time{}, fmt.Errorf("s3 store %s: retention of %s: %w", s.url, what, ErrNoRetention)
	}
	return string(out.Retention.Mode), aws.ToTime(out.Retention.RetainUntilDate).UTC(), nil
}

// DefaultRetention returns the bucket's default Object Lock retention: its
// mode and period (days, or years × 365 days). A bucket without Object Lock,
// or without a default rule, is [ErrNoRetention].
func (s *Store) DefaultRetention(ctx context.Context) (mode string, period time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("s3 store %s: object lock configuration: %w", s.url, err)
	}
	out, err := s.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		code, _ := apiError(err)
		if code == "ObjectLockConfigurationNotFoundError" || code == "NoSuchObjectLockConfiguration" {
			return "", 0, fmt.Errorf("s3 store %s: object lock configuration: %w", s.url, ErrNoRetention)
		}
		return "", 0, s.fail(ctx, "object lock configuration", "", err)
	}
	c := out.ObjectLockConfiguration
	if c == nil || c.Rule == nil || c.Rule.DefaultRetention == nil {
		return "", 0, fmt.Errorf("s3 store %s: object lock configuration: %w", s.url, ErrNoRetention)
	}
	d := c.Rule.DefaultRetention
	days := int64(aws.ToInt32(d.Days)) + 365*int64(aws.ToInt32(d.Years))
	return string(d.Mode), time.Duration(days) * 24 * time.Hour, nil
}
