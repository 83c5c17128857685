package s3_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/chatvault/chatvault/remote"
)

// TestChecksumSent: a PUT carries the SHA-256 of its body, which the server
// stores and returns.
func TestChecksumSent(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			mu.Lock()
			sent = append(sent, r.Header.Get("X-Amz-Checksum-Sha256"))
			mu.Unlock()
		}
		return false
	})
	st := proxiedStore(t, p, faultOptions(""))
	ctx := t.Context()
	data := []byte("check me")
	if err := st.Create(ctx, "c", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := base64.StdEncoding.EncodeToString(sum[:])
	if len(sent) != 1 || sent[0] != want {
		t.Errorf("PUT sent x-amz-checksum-sha256 %q, want [%s]", sent, want)
	}
	head, err := st.Client().HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key("c")), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(head.ChecksumSHA256); got != want {
		t.Errorf("stored SHA-256 checksum %q, want %q", got, want)
	}
}

// TestCorruptedUpload: a byte flipped in the PUT body on the way is refused by
// the server, and nothing is stored. Over https the SDK does not sign the
// payload (UNSIGNED-PAYLOAD), so what catches it is the SHA-256 checksum that
// Create sends; over plain http the payload signature catches it first.
func TestCorruptedUpload(t *testing.T) {
	var mu sync.Mutex
	var payloadHash []string
	flip := func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			mu.Lock()
			payloadHash = append(payloadHash, r.Header.Get("X-Amz-Content-Sha256"))
			mu.Unlock()
			body, _ := io.ReadAll(r.Body)
			body[len(body)/2] ^= 0x01
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		return false
	}
	p, ca := newTLSProxy(t, flip)
	opts := faultOptions("")
	opts.CACert = ca
	st := proxiedStore(t, p, opts)
	ctx := t.Context()
	data := bytes.Repeat([]byte("precious "), 1000)
	err := st.Create(ctx, "flipped", bytes.NewReader(data), int64(len(data)))
	if err == nil {
		t.Fatal("Create through a proxy that flips a byte succeeded")
	}
	t.Logf("Create: %v (x-amz-content-sha256: %q)", err, payloadHash)
	if code := apiCode(err); code != "BadDigest" {
		t.Errorf("Create through a proxy that flips a byte failed with %q, want BadDigest (the checksum)", code)
	}
	if _, err := st.Stat(ctx, "flipped"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat after refused upload: %v, want ErrNotFound", err)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestCorruptedDownload: a byte flipped in a GET body on the way makes the
// read fail at the end of the body (the SDK checks the stored SHA-256), rather
// than hand back wrong bytes silently.
func TestCorruptedDownload(t *testing.T) {
	p, ca := newTLSProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Query().Get("x-id") == "GetObject" {
			resp, body := p.forward(r)
			body[len(body)/2] ^= 0x01
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			w.Write(body)
			return true
		}
		return false
	})
	opts := faultOptions("")
	opts.CACert = ca
	st := proxiedStore(t, p, opts)
	data := bytes.Repeat([]byte("fragile "), 1000)
	if err := st.Create(t.Context(), "f", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(t.Context(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err == nil {
		t.Fatalf("read %d flipped bytes without error (equal: %v)", len(got), bytes.Equal(got, data))
	}
	if errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("read of a corrupted body: %v, want a checksum error", err)
	}
	t.Logf("read: %v", err)
}
