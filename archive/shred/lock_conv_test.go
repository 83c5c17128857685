package shred_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmsfake"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// A version under Object Lock retention is kept and reported with its date;
// everything else goes, and verify-shred accepts the retained version the
// report lists.
func TestShredObjectLock(t *testing.T) {
	bucket := s3test.LockedBucket(t)
	st := s3test.Open(t, "s3://"+bucket+"/root", s3test.Options(t))
	d := newDevice(t)
	a := d.create(st)
	d.export(a, chats)
	ws, err := a.Wrappers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wrapper := a.KeysPrefix() + ws[0].ID.String()
	var versionID string
	for _, v := range rawVersions(t, st, wrapper) {
		versionID = v[strings.LastIndexByte(v, '@')+1:]
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	_, err = st.Client().PutObjectRetention(t.Context(), &awss3.PutObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(st.Key(wrapper)), VersionId: aws.String(versionID),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until)}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := shred.Archive(t.Context(), a, nil, d.shredOpts())
	if err != nil {
		t.Fatal(err)
	}
	left := rawVersions(t, st, a.Prefix())
	if len(left) != 1 || !strings.HasPrefix(left[0], st.Key(wrapper)+"@") {
		t.Fatalf("left: %v", left)
	}
	if !r.Complete || len(r.Retained) != 1 {
		t.Fatalf("report: %+v", r)
	}
	x := r.Retained[0]
	if x.Name != wrapper || x.VersionID != versionID || x.Mode != "GOVERNANCE" || !x.RetainUntil.Equal(until) || x.Until != until.Format(time.RFC3339) || x.Store != st.String() {
		t.Fatalf("retained: %+v", x)
	}
	if s := shred.Summary(r); !strings.Contains(s, "Object Lock") || !strings.Contains(s, x.Until) {
		t.Error(s)
	}
	res, _ := shred.Verify(t.Context(), r, []remote.Store{st}, nil, shred.VerifyOptions{})
	if res.Verdict != shred.VerdictBestEffort {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}
	// The same report without the retained entry is contradicted.
	r.Retained = nil
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{st}, nil, shred.VerifyOptions{}); res.Verdict != shred.VerdictContradicted {
		t.Fatalf("verify without the retained entry: %v", res.Verdict)
	}
}

// Under a bucket's default retention nothing can be deleted and the server
// does not tell the date: every version is reported retained "until unknown
// (bucket default retention)", and the dedicated KMS key is destroyed anyway.
func TestShredDefaultRetention(t *testing.T) {
	bucket := s3test.LockedBucket(t)
	st := s3test.Open(t, "s3://"+bucket, s3test.Options(t))
	_, err := st.Client().PutObjectLockConfiguration(t.Context(), &awss3.PutObjectLockConfigurationInput{Bucket: aws.String(bucket), ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	fake := kmsfake.New()
	kc := awskms.NewWithAPI(fake)
	d := newDevice(t)
	a, _ := dedicatedArchive(t, d, st, kc, true)
	before := rawVersions(t, st, a.Prefix())
	o := d.shredOpts()
	o.KMS = kc
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Retained) != len(before) || len(r.Stores[0].Deleted) != 0 {
		t.Fatalf("retained %d of %d versions, deleted %d", len(r.Retained), len(before), len(r.Stores[0].Deleted))
	}
	for _, x := range r.Retained {
		if x.Until != shred.UntilUnknownDefault || !strings.Contains(x.Note, "GOVERNANCE for 1 day") {
			t.Fatalf("retained: %+v", x)
		}
	}
	if r.Grade != shred.GradePendingUntil || r.KMSKeys[0].Action != "scheduled-deletion" || fake.Calls("ScheduleKeyDeletion") != 1 {
		t.Fatalf("KMS: %s %+v", r.Grade, r.KMSKeys)
	}
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{st}, kc, shred.VerifyOptions{}); res.Verdict != shred.VerdictPending {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}
}

