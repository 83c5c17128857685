// Package s3 implements [remote.Store] on an S3 bucket (AWS S3 or any server that
// speaks its API and honours conditional writes, such as versitygw), over
// aws-sdk-go-v2.
//
// # Layout
//
// A store is named by a URL s3://bucket/prefix (the prefix is optional). The
// object named "archives/<id>/objects/<hex>" is the key
// "prefix/archives/<id>/objects/<hex>" in the bucket, or "archives/<id>/..." when
// there is no prefix. Object names are slash-separated and relative: not empty,
// no empty, "." or ".." segment, no NUL, valid UTF-8 (see [ErrInvalidName]).
//
// # Writing
//
// [Store.Create] is create-exclusive through S3 conditional writes: every
// PutObject and every CompleteMultipartUpload carries If-None-Match: *, so the
// server refuses (412 PreconditionFailed) to write a key that exists, atomically,
// and of several writers racing for one name exactly one wins; the others get an
// error wrapping [remote.ErrExists] and the stored object is untouched. A server
// that ignores the header would break this: [Store.ProbeCreateExclusive] checks
// it.
//
// Every upload carries a SHA-256 checksum of its bytes, computed while reading
// the source, that the server checks before it stores anything (a mismatch is a
// 400 BadDigest): a body damaged on the way is never stored. Objects up to
// [Options.MultipartThreshold] (64 MiB by default) are read into memory whole and
// sent with one PutObject; a Create therefore holds up to that many bytes in
// memory. The buffer is what makes the body seekable, which the SDK needs to sign
// it over plain http and to send it again on a retry: the source reader may be a
// plain io.Reader. Larger objects are sent as a multipart upload, one part
// ([Options.PartSize], 16 MiB by default) in memory at a time, sequentially; the
// checksum algorithm is named on CreateMultipartUpload and each part's checksum is
// echoed on CompleteMultipartUpload (versitygw refuses echoed checksums
// otherwise). The object only appears when CompleteMultipartUpload succeeds, so a
// failed or interrupted Create never leaves a partial object: a source that ends
// early or fails, or any error, aborts the upload (with a fresh short context
// when ctx was cancelled). A process killed mid-upload leaves an in-progress
// multipart upload, invisible to readers but billed for its parts; remove those
// with [Store.AbortUploads].
//
// A Create whose first attempt reached the server but whose answer was lost (a
// timeout, a reset connection) is retried by the SDK, and the retry meets its own
// object and is answered 412. When an attempt was retried and the stored object
// has exactly the size and checksum that were sent, Create reports success
// instead of [remote.ErrExists].
//
// # Deleting
//
// [Store.Delete] removes every version of an object: on a bucket whose versioning
// is or was enabled it lists the versions of the exact key (ListObjectVersions)
// and deletes each version and delete marker by version id, so that nothing of a
// deleted object stays recoverable (what crypto-shredding needs). On a bucket
// that never had versioning it is one DeleteObject. The bucket's versioning state
// is read once per Store.
//
// # Errors
//
// Missing objects are [remote.ErrNotFound] and lost create races
// [remote.ErrExists]. A store that cannot be reached or keeps failing after the
// SDK's retries (connection refused or reset, timeouts, 5xx, 429 and 503 SlowDown)
// is [remote.ErrUnavailable]; the message names the store, the operation, the
// object and the cause on one line. Refused credentials or permissions
// (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, expired tokens, any
// 403, no credentials found) wrap [ErrDenied], never ErrUnavailable. A missing
// bucket wraps [ErrNoBucket] and names the bucket; a HeadObject on a missing
// bucket is a bare 404, so the first one answered 404 is followed by one
// HeadBucket per Store to tell the two apart. A server certificate that is not
// trusted is a plain error that says to give a CA bundle.
//
// # Retries and timeouts
//
// Retries are the SDK's standard retryer, tuned: [Options.MaxAttempts] attempts
// (default 8, or AWS_MAX_ATTEMPTS / the profile's max_attempts), exponential
// backoff with full jitter capped at [Options.MaxBackoff] (default 10 s; the SDK
// starts throttling errors at 1 s and others at 50 ms), no client-side retry
// quota (a single backup client should ride out a long throttling episode rather
// than fail fast), and beyond the SDK's defaults (connection errors, timeouts,
// 500/502/503/504, 429, SlowDown, RequestTimeout) also 409
// ConditionalRequestConflict. Certificate errors are not retried. Each request
// may stay silent for at most [Options.HTTPTimeout] (default 60 s): to connect,
// while sending (a write that makes no progress), waiting for the response and
// between reads of a response body; a slow but progressing transfer is never
// cut. A GetObject body that fails while it is being read is not resumed: the
// read fails with [remote.ErrUnavailable] and the caller may Open again.
//
// # Configuration
//
// Region, credentials and profiles come from the SDK's standard chain
// (config.LoadDefaultConfig: AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws,
// SSO, IMDS, ...); the region defaults to us-east-1. The endpoint is
// [Options.Endpoint], else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS.
// Path-style addressing is used when asked for and automatically when the
// endpoint's host is an IP address or localhost. A plain http:// endpoint is
// refused unless its host is a loopback address or [Options.AllowInsecureHTTP]
// is set. A private CA is given with [Options.CACert] or AWS_CA_BUNDLE (a PEM
// bundle; it replaces the system roots, as in the other AWS tools).
//
// # Permissions
//
// The store needs s3:PutObject, s3:GetObject, s3:DeleteObject and s3:ListBucket
// (without ListBucket, S3 answers a HEAD of a missing object with 403, which
// Stat would report as [ErrDenied]); on a versioned bucket also
// s3:GetBucketVersioning, s3:ListBucketVersions and s3:DeleteObjectVersion;
// [Store.AbortUploads] needs s3:ListBucketMultipartUploads and
// s3:AbortMultipartUpload.
//
// # Servers
//
// Tested against versitygw (posix backend). Like a local directory, a
// filesystem-backed server cannot hold both an object "a" and an object "a/b":
// versitygw answers 409 ObjectParentIsFile or ExistingObjectIsDirectory.
package s3

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	"github.com/chatvault/chatvault/remote"
)

