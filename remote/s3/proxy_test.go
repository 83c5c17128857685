package s3_test

import (
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// proxy is a reverse proxy on 127.0.0.1 in front of the test S3 server that
// injects faults: fault is called for every request with its number (from 1)
// among the requests of the same method, and answers it itself when it
// returns true. It keeps the Host header, which SigV4 signs.
type proxy struct {
	t      *testing.T
	srv    *httptest.Server
	target *url.URL
	rp     *httputil.ReverseProxy
	done   chan struct{} // closed at the end of the test: hanging handlers return
	fault  func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool

	mu     sync.Mutex
	counts map[string]int // requests seen, by method
	log    []string       // "METHOD /path?query"
}

func newProxy(t *testing.T, fault func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool) *proxy {
	t.Helper()
	p, _ := startProxy(t, false, fault)
	return p
}

// newTLSProxy is newProxy serving https, with a certificate of its own; it
// returns the PEM file of that certificate, to trust it.
func newTLSProxy(t *testing.T, fault func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool) (p *proxy, caFile string) {
	t.Helper()
	return startProxy(t, true, fault)
}

func startProxy(t *testing.T, useTLS bool, fault func(p *proxy, n int, w http.ResponseWriter, r *http.Request) bool) (*proxy, string) {
	t.Helper()
	target, err := url.Parse(s3test.Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: target, fault: fault, done: make(chan struct{}), counts: map[string]int{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		ErrorLog: quiet,
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Config.ErrorLog = quiet
	var caFile string
	if useTLS {
		p.srv.StartTLS()
		caFile = filepath.Join(t.TempDir(), "ca.pem")
		cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
		if err := os.WriteFile(caFile, cert, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		p.srv.Start()
	}
	t.Cleanup(p.srv.Close)
	t.Cleanup(func() { close(p.done) }) // runs first: lets hanging handlers return
	return p, caFile
}

// quiet drops the proxy's own complaints about the connections it cuts.
var quiet = log.New(io.Discard, "", 0)

func (p *proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.counts[r.Method]++
	n := p.counts[r.Method]
	p.log = append(p.log, r.Method+" "+r.URL.RequestURI())
	p.mu.Unlock()
	if p.fault != nil && p.fault(p, n, w, r) {
		return
	}
	p.rp.ServeHTTP(w, r)
}

// URL is the proxy's endpoint.
func (p *proxy) URL() string { return p.srv.URL }

// count returns how many requests of the method the proxy saw.
func (p *proxy) count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method]
}

// requests returns the requests seen, as "METHOD /path?query".
func (p *proxy) requests() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

// s3Error answers with an S3 XML error.
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<Error><Code>`+code+`</Code><Message>`+msg+`</Message><RequestId>fault-proxy</RequestId></Error>`)
}

// reset closes the client's connection with a TCP RST, without an answer.
func reset(t *testing.T, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// hang answers nothing until the client gives up or the test ends.
func (p *proxy) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.done:
	}
}

// forward sends the request to the server and returns its answer, read
// whole, without answering the client.
func (p *proxy) forward(r *http.Request) (*http.Response, []byte) {
	out := r.Clone(r.Context())
	out.URL.Scheme = p.target.Scheme
	out.URL.Host = p.target.Host
	out.Host = r.Host
	out.RequestURI = ""
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		p.t.Errorf("proxy: forwarding %s %s: %v", r.Method, r.URL, err)
		return nil, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Errorf("proxy: reading answer to %s %s: %v", r.Method, r.URL, err)
	}
	return resp, body
}

// cutWriter passes at most limit bytes of a response body on, then cuts the
// client's connection.
type cutWriter struct {
	http.ResponseWriter
	t     *testing.T
	limit int
	cut   bool
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.cut {
		return 0, io.ErrClosedPipe
	}
	if len(b) < c.limit {
		c.limit -= len(b)
		return c.ResponseWriter.Write(b)
	}
	n, _ := c.ResponseWriter.Write(b[:c.limit])
	c.cut = true
	reset(c.t, c.ResponseWriter)
	return n, io.ErrClosedPipe
}
