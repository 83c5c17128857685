package awskms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmsfake"
)

// These tests run the client over the in-memory fake; integration_test.go runs
// the same operations against local-kms.

func newKey32(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, awskms.KeySize)
	rand.Read(k)
	return k
}

func newArchiveID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// setup returns a fake, a client over it and the ARN of one enabled key.
func setup(t *testing.T) (*kmsfake.Fake, *awskms.Client, string) {
	t.Helper()
	f := kmsfake.New()
	out, err := f.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	return f, awskms.NewWithAPI(f), *out.KeyMetadata.Arn
}

func TestContextHoldsOnlyArchiveAndPurpose(t *testing.T) {
	ec := awskms.Context("0123abcd", awskms.PurposeArchiveKey)
	want := map[string]string{"chatvault:archive": "0123abcd", "chatvault:purpose": "archive-key"}
	if len(ec) != len(want) {
		t.Fatalf("context %v, want %v", ec, want)
	}
	for k, v := range want {
		if ec[k] != v {
			t.Fatalf("context %v, want %v", ec, want)
		}
	}
}

func TestWrapUnwrapOneCallEach(t *testing.T) {
	f, c, arn := setup(t)
	ctx := context.Background()
	if _, err := f.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/test"), TargetKeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	id := newArchiveID(t)
	ec := awskms.Context(id, awskms.PurposeArchiveKey)
	key := newKey32(t)

	gotARN, ct, err := c.Wrap(ctx, "alias/test", ec, key)
	if err != nil {
		t.Fatal(err)
	}
	if gotARN != arn {
		t.Errorf("Wrap via the alias returned %q, want the key ARN %q", gotARN, arn)
	}
	got, err := c.Unwrap(ctx, gotARN, ec, ct)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, key) {
		t.Fatal("unwrapped key differs")
	}
	if n := f.Calls("Encrypt"); n != 1 {
		t.Errorf("Encrypt calls = %d, want 1", n)
	}
	if n := f.Calls("Decrypt"); n != 1 {
		t.Errorf("Decrypt calls = %d, want 1", n)
	}
	if n := f.TotalCalls(); n != 2 {
		t.Errorf("total calls = %d, want 2 (%v)", n, f.CallCounts())
	}
}

func TestWrongContextRefused(t *testing.T) {
	f, c, arn := setup(t)
	ctx := context.Background()
	id := newArchiveID(t)
	ec := awskms.Context(id, awskms.PurposeArchiveKey)
	_, ct, err := c.Wrap(ctx, arn, ec, newKey32(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1

	cases := []struct {
		name string
		arn  string
		ec   map[string]string
		ct   []byte
	}{
		{"another archive", arn, awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey), ct},
		{"another purpose", arn, awskms.Context(id, "other"), ct},
		{"archive only", arn, map[string]string{awskms.ContextArchive: id}, ct},
		{"an extra pair", arn, map[string]string{awskms.ContextArchive: id, awskms.ContextPurpose: awskms.PurposeArchiveKey, "x": "y"}, ct},
		{"tampered ciphertext", arn, ec, tampered},
		{"garbage", arn, ec, []byte("not a ciphertext")},
		{"another key's ARN", *other.KeyMetadata.Arn, ec, ct},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, err := c.Unwrap(ctx, tc.arn, tc.ec, tc.ct)
			if !errors.Is(err, awskms.ErrWrongContext) {
				t.Fatalf("Unwrap = %v, want ErrWrongContext", err)
			}
			if key != nil {
				t.Fatal("a key came back with the error")
			}
			if errors.Is(err, awskms.ErrUnusable) || errors.Is(err, awskms.ErrUnreachable) {
				t.Fatalf("%v is classified as more than a wrong context", err)
			}
		})
	}
	if _, err := c.Unwrap(ctx, arn, nil, ct); !errors.Is(err, awskms.ErrNoContext) {
		t.Fatalf("Unwrap without a context = %v, want ErrNoContext", err)
	}
	if _, _, err := c.Wrap(ctx, arn, nil, newKey32(t)); !errors.Is(err, awskms.ErrNoContext) {
		t.Fatalf("Wrap without a context = %v, want ErrNoContext", err)
	}
}

