package s3_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/remote/s3"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// TestDeleteEveryVersion: on a versioned bucket Delete leaves no version and
// no delete marker of the object, and touches no other object (not even one
// whose name starts with the deleted one's).
func TestDeleteEveryVersion(t *testing.T) {
	st := s3test.Store(t, true)
	ctx := t.Context()
	c := st.Client()
	const name = "archives/a/keys/k1"
	put := func(name, body string) {
		t.Helper()
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key(name)), Body: strings.NewReader(body),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Versions written around the store (which never overwrites), and a delete
	// marker in between.
	put(name, "v1")
	put(name, "v2")
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key(name))}); err != nil {
		t.Fatal(err)
	}
	put(name, "v3")
	put(name+"-sibling", "keep")
	put("archives/a/keys/k0", "keep")

	var before []s3.Version
	if err := st.Versions(ctx, "archives/", func(v s3.Version) error { before = append(before, v); return nil }); err != nil {
		t.Fatal(err)
	}
	var markers, latest int
	for _, v := range before {
		if v.Name == name && v.DeleteMarker {
			markers++
		}
		if v.Name == name && v.Latest {
			latest++
		}
	}
	if len(before) != 6 || markers != 1 || latest != 1 || before[0].Name != "archives/a/keys/k0" || !before[1].Latest || before[1].Size != 2 {
		t.Fatalf("Versions before Delete = %+v; want k0, then k1's 3 versions and 1 marker newest first, then the sibling", before)
	}

	if err := st.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String(st.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, v := range out.Versions {
		left = append(left, strings.TrimPrefix(aws.ToString(v.Key), st.Key("")))
	}
	for _, m := range out.DeleteMarkers {
		left = append(left, "marker "+strings.TrimPrefix(aws.ToString(m.Key), st.Key("")))
	}
	slices.Sort(left)
	if want := []string{"archives/a/keys/k0", name + "-sibling"}; !slices.Equal(left, want) {
		t.Errorf("after Delete the bucket keeps %q, want %q", left, want)
	}
	if err := st.Delete(ctx, name); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

// TestVersionsUnversioned: each object of an unversioned bucket has one
// version.
func TestVersionsUnversioned(t *testing.T) {
	st := s3test.Store(t, false)
	ctx := t.Context()
	for _, name := range []string{"b", "a/x"} {
		if err := st.Create(ctx, name, strings.NewReader(name), int64(len(name))); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := st.Versions(ctx, "", func(v s3.Version) error {
		if v.DeleteMarker || !v.Latest || v.Size != int64(len(v.Name)) || v.ModTime.IsZero() {
			t.Errorf("version %+v", v)
		}
		got = append(got, v.Name)
		return nil
	})
	if err != nil || !slices.Equal(got, []string{"a/x", "b"}) {
		t.Errorf("Versions = %q, %v", got, err)
	}
}

// TestDeleteNullVersion: an object written before versioning was enabled has
// a "null" version, which Delete removes too.
func TestDeleteNullVersion(t *testing.T) {
	bucket := s3test.Bucket(t, false)
	st := s3test.Open(t, "s3://"+bucket, s3test.Options(t))
	ctx := t.Context()
	c := st.Client()
	if err := st.Create(ctx, "old", strings.NewReader("before"), 6); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("old"), Body: strings.NewReader("after")}); err != nil {
		t.Fatal(err)
	}
	st = s3test.Open(t, "s3://"+bucket, s3test.Options(t)) // a new store reads the versioning state anew
	var ids []string
	st.Versions(ctx, "", func(v s3.Version) error { ids = append(ids, v.VersionID); return nil })
	t.Logf("versions before Delete: %q", ids)
	if len(ids) != 2 || !slices.Contains(ids, "null") {
		t.Errorf("versions before Delete: %q, want 2 with a null one", ids)
	}
	if err := st.Delete(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Versions)+len(out.DeleteMarkers) != 0 {
		t.Errorf("after Delete: %d versions and %d delete markers left", len(out.Versions), len(out.DeleteMarkers))
	}
}
