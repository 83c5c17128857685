package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/remote"
)

// Create implements [remote.Store.Create]; see the package documentation.
func (s *Store) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := s.check(ctx, "create", name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("s3 store %s: create %s: negative size %d", s.url, name, size)
	}
	if size > s.opts.MultipartThreshold {
		return s.createMultipart(ctx, name, r, size)
	}
	// The whole object in memory (at most MultipartThreshold bytes): see the
	// package documentation.
	buf := make([]byte, size)
	if err := readFull(ctx, r, buf, 0, size); err != nil {
		return s.sourceFail("create", name, err)
	}
	if err := expectEOF(r, size); err != nil {
		return s.sourceFail("create", name, err)
	}
	sum := sha256.Sum256(buf)
	checksum := base64.StdEncoding.EncodeToString(sum[:])
	in := &awss3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(s.Key(name)),
		Body:              bytes.NewReader(buf),
		ContentLength:     aws.Int64(size),
		ContentType:       aws.String("application/octet-stream"),
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(checksum),
	}
	if s.opts.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.opts.SSE)
	}
	if s.opts.SSEKMSKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.opts.SSEKMSKeyID)
	}
	var attempts atomic.Int32
	_, err := s.client.PutObject(ctx, in, countAttempts(&attempts), signedPayloadHash(sum[:]))
	if err != nil && preconditionFailed(err) {
		if attempts.Load() > 1 && s.holds(ctx, name, size, checksum) {
			return nil // an earlier attempt of ours stored it; its answer was lost
		}
		err = remote.ErrExists
	}
	if err != nil {
		return s.fail(ctx, "create", name, err)
	}
	return nil
}

// holds reports whether the object name has exactly this size and this
// SHA-256 checksum (the full-object one, or the composite "x-N" of a multipart
// upload): whether a Create that was answered 412 after a retry met its own
// earlier attempt.
func (s *Store) holds(ctx context.Context, name string, size int64, checksum string) bool {
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(s.Key(name)),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	return err == nil && aws.ToInt64(out.ContentLength) == size && aws.ToString(out.ChecksumSHA256) == checksum
}

// sourceFail is the error for a source reader that failed or did not hold
// exactly the announced size: not a store error, so not classified.
func (s *Store) sourceFail(op, name string, err error) error {
	return fmt.Errorf("s3 store %s: %s %s: %w", s.url, op, name, err)
}

// readFull reads len(buf) bytes of r into buf, checking ctx between reads; done
// is how many bytes of the object came before, size its total, for messages.
func readFull(ctx context.Context, r io.Reader, buf []byte, done, size int64) error {
	n, err := io.ReadFull(ctxReader{ctx, r}, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("source ended after %d of %d bytes: %w", done+int64(n), size, io.ErrUnexpectedEOF)
	case err != nil:
		return fmt.Errorf("reading source after %d of %d bytes: %w", done+int64(n), size, err)
	}
	return nil
}

// expectEOF checks that r holds nothing after its size bytes.
func expectEOF(r io.Reader, size int64) error {
	var extra [1]byte
	switch n, err := io.ReadFull(r, extra[:]); {
	case n > 0:
		return fmt.Errorf("source has more than %d bytes", size)
	case err != io.EOF:
		return fmt.Errorf("reading source after %d bytes: %w", size, err)
	}
	return nil
}

// ctxReader makes a long copy from r stop when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Open implements [remote.Store.Open]. The body is streamed; its SHA-256 is
// checked at its end when the object was stored in one part (an error there
// means corrupt data). An error while reading it wraps remote.ErrUnavailable.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := s.check(ctx, "open", name); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(s.Key(name)),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		if notFound(err) {
			err = remote.ErrNotFound
		}
		return nil, s.fail(ctx, "open", name, err)
	}
	return &body{ctx: ctx, s: s, name: name, rc: out.Body}, nil
}

// body is an object's content being read.
type body struct {
	ctx  context.Context
	s    *Store
	name string
	rc   io.ReadCloser
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.fail(b.ctx, "read", b.name, err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// Stat implements [remote.Store.Stat].
func (s *Store) Stat(ctx context.Context, name string) (remote.Info, error) {
	if err := s.check(ctx, "stat", name); err != nil {
		return remote.Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(s.Key(name)),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		if notFound(err) {
			// HEAD answers a missing bucket with the same bare 404.
			if err = s.checkBucket(ctx); err == nil {
				err = remote.ErrNotFound
			}
		}
		return remote.Info{}, s.fail(ctx, "stat", name, err)
	}
	info := remote.Info{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}
	// A multipart object's checksum is composite ("<base64>-<parts>"): not
	// the SHA-256 of the object, so not reported.
	if sum, err := base64.StdEncoding.DecodeString(aws.ToString(out.ChecksumSHA256)); err == nil && len(sum) == sha256.Size {
		info.SHA256 = sum
	}
	return info, nil
}

// checkBucket checks once per Store that the bucket exists.
func (s *Store) checkBucket(ctx context.Context) error {
	if s.bucketOK.Load() {
		return nil
	}
	_, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("%w %q", ErrNoBucket, s.bucket)
		}
		return err
	}
	s.bucketOK.Store(true)
	return nil
}

// List implements [remote.Store.List]: S3 returns keys in lexical (UTF-8
// byte) order, the order of Go strings.
func (s *Store) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3 store %s: list %q: %w", s.url, prefix, err)
	}
	pages := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s.fail(ctx, "list", fmt.Sprintf("%q", prefix), err)
		}
		for _, obj := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(obj.Key), s.prefix)
			if name == "" {
				continue // a "directory" object named like the prefix itself
			}
			err := fn(remote.Info{Name: name, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements [remote.Store.Delete]: every version and delete marker of
// the object goes when the bucket is or was versioned. See the package
// documentation.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.check(ctx, "delete", name); err != nil {
		return err
	}
	versioned, err := s.isVersioned(ctx)
	if err != nil {
		return s.fail(ctx, "delete", name, err)
	}
	key := s.Key(name)
	if !versioned {
		_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		if err != nil && !notFound(err) {
			return s.fail(ctx, "delete", name, err)
		}
		return nil
	}
	var ids []string
	err = s.versions(ctx, key, func(v Version) error {
		switch {
		case v.Name == name:
			ids = append(ids, v.VersionID)
		case v.Name > name:
			return errStop // keys come in order: no more versions of name
		}
		return nil
	})
	if err != nil && err != errStop {
		return s.fail(ctx, "delete", name, err)
	}
	for _, id := range ids {
		in := &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
		if id != "" {
			in.VersionId = aws.String(id)
		}
		if _, err := s.client.DeleteObject(ctx, in); err != nil && !notFound(err) {
			return s.fail(ctx, "delete", fmt.Sprintf("%s (version %s)", name, id), err)
		}
	}
	return nil
}

// isVersioned reports whether the bucket's versioning is or was enabled,
// asking the server once per Store. A server without versioning (501) counts
// as unversioned; a refused GetBucketVersioning as versioned, to be safe.
func (s *Store) isVersioned(ctx context.Context) (bool, error) {
	s.versioningMu.Lock()
	defer s.versioningMu.Unlock()
	if s.versioningKnown {
		return s.versioned, nil
	}
	out, err := s.client.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		code, status := apiError(err)
		switch {
		case status == 501 || code == "NotImplemented" || code == "VersioningNotConfigured":
			s.versioned = false
		case deniedCodes[code] || status == 403:
			s.versioned = true
		default:
			return false, err
		}
	} else {
		s.versioned = out.Status != ""
	}
	s.versioningKnown = true
	return s.versioned, nil
}
