package archive

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// The engine against a real S3 server (versitygw, started by
// scripts/s3server.sh): push, pull, conflicts and rebase, export and restore
// straight on S3.

func TestS3PushPullRebase(t *testing.T) {
	rem := s3test.Store(t, true)
	alice, bob := newDevice(t), newDevice(t)
	a := alice.create("chats")
	alice.export(a, msg("c", "1", "2020-01-01T00:00:00Z", "one"), ExportOptions{})
	first := alice.pushOK(a.ID(), rem)
	if first.Commits != 2 || first.Objects == 0 {
		t.Fatalf("push to S3: %+v", first)
	}
	if again := alice.pushOK(a.ID(), rem); again.Objects != 0 || again.Commits != 0 {
		t.Fatalf("second push to S3 sent %+v", again)
	}
	bob.pullOK(a.ID(), rem)
	bob.export(bob.open(a.ID()), msg("c", "2", "2020-01-02T00:00:00Z", "bob"), ExportOptions{})
	bob.pushOK(a.ID(), rem)

	alice.export(alice.open(a.ID()), msg("c", "3", "2020-01-03T00:00:00Z", "alice"), ExportOptions{})
	if _, err := alice.push(a.ID(), rem); !errors.Is(err, ErrConflict) {
		t.Fatalf("push after bob's: %v, want ErrConflict", err)
	}
	if rep := alice.pullOK(a.ID(), rem); len(rep.Rebased) != 1 {
		t.Fatalf("pull: %+v", rep)
	}
	alice.pushOK(a.ID(), rem)

	// Read straight from S3, with a third machine.
	carol := newDevice(t)
	c, err := Open(carol.ctx, rem, a.ID(), carol.opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(carol.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
		t.Fatal(err)
	}
	want := msg("c", "1", "2020-01-01T00:00:00Z", "one") + msg("c", "2", "2020-01-02T00:00:00Z", "bob") + msg("c", "3", "2020-01-03T00:00:00Z", "alice")
	if got := carol.restore(c, RestoreOptions{})["c"]; got != want {
		t.Errorf("restored from S3:\n%s\nwant\n%s", got, want)
	}
	for _, o := range []VerifyOptions{{}, {Keyless: true}, {ReadData: true}} {
		if _, err := c.Verify(carol.ctx, o); err != nil {
			t.Errorf("verify %+v on S3: %v", o, err)
		}
	}
}

// Two pushes of different new commits race for the same number on S3: one
// wins, the other gets ErrConflict, and no commit is overwritten.
func TestS3PushRace(t *testing.T) {
	rem := s3test.Store(t, false)
	alice, bob := newDevice(t), newDevice(t)
	a := alice.create("chats")
	alice.pushOK(a.ID(), rem)
	bob.pullOK(a.ID(), rem)
	alice.export(alice.open(a.ID()), msg("c", "a", "2020-01-01T00:00:00Z", "alice"), ExportOptions{})
	bob.export(bob.open(a.ID()), msg("c", "b", "2020-01-01T00:00:00Z", "bob"), ExportOptions{})
	errs := make(chan error, 2)
	for _, d := range []machine{alice, bob} {
		go func() { _, err := d.push(a.ID(), rem); errs <- err }()
	}
	var won, lost int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			won++
		case errors.Is(err, ErrConflict) && strings.Contains(err.Error(), "pull first"):
			lost++
		default:
			t.Errorf("racing push: %v", err)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("racing pushes: %d won, %d lost", won, lost)
	}
	// The loser pulls (rebase) and pushes; both commits survive.
	for _, d := range []machine{alice, bob} {
		if _, err := d.push(a.ID(), rem); err != nil {
			d.pullOK(a.ID(), rem)
			d.pushOK(a.ID(), rem)
		}
	}
	c := newDevice(t)
	c.pullOK(a.ID(), rem)
	got := c.restore(c.open(a.ID()), RestoreOptions{})["c"]
	if !strings.Contains(got, `"alice"`) || !strings.Contains(got, `"bob"`) {
		t.Errorf("after the race: %q", got)
	}
}

