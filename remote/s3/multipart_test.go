package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
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

// smallParts makes objects above 6 MiB multipart uploads of 5 MiB parts.
func smallParts(t *testing.T, versioned bool) *s3.Store {
	t.Helper()
	opts := s3test.Options(t)
	opts.PartSize = 5 * s3.MiB
	opts.MultipartThreshold = 6 * s3.MiB
	return s3test.Open(t, "s3://"+s3test.Bucket(t, versioned)+"/mp", opts)
}

func TestMultipart(t *testing.T) {
	st := smallParts(t, false)
	ctx := t.Context()
	data := randomBytes(11*s3.MiB + 12345) // 3 parts
	const name = "archives/a/objects/big"
	// A plain io.Reader, not seekable, delivering small chunks.
	if err := st.Create(ctx, name, io.LimitReader(onlyReader{bytes.NewReader(data)}, int64(len(data))), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	checkContent(t, st, name, data)
	info, err := st.Stat(ctx, name)
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	head, err := st.Client().HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key(name)), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := aws.ToString(head.ChecksumSHA256); !strings.HasSuffix(c, "-3") {
		t.Errorf("multipart object's SHA-256 checksum is %q, want a composite one of 3 parts", c)
	}

	other := randomBytes(7 * s3.MiB)
	err = st.Create(ctx, name, bytes.NewReader(other), int64(len(other)))
	if !errors.Is(err, remote.ErrExists) {
		t.Fatalf("second multipart Create: %v, want ErrExists", err)
	}
	checkContent(t, st, name, data)
	if n := uploadsInProgress(t, st); n != 0 {
		t.Errorf("lost multipart Create left %d uploads in progress", n)
	}
}

func TestMultipartFailingSource(t *testing.T) {
	st := smallParts(t, false)
	ctx := t.Context()
	data := randomBytes(12 * s3.MiB)
	boom := errors.New("disk on fire")
	for _, tc := range []struct {
		name string
		r    io.Reader
		want error
	}{
		{"failing", io.MultiReader(bytes.NewReader(data[:7*s3.MiB]), errReader{boom}), boom},
		{"short", bytes.NewReader(data[:9*s3.MiB]), io.ErrUnexpectedEOF},
		{"long", bytes.NewReader(data), nil},
	} {
		name := "archives/a/objects/" + tc.name
		err := st.Create(ctx, name, tc.r, 10*s3.MiB)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Create from a %s source: %v, want %v", tc.name, err, tc.want)
		}
		t.Logf("%s source: %v", tc.name, err)
		if _, err := st.Stat(ctx, name); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("after a %s source: Stat = %v, want ErrNotFound", tc.name, err)
		}
	}
	if n := uploadsInProgress(t, st); n != 0 {
		t.Errorf("failed Creates left %d uploads in progress", n)
	}
}

func TestAbortUploads(t *testing.T) {
	st := smallParts(t, false)
	ctx := t.Context()
	c := st.Client()
	for _, name := range []string{"archives/a/objects/orphan", "other/orphan"} {
		_, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key(name)),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	olderThanHour := func(_ string, at time.Time) bool { return time.Since(at) > time.Hour }
	if n, err := st.AbortUploads(ctx, "", olderThanHour); n != 0 || err != nil {
		t.Errorf("AbortUploads(older than 1h) = %d, %v; want 0 (they are new)", n, err)
	}
	named := func(name string, _ time.Time) bool { return name == "archives/a/objects/orphan" }
	if n, err := st.AbortUploads(ctx, "", named); n != 1 || err != nil {
		t.Errorf("AbortUploads(the orphan by name) = %d, %v; want 1", n, err)
	}
	if n := uploadsInProgress(t, st); n != 1 {
		t.Errorf("%d uploads left, want 1 (other/)", n)
	}
	if _, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key("archives/b/objects/x"))}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.AbortUploads(ctx, "archives/", nil); n != 1 || err != nil {
		t.Errorf("AbortUploads(archives/) = %d, %v; want 1", n, err)
	}
	if n := uploadsInProgress(t, st); n != 1 {
		t.Errorf("%d uploads left, want 1 (other/)", n)
	}
	if n, err := st.AbortUploads(ctx, "", nil); n != 1 || err != nil {
		t.Errorf("AbortUploads() = %d, %v; want 1", n, err)
	}
	if n := uploadsInProgress(t, st); n != 0 {
		t.Errorf("%d uploads left", n)
	}
}

// uploadsInProgress counts the bucket's multipart uploads with a raw
// ListMultipartUploads.
func uploadsInProgress(t *testing.T, st *s3.Store) int {
	t.Helper()
	out, err := st.Client().ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(st.Bucket())})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	return len(out.Uploads)
}

func checkContent(t *testing.T, st *s3.Store, name string, want []byte) {
	t.Helper()
	r, err := st.Open(t.Context(), name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %d bytes, not the %d written", name, len(got), len(want))
	}
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// onlyReader hides every method but Read (no Seek, no WriteTo), and reads at
// most 100 KiB at a time.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 100<<10)]) }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestMultipartCancelled: a context cancelled in the middle of a multipart
// upload fails Create with context.Canceled and still aborts the upload.
func TestMultipartCancelled(t *testing.T) {
	st := smallParts(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	data := randomBytes(12 * s3.MiB)
	r := &cancelAfter{r: bytes.NewReader(data), n: 6 * s3.MiB, cancel: cancel}
	err := st.Create(ctx, "cancelled", r, int64(len(data)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Create cancelled mid-upload: %v, want context.Canceled", err)
	}
	if _, err := st.Stat(t.Context(), "cancelled"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat after cancelled Create: %v, want ErrNotFound", err)
	}
	if n := uploadsInProgress(t, st); n != 0 {
		t.Errorf("cancelled Create left %d uploads in progress", n)
	}
}

// cancelAfter calls cancel once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	m, err := c.r.Read(p)
	if c.n -= m; c.n <= 0 {
		c.cancel()
	}
	return m, err
}
