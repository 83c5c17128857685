package awskms_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmstest"
)

// These tests run against a real KMS (local-kms via tools/kmsd): they are
// skipped unless CHATVAULT_TEST_KMS is set (see package kmstest). local-kms
// differs from AWS in ways infra.md records: Decrypt without a KeyId on a
// disabled key or one pending deletion is AccessDeniedException (Unwrap names
// the KeyId, and local-kms then answers DisabledException or
// KMSInvalidStateException like AWS), and a key pending deletion is never
// deleted, so the final shred grade is tested with kmsfake only.

func TestKMSWrapUnwrap(t *testing.T) {
	c := kmstest.Client(t)
	t.Parallel()
	ctx := context.Background()
	id := newArchiveID(t)
	ki, err := c.CreateDedicated(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ki.State != awskms.StateEnabled || ki.Origin != awskms.OriginAWSKMS || ki.MultiRegion {
		t.Errorf("new dedicated key %+v", ki)
	}
	alias := awskms.AliasName(id)
	ec := awskms.Context(id, awskms.PurposeArchiveKey)
	key := newKey32(t)

	// Through the alias: KMS answers with the key ARN.
	arn, ct, err := c.Wrap(ctx, alias, ec, key)
	if err != nil {
		t.Fatal(err)
	}
	if arn != ki.ARN {
		t.Fatalf("Wrap via %s returned %q, want %q", alias, arn, ki.ARN)
	}
	for _, keyID := range []string{arn, alias} {
		got, err := c.Unwrap(ctx, keyID, ec, ct)
		if err != nil {
			t.Fatalf("Unwrap via %s: %v", keyID, err)
		}
		if !bytes.Equal(got, key) {
			t.Fatalf("Unwrap via %s: wrong key", keyID)
		}
	}

	res, err := c.Resolve(ctx, alias)
	if err != nil || res.ARN != ki.ARN {
		t.Fatalf("Resolve(%s) = %+v, %v; want %s", alias, res, err, ki.ARN)
	}
	tags, err := c.Tags(ctx, ki.ARN)
	if err != nil || tags[awskms.TagArchive] != id {
		t.Errorf("Tags = %v, %v; want %s=%s", tags, err, awskms.TagArchive, id)
	}

	for name, bad := range map[string]map[string]string{
		"another archive": awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey),
		"another purpose": awskms.Context(id, "other"),
		"archive only":    {awskms.ContextArchive: id},
	} {
		_, err := c.Unwrap(ctx, arn, bad, ct)
		t.Logf("Unwrap with %s: %v", name, err)
		if !errors.Is(err, awskms.ErrWrongContext) {
			t.Errorf("Unwrap with %s = %v, want ErrWrongContext", name, err)
		}
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	if _, err := c.Unwrap(ctx, arn, ec, tampered); !errors.Is(err, awskms.ErrWrongContext) {
		t.Errorf("Unwrap of a tampered ciphertext = %v, want ErrWrongContext", err)
	}

	// A second dedicated key for the same archive is refused (the alias exists).
	if _, err := c.CreateDedicated(ctx, id); err == nil {
		t.Error("a second dedicated key for the same archive was created")
	}
}

func TestKMSRewrap(t *testing.T) {
	c := kmstest.Client(t)
	t.Parallel()
	ctx := context.Background()
	src, dst := kmstest.CreateKey(t), kmstest.CreateKey(t)
	id := newArchiveID(t)
	srcEC := awskms.Context(id, awskms.PurposeArchiveKey)
	dstEC := awskms.Context(id, "rotated")
	key := newKey32(t)
	_, ct, err := c.Wrap(ctx, src, srcEC, key)
	if err != nil {
		t.Fatal(err)
	}
	arn, ct2, err := c.Rewrap(ctx, ct, srcEC, dst, dstEC)
	if err != nil {
		t.Fatal(err)
	}
	if arn != dst {
		t.Fatalf("Rewrap returned %q, want %q", arn, dst)
	}
	got, err := c.Unwrap(ctx, dst, dstEC, ct2)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unwrap of the rewrapped key: %v", err)
	}
	if _, err := c.Unwrap(ctx, dst, srcEC, ct2); !errors.Is(err, awskms.ErrWrongContext) {
		t.Errorf("Unwrap with the old context = %v, want ErrWrongContext", err)
	}
	if _, _, err := c.Rewrap(ctx, ct, dstEC, dst, dstEC); !errors.Is(err, awskms.ErrWrongContext) {
		t.Errorf("Rewrap with a wrong source context = %v, want ErrWrongContext", err)
	}
}