// Defaults and limits of [Options].
const (
	MiB = 1 << 20 // a mebibyte, for sizes

	DefaultPartSize           = 16 * MiB
	DefaultMultipartThreshold = 64 * MiB
	DefaultMaxAttempts        = 8
	DefaultMaxBackoff         = 10 * time.Second
	DefaultHTTPTimeout        = 60 * time.Second

	MinPartSize = 5 * MiB // S3's smallest part but the last
	MaxPartSize = 5 << 30 // S3's largest part
)

const (
	maxPutSize = 5 << 30          // S3's largest single PutObject
	maxParts   = 10000            // S3's most parts per upload
	maxKeyLen  = 1024             // S3's longest key, in bytes
	abortWait  = 30 * time.Second // how long a cleanup abort may take
)

// Options configures a [Store]. The zero value works: AWS S3 through the
// standard configuration chain, with the defaults above.
type Options struct {
	// Endpoint is the S3 endpoint URL, e.g. "https://s3.example.com" or
	// "http://127.0.0.1:7070". Empty: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or
	// the profile's endpoint_url, else AWS S3 for the region.
	Endpoint string
	// Region overrides the configured region (AWS_REGION, the profile's).
	Region string
	// Profile selects a shared-config profile instead of AWS_PROFILE's.
	Profile string
	// PathStyle asks for path-style URLs (http://host/bucket/key). They are
	// used anyway when the endpoint host is an IP address or localhost.
	PathStyle bool
	// CACert is a PEM file of CA certificates to trust for the endpoint,
	// instead of the system's. AWS_CA_BUNDLE does the same when this is empty.
	CACert string
	// AllowInsecureHTTP allows an http:// endpoint on a host that is not a
	// loopback address: credentials are not exposed (requests are signed), but
	// object names, metadata and (encrypted) contents cross the network in clear.
	AllowInsecureHTTP bool

	// SSE asks the server to encrypt objects at rest: "" (the bucket's
	// default), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS).
	SSE string
	// SSEKMSKeyID is the KMS key for SSE "aws:kms" (empty: the AWS managed key).
	SSEKMSKeyID string

	// PartSize is the size of a multipart upload's parts, at least 5 MiB
	// (default 16 MiB). It grows for objects that would need more than 10000.
	PartSize int64
	// MultipartThreshold is the size above which Create uses a multipart
	// upload (default 64 MiB, at most 5 GiB). Objects up to it are buffered in
	// memory whole.
	MultipartThreshold int64

	// MaxAttempts is how many times a request is tried (default 8, or
	// AWS_MAX_ATTEMPTS). 1 means no retry.
	MaxAttempts int
	// MaxBackoff caps the delay between two attempts (default 10 s).
	MaxBackoff time.Duration
	// HTTPTimeout is how long a request may make no progress: connecting,
	// sending, waiting for the answer, reading it (default 60 s).
	HTTPTimeout time.Duration
}

