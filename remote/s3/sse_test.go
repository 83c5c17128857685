package s3_test

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/remote/s3"
)

// TestSSE: the server-side encryption asked for is sent with every PutObject
// and CreateMultipartUpload (versitygw accepts it; whether it encrypts at rest
// is its business).
func TestSSE(t *testing.T) {
	for _, tc := range []struct{ sse, key string }{{"AES256", ""}, {"aws:kms", "alias/chatvault"}} {
		t.Run(tc.sse, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			p := newProxy(t, func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPut && !r.URL.Query().Has("partNumber") || r.Method == http.MethodPost && r.URL.Query().Has("uploads") {
					mu.Lock()
					seen = append(seen, r.Header.Get("X-Amz-Server-Side-Encryption")+" "+r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
					mu.Unlock()
				}
				return false
			})
			opts := faultOptions("")
			opts.SSE, opts.SSEKMSKeyID = tc.sse, tc.key
			opts.PartSize, opts.MultipartThreshold = 5*s3.MiB, 6*s3.MiB
			st := proxiedStore(t, p, opts)
			for name, size := range map[string]int{"small": 10, "big": 7 * s3.MiB} {
				data := randomBytes(size)
				if err := st.Create(t.Context(), name, bytes.NewReader(data), int64(len(data))); err != nil {
					t.Fatalf("Create %s with SSE %s: %v", name, tc.sse, err)
				}
				checkContent(t, st, name, data)
			}
			want := tc.sse + " " + tc.key
			if len(seen) != 2 || seen[0] != want || seen[1] != want {
				t.Errorf("SSE headers sent: %q, want %q twice", seen, want)
			}
		})
	}
}
