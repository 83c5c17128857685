package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// Quick retries for fault tests: 4 attempts, 10 ms apart at most.
const faultAttempts = 4

func faultOptions(endpoint string) s3.Options {
	return s3.Options{
		Endpoint:    endpoint,
		MaxAttempts: faultAttempts,
		MaxBackoff:  10 * time.Millisecond,
		HTTPTimeout: 2 * time.Second,
	}
}

// proxiedStore returns a store on a new bucket, reached through p.
func proxiedStore(t *testing.T, p *proxy, opts s3.Options) *s3.Store {
	t.Helper()
	bucket := s3test.Bucket(t, false)
	if opts.Endpoint == "" {
		opts.Endpoint = p.URL()
	}
	return s3test.Open(t, "s3://"+bucket+"/faults", opts)
}

// injected are the transient faults a store must ride out.
var injected = []struct {
	name    string
	timeout time.Duration // the client's HTTP timeout, for hang
	inject  func(p *proxy, w http.ResponseWriter, r *http.Request)
}{
	{"503 SlowDown", 0, func(p *proxy, w http.ResponseWriter, r *http.Request) {
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	}},
	{"500 InternalError", 0, func(p *proxy, w http.ResponseWriter, r *http.Request) {
		s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	}},
	{"429", 0, func(p *proxy, w http.ResponseWriter, r *http.Request) {
		s3Error(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests")
	}},
	{"429 plain text", 0, func(p *proxy, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}},
	{"connection reset", 0, func(p *proxy, w http.ResponseWriter, r *http.Request) {
		reset(p.t, w)
	}},
	{"hang", 300 * time.Millisecond, func(p *proxy, w http.ResponseWriter, r *http.Request) {
		p.hang(r)
	}},
}

// TestRetries: each operation meets two faults in a row and still succeeds,
// on its third attempt.
func TestRetries(t *testing.T) {
	for _, f := range injected {
		t.Run(f.name, func(t *testing.T) {
			p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= 2 {
					f.inject(p, w, r)
					return true
				}
				return false
			})
			opts := faultOptions(p.URL())
			if f.timeout > 0 {
				opts.HTTPTimeout = f.timeout
			}
			st := proxiedStore(t, p, opts)
			ctx := t.Context()
			data := bytes.Repeat([]byte("retry me "), 1000)
			const name = "archives/a/objects/retried"
			if err := st.Create(ctx, name, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatalf("Create: %v\nrequests:\n%s", err, p.requests())
			}
			if n := p.count("PUT"); n != 3 {
				t.Errorf("Create made %d PUT attempts, want 3 (2 faults, then success)", n)
			}
			r, err := st.Open(ctx, name)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v; want the %d written", len(got), err, len(data))
			}
			if n := p.count("GET"); n != 3 {
				t.Errorf("Open made %d GET attempts, want 3", n)
			}
			if info, err := st.Stat(ctx, name); err != nil || info.Size != int64(len(data)) {
				t.Errorf("Stat = %+v, %v", info, err)
			}
			if n := p.count("HEAD"); n != 3 {
				t.Errorf("Stat made %d HEAD attempts, want 3", n)
			}
		})
	}
}

// TestUnavailable: faults that never stop make every operation fail quickly
// with remote.ErrUnavailable naming the object, after MaxAttempts attempts.
func TestUnavailable(t *testing.T) {
	for _, f := range injected {
		t.Run(f.name, func(t *testing.T) {
			p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
				f.inject(p, w, r)
				return true
			})
			opts := faultOptions(p.URL())
			if f.timeout > 0 {
				opts.HTTPTimeout = f.timeout
			}
			st := s3test.Open(t, "s3://no-matter/x", opts)
			checkUnavailable(t, st, 10*time.Second)
			if n := p.count("PUT"); n != faultAttempts {
				t.Errorf("Create made %d PUT attempts, want %d", n, faultAttempts)
			}
		})
	}
}

