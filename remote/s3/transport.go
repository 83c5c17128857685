package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// newHTTPClient returns the SDK's buildable HTTP client with timeouts that
// fail a request once it has made no progress for timeout: connecting, the TLS
// handshake, waiting for the response headers, and each read of the response
// (the SDK's read timeout, which S3 clients otherwise go without). Writes get the
// same bound from [withWriteTimeout], installed on the S3 client's own copy by
// [withWriteTimeoutOption] because the S3 client replaces the dialer.
func newHTTPClient(timeout time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = timeout
			d.KeepAlive = 30 * time.Second
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = timeout
			tr.ResponseHeaderTimeout = timeout
		}).
		WithReadTimeout(timeout)
}

// withWriteTimeoutOption installs [withWriteTimeout] on the client's transport.
func withWriteTimeoutOption(o *awss3.Options, timeout time.Duration) {
	if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
		o.HTTPClient = b.WithTransportOptions(func(tr *http.Transport) {
			tr.DialContext = withWriteTimeout(tr.DialContext, timeout)
		})
	}
}

// withWriteTimeout wraps a dial function so that every write on its
// connections fails after timeout without progress: an upload to a server that
// stopped reading fails instead of hanging until TCP gives up.
func withWriteTimeout(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		dial = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &writeTimeoutConn{Conn: c, timeout: timeout}, nil
	}
}

type writeTimeoutConn struct {
	net.Conn
	timeout time.Duration
}

func (c *writeTimeoutConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// retryCodes are error codes retried on top of the SDK's defaults.
var retryCodes = map[string]struct{}{
	// AWS: two conditional writes to one key overlapped; retrying gives the
	// loser its 412.
	"ConditionalRequestConflict": {},
	"ServiceUnavailable":         {},
	"InternalError":              {},
	"TooManyRequests":            {},
}

// newRetryer returns the SDK's standard retryer, tuned (see the package
// documentation).
func newRetryer(maxAttempts int, maxBackoff time.Duration) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(noRetryCertErrors)}, o.Retryables...)
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: retryCodes})
		o.Throttles = append(o.Throttles, retry.ThrottleErrorCode{Codes: map[string]struct{}{"TooManyRequests": {}}})
	})
}

// noRetryCertErrors stops retries of an untrusted server certificate: they
// cannot succeed.
func noRetryCertErrors(err error) aws.Ternary {
	if certError(err) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// certError reports whether err is a failed server certificate verification.
func certError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// countAttempts returns an operation option that counts the HTTP attempts
// (first try and retries) the operation makes into n.
func countAttempts(n *atomic.Int32) func(*awss3.Options) {
	return awss3.WithAPIOptions(func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("chatvault.countAttempts",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				n.Add(1)
				return next.HandleFinalize(ctx, in)
			}), "Retry", middleware.After)
	})
}

// signedPayloadHash gives the SigV4 signer the SHA-256 Create already
// computed for the checksum header, so that over plain http the SDK does not
// hash the whole body a second time to sign it (a full pass over every byte
// uploaded). Over https the SDK does not sign the body and nothing changes.
func signedPayloadHash(sum []byte) func(*awss3.Options) {
	hexSum := hex.EncodeToString(sum)
	return awss3.WithAPIOptions(func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("chatvault.payloadHash",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL.Scheme == "http" {
					ctx = v4.SetPayloadHash(ctx, hexSum)
				}
				return next.HandleFinalize(ctx, in)
			}), "ComputePayloadHash", middleware.Before)
	})
}
