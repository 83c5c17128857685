package kmsfake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

func mustKey(t *testing.T, f *Fake) string {
	t.Helper()
	out, err := f.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.Arn
}

func TestContextEnforced(t *testing.T) {
	f := New()
	ctx := context.Background()
	arn := mustKey(t, f)
	ec := map[string]string{"a": "1", "b": "2"}
	enc, err := f.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	// The same pairs in another map order open it.
	dec, err := f.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"b": "2", "a": "1"}})
	if err != nil || string(dec.Plaintext) != "secret" || *dec.KeyId != arn {
		t.Fatalf("Decrypt = %v, %v", dec, err)
	}
	for _, bad := range []map[string]string{nil, {"a": "1"}, {"a": "1", "b": "3"}, {"a": "1", "b": "2", "c": ""}, {"a1": "", "b": "2"}} {
		_, err := f.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: bad})
		var ice *types.InvalidCiphertextException
		if !errors.As(err, &ice) {
			t.Errorf("Decrypt with %v = %v, want InvalidCiphertextException", bad, err)
		}
	}
}

func TestAliasesAndDeletion(t *testing.T) {
	f := New()
	ctx := context.Background()
	t0 := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	f.SetClock(func() time.Time { return t0 })
	arn := mustKey(t, f)
	if _, err := f.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/a"), TargetKeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err := f.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/a"), TargetKeyId: aws.String(arn)})
	var exists *types.AlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("duplicate alias: %v", err)
	}
	for _, id := range []string{"alias/a", ARN("alias/a"), arn} {
		out, err := f.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil || *out.KeyMetadata.Arn != arn {
			t.Fatalf("DescribeKey(%s) = %v, %v", id, out, err)
		}
	}

	_, err = f.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(6)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		t.Fatalf("6-day window: %v", err)
	}
	out, err := f.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(10)})
	if err != nil || !out.DeletionDate.Equal(t0.Add(10*24*time.Hour)) {
		t.Fatalf("ScheduleKeyDeletion = %v, %v", out, err)
	}
	if _, err := f.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	d, _ := f.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after CancelKeyDeletion: %s, want Disabled (as AWS)", d.KeyMetadata.KeyState)
	}
	if _, err := f.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	f.Advance(7 * 24 * time.Hour)
	var nf *types.NotFoundException
	if _, err := f.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/a")}); !errors.As(err, &nf) {
		t.Fatalf("alias after deletion: %v", err)
	}
	la, err := f.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil || len(la.Aliases) != 0 {
		t.Fatalf("aliases after deletion: %v, %v", la, err)
	}
}

func TestCallsAndHook(t *testing.T) {
	f := New()
	ctx := context.Background()
	arn := mustKey(t, f)
	boom := errors.New("boom")
	f.SetHook(func(ctx context.Context, op string) error {
		if op == "DescribeKey" {
			// A hook may call the fake.
			if _, err := f.ListAliases(ctx, &kms.ListAliasesInput{}); err != nil {
				return err
			}
			return boom
		}
		return nil
	})
	if _, err := f.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)}); !errors.Is(err, boom) {
		t.Fatalf("DescribeKey = %v, want the hook's error", err)
	}
	want := map[string]int{"CreateKey": 1, "DescribeKey": 1, "ListAliases": 1}
	got := f.CallCounts()
	if len(got) != len(want) || f.TotalCalls() != 3 {
		t.Fatalf("calls %v, want %v", got, want)
	}
	for op, n := range want {
		if got[op] != n || f.Calls(op) != n {
			t.Fatalf("calls %v, want %v", got, want)
		}
	}
	f.ResetCalls()
	if f.TotalCalls() != 0 {
		t.Fatal("ResetCalls left counts")
	}
}

func TestLocalKMSErrors(t *testing.T) {
	f := New()
	f.LocalKMSErrors = true
	ctx := context.Background()
	arn := mustKey(t, f)
	enc, err := f.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("Decrypt without KeyId = %v, want AccessDeniedException", err)
	}
	_, err = f.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(arn)})
	var de *types.DisabledException
	if !errors.As(err, &de) {
		t.Fatalf("Decrypt with KeyId = %v, want DisabledException", err)
	}
}