// Store is an S3 store. It is safe for concurrent use.
type Store struct {
	client *awss3.Client
	bucket string
	prefix string // "" or ends with "/"; a name's key is prefix+name
	url    string // s3://bucket/prefix, for messages
	opts   Options

	bucketOK atomic.Bool // HeadBucket succeeded once

	versioningMu    sync.Mutex
	versioningKnown bool
	versioned       bool // the bucket's versioning is or was enabled
}

var _ remote.Store = (*Store)(nil)

// Open returns the store at url, "s3://bucket" or "s3://bucket/prefix". It
// loads the AWS configuration but sends no request: a missing bucket or refused
// credentials show on the first operation.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	bucket, prefix, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	s := &Store{bucket: bucket, prefix: prefix, url: "s3://" + bucket}
	if prefix != "" {
		s.url += "/" + strings.TrimSuffix(prefix, "/")
	}
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", s.url, err)
	}
	s.opts = opts
	if s.client, err = newClient(ctx, opts); err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", s.url, err)
	}
	return s, nil
}

// setDefaults fills in the zero fields and checks the others.
func (o *Options) setDefaults() error {
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > MaxPartSize {
		return fmt.Errorf("part size %d: must be between 5 MiB and 5 GiB", o.PartSize)
	}
	if o.MultipartThreshold == 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.MultipartThreshold < 0 || o.MultipartThreshold > maxPutSize {
		return fmt.Errorf("multipart threshold %d: must be between 0 and 5 GiB", o.MultipartThreshold)
	}
	switch o.SSE {
	case "", string(types.ServerSideEncryptionAes256):
		if o.SSEKMSKeyID != "" {
			return fmt.Errorf("an SSE-KMS key id needs SSE %q, not %q", types.ServerSideEncryptionAwsKms, o.SSE)
		}
	case string(types.ServerSideEncryptionAwsKms):
	default:
		return fmt.Errorf("unknown SSE %q (want %q or %q)", o.SSE, types.ServerSideEncryptionAes256, types.ServerSideEncryptionAwsKms)
	}
	if o.MaxAttempts < 0 {
		return fmt.Errorf("max attempts %d: must be at least 1", o.MaxAttempts)
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.HTTPTimeout == 0 {
		o.HTTPTimeout = DefaultHTTPTimeout
	}
	if o.MaxBackoff < 0 || o.HTTPTimeout < 0 {
		return errors.New("negative max backoff or HTTP timeout")
	}
	return nil
}

// newClient loads the AWS configuration and makes the S3 client.
func newClient(ctx context.Context, opts Options) (*awss3.Client, error) {
	load := []func(*config.LoadOptions) error{
		config.WithHTTPClient(newHTTPClient(opts.HTTPTimeout)),
		config.WithLogger(logging.Nop{}),
	}
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.CACert != "" {
		pem, err := os.ReadFile(opts.CACert)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s: no PEM certificate in it", opts.CACert)
		}
		load = append(load, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		if ca := os.Getenv("AWS_CA_BUNDLE"); ca != "" && opts.CACert == "" {
			return nil, fmt.Errorf("loading AWS configuration (AWS_CA_BUNDLE=%s): %w", ca, err)
		}
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	maxAttempts := opts.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = orDefault(cfg.RetryMaxAttempts, DefaultMaxAttempts)
	}
	var endpoint string
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		endpoint = aws.ToString(o.BaseEndpoint)
		o.UsePathStyle = opts.PathStyle || literalHost(endpoint)
		o.Retryer = newRetryer(maxAttempts, opts.MaxBackoff)
		o.RetryMaxAttempts = 0 // or the SDK would wrap the retryer with its own count
		o.Logger = logging.Nop{}
		// Responses are checked when an operation asks for it (GetObject does);
		// the SDK would otherwise log "Response has no supported checksum" for
		// multipart objects.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		withWriteTimeoutOption(o, opts.HTTPTimeout)
	})
	if err := checkEndpoint(endpoint, opts.AllowInsecureHTTP); err != nil {
		return nil, err
	}
	return client, nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// checkEndpoint refuses an unusable endpoint, and plain http to a host that is
