package s3_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

func TestProbeCreateExclusive(t *testing.T) {
	st := s3test.Store(t, true)
	if err := st.ProbeCreateExclusive(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The probe leaves nothing behind, no version either.
	err := st.Versions(t.Context(), "", func(v s3.Version) error {
		t.Errorf("probe left %+v", v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestProbeIgnoredPrecondition: a server (here a proxy) that answers the
// refused second write with 200 fails the probe.
func TestProbeIgnoredPrecondition(t *testing.T) {
	p := newProxy(t, nil)
	p.rp.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode == http.StatusPreconditionFailed {
			resp.Body.Close()
			resp.StatusCode = http.StatusOK
			resp.Status = "200 OK"
			resp.Body = io.NopCloser(strings.NewReader(""))
			resp.ContentLength = 0
			resp.Header.Del("Content-Length")
			resp.Header.Del("Content-Type")
		}
		return nil
	}
	st := proxiedStore(t, p, faultOptions(""))
	err := st.ProbeCreateExclusive(t.Context())
	if !errors.Is(err, s3.ErrNotExclusive) || !strings.Contains(err.Error(), "probes/") {
		t.Fatalf("probe through a proxy hiding 412: %v, want ErrNotExclusive", err)
	}
	t.Logf("probe: %v", err)
	if err := st.List(t.Context(), "", func(info remote.Info) error {
		t.Errorf("probe left %s", info.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
