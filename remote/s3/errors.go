package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/chatvault/chatvault/remote"
)

// Errors of this store besides those of package remote; match them with
// errors.Is.
var (
	// ErrDenied: the server refused the credentials or the permission
	// (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, ExpiredToken,
	// any other 403), or no credentials could be found. Retrying will not
	// help; it is never reported as remote.ErrUnavailable.
	ErrDenied = errors.New("access denied")
	// ErrNoBucket: the store's bucket does not exist. Messages name it.
	ErrNoBucket = errors.New("no such bucket")
	// ErrNotExclusive: the server does not honour If-None-Match: * on writes,
	// so create-exclusive writes cannot be had from it (see
	// [Store.ProbeCreateExclusive]).
	ErrNotExclusive = errors.New("store does not honour create-exclusive writes")
)

// deniedCodes are the S3 error codes that mean refused credentials or
// permissions.
var deniedCodes = map[string]bool{
	"AccessDenied":          true,
	"AllAccessDisabled":     true,
	"AccountProblem":        true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"ExpiredToken":          true,
	"InvalidToken":          true,
	"TokenRefreshRequired":  true,
	"InvalidSecurity":       true,
}

// fail returns the error of operation op on the object name ("" for none),
// classified (see [Store.classify]), in one line: "s3 store URL: op name: cause".
func (s *Store) fail(ctx context.Context, op, name string, err error) error {
	if name != "" {
		op += " " + name
	}
	return fmt.Errorf("s3 store %s: %s: %w", s.url, op, s.classify(ctx, err))
}

// classify maps an error of the SDK to the errors of package remote and of
// this package. Already classified errors (remote.ErrNotFound, remote.ErrExists,
// ...) are returned as they are.
func (s *Store) classify(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return err
		}
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	for _, known := range []error{remote.ErrNotFound, remote.ErrExists, remote.ErrUnavailable, ErrDenied, ErrNoBucket, ErrInvalidName, ErrNotExclusive} {
		if errors.Is(err, known) {
			return err
		}
	}
	code, status := apiError(err)
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%w %q", ErrNoBucket, s.bucket)
	case deniedCodes[code] || status == http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrDenied, err)
	case noCredentials(err):
		return fmt.Errorf("%w: no usable AWS credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials, ...): %w", ErrDenied, err)
	case certError(err):
		return fmt.Errorf("server certificate not trusted (give the CA bundle that signed it with the CA certificate option or AWS_CA_BUNDLE): %w", err)
	case unavailable(err, code, status):
		return fmt.Errorf("%w: %w", remote.ErrUnavailable, err)
	}
	return err
}

// apiError returns the error code and HTTP status of an S3 error answer (""
// and 0 for none).
func apiError(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// unavailable reports whether err means the store could not be reached or
// refused to serve: what the retryer retries, once it gave up.
func unavailable(err error, code string, status int) bool {
	var (
		maxAttempts *retry.MaxAttemptsError
		send        *smithyhttp.RequestSendError
		timeout     interface{ Timeout() bool }
	)
	switch {
	case errors.As(err, &maxAttempts), errors.As(err, &send):
		return true
	case status >= 500 || status == http.StatusTooManyRequests:
		return true
	case code == "SlowDown" || code == "RequestTimeout":
		return true
	case errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &timeout) && timeout.Timeout():
		return true
	}
	return retry.RetryableConnectionError{}.IsErrorRetryable(err) == aws.TrueTernary
}

// noCredentials reports whether err is the SDK failing to find or refresh
// credentials (before any request is sent).
func noCredentials(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return false
	}
	// The SDK's credential errors have no exported type; the resolver wraps
	// them as "get identity: get credentials: ...".
	var op *smithy.OperationError
	return errors.As(err, &op) && containsAny(op.Err.Error(), "get identity", "failed to retrieve credentials", "failed to refresh cached credentials", "anonymous credentials")
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// notFound reports whether err is S3's answer for a missing key: NoSuchKey
// (GET) or a bare 404 (HEAD, which has no body and so no code).
func notFound(err error) bool {
	code, status := apiError(err)
	switch code {
	case "NoSuchKey", "NotFound", "NoSuchVersion":
		return true
	case "":
		return status == http.StatusNotFound
	}
	return false
}

// preconditionFailed reports whether err is a 412: the If-None-Match: * of a
// write met an existing object.
func preconditionFailed(err error) bool {
	code, status := apiError(err)
	return code == "PreconditionFailed" || status == http.StatusPreconditionFailed
}