// TestServerDown: nothing listens on the endpoint's port.
func TestServerDown(t *testing.T) {
	offlineEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close()
	st, err := s3.Open(t.Context(), "s3://bucket/prefix", faultOptions(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	checkUnavailable(t, st, 5*time.Second)
}

// checkUnavailable checks that every operation fails with ErrUnavailable, in
// one line naming the object, within limit each.
func checkUnavailable(t *testing.T, st *s3.Store, limit time.Duration) {
	t.Helper()
	ctx := t.Context()
	const name = "archives/a/objects/unreachable"
	ops := []struct {
		op  string
		run func() error
	}{
		{"Create", func() error { return st.Create(ctx, name, strings.NewReader("data"), 4) }},
		{"Open", func() error {
			r, err := st.Open(ctx, name)
			if err == nil {
				r.Close()
			}
			return err
		}},
		{"Stat", func() error { _, err := st.Stat(ctx, name); return err }},
		{"Delete", func() error { return st.Delete(ctx, name) }},
		{"List", func() error { return st.List(ctx, name, func(remote.Info) error { return nil }) }},
	}
	for _, o := range ops {
		start := time.Now()
		err := o.run()
		elapsed := time.Since(start)
		switch {
		case !errors.Is(err, remote.ErrUnavailable):
			t.Errorf("%s: %v, want ErrUnavailable", o.op, err)
		case errors.Is(err, remote.ErrNotFound) || errors.Is(err, s3.ErrDenied):
			t.Errorf("%s: %v, is also NotFound or Denied", o.op, err)
		case !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: %q, want one line naming %s", o.op, err, name)
		case elapsed > limit:
			t.Errorf("%s failed after %v, want within %v", o.op, elapsed, limit)
		}
		if err != nil {
			t.Logf("%s: %v (after %v)", o.op, err, elapsed.Round(time.Millisecond))
		}
	}
}

// offlineEnv gives the SDK credentials and region without a server, and keeps
// it from looking for EC2 instance credentials.
func offlineEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "offline")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "offline")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_CA_BUNDLE", "")
}

// TestCutDownload: the connection dies in the middle of a GET body. The read
// fails with ErrUnavailable naming the object (the body is not resumed); the
// next Open reads it whole.
func TestCutDownload(t *testing.T) {
	p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && n == 1 {
			p.rp.ServeHTTP(&cutWriter{ResponseWriter: w, t: p.t, limit: 100 << 10}, r)
			return true
		}
		return false
	})
	st := proxiedStore(t, p, faultOptions(""))
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	const name = "archives/a/objects/cut"
	if err := st.Create(ctx, name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), name) {
		t.Fatalf("reading a cut body: %d bytes, %v; want ErrUnavailable naming %s", len(got), err, name)
	}
	t.Logf("cut GET: %v", err)
	r, err = st.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("second read: %d bytes, %v", len(got), err)
	}
}

// TestCutUpload: the connection dies after part of a PUT body was sent; the
// SDK sends it again.
func TestCutUpload(t *testing.T) {
	p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && n == 1 {
			io.CopyN(io.Discard, r.Body, 64<<10)
			reset(p.t, w)
			return true
		}
		return false
	})
	st := proxiedStore(t, p, faultOptions(""))
	data := bytes.Repeat([]byte("upload "), 150<<10) // 1 MiB
	const name = "archives/a/objects/cut-upload"
	if err := st.Create(t.Context(), name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if n := p.count("PUT"); n != 2 {
		t.Errorf("%d PUT attempts, want 2", n)
	}
	checkContent(t, st, name, data)
}

// TestLostAnswer: the server stores the object but its answer is lost; the
// SDK's retry meets the stored object (412), which Create recognises as its
// own by size and checksum. A different object under that name still gives
// ErrExists.
func TestLostAnswer(t *testing.T) {
	p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
		lose := r.Method == http.MethodPut && n == 1 || // PutObject
			r.Method == http.MethodPost && r.URL.Query().Has("uploadId") && n == 2 // the first CompleteMultipartUpload
		if lose {
			p.forward(r)
			reset(p.t, w)
			return true
		}
		return false
	})
	opts := faultOptions("")
	opts.PartSize = 5 * s3.MiB
	opts.MultipartThreshold = 6 * s3.MiB
	st := proxiedStore(t, p, opts)
	ctx := t.Context()

	small := []byte("stored, but the answer was lost")
	if err := st.Create(ctx, "small", bytes.NewReader(small), int64(len(small))); err != nil {
		t.Fatalf("Create whose answer was lost: %v\nrequests:\n%s", err, p.requests())
	}
	if n := p.count("PUT"); n != 2 {
		t.Errorf("%d PUT attempts, want 2", n)
	}
	checkContent(t, st, "small", small)
	if err := st.Create(ctx, "small", bytes.NewReader(small), int64(len(small))); !errors.Is(err, remote.ErrExists) {
		t.Errorf("Create of the same bytes again, first attempt 412: %v, want ErrExists", err)
	}

	big := randomBytes(11 * s3.MiB)
	if err := st.Create(ctx, "big", bytes.NewReader(big), int64(len(big))); err != nil {
		t.Fatalf("multipart Create whose Complete answer was lost: %v\nrequests:\n%s", err, p.requests())
	}
	checkContent(t, st, "big", big)
	if n := uploadsInProgress(t, st); n != 0 {
		t.Errorf("%d multipart uploads left in progress", n)
	}
}

