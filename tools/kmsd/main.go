// Command kmsd serves local-kms (github.com/nsmithuk/local-kms), an AWS KMS
// emulator, on a loopback address only. It exists for chatvault's integration
// tests; scripts/kmsserver.sh installs, starts and stops it.
//
// local-kms's own binary listens on every interface (":"+PORT, no bind option)
// and defaults to region eu-west-2, so this wrapper sets the package-level
// configuration itself and serves local-kms's request handler on a listener it
// opened on 127.0.0.1:
//
//	config.AWSAccountId = 111122223333
//	config.AWSRegion    = us-east-1
//	config.DatabasePath = -data, else $KMS_DATA_PATH (LevelDB; use a fresh dir per run)
//
// It lives in its own Go module so that local-kms's dependencies (aws-sdk-go v1,
// leveldb, logrus) stay out of chatvault's go.mod.
//
// Usage:
//
//	kmsd [-addr 127.0.0.1:0] [-data DIR] [-addr-file FILE]
//
// With port 0 the kernel picks a free port. The address actually bound is
// printed to stdout as "http://127.0.0.1:PORT" and, with -addr-file, written to
// that file (atomically, once the listener is open), so a script can wait for it
// without racing another process for a port. SIGINT or SIGTERM closes the
// database and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

const (
	accountID = "111122223333"
	region    = "us-east-1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback `host:port` to listen on (port 0: any free port)")
	dataDir := flag.String("data", os.Getenv("KMS_DATA_PATH"), "LevelDB `dir` holding the keys (default $KMS_DATA_PATH)")
	addrFile := flag.String("addr-file", "", "write the bound address (http://127.0.0.1:PORT) to this `file`")
	flag.Parse()
	if err := run(*addr, *dataDir, *addrFile); err != nil {
		fmt.Fprintln(os.Stderr, "kmsd:", err)
		os.Exit(1)
	}
}

func run(addr, dataDir, addrFile string) error {
	if dataDir == "" {
		return errors.New("no data directory: pass -data DIR or set KMS_DATA_PATH")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: only loopback IP addresses are allowed", addr)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}

	config.AWSAccountId = accountID
	config.AWSRegion = region
	config.DatabasePath = abs
	db := data.NewDatabase(abs) // panics if LevelDB cannot open the dir
	defer db.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if addrFile != "" {
		if err := writeAtomic(addrFile, url+"\n"); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Println(url)

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			src.HandleRequest(w, r, db)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// writeAtomic writes s to path through a temporary file and a rename, so a
// reader polling for path never sees it half written.
func writeAtomic(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