// Segments above the multipart threshold go up in parts; an upload left by a
// killed push is aborted by the next push, which completes the archive.
func TestS3MultipartAndOrphanedUploads(t *testing.T) {
	opts := s3test.Options(t)
	opts.PartSize = 5 << 20
	opts.MultipartThreshold = 5 << 20
	bucket := s3test.Bucket(t, false)
	rem := s3test.Open(t, "s3://"+bucket, opts)
	alice := newDevice(t)
	a := alice.create("big")
	var in strings.Builder
	for i := range 3000 {
		in.WriteString(msg("c", strings.Repeat("i", 1+i%7)+string(rune('a'+i%26))+strings.Repeat("x", i/26), "2020-01-01T00:00:00Z", randomText(i, 4000)))
	}
	res := alice.export(a, in.String(), ExportOptions{SegmentSize: 8 << 20, Compression: CompressOff})
	if res.StoredBytes < 10<<20 {
		t.Fatalf("export stored %d bytes; the test needs segments above 5 MiB", res.StoredBytes)
	}
	// A killed push's leftover: an upload in progress for one of the
	// archive's objects.
	client := s3test.Client(t)
	live, err := a.liveObjects(alice.ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := a.paths.object(live[len(live)-1].Area, live[len(live)-1].ID)
	if _, err := client.CreateMultipartUpload(t.Context(), &awss3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	ups, err := client.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(ups.Uploads) != 1 {
		t.Fatalf("the orphaned upload: %v, %v", ups, err)
	}
	alice.pushOK(a.ID(), rem)
	ups, err = client.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after the push", len(ups.Uploads))
	}
	bob := newDevice(t)
	bob.pullOK(a.ID(), rem)
	if _, err := bob.open(a.ID()).Verify(context.Background(), VerifyOptions{ReadData: true}); err != nil {
		t.Errorf("verify after multipart push and pull: %v", err)
	}
}

// randomText is deterministic incompressible-looking text.
func randomText(seed, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
	b := make([]byte, n)
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = alphabet[x%uint64(len(alphabet))]
	}
	return string(b)
}

// Default verify on S3 compares the SHA-256 the server checked on upload
// (HeadObject) with the recorded one: an object replaced in the bucket, even
// with one of the same size, is caught without a download.
func TestS3VerifyUsesStoredChecksum(t *testing.T) {
	bucket := s3test.Bucket(t, false)
	rem := s3test.Open(t, "s3://"+bucket, s3test.Options(t))
	alice := newDevice(t)
	a := alice.create("verify")
	alice.export(a, msg("c", "1", "2020-01-01T00:00:00Z", strings.Repeat("hello ", 50)), ExportOptions{})
	alice.pushOK(a.ID(), rem)
	info, err := rem.Stat(alice.ctx, a.paths.commit(1))
	if err != nil || len(info.SHA256) != 32 {
		t.Fatalf("Stat gives no SHA-256: %+v %v", info, err)
	}
	// A segment: default verify reads no segment, it compares checksums.
	heads, _ := a.conversationsAt(alice.ctx, a.Head())
	var name string
	for conv, ref := range heads {
		chain, _ := a.manifestChain(alice.ctx, conv, ref)
		name = a.paths.object(areaObjects, chain[0].Segments[0].ID)
	}
	info, err = rem.Stat(alice.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s3test.Client(t).PutObject(alice.ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(name),
		Body: strings.NewReader(strings.Repeat("x", int(info.Size))), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(alice.ctx, rem, a.ID(), alice.opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Unlock(alice.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify(alice.ctx, VerifyOptions{}); !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "SHA-256 differs") {
		t.Errorf("verify of a replaced segment: %v", err)
	}
}
