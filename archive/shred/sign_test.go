package shred_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatvault/chatvault/archive/shred"
)

func sampleReport() *shred.Report {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	return &shred.Report{
		Format: shred.FormatVersion, Kind: shred.KindArchive, Archive: "00112233445566778899aabbccddeeff", Fingerprint: "ab",
		Prefix: "archives/00112233445566778899aabbccddeeff/", KeysPrefix: "archives/00112233445566778899aabbccddeeff/keys/",
		Started: t0, Finished: t0.Add(time.Second), Operator: shred.Operator{IdentitySource: shred.IdentityLocal, User: "zoë <admin> & co"},
		Stores:     []shred.StoreReport{{URL: "s3://b/p", Versioned: true, Deleted: []shred.Object{{Name: "archives/x/keys/1", VersionID: "v1", Step: shred.StepKeys}}}},
		NotCovered: shred.NotCovered,
		KMSKeys:    []shred.KMSKey{{ARN: "arn:aws:kms:us-east-1:1:key/k", Dedicated: true, Action: "scheduled-deletion", State: "PendingDeletion", DeletionDate: t0.Add(7 * 24 * time.Hour)}},
		Wrappers:   []shred.Wrapper{{ID: "w", Type: "aws-kms", KEK: "arn:aws:kms:us-east-1:1:key/k", Dedicated: true, Source: "head", KEKStatus: shred.KEKPending, PendingUntil: t0.Add(7 * 24 * time.Hour)}},
		Complete:   true, Grade: shred.GradePendingUntil, PendingUntil: t0.Add(7 * 24 * time.Hour),
	}
}

// The signature covers every field, survives writing and reading back, and
// names its key.
func TestSignature(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	r := sampleReport()
	if err := shred.Sign(r, key); err != nil {
		t.Fatal(err)
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := shred.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := shred.SignedMessage(r)
	m2, _ := shred.SignedMessage(back)
	if !bytes.Equal(m1, m2) || !bytes.HasPrefix(m1, []byte("chatvault shred report v1\n{")) {
		t.Fatalf("signed message changes through JSON:\n%s\n%s", m1, m2)
	}
	if got, err := shred.CheckSignature(back, pub); err != nil || !got.Equal(pub) {
		t.Fatalf("CheckSignature: %v", err)
	}
	for name, change := range map[string]func(*shred.Report){
		"grade":     func(r *shred.Report) { r.Grade = shred.GradeFinal },
		"a version": func(r *shred.Report) { r.Stores[0].Deleted[0].VersionID = "v2" },
		"operator":  func(r *shred.Report) { r.Operator.User = "mallory" },
		"key":       func(r *shred.Report) { r.Signature.PublicKey = shred.PublicKeyString(make([]byte, 32)) },
		"time":      func(r *shred.Report) { r.Started = r.Started.Add(time.Nanosecond) },
	} {
		c, _ := shred.ParseReport(b)
		change(c)
		if _, err := shred.CheckSignature(c, nil); !errors.Is(err, shred.ErrSignature) {
			t.Errorf("changed %s: %v", name, err)
		}
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := shred.CheckSignature(back, other); !errors.Is(err, shred.ErrSignature) {
		t.Errorf("another expected key: %v", err)
	}
	if _, err := shred.ParseReport(bytes.Replace(b, []byte(`"format": 1,`), []byte(`"format": 1, "extra": 1,`), 1)); !errors.Is(err, shred.ErrBadReport) {
		t.Errorf("unknown field: %v", err)
	}
}

// Operator keys: 0600, never overwritten, read back; a key file others can
// read is refused; public keys parse in every form offered.
func TestSigningKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "operator.pem")
	key, err := shred.NewSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode())
	}
	orig, _ := os.ReadFile(path)
	if _, err := shred.NewSigningKey(path); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("second NewSigningKey: %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, orig) {
		t.Fatal("the key file was overwritten")
	}
	loaded, err := shred.LoadSigningKey(path)
	if err != nil || !loaded.Equal(key) {
		t.Fatalf("LoadSigningKey: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := shred.LoadSigningKey(path); err == nil {
		t.Error("a world-readable key file was accepted")
	}
	pub := key.Public().(ed25519.PublicKey)
	pemPub, _ := shred.MarshalPublicKey(pub)
	for _, s := range []string{shred.PublicKeyString(pub), hex.EncodeToString(pub), string(pemPub), string(orig)} {
		got, err := shred.ParsePublicKey(s)
		if err != nil || !got.Equal(pub) {
			t.Errorf("ParsePublicKey(%.20q): %v", s, err)
		}
	}
	if _, err := shred.ParsePublicKey("nope"); err == nil {
		t.Error("garbage parsed as a key")
	}
}

// The operator is the AWS caller identity when STS answers, else the local
// user, saying why.
func TestIdentify(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("Action") != "GetCallerIdentity" {
			http.Error(w, "bad action", 400)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/alice</Arn>
    <UserId>AIDAEXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`))
	}))
	defer srv.Close()
	creds := credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
	op := shred.Identify(context.Background(), shred.IdentifyOptions{Endpoint: srv.URL, Region: "us-east-1", Credentials: creds})
	if op.IdentitySource != shred.IdentityAWS || op.ARN != "arn:aws:iam::123456789012:user/alice" || op.Account != "123456789012" {
		t.Fatalf("operator: %+v", op)
	}
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(403)
		w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>1</RequestId></ErrorResponse>`))
	}))
	defer denied.Close()
	op = shred.Identify(context.Background(), shred.IdentifyOptions{Endpoint: denied.URL, Region: "us-east-1", Credentials: creds})
	if op.IdentitySource != shred.IdentityLocal || op.User == "" || !strings.Contains(op.Note, "InvalidClientTokenId") {
		t.Fatalf("operator without STS: %+v", op)
	}
}
