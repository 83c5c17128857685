// Package s3test gives tests a fresh bucket on the S3 server of the test run.
//
// The server is named by the environment: CHATVAULT_TEST_S3 is its endpoint URL
// (e.g. http://127.0.0.1:7070), and the credentials and region are the SDK's
// usual AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION.
// scripts/s3server.sh start prints these lines. Without CHATVAULT_TEST_S3 the
// tests that need the server are skipped, unless CHATVAULT_TEST_REQUIRE_SERVERS=1
// (set by CI), where they fail: a skipped S3 test must never pass for a passed
// one there.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/remote/s3"
)

// Environment variables read by this package.
const (
	EnvEndpoint       = "CHATVAULT_TEST_S3"
	EnvRequireServers = "CHATVAULT_TEST_REQUIRE_SERVERS"
)

// Endpoint returns the test server's endpoint URL, or skips the test (fails it
// when servers are required) when there is none.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep == "" {
		msg := EnvEndpoint + " is not set: no S3 test server (start one with: eval \"$(scripts/s3server.sh start /tmp/s3)\")"
		if os.Getenv(EnvRequireServers) == "1" {
			t.Fatal(msg + ", and " + EnvRequireServers + "=1 requires it")
		}
		t.Skip(msg)
	}
	return ep
}

// Options returns store options for the test server: its endpoint, with quick
// retries so that failing tests fail fast.
func Options(t testing.TB) s3.Options {
	return s3.Options{
		Endpoint:    Endpoint(t),
		MaxAttempts: 3,
		MaxBackoff:  50 * time.Millisecond,
		HTTPTimeout: 10 * time.Second,
	}
}

var stores atomic.Int64

// Store returns a store on a new bucket of the test server, versioned or not,
// removed with everything in it when the test ends. Every other store has a
// key prefix ("s3://bucket/archive-root"), so that both layouts are exercised.
func Store(t testing.TB, versioned bool) *s3.Store {
	t.Helper()
	bucket := Bucket(t, versioned)
	url := "s3://" + bucket
	if stores.Add(1)%2 == 0 {
		url += "/archive-root"
	}
	return Open(t, url, Options(t))
}

// Open opens the store at url with opts, failing the test on error.
func Open(t testing.TB, url string, opts s3.Options) *s3.Store {
	t.Helper()
	st, err := s3.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("s3.Open(%s): %v", url, err)
	}
	return st
}

// Client returns a raw S3 client for the test server, for assertions that go
// around the store.
func Client(t testing.TB) *awss3.Client {
	t.Helper()
	st, err := s3.Open(t.Context(), "s3://any", Options(t))
	if err != nil {
		t.Fatalf("S3 client: %v", err)
	}
	return st.Client()
}

// Bucket creates a new, uniquely named bucket on the test server, with
// versioning enabled if asked, and removes it with all its object versions and
// uploads when the test ends (best effort: failures are logged).
func Bucket(t testing.TB, versioned bool) string {
	t.Helper()
	c := Client(t)
	name := bucketName(t)
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	t.Cleanup(func() { removeBucket(t, c, name, false) })
	if versioned {
		_, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{
			Bucket:                  aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		})
		if err != nil {
			t.Fatalf("PutBucketVersioning %s: %v", name, err)
		}
	}
	return name
}

// bucketName is a new, unique bucket name that says which test made it.
func bucketName(t testing.TB) string {
	var rnd [6]byte
	rand.Read(rnd[:])
	return strings.ToLower(fmt.Sprintf("cvt-%s-%s", sanitize(t.Name()), hex.EncodeToString(rnd[:])))
}

// sanitize keeps a short, bucket-name-safe part of a test name.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
		if b.Len() >= 30 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// removeBucket deletes every upload, object version and delete marker of the
// bucket, then the bucket; bypassGovernance deletes versions under GOVERNANCE
// retention too.
func removeBucket(t testing.TB, c *awss3.Client, bucket string, bypassGovernance bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := aws.String(bucket)
	var bypass *bool // unset unless asked: servers without object lock need not know the header
	if bypassGovernance {
		bypass = aws.Bool(true)
	}
	uploads := awss3.NewListMultipartUploadsPaginator(c, &awss3.ListMultipartUploadsInput{Bucket: b})
	for uploads.HasMorePages() {
		page, err := uploads.NextPage(ctx)
		if err != nil {
			t.Logf("cleanup: listing uploads of %s: %v", bucket, err)
			break
		}
		for _, u := range page.Uploads {
			c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: b, Key: u.Key, UploadId: u.UploadId})
		}
	}
	versions := awss3.NewListObjectVersionsPaginator(c, &awss3.ListObjectVersionsInput{Bucket: b})
	for versions.HasMorePages() {
		page, err := versions.NextPage(ctx)
		if err != nil {
			t.Logf("cleanup: listing versions of %s: %v", bucket, err)
			break
		}
		for _, v := range page.Versions {
			c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: v.Key, VersionId: v.VersionId, BypassGovernanceRetention: bypass})
		}
		for _, m := range page.DeleteMarkers {
			c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: m.Key, VersionId: m.VersionId, BypassGovernanceRetention: bypass})
		}
	}
	objects := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: b})
	for objects.HasMorePages() {
		page, err := objects.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: o.Key})
		}
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Logf("cleanup: deleting bucket %s: %v", bucket, err)
	}
}

// LockedBucket creates a bucket with Object Lock enabled (versioning comes
// with it) and removes it when the test ends, bypassing GOVERNANCE retention
// (tests use that mode only, so that cleanup can remove what they lock).
func LockedBucket(t testing.TB) string {
	t.Helper()
	c := Client(t)
	name := bucketName(t)
	if _, err := c.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatalf("CreateBucket %s with object lock: %v", name, err)
	}
	t.Cleanup(func() { removeBucket(t, c, name, true) })
	return name
}
