// Package kmstest connects tests to a real KMS endpoint: local-kms served by
// tools/kmsd, started by scripts/kmsserver.sh, whose `start` prints
//
//	export CHATVAULT_TEST_KMS=http://127.0.0.1:PORT AWS_ENDPOINT_URL_KMS=… AWS_REGION=us-east-1 …
//
// Environment read:
//
//	CHATVAULT_TEST_KMS               the endpoint; unset: tests needing it are skipped
//	CHATVAULT_TEST_REQUIRE_SERVERS   "1": an unset endpoint fails the test instead (CI)
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
//	                                 used if set; otherwise static "test" credentials
//	                                 (local-kms checks no signature), so the SDK
//	                                 never looks for credentials elsewhere
//
// Every test gets its own keys (CreateKey), so tests may run in parallel
// against one server.
package kmstest

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/chatvault/chatvault/kms/awskms"
)

// Environment variables read by this package.
const (
	EnvEndpoint       = "CHATVAULT_TEST_KMS"
	EnvRequireServers = "CHATVAULT_TEST_REQUIRE_SERVERS"
)

// Region is the region kmsd serves (its ARNs say us-east-1).
const Region = "us-east-1"

// Endpoint returns $CHATVAULT_TEST_KMS. When it is unset it skips the test, or
// fails it if CHATVAULT_TEST_REQUIRE_SERVERS=1.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep == "" {
		const how = EnvEndpoint + " is not set; start a KMS with: eval \"$(scripts/kmsserver.sh start DIR)\""
		if os.Getenv(EnvRequireServers) == "1" {
			t.Fatal(how + " (" + EnvRequireServers + "=1 requires it)")
		}
		t.Skip(how)
	}
	return ep
}

// Options returns client options for the test KMS (skipping the test if there
// is none, see Endpoint), with at most 2 attempts per call.
func Options(t testing.TB) awskms.Options {
	t.Helper()
	return awskms.Options{
		Endpoint:    Endpoint(t),
		Region:      Region,
		Credentials: Credentials(),
		MaxAttempts: 2,
	}
}

// Credentials returns the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY pair if
// set, else static test credentials. Tests pass explicit credentials so that
// the SDK's default chain never probes the EC2 metadata address.
func Credentials() aws.CredentialsProvider {
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		id, secret = "test", "test"
	}
	return credentials.NewStaticCredentialsProvider(id, secret, "")
}

// Client returns an awskms client of the test KMS (skipping the test if there
// is none, see Endpoint).
func Client(t testing.TB) *awskms.Client {
	t.Helper()
	c, err := awskms.New(context.Background(), Options(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CreateKey creates a new symmetric key in the test KMS and returns its ARN
// (skipping the test if there is no KMS, see Endpoint).
func CreateKey(t testing.TB) string {
	t.Helper()
	out, err := Client(t).API().CreateKey(context.Background(), &kms.CreateKeyInput{
		Description: aws.String("chatvault test key for " + t.Name()),
	})
	if err != nil {
		t.Fatalf("creating a test KMS key: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}
