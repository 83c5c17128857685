package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// TestScriptsS3 drives the binary against the real S3 server of the test run
// (scripts/s3server.sh; see s3test): testdata/s3script/*.txtar, each with a
// fresh bucket in $BUCKET (versioned) and the server in $S3.
func TestScriptsS3(t *testing.T) {
	endpoint := s3test.Endpoint(t)
	runScripts(t, "s3script", func(env *testscript.Env) error {
		env.Setenv("S3", endpoint)
		env.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
			env.Setenv(k, os.Getenv(k))
		}
		env.Setenv("BUCKET", s3test.Bucket(env.T().(testing.TB), true))
		return nil
	}, nil)
}
