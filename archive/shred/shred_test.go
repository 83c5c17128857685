package shred_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// A recovery-key archive in a versioned S3 bucket and a local store: the shred
// leaves no version or delete marker of anything of the archive (proved with
// a raw ListObjectVersions), forgets the device state and grades itself
// best-effort, naming the recovery key; the signed report verifies as
// best-effort, and any change to it is caught.
func TestShredArchiveS3(t *testing.T) {
	d := newDevice(t)
	rem := s3test.Store(t, true)
	a := d.create(nil)
	d.export(a, chats)
	d.export(a, msg("alice", "2", "2020-01-02T00:00:00Z", "again"))
	d.push(d.st, rem, a.ID())
	// Old versions and a delete marker of key material, written around the
	// store (which never overwrites): a shred must leave none of them.
	keys := names(t, rem, a.KeysPrefix())
	if len(keys) < 3 {
		t.Fatalf("key material in the remote: %v", keys)
	}
	c := rem.Client()
	for _, k := range keys[:2] {
		c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(rem.Bucket()), Key: aws.String(rem.Key(k)), Body: strings.NewReader("an older version")})
	}
	c.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: aws.String(rem.Bucket()), Key: aws.String(rem.Key(keys[2]))})
	// An upload in progress (a killed push, say).
	up, err := c.CreateMultipartUpload(t.Context(), &awss3.CreateMultipartUploadInput{Bucket: aws.String(rem.Bucket()), Key: aws.String(rem.Key(a.Prefix() + "objects/inflight"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(t.Context(), &awss3.UploadPartInput{Bucket: aws.String(rem.Bucket()), Key: up.Key, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.state.Load(a.ID()); err != nil {
		t.Fatal(err)
	}
	before := rawVersions(t, rem, a.Prefix())

	o := d.shredOpts()
	o.Journal = filepath.Join(t.TempDir(), "journal.json")
	r, err := shred.Archive(t.Context(), a, []remote.Store{rem}, o)
	if err != nil {
		t.Fatal(err)
	}
	if left := rawVersions(t, rem, a.Prefix()); len(left) != 0 {
		t.Fatalf("versions left in the bucket after the shred: %v", left)
	}
	if left := names(t, d.st, a.Prefix()); len(left) != 0 {
		t.Fatalf("objects left in the local store: %v", left)
	}
	uploads, err := c.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(rem.Bucket()), Prefix: aws.String(rem.Key(a.Prefix()))})
	if err != nil || len(uploads.Uploads) != 0 || r.Stores[1].UploadsAborted != 1 {
		t.Fatalf("uploads left: %v %+v (report: %d aborted)", err, uploads.Uploads, r.Stores[1].UploadsAborted)
	}
	if pin, _ := d.state.Load(a.ID()); pin != nil || !r.StateForgotten {
		t.Errorf("device state after the shred: %+v (forgotten %v)", pin, r.StateForgotten)
	}
	if !r.Complete || r.Grade != shred.GradeBestEffort || len(r.SurvivingKEKs) != 1 || !strings.Contains(r.SurvivingKEKs[0], "recovery key") {
		t.Fatalf("report: complete %v grade %s surviving %v", r.Complete, r.Grade, r.SurvivingKEKs)
	}
	if len(r.Stores) != 2 || r.Stores[0].URL != d.st.String() || r.Stores[1].URL != rem.String() || !r.Stores[1].Versioned {
		t.Fatalf("stores: %+v", r.Stores)
	}
	if got := len(r.Stores[1].Deleted); got != len(before) {
		t.Errorf("the report lists %d deleted versions in S3, the bucket had %d", got, len(before))
	}
	var markers int
	for i, o := range r.Stores[1].Deleted {
		if o.VersionID == "" {
			t.Errorf("deleted S3 object without version id: %+v", o)
		}
		if o.DeleteMarker {
			markers++
		}
		if i > 0 && o.Step == shred.StepKeys && r.Stores[1].Deleted[i-1].Step != shred.StepKeys {
			t.Errorf("key material listed after data")
		}
	}
	if markers != 1 || r.Stores[1].Deleted[0].Step != shred.StepKeys {
		t.Errorf("deleted: %d markers, first %+v", markers, r.Stores[1].Deleted[0])
	}
	if r.Operator.IdentitySource != shred.IdentityLocal || r.NotCovered == "" || len(r.Wrappers) != 1 || r.Wrappers[0].KEK != "recovery key" || r.Wrappers[0].KEKStatus != shred.KEKSurvives {
		t.Errorf("report: %+v", r)
	}
	if s := shred.Summary(r); !strings.Contains(s, "best-effort") || !strings.Contains(s, "not covered") {
		t.Errorf("summary:\n%s", s)
	}
	if j, err := shred.LoadReport(o.Journal); err != nil || !j.Complete {
		t.Errorf("journal: %+v %v", j, err)
	}

	// Sign, write, read back, verify.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if err := shred.Sign(r, key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v", info.Mode())
	}
	back, err := shred.LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	stores := []remote.Store{d.st, rem}
	res, err := shred.Verify(t.Context(), back, stores, nil, shred.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != shred.VerdictBestEffort || res.Verdict.ExitCode(false, false) != 1 || res.Verdict.ExitCode(false, true) != 0 || !errors.Is(res.Err(), shred.ErrBestEffort) {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}

	// A tampered report: a deleted version taken out of the list.
	tampered, _ := shred.LoadReport(path)
	tampered.Stores[1].Deleted = tampered.Stores[1].Deleted[1:]
	res, _ = shred.Verify(t.Context(), tampered, stores, nil, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictContradicted || res.Verdict.ExitCode(true, true) != 3 || !errors.Is(res.Err(), shred.ErrContradicted) || !strings.Contains(res.Err().Error(), "signature") {
		t.Fatalf("tampered report: %v %v", res.Verdict, res.Err())
	}
	// The right report checked against another operator key.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if res, _ = shred.Verify(t.Context(), back, stores, nil, shred.VerifyOptions{PublicKey: other}); res.Verdict != shred.VerdictContradicted {
		t.Fatalf("report checked against another key: %v", res.Verdict)
	}
	// A report that claims more than its wrappers allow.
	boast, _ := shred.LoadReport(path)
	boast.Grade, boast.SurvivingKEKs, boast.Signature = shred.GradeFinal, nil, nil
	if res, _ = shred.Verify(t.Context(), boast, stores, nil, shred.VerifyOptions{}); res.Verdict != shred.VerdictContradicted {
		t.Fatalf("a report claiming final over a recovery key: %v %+v", res.Verdict, res.Checks)
	}
	// A store the report names but the verifier could not open.
	if res, _ = shred.Verify(t.Context(), back, []remote.Store{d.st}, nil, shred.VerifyOptions{}); res.Verdict != shred.VerdictUnreachable || res.Verdict.ExitCode(false, false) != 5 {
		t.Fatalf("without the S3 store: %v", res.Verdict)
	}

	// Shredding again changes nothing and is not an error.
	again, err := shred.Resume(t.Context(), back, stores, d.shredOpts())
	if err != nil || !again.Complete || len(again.Stores[0].Deleted)+len(again.Stores[1].Deleted) != 0 {
		t.Fatalf("second run: %v %+v", err, again)
	}
}

// A report for an archive that still has a wrapper is contradicted: here the
// archive came back into the shredded store from a copy made before.
func TestVerifyArchiveStillThere(t *testing.T) {
	d := newDevice(t)
	rem := s3test.Store(t, true)
	backup := newDevice(t)
	a := d.create(nil)
	d.export(a, chats)
	d.push(d.st, backup.st, a.ID())
	r, err := shred.Archive(t.Context(), a, []remote.Store{rem}, d.shredOpts())
	if err != nil {
		t.Fatal(err)
	}
	res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st, rem}, nil, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictBestEffort {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}
	// The backup (a store the shred did not cover) still has it all.
	res, _ = shred.Verify(t.Context(), r, []remote.Store{d.st, rem, backup.st}, nil, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictContradicted || !strings.Contains(res.Err().Error(), "key material") {
		t.Fatalf("verify with the backup: %v %v", res.Verdict, res.Err())
	}
	// Pushed back into the shredded S3 store.
	backup.push(backup.st, rem, a.ID())
	res, _ = shred.Verify(t.Context(), r, []remote.Store{d.st, rem}, nil, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictContradicted || !strings.Contains(res.Err().Error(), rem.String()) {
		t.Fatalf("verify after the archive came back: %v %v", res.Verdict, res.Err())
	}
}

// A dry run destroys nothing and lists what a shred would delete.
func TestShredDryRun(t *testing.T) {
	d := newDevice(t)
	a := d.create(nil)
	d.export(a, chats)
	before := names(t, d.st, a.Prefix())
	o := d.shredOpts()
	o.DryRun = true
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if after := names(t, d.st, a.Prefix()); !slices.Equal(before, after) {
		t.Fatalf("a dry run deleted: %v → %v", before, after)
	}
	if pin, _ := d.state.Load(a.ID()); pin == nil {
		t.Error("a dry run forgot the device state")
	}
	if !r.DryRun || r.Complete || len(r.Stores) != 1 || len(r.Stores[0].Planned) != len(before) || len(r.Stores[0].Deleted) != 0 {
		t.Fatalf("dry run report: %+v", r)
	}
	if !strings.Contains(shred.Summary(r), "dry run") {
		t.Error(shred.Summary(r))
	}
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, nil, shred.VerifyOptions{}); res.Verdict != shred.VerdictIncomplete {
		t.Fatalf("verify of a dry-run report: %v %+v", res.Verdict, res.Checks)
	}
}

// A shred that fails in the middle (deletes refused after a few calls, as
// if the network dropped) returns ErrIncomplete and a report of what is and
// is not done; its key material is gone first; rerunning finishes it: with
// the archive still openable (Archive again, the journal naming the wrappers
// it can no longer read) and once it cannot be opened (Resume).
func TestShredInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails func(keys int) int64 // deletes that succeed before the failure
	}{
		{"in the keys step", func(keys int) int64 { return 1 }},
		{"in the data step", func(keys int) int64 { return int64(keys) + 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t)
			rem := s3test.Store(t, true)
			a := d.create(rem)
			d.export(a, chats)
			d.export(a, msg("bob", "2", "2020-01-02T00:00:00Z", "more"))
			keys := len(rawVersions(t, rem, a.KeysPrefix()))
			o := d.shredOpts()
			o.Journal = filepath.Join(t.TempDir(), "journal.json")
			o.Jobs = 1
			broken := &failingStore{Store: rem, n: tc.fails(keys)}
			b := d.open(broken, a.ID())
			r, err := shred.Archive(t.Context(), b, nil, o)
			if !errors.Is(err, shred.ErrIncomplete) || !errors.Is(err, remote.ErrUnavailable) {
				t.Fatalf("interrupted shred: %v", err)
			}
			if r == nil || r.Complete || len(r.Remaining) == 0 || r.StateForgotten {
				t.Fatalf("report of the interrupted shred: %+v", r)
			}
			done := len(r.Stores[0].Deleted)
			if int64(done) != broken.n {
				t.Errorf("the report lists %d deletions, %d happened", done, broken.n)
			}
			if left := len(rawVersions(t, rem, a.Prefix())); left != len(r.Remaining) && !strings.Contains(r.Remaining[len(r.Remaining)-1].Error, "not started") {
				t.Errorf("%d versions left, the report lists %d remaining: %+v", left, len(r.Remaining), r.Remaining)
			}
			if !strings.Contains(shred.Summary(r), "NOT complete") {
				t.Error(shred.Summary(r))
			}
			res, _ := shred.Verify(t.Context(), r, []remote.Store{rem}, nil, shred.VerifyOptions{})
			if res.Verdict != shred.VerdictIncomplete || res.Verdict.ExitCode(true, true) != 6 {
				t.Fatalf("verify of an incomplete report: %v %+v", res.Verdict, res.Checks)
			}

			var again *shred.Report
			if c, err := archive.Open(t.Context(), rem, a.ID(), d.opts()); err == nil {
				// Still openable (the commits are there): shred it again;
				// if its wrappers are gone, the journal names them.
				again, err = shred.Archive(t.Context(), c, nil, o)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				prev, lerr := shred.LoadReport(o.Journal)
				if lerr != nil {
					t.Fatal(lerr)
				}
				again, err = shred.Resume(t.Context(), prev, []remote.Store{rem}, d.shredOpts())
				if err != nil {
					t.Fatal(err)
				}
			}
			if !again.Complete || again.Grade != shred.GradeBestEffort || len(again.Wrappers) != 1 || again.Wrappers[0].KEK != "recovery key" {
				t.Fatalf("rerun: %+v", again)
			}
			if left := rawVersions(t, rem, a.Prefix()); len(left) != 0 {
				t.Fatalf("left after the rerun: %v", left)
			}
			if res, _ := shred.Verify(t.Context(), again, []remote.Store{rem}, nil, shred.VerifyOptions{}); res.Verdict != shred.VerdictBestEffort {
				t.Fatalf("verify after the rerun: %v %+v", res.Verdict, res.Checks)
			}
		})
	}
}

// Without the wrappers (already deleted) and without a journal, Archive
// refuses before deleting anything.
func TestShredNoPlan(t *testing.T) {
	d := newDevice(t)
	a := d.create(nil)
	for _, n := range names(t, d.st, a.KeysPrefix()) {
		d.st.Delete(t.Context(), n)
	}
	before := names(t, d.st, a.Prefix())
	if _, err := shred.Archive(t.Context(), a, nil, d.shredOpts()); err == nil || !errors.Is(err, archive.ErrIntegrity) {
		t.Fatalf("shred without readable wrappers: %v", err)
	}
	if after := names(t, d.st, a.Prefix()); !slices.Equal(before, after) {
		t.Fatal("it deleted something")
	}
}