func TestKMSDisabledKey(t *testing.T) {
	c := kmstest.Client(t)
	t.Parallel()
	ctx := context.Background()
	arn := kmstest.CreateKey(t)
	ec := awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey)
	_, ct, err := c.Wrap(ctx, arn, ec, newKey32(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.API().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	// With the KeyId named, local-kms and AWS answer DisabledException; without
	// it local-kms says AccessDeniedException. Accept any unusable class.
	_, err = c.Unwrap(ctx, arn, ec, ct)
	t.Logf("Unwrap on a disabled key: %v", err)
	if !errors.Is(err, awskms.ErrUnusable) {
		t.Fatalf("Unwrap on a disabled key = %v, want ErrUnusable", err)
	}
	if !errors.Is(err, awskms.ErrDenied) && !errors.Is(err, awskms.ErrDisabled) {
		t.Fatalf("Unwrap on a disabled key = %v, want ErrDenied or ErrDisabled", err)
	}
	if _, _, err := c.Wrap(ctx, arn, ec, newKey32(t)); !errors.Is(err, awskms.ErrDisabled) {
		t.Errorf("Wrap on a disabled key = %v, want ErrDisabled", err)
	}
	ki, err := c.Resolve(ctx, arn)
	if err != nil || ki.State != awskms.StateDisabled || ki.Enabled {
		t.Errorf("Resolve = %+v, %v; want Disabled", ki, err)
	}
}

func TestKMSDestroy(t *testing.T) {
	c := kmstest.Client(t)
	t.Parallel()
	ctx := context.Background()
	id := newArchiveID(t)
	ki, err := c.CreateDedicated(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ec := awskms.Context(id, awskms.PurposeArchiveKey)
	_, ct, err := c.Wrap(ctx, ki.ARN, ec, newKey32(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Destroy(ctx, ki.ARN, 3); !errors.Is(err, awskms.ErrPendingWindow) {
		t.Fatalf("Destroy(3 days) = %v, want ErrPendingWindow", err)
	}
	before := time.Now()
	date, err := c.Destroy(ctx, ki.ARN, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := before.Add(7 * 24 * time.Hour); date.Before(want.Add(-time.Minute)) || date.After(want.Add(time.Hour)) {
		t.Errorf("deletion date %v, want about %v", date, want)
	}
	got, err := c.Resolve(ctx, awskms.AliasName(id))
	if err != nil {
		t.Fatal(err)
	}
	if got.ARN != ki.ARN || got.State != awskms.StatePendingDeletion || got.Enabled || !got.DeletionDate.Equal(date) {
		t.Errorf("Resolve = %+v, want PendingDeletion on %v", got, date)
	}
	_, err = c.Unwrap(ctx, ki.ARN, ec, ct)
	t.Logf("Unwrap after Destroy: %v", err)
	if !errors.Is(err, awskms.ErrUnusable) {
		t.Errorf("Unwrap after Destroy = %v, want ErrUnusable", err)
	}
	again, err := c.Destroy(ctx, ki.ARN, 7)
	if err != nil || !again.Equal(date) {
		t.Errorf("second Destroy = %v, %v; want %v", again, err, date)
	}
}

func TestKMSNotFound(t *testing.T) {
	c := kmstest.Client(t)
	t.Parallel()
	for _, id := range []string{"alias/chatvault-does-not-exist", "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"} {
		if _, err := c.Resolve(context.Background(), id); !errors.Is(err, awskms.ErrNotFound) {
			t.Errorf("Resolve(%s) = %v, want ErrNotFound", id, err)
		}
	}
}
