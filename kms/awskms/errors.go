package awskms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// class is the type of the error-class sentinels. A class marked unusable also
// matches ErrUnusable.
type class struct {
	msg      string
	unusable bool
}

func (c *class) Error() string { return c.msg }

func (c *class) Is(target error) bool { return c.unusable && target == ErrUnusable }

// Error classes. Match them with errors.Is; see the package documentation for
// what each means and why ErrDenied, ErrDisabled and ErrInvalidState are
// usually handled together as ErrUnusable.
var (
	// ErrUnusable matches ErrDenied, ErrDisabled and ErrInvalidState.
	ErrUnusable error = &class{msg: "key unusable (disabled, pending deletion or access denied)"}

	ErrUnreachable  error = &class{msg: "KMS unreachable"}
	ErrDenied       error = &class{msg: "key unusable (disabled, pending deletion or access denied)", unusable: true}
	ErrDisabled     error = &class{msg: "key disabled", unusable: true}
	ErrInvalidState error = &class{msg: "key unusable in its current state (pending deletion)", unusable: true}
	ErrNotFound     error = &class{msg: "key not found (never existed, or deleted)"}
	ErrWrongContext error = &class{msg: "the ciphertext does not open with this key and encryption context (wrapper of another archive or purpose, or damaged)"}
)

// Errors of the arguments, found before any KMS call.
var (
	// ErrKeySize: the key to wrap, or the plaintext KMS returned, is not 32 bytes.
	ErrKeySize = errors.New("not a 32-byte key")
	// ErrNoContext: a wrap or unwrap was asked without an encryption context.
	ErrNoContext = errors.New("empty encryption context")
	// ErrPendingWindow: Destroy was asked for a waiting period outside 7–30 days.
	ErrPendingWindow = errors.New("deletion waiting period outside 7–30 days")
	// ErrBadArchiveID: the archive id cannot be used in an alias name.
	ErrBadArchiveID = errors.New("archive id unusable in a KMS alias")
)

// Error is the error of a KMS call. Its message is one line:
//
//	awskms: <op> <key>: <class>: <what KMS said>
//
// It wraps its class (one of the sentinels, or none) and the SDK's error.
type Error struct {
	Op    string // what was attempted, e.g. "decrypt with"
	Key   string // the key id, ARN or alias the call named
	Class error  // ErrUnreachable, ErrDenied, …; nil when unclassified
	Err   error  // the SDK's error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("awskms: ")
	b.WriteString(e.Op)
	if e.Key != "" {
		b.WriteString(" ")
		b.WriteString(e.Key)
	}
	if e.Class != nil {
		b.WriteString(": ")
		b.WriteString(e.Class.Error())
	}
	if d := detail(e.Err); d != "" {
		b.WriteString(": ")
		b.WriteString(d)
	}
	return b.String()
}

// Unwrap returns the class and the SDK's error, so errors.Is and errors.As
// reach both.
func (e *Error) Unwrap() []error {
	if e.Class == nil {
		return []error{e.Err}
	}
	return []error{e.Class, e.Err}
}

// classify wraps err, returned by a KMS call op on key, in an *Error with its
// class.
func classify(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Key: key, Class: classOf(err), Err: err}
}

// apiClasses maps KMS error codes to classes. Throttling and the service's own
// failures reach us only after the SDK's retries, hence "unreachable".
var apiClasses = map[string]error{
	"AccessDeniedException":       ErrDenied,
	"DisabledException":           ErrDisabled,
	"KMSInvalidStateException":    ErrInvalidState,
	"NotFoundException":           ErrNotFound,
	"InvalidCiphertextException":  ErrWrongContext,
	"IncorrectKeyException":       ErrWrongContext, // AWS: the KeyId is not the blob's key
	"ThrottlingException":         ErrUnreachable,
	"KMSInternalException":        ErrUnreachable,
	"DependencyTimeoutException":  ErrUnreachable,
	"KeyUnavailableException":     ErrUnreachable,
	"InternalFailure":             ErrUnreachable,
	"InternalFailureException":    ErrUnreachable,
	"ServiceUnavailable":          ErrUnreachable,
	"ServiceUnavailableException": ErrUnreachable,
	"RequestTimeout":              ErrUnreachable,
	"RequestTimeoutException":     ErrUnreachable,
}

func classOf(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil // the caller gave up; not KMS's doing
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if c, ok := apiClasses[apiErr.ErrorCode()]; ok {
			return c
		}
	}
	var (
		send    *smithyhttp.RequestSendError
		timeout *awshttp.ResponseTimeoutError
		quota   ratelimit.QuotaExceededError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &send), errors.As(err, &timeout), errors.As(err, &quota),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return ErrUnreachable
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) {
		// 501 is a missing feature (local-kms), not an outage.
		if s := resp.HTTPStatusCode(); s >= 500 && s != 501 {
			return ErrUnreachable
		}
	}
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(err, &maxAttempts) {
		return ErrUnreachable // retries exhausted on a retryable error
	}
	return nil
}

// detail is the informative part of an SDK error on one line: the KMS error
// code and message, or the innermost transport error, without the SDK's
// "operation error KMS: Decrypt, https response error StatusCode…" prefix.
func detail(err error) string {
	if err == nil {
		return ""
	}
	var s string
	var apiErr smithy.APIError
	var send *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &apiErr):
		s = apiErr.ErrorCode()
		if m := apiErr.ErrorMessage(); m != "" {
			s += ": " + m
		}
	case errors.As(err, &send) && send.Err != nil:
		s = send.Err.Error()
	default:
		s = err.Error()
	}
	return oneLine(s)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// argError reports a bad argument of op on key, found before any KMS call.
func argError(op, key string, err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		return fmt.Errorf("awskms: %s %s: %w: %s", op, key, err, msg)
	}
	return fmt.Errorf("awskms: %s: %w: %s", op, err, msg)
}
