package awskms

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// API is the part of the KMS client chatvault uses. *kms.Client implements it;
// package kmsfake provides an in-memory implementation for tests.
type API interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	ReEncrypt(ctx context.Context, in *kms.ReEncryptInput, optFns ...func(*kms.Options)) (*kms.ReEncryptOutput, error)
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	CreateKey(ctx context.Context, in *kms.CreateKeyInput, optFns ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	CreateAlias(ctx context.Context, in *kms.CreateAliasInput, optFns ...func(*kms.Options)) (*kms.CreateAliasOutput, error)
	ListAliases(ctx context.Context, in *kms.ListAliasesInput, optFns ...func(*kms.Options)) (*kms.ListAliasesOutput, error)
	TagResource(ctx context.Context, in *kms.TagResourceInput, optFns ...func(*kms.Options)) (*kms.TagResourceOutput, error)
	ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, optFns ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error)
	DisableKey(ctx context.Context, in *kms.DisableKeyInput, optFns ...func(*kms.Options)) (*kms.DisableKeyOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, optFns ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
}

var _ API = (*kms.Client)(nil)

// Options configure [New]. The zero value uses the SDK's standard
// configuration chain (environment, shared config and credentials files,
// AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_KMS, …).
type Options struct {
	// Endpoint, if set, overrides every other source of the KMS endpoint
	// (e.g. "http://127.0.0.1:4599" for local-kms).
	Endpoint string
	// Region, if set, overrides AWS_REGION and the profile's region. Calls
	// naming a full key ARN use the ARN's region whatever this says.
	Region string
	// Profile, if set, selects a shared-config profile (like AWS_PROFILE).
	Profile string
	// Credentials, if set, replace the default credential chain.
	Credentials aws.CredentialsProvider
	// HTTPClient, if set, replaces the SDK's HTTP client.
	HTTPClient aws.HTTPClient
	// MaxAttempts, if > 0, is the number of attempts per call, first one
	// included (the SDK's default is 3, with backoff).
	MaxAttempts int
}

// Client performs chatvault's KMS operations. It is safe for concurrent use.
type Client struct {
	api    API
	region string // the client's default region; "" if none was configured
}

// New returns a Client over the real KMS service (or an endpoint speaking its
// protocol), configured by the SDK's standard chain and then by o. It makes no
// network call.
func New(ctx context.Context, o Options) (*Client, error) {
	var loads []func(*config.LoadOptions) error
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
	if o.MaxAttempts > 0 {
		loads = append(loads, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("awskms: loading the AWS configuration: %w", err)
	}
	api := kms.NewFromConfig(cfg, func(ko *kms.Options) {
		if o.Endpoint != "" {
			ko.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &Client{api: api, region: cfg.Region}, nil
}

// NewWithAPI returns a Client over api (a fake in tests). Calls naming a full
// key ARN still pass the ARN's region as a per-call option, which a fake may
// ignore.
func NewWithAPI(api API) *Client {
	return &Client{api: api}
}

// API returns the KMS API the client calls, for operations this package does
// not wrap (tests use it to disable a key, for instance).
func (c *Client) API() API { return c.api }

// Region returns the client's configured region, "" if none.
func (c *Client) Region() string { return c.region }

// regionOpts returns the per-call option sending a call about keyID to the
// region in keyID's ARN, if keyID is an ARN of another region than the
// client's; nil otherwise.
func (c *Client) regionOpts(keyID string) []func(*kms.Options) {
	r := arnRegion(keyID)
	if r == "" || r == c.region {
		return nil
	}
	return []func(*kms.Options){func(o *kms.Options) { o.Region = r }}
}

// arnRegion returns the region of a KMS key or alias ARN
// (arn:PARTITION:kms:REGION:ACCOUNT:key/ID), "" for anything else.
func arnRegion(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" {
		return ""
	}
	return parts[3]
}
