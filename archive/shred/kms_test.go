package shred_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmsfake"
	"github.com/chatvault/chatvault/kms/awskms/kmstest"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// dedicatedArchive makes an archive whose only wrapper is under a new KMS key
// marked dedicated, tagged chatvault:archive=<id> when tag is set (the way
// init --kms-create makes them, in an order that knows the id).
func dedicatedArchive(t *testing.T, d *device, st remote.Store, kc *awskms.Client, tag bool, more ...archive.Locker) (*archive.Archive, string) {
	t.Helper()
	out, err := kc.API().CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("chatvault shred test " + t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	lockers := append([]archive.Locker{archive.KMSLocker{KMS: kc, KeyID: arn, Dedicated: true}}, more...)
	a := d.create(st, lockers...)
	if tag {
		_, err = kc.API().TagResource(t.Context(), &kms.TagResourceInput{KeyId: aws.String(arn), Tags: []types.Tag{{TagKey: aws.String(awskms.TagArchive), TagValue: aws.String(a.ID().String())}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return a, arn
}

// Against local-kms (which never completes a deletion): a dedicated key is
// disabled and scheduled for deletion, the grade is pending-until its date and
// verify-shred says pending. A key brought back (CancelKeyDeletion) or merely
// disabled contradicts the report.
func TestShredDedicatedKMSLocal(t *testing.T) {
	kc := kmstest.Client(t)
	d := newDevice(t)
	rem := s3test.Store(t, true)
	a, arn := dedicatedArchive(t, d, rem, kc, true)
	d.export(a, chats)
	o := d.shredOpts()
	o.KMS = kc
	o.KMSPendingDays = 10
	start := time.Now()
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if left := rawVersions(t, rem, a.Prefix()); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
	if !r.Complete || r.Grade != shred.GradePendingUntil || len(r.KMSKeys) != 1 {
		t.Fatalf("report: %+v", r)
	}
	k := r.KMSKeys[0]
	if k.ARN != arn || k.Action != "scheduled-deletion" || k.State != awskms.StatePendingDeletion || k.TagArchive != a.ID().String() {
		t.Fatalf("KMS key: %+v", k)
	}
	want := start.Add(10 * 24 * time.Hour)
	if d := r.PendingUntil.Sub(want); d < -time.Minute || d > time.Minute || !r.PendingUntil.Equal(k.DeletionDate) {
		t.Fatalf("pending until %v, want about %v", r.PendingUntil, want)
	}
	if r.Wrappers[0].KEKStatus != shred.KEKPending || !strings.Contains(shred.Summary(r), "pending-until") {
		t.Errorf("wrapper %+v\n%s", r.Wrappers[0], shred.Summary(r))
	}
	ki, err := kc.Resolve(t.Context(), arn)
	if err != nil || ki.State != awskms.StatePendingDeletion || ki.Enabled {
		t.Fatalf("the key after the shred: %+v %v", ki, err)
	}

	stores := []remote.Store{d.st, rem}
	res, _ := shred.Verify(t.Context(), r, stores, kc, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictPending || !res.PendingUntil.Equal(r.PendingUntil) || res.Verdict.ExitCode(false, false) != 6 || res.Verdict.ExitCode(true, false) != 0 {
		t.Fatalf("verify: %v %v %+v", res.Verdict, res.PendingUntil, res.Checks)
	}
	if !errors.Is(res.Err(), shred.ErrPending) {
		t.Error(res.Err())
	}
	if res, _ := shred.Verify(t.Context(), r, stores, nil, shred.VerifyOptions{}); res.Verdict != shred.VerdictUnreachable {
		t.Fatalf("verify without a KMS client: %v", res.Verdict)
	}

	// The deletion cancelled: local-kms brings the key back Enabled.
	api := kc.API().(*kms.Client)
	if _, err := api.CancelKeyDeletion(t.Context(), &kms.CancelKeyDeletionInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	res, _ = shred.Verify(t.Context(), r, stores, kc, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictContradicted || !strings.Contains(res.Err().Error(), arn) {
		t.Fatalf("verify with the key back: %v %v", res.Verdict, res.Err())
	}
	// Merely disabled is not destroyed either.
	if _, err := api.DisableKey(t.Context(), &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	res, _ = shred.Verify(t.Context(), r, stores, kc, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictContradicted || !strings.Contains(res.Err().Error(), "Disabled") {
		t.Fatalf("verify with the key disabled: %v %v", res.Verdict, res.Err())
	}
}

// With the in-memory KMS and its clock: pending-until at first, final once
// the deletion date has passed (NotFound), both for verify-shred of the first
// report and for a shred run again from it.
func TestShredDedicatedKMSFinal(t *testing.T) {
	fake := kmsfake.New()
	kc := awskms.NewWithAPI(fake)
	d := newDevice(t)
	a, arn := dedicatedArchive(t, d, nil, kc, true)
	d.export(a, chats)
	o := d.shredOpts()
	o.KMS = kc
	o.Now = fake.Now
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if left := r.PendingUntil.Sub(fake.Now()); r.Grade != shred.GradePendingUntil || !r.PendingUntil.Equal(r.KMSKeys[0].DeletionDate) || left > 7*24*time.Hour || left < 7*24*time.Hour-time.Minute {
		t.Fatalf("grade %s until %v", r.GradeText(), r.PendingUntil)
	}
	if fake.Calls("DisableKey") != 1 || fake.Calls("ScheduleKeyDeletion") != 1 {
		t.Fatalf("KMS calls: %v", fake.CallCounts())
	}
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, kc, shred.VerifyOptions{}); res.Verdict != shred.VerdictPending {
		t.Fatalf("verify before the date: %v %+v", res.Verdict, res.Checks)
	}
	fake.Advance(7*24*time.Hour + time.Minute)
	if _, err := kc.Resolve(t.Context(), arn); !errors.Is(err, awskms.ErrNotFound) {
		t.Fatalf("the key after its date: %v", err)
	}
	res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, kc, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictOK || res.Grade != shred.GradeFinal || res.Err() != nil || res.Verdict.ExitCode(false, false) != 0 {
		t.Fatalf("verify after the date: %v %s %+v", res.Verdict, res.Grade, res.Checks)
	}
	again, err := shred.Resume(t.Context(), r, []remote.Store{d.st}, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Grade != shred.GradeFinal || again.KMSKeys[0].Action != "already-deleted" || again.KMSKeys[0].State != "NotFound" || again.Wrappers[0].KEKStatus != shred.KEKDestroyed {
		t.Fatalf("rerun after the date: %+v", again)
	}
	if !strings.Contains(shred.Summary(again), "grade: final") {
		t.Error(shred.Summary(again))
	}
	if res, _ := shred.Verify(t.Context(), again, []remote.Store{d.st}, kc, shred.VerifyOptions{}); res.Verdict != shred.VerdictOK {
		t.Fatalf("verify of the final report: %v %+v", res.Verdict, res.Checks)
	}
}

// A key marked dedicated that does not carry this archive's tag, and a
// shared key, are never destroyed: the shred is best-effort and says why.
func TestShredKMSNotDedicated(t *testing.T) {
	fake := kmsfake.New()
	kc := awskms.NewWithAPI(fake)
	d := newDevice(t)
	shared, err := kc.API().CreateKey(t.Context(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	sharedARN := aws.ToString(shared.KeyMetadata.Arn)
	a, arn := dedicatedArchive(t, d, nil, kc, false, archive.KMSLocker{KMS: kc, KeyID: sharedARN})
	o := d.shredOpts()
	o.KMS = kc
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if fake.Calls("DisableKey")+fake.Calls("ScheduleKeyDeletion") != 0 {
		t.Fatalf("a key was destroyed: %v", fake.CallCounts())
	}
	if r.Grade != shred.GradeBestEffort || len(r.SurvivingKEKs) != 2 || len(r.KMSKeys) != 2 {
		t.Fatalf("report: %s %v %+v", r.Grade, r.SurvivingKEKs, r.KMSKeys)
	}
	for _, k := range r.KMSKeys {
		switch k.ARN {
		case arn:
			if k.Action != "kept" || !k.Dedicated || !strings.Contains(k.Note, "tag") {
				t.Errorf("untagged dedicated key: %+v", k)
			}
		case sharedARN:
			if k.Action != "kept" || k.Dedicated || !strings.Contains(k.Note, "shared") {
				t.Errorf("shared key: %+v", k)
			}
		}
	}
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, kc, shred.VerifyOptions{}); res.Verdict != shred.VerdictBestEffort {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}
}

// A wrapper removed before the shred (keys remove) still counts: its
// tombstone names its KEK (here a recovery key, which survives), so even with
// the dedicated key deleted the grade is best-effort.
func TestShredHistory(t *testing.T) {
	fake := kmsfake.New()
	kc := awskms.NewWithAPI(fake)
	d := newDevice(t)
	a, _ := dedicatedArchive(t, d, nil, kc, true, archive.RecoveryLocker{Key: testKey})
	if err := a.Unlock(t.Context(), archive.KMSUnlocker{KMS: kc}); err != nil {
		t.Fatal(err)
	}
	ws, _ := a.Wrappers(t.Context())
	var rec archive.ID
	for _, w := range ws {
		if w.Type == archive.WrapperRecovery {
			rec = w.ID
		}
	}
	if _, err := a.ChangeWrappers(t.Context(), archive.WrapperChange{Remove: []archive.ID{rec}}); err != nil {
		t.Fatal(err)
	}
	o := d.shredOpts()
	o.KMS = kc
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	fake.Advance(8 * 24 * time.Hour)
	again, err := shred.Resume(t.Context(), r, []remote.Store{d.st}, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Grade != shred.GradeBestEffort || len(again.Wrappers) != 2 {
		t.Fatalf("report: %s %+v", again.Grade, again.Wrappers)
	}
	h := again.Wrappers[1]
	if h.ID != rec.String() || h.Source != "history" || h.RemovedBy != 2 || h.KEK != "recovery key" || h.KEKStatus != shred.KEKSurvives || again.Wrappers[0].KEKStatus != shred.KEKDestroyed {
		t.Fatalf("wrappers: %+v", again.Wrappers)
	}
}

// Without a KMS client, or with KMS failing, the dedicated key is not
// destroyed: the data still goes, the report is incomplete, and a rerun with
// KMS back finishes it.
func TestShredKMSUnavailable(t *testing.T) {
	fake := kmsfake.New()
	kc := awskms.NewWithAPI(fake)
	d := newDevice(t)
	a, arn := dedicatedArchive(t, d, nil, kc, true)
	r, err := shred.Archive(t.Context(), a, nil, d.shredOpts())
	if !errors.Is(err, shred.ErrIncomplete) || r.Complete || len(r.Remaining) != 1 || r.Remaining[0].KMSKey != arn || r.Remaining[0].Step != shred.StepKMS {
		t.Fatalf("without KMS: %v %+v", err, r)
	}
	if left := names(t, d.st, a.Prefix()); len(left) != 0 {
		t.Fatalf("data left: %v", left)
	}
	fake.SetHook(func(ctx context.Context, op string) error {
		if op == "DisableKey" {
			return errors.New("connection reset")
		}
		return nil
	})
	o := d.shredOpts()
	o.KMS = kc
	r, err = shred.Resume(t.Context(), r, []remote.Store{d.st}, o)
	if !errors.Is(err, shred.ErrIncomplete) || r.KMSKeys[0].Action != "failed" {
		t.Fatalf("KMS failing: %v %+v", err, r.KMSKeys)
	}
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, kc, shred.VerifyOptions{}); res.Verdict != shred.VerdictIncomplete {
		t.Fatalf("verify of the incomplete report: %v %+v", res.Verdict, res.Checks)
	}
	fake.SetHook(nil)
	r, err = shred.Resume(t.Context(), r, []remote.Store{d.st}, o)
	if err != nil || !r.Complete || r.Grade != shred.GradePendingUntil {
		t.Fatalf("KMS back: %v %+v", err, r)
	}
}
