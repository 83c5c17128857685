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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/remote"
)

// createMultipart stores an object larger than the multipart threshold as a
// multipart upload, one part in memory at a time. Every part carries its
// SHA-256, CreateMultipartUpload names the algorithm, and Complete echoes each
// part's checksum and carries If-None-Match: *. Any failure aborts the upload.
func (s *Store) createMultipart(ctx context.Context, name string, r io.Reader, size int64) (err error) {
	key := s.Key(name)
	in := &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		ContentType:       aws.String("application/octet-stream"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if s.opts.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.opts.SSE)
	}
	if s.opts.SSEKMSKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.opts.SSEKMSKeyID)
	}
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return s.fail(ctx, "create", name, err)
	}
	id := aws.ToString(out.UploadId)
	defer func() {
		if err == nil {
			return
		}
		if aerr := s.abort(ctx, key, id); aerr != nil {
			err = fmt.Errorf("%w (and aborting multipart upload %s failed, AbortUploads removes it later: %v)", err, id, aerr)
		}
	}()

	partSize := s.partSize(size)
	buf := make([]byte, partSize)
	var parts []types.CompletedPart
	composite := sha256.New() // of the parts' digests: S3's COMPOSITE checksum
	for done := int64(0); done < size; {
		n := min(partSize, size-done)
		part := buf[:n]
		if err := readFull(ctx, r, part, done, size); err != nil {
			return s.sourceFail("create", name, err)
		}
		sum := sha256.Sum256(part)
		composite.Write(sum[:])
		checksum := base64.StdEncoding.EncodeToString(sum[:])
		num := int32(len(parts) + 1)
		p, err := s.client.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:            aws.String(s.bucket),
			Key:               aws.String(key),
			UploadId:          aws.String(id),
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(part),
			ContentLength:     aws.Int64(n),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
			ChecksumSHA256:    aws.String(checksum),
		}, signedPayloadHash(sum[:]))
		if err != nil {
			return s.fail(ctx, "create", fmt.Sprintf("%s (part %d)", name, num), err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: p.ETag, ChecksumSHA256: aws.String(checksum)})
		done += n
	}
	if err := expectEOF(r, size); err != nil {
		return s.sourceFail("create", name, err)
	}

	checksum := fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(composite.Sum(nil)), len(parts))
	var attempts atomic.Int32
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(id),
		IfNoneMatch:     aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}, countAttempts(&attempts))
	if err != nil {
		code, _ := apiError(err)
		if (preconditionFailed(err) || code == "NoSuchUpload") && attempts.Load() > 1 && s.holds(ctx, name, size, checksum) {
			return nil // an earlier attempt of ours completed it; its answer was lost
		}
		if preconditionFailed(err) {
			err = remote.ErrExists
		}
		return s.fail(ctx, "create", name, err)
	}
	return nil
}

// partSize returns the part size for an object of size bytes: the configured
// one, grown (in whole MiB) when the object would need more than 10000 parts.
func (s *Store) partSize(size int64) int64 {
	p := s.opts.PartSize
	if (size+p-1)/p > maxParts {
		p = ((size+maxParts-1)/maxParts + MiB - 1) / MiB * MiB
	}
	return p
}

// abort aborts a multipart upload, with a context of its own so that it also
// runs after ctx was cancelled.
func (s *Store) abort(ctx context.Context, key, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortWait)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(key),
		UploadId: aws.String(id),
	})
	if code, _ := apiError(err); code == "NoSuchUpload" {
		return nil
	}
	return err
}

// AbortUploads aborts the multipart uploads in progress for names starting
// with prefix for which abort(name, initiated) is true (nil: all of them), and
// returns how many it aborted. A Create in progress in another process has an
// upload too: the caller decides which are its own to abort (the archive
// engine aborts the uploads of objects it is about to send or that exist
// already, and any older than a writer's lease). It is how the parts of an
// upload abandoned by a killed process are removed (an upload is never visible
// as an object, but its parts are kept and billed until aborted; versitygw has
// no lifecycle rule to do it).
func (s *Store) AbortUploads(ctx context.Context, prefix string, abort func(name string, initiated time.Time) bool) (int, error) {
	what := fmt.Sprintf("%q", prefix)
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("s3 store %s: abort uploads %s: %w", s.url, what, err)
	}
	pages := awss3.NewListMultipartUploadsPaginator(s.client, &awss3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	aborted := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return aborted, s.fail(ctx, "abort uploads", what, err)
		}
		for _, u := range page.Uploads {
			if abort != nil && !abort(strings.TrimPrefix(aws.ToString(u.Key), s.prefix), aws.ToTime(u.Initiated)) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
				Bucket:   aws.String(s.bucket),
				Key:      u.Key,
				UploadId: u.UploadId,
			})
			if code, _ := apiError(err); err != nil && code != "NoSuchUpload" {
				return aborted, s.fail(ctx, "abort upload", fmt.Sprintf("%s (%s)", aws.ToString(u.Key), aws.ToString(u.UploadId)), err)
			}
			aborted++
		}
	}
	return aborted, nil
}