// A conversation shred made by the engine, then completed in another store
// (S3, versioned) and reported: every tombstoned object is gone in every
// version from both stores; the grade follows the old key's KEK (a recovery
// key: best-effort); verify-shred agrees, and contradicts the report once a
// tombstoned object is back.
func TestShredConversation(t *testing.T) {
	d := newDevice(t)
	rem := s3test.Store(t, true)
	a := d.create(nil)
	d.export(a, chats)
	d.export(a, msg("bob", "2", "2020-01-02T00:00:00Z", "more secrets")+msg("alice", "2", "2020-01-02T00:00:00Z", "hi"))
	d.push(d.st, rem, a.ID())
	convs, err := a.Conversations(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var bob archive.ID
	for _, c := range convs {
		if c.SourceKey == "bob" {
			bob = c.ID
		}
	}
	former, err := a.Wrappers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.ShredConversation(t.Context(), bob, []archive.Locker{archive.RecoveryLocker{Key: recovery.Key{9, 9}}})
	if err != nil {
		t.Fatal(err)
	}
	tombs := a.Tombstoned(res.Commit)
	r, err := shred.Conversation(t.Context(), a, shred.ConversationShred{Conversation: bob, Result: res, Former: former}, []remote.Store{rem}, d.shredOpts())
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != shred.KindConversation || r.Conversation != bob.String() || r.Commit != res.Commit || len(r.Tombstones) != len(tombs) || !r.Complete {
		t.Fatalf("report: %+v", r)
	}
	what := map[string]int{}
	for _, x := range r.Tombstones {
		what[x.What]++
	}
	if what["wrapper"] != 1 || what["wrapper-set"] != 1 || what["key-table"] < 2 || what["object"] < 6 {
		t.Errorf("tombstones by kind: %v", what)
	}
	for _, name := range tombs {
		if v := rawVersions(t, rem, name); len(v) != 0 {
			t.Errorf("%s still in S3: %v", name, v)
		}
		if _, err := d.st.Stat(t.Context(), name); err == nil {
			t.Errorf("%s still in the local store", name)
		}
	}
	if len(r.Stores) != 2 || len(r.Stores[1].Deleted) < len(tombs) {
		t.Errorf("S3 deletions: %+v", r.Stores)
	}
	if r.Grade != shred.GradeBestEffort || r.Wrappers[0].KEK != "recovery key" || len(r.NewWrappers) != 1 || r.StateForgotten {
		t.Fatalf("grade %s wrappers %+v new %+v", r.Grade, r.Wrappers, r.NewWrappers)
	}
	if !strings.Contains(shred.Summary(r), "--exclude-conversation") {
		t.Error(shred.Summary(r))
	}
	// The archive itself lives on.
	if _, err := archive.Open(t.Context(), d.st, a.ID(), d.opts()); err != nil {
		t.Fatal(err)
	}
	stores := []remote.Store{d.st, rem}
	vr, _ := shred.Verify(t.Context(), r, stores, nil, shred.VerifyOptions{})
	if vr.Verdict != shred.VerdictBestEffort {
		t.Fatalf("verify: %v %+v", vr.Verdict, vr.Checks)
	}
	// A tombstoned key table back in S3.
	var kt string
	for _, x := range r.Tombstones {
		if x.What == "key-table" {
			kt = x.Name
		}
	}
	if _, err := rem.Client().PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(rem.Bucket()), Key: aws.String(rem.Key(kt)), Body: strings.NewReader("old key table")}); err != nil {
		t.Fatal(err)
	}
	vr, _ = shred.Verify(t.Context(), r, stores, nil, shred.VerifyOptions{})
	if vr.Verdict != shred.VerdictContradicted || !strings.Contains(vr.Err().Error(), kt) {
		t.Fatalf("verify with a key table back: %v %v", vr.Verdict, vr.Err())
	}
}