// not a loopback address unless allowed.
func checkEndpoint(endpoint string, allowHTTP bool) error {
	if endpoint == "" {
		return nil // AWS, https
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("endpoint %q: want an http:// or https:// URL with a host", endpoint)
	}
	if u.Scheme == "http" && !allowHTTP && !loopback(u.Hostname()) {
		return fmt.Errorf("endpoint %s: refusing plain http to a host that is not a loopback address "+
			"(object names and contents would cross the network unencrypted); use https, or allow insecure http", endpoint)
	}
	return nil
}

// loopback reports whether host is localhost or a loopback IP address.
func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// literalHost reports whether the endpoint's host is an IP address or
// localhost, where virtual-hosted URLs (bucket.host) cannot work.
func literalHost(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	return net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// parseURL splits s3://bucket/prefix into the bucket and the key prefix ("" or
// ending with "/").
func parseURL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("s3 store %q: not an s3://bucket/prefix URL", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" || strings.ContainsAny(bucket, "?#:@ \\") || len(bucket) > 255 {
		return "", "", fmt.Errorf("s3 store %q: bad bucket name %q", u, bucket)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return bucket, "", nil
	}
	if err := checkName(prefix); err != nil || strings.ContainsAny(prefix, "?#") {
		return "", "", fmt.Errorf("s3 store %q: bad prefix %q", u, prefix)
	}
	return bucket, prefix + "/", nil
}

// ErrInvalidName is wrapped by every error about a name that is not a valid
// object name (see the package documentation).
var ErrInvalidName = errors.New("invalid object name")

// checkName reports whether name is a valid object name.
func checkName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return ErrInvalidName
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return ErrInvalidName
		}
	}
	return nil
}

// String returns the store's URL, s3://bucket/prefix.
func (s *Store) String() string { return s.url }

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Key returns the key of the object named name.
func (s *Store) Key(name string) string { return s.prefix + name }

// Client returns the S3 client, for operations this package does not offer.
func (s *Store) Client() *awss3.Client { return s.client }

// check validates a name and the context before an operation.
func (s *Store) check(ctx context.Context, op, name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("s3 store %s: %s %q: %w", s.url, op, name, err)
	}
	if len(s.prefix)+len(name) > maxKeyLen {
		return fmt.Errorf("s3 store %s: %s %s: %w: key longer than %d bytes", s.url, op, name, ErrInvalidName, maxKeyLen)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3 store %s: %s %s: %w", s.url, op, name, err)
	}
	return nil
}
