package awskms_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatvault/chatvault/kms/awskms"
)

// These tests run the real SDK client against local HTTP endpoints (no KMS
// needed): a closed port, and small httptest servers.

// closedPort returns http://127.0.0.1:PORT where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func sdkClient(t *testing.T, endpoint string, attempts int) *awskms.Client {
	t.Helper()
	c, err := awskms.New(context.Background(), awskms.Options{
		Endpoint:    endpoint,
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		MaxAttempts: attempts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const testARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"

func TestUnreachableEndpoint(t *testing.T) {
	c := sdkClient(t, closedPort(t), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Unwrap(ctx, testARN, awskms.Context("a", "b"), []byte("ct"))
	if !errors.Is(err, awskms.ErrUnreachable) {
		t.Fatalf("Unwrap = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to report a closed port", d)
	}
	msg := err.Error()
	if !strings.Contains(msg, "KMS unreachable") || !strings.Contains(msg, testARN) || strings.Contains(msg, "\n") {
		t.Errorf("message %q: want one line naming the key and saying KMS is unreachable", msg)
	}
	if errors.Is(err, awskms.ErrUnusable) || errors.Is(err, awskms.ErrWrongContext) {
		t.Errorf("%v has another class too", err)
	}
}

// kmsServer answers every request with status and body, recording requests.
type kmsServer struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	auth []string
}

func newKMSServer(t *testing.T, status int, body string) *kmsServer {
	s := &kmsServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		s.hits.Add(1)
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestServerErrorsAreUnreachableAfterRetries(t *testing.T) {
	s := newKMSServer(t, 500, `{"__type":"KMSInternalException","message":"boom"}`)
	c := sdkClient(t, s.URL, 2)
	_, err := c.Resolve(context.Background(), "alias/x")
	if !errors.Is(err, awskms.ErrUnreachable) {
		t.Fatalf("Resolve = %v, want ErrUnreachable", err)
	}
	if n := s.hits.Load(); n != 2 {
		t.Errorf("%d attempts, want MaxAttempts = 2", n)
	}
}

func TestThrottlingIsUnreachable(t *testing.T) {
	s := newKMSServer(t, 400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	c := sdkClient(t, s.URL, 1)
	if _, err := c.Resolve(context.Background(), "alias/x"); !errors.Is(err, awskms.ErrUnreachable) {
		t.Fatalf("Resolve = %v, want ErrUnreachable", err)
	}
}

// TestAccessDeniedAsLocalKMS: local-kms's AccessDeniedException arrives as a
// *smithy.GenericAPIError (the SDK has no modeled type for it).
func TestAccessDeniedAsLocalKMS(t *testing.T) {
	s := newKMSServer(t, 400, `{"__type":"AccessDeniedException","message":"The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access."}`)
	c := sdkClient(t, s.URL, 1)
	_, err := c.Unwrap(context.Background(), testARN, awskms.Context("a", "b"), []byte("ct"))
	if !errors.Is(err, awskms.ErrDenied) || !errors.Is(err, awskms.ErrUnusable) {
		t.Fatalf("Unwrap = %v, want ErrDenied and ErrUnusable", err)
	}
	if !strings.Contains(err.Error(), "key unusable (disabled, pending deletion or access denied)") {
		t.Errorf("message %q", err)
	}
}

// TestEndpointOverridesEnvironment: Options.Endpoint beats
// AWS_ENDPOINT_URL_KMS, which the standard chain reads otherwise.
func TestEndpointOverridesEnvironment(t *testing.T) {
	s := newKMSServer(t, 400, `{"__type":"NotFoundException","message":"Alias is not found."}`)
	t.Setenv("AWS_ENDPOINT_URL_KMS", closedPort(t))
	c := sdkClient(t, s.URL, 1)
	if _, err := c.Resolve(context.Background(), "alias/x"); !errors.Is(err, awskms.ErrNotFound) {
		t.Fatalf("Resolve = %v, want ErrNotFound from the Options endpoint", err)
	}

	t.Setenv("AWS_ENDPOINT_URL_KMS", s.URL)
	c = sdkClient(t, "", 1)
	if _, err := c.Resolve(context.Background(), "alias/x"); !errors.Is(err, awskms.ErrNotFound) {
		t.Fatalf("Resolve = %v, want ErrNotFound from AWS_ENDPOINT_URL_KMS", err)
	}
	if n := s.hits.Load(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

// TestARNRegionUsed: a call naming a key ARN is signed for the ARN's region,
// whatever the client's region.
func TestARNRegionUsed(t *testing.T) {
	s := newKMSServer(t, 400, `{"__type":"NotFoundException","message":"nope"}`)
	c := sdkClient(t, s.URL, 1)
	ctx := context.Background()
	c.Resolve(ctx, "arn:aws:kms:eu-west-3:111122223333:key/00000000-0000-4000-8000-000000000000")
	c.Resolve(ctx, "alias/x")
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.auth) != 2 || !strings.Contains(s.auth[0], "/eu-west-3/kms/") || !strings.Contains(s.auth[1], "/us-east-1/kms/") {
		t.Fatalf("Authorization headers %q: want eu-west-3 then us-east-1 scopes", s.auth)
	}
}
