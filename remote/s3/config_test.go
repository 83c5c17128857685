package s3_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

func TestPathStyle(t *testing.T) {
	offlineEnv(t)
	for _, tc := range []struct {
		endpoint string
		force    bool
		want     bool
	}{
		{"http://127.0.0.1:9000", false, true},
		{"http://localhost:9000", false, true},
		{"https://[::1]:9000", false, true},
		{"https://10.1.2.3", false, true},
		{"https://s3.example.com", false, false},
		{"https://s3.example.com", true, true},
		{"", false, false},
	} {
		st, err := s3.Open(t.Context(), "s3://bucket", s3.Options{Endpoint: tc.endpoint, PathStyle: tc.force})
		if err != nil {
			t.Errorf("Open with endpoint %q: %v", tc.endpoint, err)
			continue
		}
		if got := st.Client().Options().UsePathStyle; got != tc.want {
			t.Errorf("endpoint %q, PathStyle %v: path-style %v, want %v", tc.endpoint, tc.force, got, tc.want)
		}
	}
}

func TestRegionProfile(t *testing.T) {
	offlineEnv(t)
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte("[profile backup]\nregion = ap-south-1\n"), 0o600)
	t.Setenv("AWS_CONFIG_FILE", cfg)
	for _, tc := range []struct {
		opts s3.Options
		want string
	}{
		{s3.Options{}, "us-east-1"},
		{s3.Options{Region: "eu-west-3"}, "eu-west-3"},
		{s3.Options{Profile: "backup"}, "ap-south-1"},
	} {
		t.Setenv("AWS_REGION", "") // none configured: us-east-1
		t.Setenv("AWS_DEFAULT_REGION", "")
		st, err := s3.Open(t.Context(), "s3://bucket", tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Client().Options().Region; got != tc.want {
			t.Errorf("Open(%+v): region %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func TestInsecureHTTP(t *testing.T) {
	offlineEnv(t)
	for _, ep := range []string{"http://10.1.2.3:9000", "http://s3.example.com"} {
		_, err := s3.Open(t.Context(), "s3://bucket", s3.Options{Endpoint: ep})
		if err == nil || !strings.Contains(err.Error(), "plain http") {
			t.Errorf("Open with %s: %v, want a refusal of plain http", ep, err)
		}
		if _, err := s3.Open(t.Context(), "s3://bucket", s3.Options{Endpoint: ep, AllowInsecureHTTP: true}); err != nil {
			t.Errorf("Open with %s and AllowInsecureHTTP: %v", ep, err)
		}
	}
	// The endpoint from the environment is checked the same way.
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://10.9.9.9:9000")
	if _, err := s3.Open(t.Context(), "s3://bucket", s3.Options{}); err == nil || !strings.Contains(err.Error(), "10.9.9.9") {
		t.Errorf("Open with AWS_ENDPOINT_URL_S3=http://10.9.9.9:9000: %v, want a refusal", err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9999")
	st, err := s3.Open(t.Context(), "s3://bucket", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := st.Client().Options(); aws.ToString(o.BaseEndpoint) != "http://127.0.0.1:9999" || !o.UsePathStyle {
		t.Errorf("endpoint from AWS_ENDPOINT_URL_S3: %q, path-style %v", aws.ToString(o.BaseEndpoint), o.UsePathStyle)
	}
}

func TestBadConfig(t *testing.T) {
	offlineEnv(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	for _, tc := range []struct {
		url  string
		opts s3.Options
		want string
	}{
		{"http://bucket/x", s3.Options{}, "not an s3://"},
		{"s3://", s3.Options{}, "bad bucket"},
		{"s3://bucket/a//b", s3.Options{}, "bad prefix"},
		{"s3://bucket/a/../b", s3.Options{}, "bad prefix"},
		{"s3://bucket", s3.Options{CACert: missing}, missing + ": no such file"},
		{"s3://bucket", s3.Options{CACert: garbage}, "no PEM certificate"},
		{"s3://bucket", s3.Options{PartSize: 1 << 20}, "part size"},
		{"s3://bucket", s3.Options{MultipartThreshold: 6 << 30}, "multipart threshold"},
		{"s3://bucket", s3.Options{SSE: "rot13"}, "unknown SSE"},
		{"s3://bucket", s3.Options{SSEKMSKeyID: "k"}, "SSE-KMS key"},
		{"s3://bucket", s3.Options{Endpoint: "ftp://host"}, "http:// or https://"},
	} {
		_, err := s3.Open(t.Context(), tc.url, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s, %+v): %v, want an error with %q", tc.url, tc.opts, err, tc.want)
		}
	}
	t.Setenv("AWS_CA_BUNDLE", missing)
	if _, err := s3.Open(t.Context(), "s3://bucket", s3.Options{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open with AWS_CA_BUNDLE=%s: %v, want an error naming it", missing, err)
	}
}

func TestString(t *testing.T) {
	offlineEnv(t)
	for url, want := range map[string]string{
		"s3://b":             "s3://b",
		"s3://b/":            "s3://b",
		"s3://b/p/":          "s3://b/p",
		"s3://b/p/q":         "s3://b/p/q",
		"s3://my.bucket//p/": "s3://my.bucket/p",
	} {
		st, err := s3.Open(t.Context(), url, s3.Options{})
		if err != nil {
			t.Errorf("Open(%s): %v", url, err)
			continue
		}
		if st.String() != want {
			t.Errorf("Open(%s).String() = %q, want %q", url, st.String(), want)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	offlineEnv(t)
	st, err := s3.Open(t.Context(), "s3://bucket/p", s3.Options{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "/a", "a/", "a//b", "a/./b", "../a", "a\x00b", "\xff", strings.Repeat("x", 1100)} {
		err := st.Create(t.Context(), name, strings.NewReader("x"), 1)
		if !errors.Is(err, s3.ErrInvalidName) {
			t.Errorf("Create(%q): %v, want ErrInvalidName", name, err)
		}
		if _, err := st.Stat(t.Context(), name); !errors.Is(err, s3.ErrInvalidName) {
			t.Errorf("Stat(%q): %v, want ErrInvalidName", name, err)
		}
	}
}

// TestTLS: an https endpoint with a private CA works with CACert and with
// AWS_CA_BUNDLE, and without either fails at once with an error that says the
// certificate is not trusted (not ErrUnavailable).
func TestTLS(t *testing.T) {
	p, ca := newTLSProxy(t, nil)
	bucket := s3test.Bucket(t, false)
	opts := faultOptions(p.URL())

	withCA := opts
	withCA.CACert = ca
	st := s3test.Open(t, "s3://"+bucket, withCA)
	if err := st.Create(t.Context(), "over-tls", strings.NewReader("tls"), 3); err != nil {
		t.Fatalf("Create over https with CACert: %v", err)
	}

	t.Setenv("AWS_CA_BUNDLE", ca)
	st = s3test.Open(t, "s3://"+bucket, opts)
	if _, err := st.Stat(t.Context(), "over-tls"); err != nil {
		t.Fatalf("Stat over https with AWS_CA_BUNDLE: %v", err)
	}

	t.Setenv("AWS_CA_BUNDLE", "")
	st = s3test.Open(t, "s3://"+bucket, opts)
	start := time.Now()
	_, err := st.Stat(t.Context(), "over-tls")
	if err == nil || errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Stat over https without the CA: %v, want a certificate error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("certificate error took %v: retried?", d)
	}
	t.Logf("without CA: %v", err)
}