func TestErrorMessages(t *testing.T) {
	_, c, arn := setup(t)
	ctx := context.Background()
	ec := awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey)
	key := newKey32(t)
	_, ct, err := c.Wrap(ctx, arn, ec, key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Unwrap(ctx, arn, awskms.Context("other", awskms.PurposeArchiveKey), ct)
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, arn) || !strings.Contains(msg, "encryption context") {
		t.Errorf("message %q: want one line naming the key and the encryption context", msg)
	}
	if strings.Contains(msg, hex.EncodeToString(key)) {
		t.Error("the message holds the key")
	}
	var ice *types.InvalidCiphertextException
	if !errors.As(err, &ice) {
		t.Error("the SDK error is not reachable with errors.As")
	}
	if _, _, err := c.Wrap(ctx, arn, ec, key[:16]); !errors.Is(err, awskms.ErrKeySize) {
		t.Errorf("Wrap of 16 bytes = %v, want ErrKeySize", err)
	}
}

func TestUnwrapRefusesNonKeyPlaintext(t *testing.T) {
	f, c, arn := setup(t)
	ctx := context.Background()
	ec := awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey)
	out, err := f.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("sixteen bytes!!!"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unwrap(ctx, arn, ec, out.CiphertextBlob); !errors.Is(err, awskms.ErrKeySize) {
		t.Fatalf("Unwrap = %v, want ErrKeySize", err)
	}
}

