package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/chatvault/chatvault/remote/s3"
)

// s3Flags are the global flags of S3 stores. Credentials, region and profile
// come from the AWS chain (AWS_* variables, ~/.aws); these add what the chain
// lacks.
type s3Flags struct {
	endpoint          string
	pathStyle         bool
	caCert            string
	allowInsecureHTTP bool
	sse               string
	sseKMSKeyID       string
	partSize          sizeFlag
}

func (f *s3Flags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.endpoint, "s3-endpoint", "", "S3 endpoint `URL` (default: AWS_ENDPOINT_URL_S3, else AWS)")
	fs.BoolVar(&f.pathStyle, "s3-path-style", false, "path-style S3 URLs (automatic for IP and localhost endpoints)")
	fs.StringVar(&f.caCert, "ca-cert", "", "PEM `FILE` of CA certificates for the S3 endpoint (default: AWS_CA_BUNDLE)")
	fs.BoolVar(&f.allowInsecureHTTP, "allow-insecure-http", false, "allow a plain http:// S3 endpoint on a host that is not loopback")
	fs.StringVar(&f.sse, "sse", "", "server-side encryption of S3 objects, as an extra layer: aws:kms or AES256")
	fs.StringVar(&f.sseKMSKeyID, "sse-kms-key-id", "", "KMS key for --sse aws:kms (default: the AWS managed key)")
	fs.Var(&f.partSize, "s3-part-size", "multipart `SIZE` for S3 uploads, at least 5MiB (default 16MiB); objects over 4 parts go up in parts")
}

func (f *s3Flags) options() s3.Options {
	return s3.Options{
		Endpoint:           f.endpoint,
		PathStyle:          f.pathStyle,
		CACert:             f.caCert,
		AllowInsecureHTTP:  f.allowInsecureHTTP,
		SSE:                f.sse,
		SSEKMSKeyID:        f.sseKMSKeyID,
		PartSize:           int64(f.partSize),
		MultipartThreshold: 4 * int64(f.partSize),
	}
}

// probeStore checks once per device and store that the store refuses to
// overwrite an object (If-None-Match: *): commits rely on it when several
// writers race. The result is remembered in the state dir; a store that fails
// is refused for writing (exit 1).
func (a *app) probeStore(ctx context.Context, st *s3.Store) error {
	sum := sha256.Sum256([]byte(st.String()))
	mark := filepath.Join(a.stateDir, "probed", hex.EncodeToString(sum[:16]))
	if _, err := os.Stat(mark); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	if err := st.ProbeCreateExclusive(ctx); errors.Is(err, s3.ErrNotExclusive) {
		return withHint(err, "chatvault writes to a store only if it refuses to overwrite objects (S3 conditional writes, If-None-Match: *); use a server that supports them")
	} else if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(mark), 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	note := fmt.Sprintf("%s passed the create-exclusive probe at %s\n", st, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(mark, []byte(note), 0o600); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}
