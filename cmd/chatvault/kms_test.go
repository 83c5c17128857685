package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmstest"
)

// TestScriptsKMS drives the binary against the real KMS of the test run
// (local-kms, scripts/kmsserver.sh; see kmstest): testdata/kmsscript/*.txtar.
// The scripts get the AWS settings any AWS tool reads (AWS_ENDPOINT_URL_KMS,
// AWS_REGION, credentials) and the server in $KMS. Extra commands, besides
// exitcode, capture and catglob:
//
//	kmskey VAR [AVAR]    create a KMS key, set $VAR to its ARN (and give it a new
//	                     alias, alias/chatvault-test-<random>, in $AVAR)
//	kmsdisable KEY       disable a KMS key
//	kmsenable KEY        enable it again
//	kmsdescribe KEY      print "ARN STATE tag=value…" of a key (id, ARN or alias)
func TestScriptsKMS(t *testing.T) {
	endpoint := kmstest.Endpoint(t)
	client := kmstest.Client(t)
	runScripts(t, "kmsscript", func(env *testscript.Env) error {
		env.Setenv("KMS", endpoint)
		env.Setenv("AWS_ENDPOINT_URL_KMS", endpoint)
		env.Setenv("AWS_REGION", kmstest.Region)
		id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			id, secret = "test", "test"
		}
		env.Setenv("AWS_ACCESS_KEY_ID", id)
		env.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		env.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		return nil
	}, map[string]scriptCmd{
		"kmskey":      kmsKeyCmd(client),
		"kmsdisable":  kmsDisableCmd(client),
		"kmsenable":   kmsEnableCmd(client),
		"kmsdescribe": kmsDescribeCmd(client),
	})
}

func kmsKeyCmd(c *awskms.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: kmskey VAR [ALIASVAR]")
		}
		ctx := context.Background()
		out, err := c.API().CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("chatvault CLI test key")})
		ts.Check(err)
		arn := aws.ToString(out.KeyMetadata.Arn)
		if len(args) == 2 {
			// Aliases are per server, and the server outlives a test run.
			alias := "alias/chatvault-test-" + rand.Text()[:12]
			_, err := c.API().CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)})
			ts.Check(err)
			ts.Setenv(args[1], alias)
		}
		ts.Setenv(args[0], arn)
	}
}

func kmsDisableCmd(c *awskms.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: kmsdisable KEY")
		}
		_, err := c.API().DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(args[0])})
		ts.Check(err)
	}
}

func kmsEnableCmd(c *awskms.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: kmsenable KEY")
		}
		api, ok := c.API().(*kms.Client)
		if !ok {
			ts.Fatalf("kmsenable: the KMS client is a %T", c.API())
		}
		_, err := api.EnableKey(context.Background(), &kms.EnableKeyInput{KeyId: aws.String(args[0])})
		ts.Check(err)
	}
}

func kmsDescribeCmd(c *awskms.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: kmsdescribe KEY")
		}
		ctx := context.Background()
		ki, err := c.Resolve(ctx, args[0])
		ts.Check(err)
		tags, err := c.Tags(ctx, ki.ARN)
		ts.Check(err)
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", ki.ARN, ki.State)
		for k, v := range tags {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
		b.WriteString("\n")
		ts.Stdout().Write([]byte(b.String()))
	}
}