func TestDisabledKeyUnusable(t *testing.T) {
	f, c, arn := setup(t)
	ctx := context.Background()
	ec := awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey)
	_, ct, err := c.Wrap(ctx, arn, ec, newKey32(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Unwrap(ctx, arn, ec, ct)
	if !errors.Is(err, awskms.ErrDisabled) || !errors.Is(err, awskms.ErrUnusable) {
		t.Fatalf("Unwrap = %v, want ErrDisabled and ErrUnusable", err)
	}
	if errors.Is(err, awskms.ErrDenied) || errors.Is(err, awskms.ErrInvalidState) {
		t.Fatalf("%v matches another unusable class", err)
	}
	if !strings.Contains(err.Error(), arn) {
		t.Errorf("%q does not name the key", err)
	}
	if _, _, err := c.Wrap(ctx, arn, ec, newKey32(t)); !errors.Is(err, awskms.ErrDisabled) {
		t.Fatalf("Wrap = %v, want ErrDisabled", err)
	}
	ki, err := c.Resolve(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	if ki.State != awskms.StateDisabled || ki.Enabled {
		t.Fatalf("Resolve = %+v, want Disabled", ki)
	}
}

func TestDestroyPendingThenDeleted(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.SetClock(func() time.Time { return start })
	id := newArchiveID(t)
	ki, err := c.CreateDedicated(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ec := awskms.Context(id, awskms.PurposeArchiveKey)
	_, ct, err := c.Wrap(ctx, awskms.AliasName(id), ec, newKey32(t))
	if err != nil {
		t.Fatal(err)
	}

	f.ResetCalls()
	date, err := c.Destroy(ctx, ki.ARN, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(7 * 24 * time.Hour); !date.Equal(want) {
		t.Errorf("deletion date %v, want %v", date, want)
	}
	if f.Calls("DisableKey") != 1 || f.Calls("ScheduleKeyDeletion") != 1 || f.TotalCalls() != 2 {
		t.Errorf("calls %v, want one DisableKey and one ScheduleKeyDeletion", f.CallCounts())
	}
	got, err := c.Resolve(ctx, awskms.AliasName(id))
	if err != nil {
		t.Fatal(err)
	}
	if got.ARN != ki.ARN || got.State != awskms.StatePendingDeletion || got.Enabled || !got.DeletionDate.Equal(date) {
		t.Fatalf("Resolve = %+v, want %s pending deletion on %v", got, ki.ARN, date)
	}
	_, err = c.Unwrap(ctx, ki.ARN, ec, ct)
	if !errors.Is(err, awskms.ErrInvalidState) || !errors.Is(err, awskms.ErrUnusable) {
		t.Fatalf("Unwrap while pending = %v, want ErrInvalidState and ErrUnusable", err)
	}

	// Destroying again reports the same date.
	again, err := c.Destroy(ctx, ki.ARN, 30)
	if err != nil || !again.Equal(date) {
		t.Fatalf("second Destroy = %v, %v; want %v", again, err, date)
	}

	f.Advance(7*24*time.Hour - time.Second)
	if _, err := c.Resolve(ctx, ki.ARN); err != nil {
		t.Fatalf("a second before the date: %v", err)
	}
	f.Advance(time.Second)
	for name, err := range map[string]error{
		"Resolve(ARN)":   second(c.Resolve(ctx, ki.ARN)),
		"Resolve(alias)": second(c.Resolve(ctx, awskms.AliasName(id))),
		"Unwrap":         second(c.Unwrap(ctx, ki.ARN, ec, ct)),
	} {
		if !errors.Is(err, awskms.ErrNotFound) {
			t.Errorf("%s after the date = %v, want ErrNotFound", name, err)
		}
	}
	if _, err := c.Destroy(ctx, ki.ARN, 7); !errors.Is(err, awskms.ErrNotFound) {
		t.Errorf("Destroy of a deleted key = %v, want ErrNotFound", err)
	}
	for _, arn := range f.Keys() {
		if arn == ki.ARN {
			t.Errorf("%s is still listed after its deletion date", arn)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestDestroyValidatesDays(t *testing.T) {
	f, c, arn := setup(t)
	for _, days := range []int{-1, 0, 6, 31, 365} {
		if _, err := c.Destroy(context.Background(), arn, days); !errors.Is(err, awskms.ErrPendingWindow) {
			t.Errorf("Destroy(%d days) = %v, want ErrPendingWindow", days, err)
		}
	}
	if n := f.TotalCalls(); n != 0 {
		t.Errorf("%d KMS calls made for invalid windows", n)
	}
	ki, err := c.Resolve(context.Background(), arn)
	if err != nil || ki.State != awskms.StateEnabled {
		t.Fatalf("key after refused Destroys: %+v, %v", ki, err)
	}
	for _, days := range []int{7, 30} {
		_, c, arn := setup(t)
		if _, err := c.Destroy(context.Background(), arn, days); err != nil {
			t.Errorf("Destroy(%d days): %v", days, err)
		}
	}
}

func TestRewrap(t *testing.T) {
	f, c, arn := setup(t)
	ctx := context.Background()
	dst, err := f.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	dstARN := *dst.KeyMetadata.Arn
	id := newArchiveID(t)
	srcEC := awskms.Context(id, awskms.PurposeArchiveKey)
	dstEC := awskms.Context(id, "rotated")
	key := newKey32(t)
	_, ct, err := c.Wrap(ctx, arn, srcEC, key)
	if err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	gotARN, ct2, err := c.Rewrap(ctx, ct, srcEC, dstARN, dstEC)
	if err != nil {
		t.Fatal(err)
	}
	if gotARN != dstARN || f.TotalCalls() != 1 || f.Calls("ReEncrypt") != 1 {
		t.Fatalf("Rewrap returned %q with calls %v; want %q and one ReEncrypt", gotARN, f.CallCounts(), dstARN)
	}
	got, err := c.Unwrap(ctx, dstARN, dstEC, ct2)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unwrap of the rewrapped key: %v", err)
	}
	if _, err := c.Unwrap(ctx, arn, dstEC, ct2); !errors.Is(err, awskms.ErrWrongContext) {
		t.Errorf("Unwrap under the source key = %v, want ErrWrongContext", err)
	}
	if _, err := c.Unwrap(ctx, dstARN, srcEC, ct2); !errors.Is(err, awskms.ErrWrongContext) {
		t.Errorf("Unwrap with the source context = %v, want ErrWrongContext", err)
	}
	if _, _, err := c.Rewrap(ctx, ct, dstEC, dstARN, dstEC); !errors.Is(err, awskms.ErrWrongContext) {
		t.Errorf("Rewrap with a wrong source context = %v, want ErrWrongContext", err)
	}
}

func TestCreateDedicated(t *testing.T) {
	f := kmsfake.New()
	c := awskms.NewWithAPI(f)
	ctx := context.Background()
	id := newArchiveID(t)
	ki, err := c.CreateDedicated(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if f.Calls("CreateKey") != 1 || f.Calls("CreateAlias") != 1 || f.TotalCalls() != 2 {
		t.Errorf("calls %v, want CreateKey and CreateAlias", f.CallCounts())
	}
	if ki.State != awskms.StateEnabled || ki.Origin != awskms.OriginAWSKMS || ki.MultiRegion || !strings.HasPrefix(ki.ARN, "arn:aws:kms:") {
		t.Errorf("KeyInfo %+v", ki)
	}
	got, err := c.Resolve(ctx, "alias/chatvault-"+id)
	if err != nil || got.ARN != ki.ARN {
		t.Fatalf("Resolve(alias) = %+v, %v; want %s", got, err, ki.ARN)
	}
	tags, err := c.Tags(ctx, ki.ARN)
	if err != nil || tags["chatvault:archive"] != id {
		t.Fatalf("Tags = %v, %v", tags, err)
	}

	// A second dedicated key for the same archive: the alias exists, so the
	// new key is scheduled for deletion and the first one is untouched.
	_, err = c.CreateDedicated(ctx, id)
	var exists *types.AlreadyExistsException
	if !errors.As(err, &exists) || !strings.Contains(err.Error(), "scheduled for deletion") {
		t.Fatalf("second CreateDedicated = %v, want AlreadyExists and a note on the new key", err)
	}
	keys := f.Keys()
	if len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	for _, arn := range keys {
		ki2, err := c.Resolve(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		want := awskms.StatePendingDeletion
		if arn == ki.ARN {
			want = awskms.StateEnabled
		}
		if ki2.State != want {
			t.Errorf("%s is %s, want %s", arn, ki2.State, want)
		}
	}

	for _, bad := range []string{"", "a b", "x/y", strings.Repeat("a", 201), "ü"} {
		if _, err := c.CreateDedicated(ctx, bad); !errors.Is(err, awskms.ErrBadArchiveID) {
			t.Errorf("CreateDedicated(%q) = %v, want ErrBadArchiveID", bad, err)
		}
	}
}

func TestResolveUnknown(t *testing.T) {
	_, c, _ := setup(t)
	for _, id := range []string{"alias/nope", "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"} {
		if _, err := c.Resolve(context.Background(), id); !errors.Is(err, awskms.ErrNotFound) {
			t.Errorf("Resolve(%s) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestFakeOutage(t *testing.T) {
	f, c, arn := setup(t)
	ctx := context.Background()
	ec := awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey)
	f.SetHook(func(ctx context.Context, op string) error {
		return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	})
	_, _, err := c.Wrap(ctx, arn, ec, newKey32(t))
	if !errors.Is(err, awskms.ErrUnreachable) {
		t.Fatalf("Wrap = %v, want ErrUnreachable", err)
	}
	if f.Calls("Encrypt") != 1 {
		t.Errorf("the failed call was not counted: %v", f.CallCounts())
	}
	f.SetHook(nil)
	if _, _, err := c.Wrap(ctx, arn, ec, newKey32(t)); err != nil {
		t.Fatal(err)
	}
}

func TestGenerate(t *testing.T) {
	f, c, arn := setup(t)
	ctx := context.Background()
	ec := awskms.Context(newArchiveID(t), awskms.PurposeArchiveKey)
	key, gotARN, ct, err := c.Generate(ctx, arn, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 || gotARN != arn || f.TotalCalls() != 1 {
		t.Fatalf("Generate: %d bytes, ARN %q, calls %v", len(key), gotARN, f.CallCounts())
	}
	got, err := c.Unwrap(ctx, arn, ec, ct)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unwrap of a generated key: %v", err)
	}
}

// CreateDedicatedNamed makes a further dedicated key of the same archive:
// the same tag, the alias alias/chatvault-<id>-<suffix>.
func TestCreateDedicatedNamed(t *testing.T) {
	f := kmsfake.New()
	c := awskms.NewWithAPI(f)
	ctx := context.Background()
	id := newArchiveID(t)
	first, err := c.CreateDedicated(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ki, err := c.CreateDedicatedNamed(ctx, id, "c3-0a1b")
	if err != nil {
		t.Fatal(err)
	}
	if ki.ARN == first.ARN || ki.State != awskms.StateEnabled || ki.Origin != awskms.OriginAWSKMS || ki.MultiRegion {
		t.Errorf("KeyInfo %+v (first %s)", ki, first.ARN)
	}
	if awskms.NamedAliasName(id, "c3-0a1b") != "alias/chatvault-"+id+"-c3-0a1b" || awskms.NamedAliasName(id, "") != awskms.AliasName(id) {
		t.Errorf("NamedAliasName = %s", awskms.NamedAliasName(id, "c3-0a1b"))
	}
	got, err := c.Resolve(ctx, "alias/chatvault-"+id+"-c3-0a1b")
	if err != nil || got.ARN != ki.ARN {
		t.Fatalf("Resolve(alias) = %+v, %v; want %s", got, err, ki.ARN)
	}
	if got, err := c.Resolve(ctx, awskms.AliasName(id)); err != nil || got.ARN != first.ARN {
		t.Fatalf("Resolve(first alias) = %+v, %v; want %s", got, err, first.ARN)
	}
	tags, err := c.Tags(ctx, ki.ARN)
	if err != nil || tags[awskms.TagArchive] != id {
		t.Fatalf("Tags = %v, %v", tags, err)
	}
	f.ResetCalls()
	for _, bad := range []string{"", "a/b", strings.Repeat("x", 41)} {
		if _, err := c.CreateDedicatedNamed(ctx, id, bad); !errors.Is(err, awskms.ErrBadArchiveID) {
			t.Errorf("suffix %q: %v", bad, err)
		}
	}
	if f.TotalCalls() != 0 {
		t.Errorf("bad suffixes made calls: %v", f.CallCounts())
	}
}
