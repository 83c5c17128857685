package shred

import (
	"context"
	"errors"
	"os"
	"os/user"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// IdentifyOptions configure Identify. The zero value uses the SDK's standard
// chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_STS, ...).
type IdentifyOptions struct {
	Endpoint    string // STS endpoint override
	Region      string // default: the SDK's, else us-east-1
	Profile     string
	Credentials aws.CredentialsProvider
	HTTPClient  aws.HTTPClient
	Timeout     time.Duration // for the whole lookup; 0: 10 s
}

// Identify names the operator by the AWS caller identity (STS
// GetCallerIdentity: ARN, account, user id), and falls back to the local user
// when there are no AWS credentials or STS cannot be asked, saying why in
// Operator.Note. It never fails.
func Identify(ctx context.Context, o IdentifyOptions) Operator {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	loads := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(2)}
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		loads = append(loads, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Credentials != nil {
		loads = append(loads, config.WithCredentialsProvider(o.Credentials))
	}
	if o.HTTPClient != nil {
		loads = append(loads, config.WithHTTPClient(o.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return LocalOperator("AWS configuration unusable: " + oneLine(err))
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c := sts.NewFromConfig(cfg, func(so *sts.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil && aws.ToString(out.Arn) == "" {
		err = errors.New("STS returned no ARN")
	}
	if err != nil {
		return LocalOperator("AWS caller identity unavailable (STS GetCallerIdentity: " + oneLine(err) + ")")
	}
	host, _ := os.Hostname()
	return Operator{IdentitySource: IdentityAWS, ARN: aws.ToString(out.Arn), Account: aws.ToString(out.Account), UserID: aws.ToString(out.UserId), Host: host}
}

// LocalOperator names the operator by the local user name and host, with a
// note saying why (e.g. why no AWS identity).
func LocalOperator(note string) Operator {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, _ := os.Hostname()
	return Operator{IdentitySource: IdentityLocal, User: name, Host: host, Note: note}
}

// String names the operator in one word: the AWS caller ARN, else
// user@host (or the user alone).
func (o Operator) String() string {
	switch {
	case o.ARN != "":
		return o.ARN
	case o.Host != "":
		return o.User + "@" + o.Host
	}
	return o.User
}