// TestDenied: wrong credentials are ErrDenied, never ErrUnavailable, and are
// not retried.
func TestDenied(t *testing.T) {
	bucket := s3test.Bucket(t, false)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
	st := s3test.Open(t, "s3://"+bucket, s3test.Options(t))
	ctx := t.Context()
	err := st.Create(ctx, "x", strings.NewReader("x"), 1)
	if !errors.Is(err, s3.ErrDenied) || errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "x") {
		t.Errorf("Create with a wrong secret: %v, want ErrDenied", err)
	}
	t.Logf("Create: %v", err)
	if _, err := st.Stat(ctx, "x"); !errors.Is(err, s3.ErrDenied) {
		t.Errorf("Stat with a wrong secret: %v, want ErrDenied", err)
	}
	if err := st.List(ctx, "", func(remote.Info) error { return nil }); !errors.Is(err, s3.ErrDenied) {
		t.Errorf("List with a wrong secret: %v, want ErrDenied", err)
	}
}

// TestNoBucket: a missing bucket is ErrNoBucket naming it, also from Stat
// whose HEAD gets the same bare 404 as for a missing object.
func TestNoBucket(t *testing.T) {
	s3test.Endpoint(t)
	const bucket = "cvt-no-such-bucket-here"
	st := s3test.Open(t, "s3://"+bucket+"/p", s3test.Options(t))
	ctx := t.Context()
	checks := map[string]error{
		"Create": st.Create(ctx, "x", strings.NewReader("x"), 1),
		"Stat":   func() error { _, err := st.Stat(ctx, "x"); return err }(),
		"Open":   func() error { _, err := st.Open(ctx, "x"); return err }(),
		"List":   st.List(ctx, "", func(remote.Info) error { return nil }),
		"Delete": st.Delete(ctx, "x"),
	}
	for op, err := range checks {
		if !errors.Is(err, s3.ErrNoBucket) || errors.Is(err, remote.ErrNotFound) || !strings.Contains(err.Error(), bucket) {
			t.Errorf("%s on a missing bucket: %v, want ErrNoBucket naming %s", op, err, bucket)
		}
	}
	t.Logf("Stat: %v", checks["Stat"])
}

// TestCancelDuringRetries: cancelling the context stops the retries at once,
// with context.Canceled rather than ErrUnavailable.
func TestCancelDuringRetries(t *testing.T) {
	p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return true
	})
	opts := faultOptions("")
	opts.MaxAttempts = 100
	opts.MaxBackoff = 50 * time.Millisecond
	st := s3test.Open(t, "s3://b/p", func() s3.Options { opts.Endpoint = p.URL(); return opts }())
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := st.Create(ctx, "x", strings.NewReader("x"), 1)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, remote.ErrUnavailable) {
		t.Errorf("Create with a context that expires during retries: %v, want DeadlineExceeded", err)
	}
}

// TestNoCredentials: no credentials anywhere is ErrDenied, said plainly, and
// sends nothing.
func TestNoCredentials(t *testing.T) {
	offlineEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	st, err := s3.Open(t.Context(), "s3://bucket", faultOptions(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Create(t.Context(), "x", strings.NewReader("x"), 1)
	if !errors.Is(err, s3.ErrDenied) || errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("Create without credentials: %v, want ErrDenied about credentials", err)
	}
	t.Logf("Create: %v", err)
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent without credentials", n)
	}
}
