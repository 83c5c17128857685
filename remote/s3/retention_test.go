package s3_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// DeleteVersion removes exactly the version named, delete markers included,
// and a version already gone is not an error; on an unversioned bucket the
// "null" version (and "") deletes the object.
func TestDeleteVersion(t *testing.T) {
	st := s3test.Store(t, true)
	ctx := t.Context()
	c := st.Client()
	const name = "archives/a/keys/k1"
	put := func(name, body string) string {
		t.Helper()
		out, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key(name)), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	put(name, "v1")
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key(name))}); err != nil {
		t.Fatal(err)
	}
	put(name, "v2")
	put("archives/a/keys/k2", "other")
	if v, err := st.Versioned(ctx); err != nil || !v {
		t.Fatalf("Versioned = %v, %v", v, err)
	}
	var vs []s3.Version
	if err := st.Versions(ctx, name, func(v s3.Version) error { vs = append(vs, v); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("versions: %+v", vs)
	}
	for _, v := range vs {
		if err := st.DeleteVersion(ctx, v.Name, v.VersionID); err != nil {
			t.Fatalf("DeleteVersion(%s, %s): %v", v.Name, v.VersionID, err)
		}
		// Again: already gone.
		if err := st.DeleteVersion(ctx, v.Name, v.VersionID); err != nil {
			t.Fatalf("DeleteVersion of a deleted version: %v", err)
		}
	}
	var left []string
	st.Versions(ctx, "archives/", func(v s3.Version) error { left = append(left, v.Name); return nil })
	if len(left) != 1 || left[0] != "archives/a/keys/k2" {
		t.Fatalf("left after deleting every version of k1: %v", left)
	}

	un := s3test.Store(t, false)
	if v, err := un.Versioned(ctx); err != nil || v {
		t.Fatalf("unversioned bucket: Versioned = %v, %v", v, err)
	}
	for _, id := range []string{"null", ""} {
		if err := un.Create(ctx, "x", strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
		if err := un.DeleteVersion(ctx, "x", id); err != nil {
			t.Fatalf("DeleteVersion(x, %q) on an unversioned bucket: %v", id, err)
		}
		if _, err := un.Stat(ctx, "x"); !errors.Is(err, remote.ErrNotFound) {
			t.Fatalf("after DeleteVersion(x, %q): %v", id, err)
		}
	}
}

// A version under Object Lock retention is not deleted: ErrRetained (and
// ErrDenied), and Retention names its mode and date. A version protected only
// by the bucket's default retention has no retention of its own on versitygw
// (ErrNoRetention), and DefaultRetention gives the rule.
func TestRetention(t *testing.T) {
	bucket := s3test.LockedBucket(t)
	st := s3test.Open(t, "s3://"+bucket+"/root", s3test.Options(t))
	ctx := t.Context()
	c := st.Client()
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	out, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(st.Key("keys/locked")), Body: strings.NewReader("x"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
	if err != nil {
		t.Fatal(err)
	}
	vid := aws.ToString(out.VersionId)
	err = st.DeleteVersion(ctx, "keys/locked", vid)
	if !errors.Is(err, s3.ErrRetained) || !errors.Is(err, s3.ErrDenied) {
		t.Fatalf("deleting a retained version: %v", err)
	}
	mode, got, err := st.Retention(ctx, "keys/locked", vid)
	if err != nil || mode != "GOVERNANCE" || !got.Equal(until) {
		t.Fatalf("Retention = %q %v %v; want GOVERNANCE %v", mode, got, err, until)
	}
	if _, _, err := st.DefaultRetention(ctx); !errors.Is(err, s3.ErrNoRetention) {
		t.Fatalf("DefaultRetention without a rule: %v", err)
	}
	if err := st.Create(ctx, "plain", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Retention(ctx, "plain", ""); !errors.Is(err, s3.ErrNoRetention) {
		t.Fatalf("Retention of an unlocked object: %v", err)
	}
	if _, _, err := st.Retention(ctx, "missing", ""); !errors.Is(err, remote.ErrNotFound) && !errors.Is(err, s3.ErrNoRetention) {
		t.Fatalf("Retention of a missing object: %v", err)
	}
	if err := st.Delete(ctx, "plain"); err != nil {
		t.Fatal(err)
	}

	_, err = c.PutObjectLockConfiguration(ctx, &awss3.PutObjectLockConfigurationInput{Bucket: aws.String(bucket), ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if mode, period, err := st.DefaultRetention(ctx); err != nil || mode != "GOVERNANCE" || period != 24*time.Hour {
		t.Fatalf("DefaultRetention = %q %v %v", mode, period, err)
	}
	if err := st.Create(ctx, "by-default", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	var vs []s3.Version
	st.Versions(ctx, "by-default", func(v s3.Version) error { vs = append(vs, v); return nil })
	if len(vs) != 1 {
		t.Fatalf("versions: %+v", vs)
	}
	if err := st.DeleteVersion(ctx, "by-default", vs[0].VersionID); !errors.Is(err, s3.ErrRetained) {
		t.Fatalf("deleting a version under the bucket's default retention: %v", err)
	}
	if mode, _, err := st.Retention(ctx, "by-default", vs[0].VersionID); err != nil && !errors.Is(err, s3.ErrNoRetention) || err == nil && mode != "GOVERNANCE" {
		t.Fatalf("Retention under the default rule: %q %v", mode, err)
	}
}
