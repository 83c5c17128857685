package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmstest"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// TestScriptsShred drives shred and verify-shred against the real S3 server
// (versitygw, versioned buckets) and KMS (local-kms) of the test run:
// testdata/shredscript/*.txtar, each with a fresh versioned bucket in
// $BUCKET, the S3 server in $S3 and the KMS in $KMS. Extra commands, besides
// exitcode, capture, catglob and the KMS ones of TestScriptsKMS:
//
//	kmscancel KEY              cancel the scheduled deletion of a KMS key
//	                           (Disabled on AWS; local-kms enables it)
//	s3versions PREFIX          print every version ("v NAME VERSION") and
//	                           delete marker ("m NAME VERSION") under PREFIX
//	                           in $BUCKET, raw (ListObjectVersions), sorted
//	s3get KEY FILE             save the latest version of KEY in $BUCKET
//	s3put KEY FILE             store FILE as KEY in $BUCKET
//	replace FILE OLD NEW       replace the one occurrence of OLD in FILE
func TestScriptsShred(t *testing.T) {
	s3endpoint := s3test.Endpoint(t)
	kmsEndpoint := kmstest.Endpoint(t)
	kmsClient := kmstest.Client(t)
	s3c := s3test.Client(t)
	runScripts(t, "shredscript", func(env *testscript.Env) error {
		env.Setenv("S3", s3endpoint)
		env.Setenv("AWS_ENDPOINT_URL_S3", s3endpoint)
		env.Setenv("KMS", kmsEndpoint)
		env.Setenv("AWS_ENDPOINT_URL_KMS", kmsEndpoint)
		// No STS here: the operator is named by the local user, at once.
		env.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
		env.Setenv("AWS_REGION", kmstest.Region)
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			env.Setenv(k, os.Getenv(k))
		}
		env.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		env.Setenv("BUCKET", s3test.Bucket(env.T().(testing.TB), true))
		return nil
	}, map[string]scriptCmd{
		"kmskey":      kmsKeyCmd(kmsClient),
		"kmsdisable":  kmsDisableCmd(kmsClient),
		"kmsdescribe": kmsDescribeCmd(kmsClient),
		"kmscancel":   kmsCancelCmd(kmsClient),
		"s3versions":  s3VersionsCmd(s3c),
		"s3get":       s3GetCmd(s3c),
		"s3put":       s3PutCmd(s3c),
		"replace":     cmdReplace,
	})
}

func kmsCancelCmd(c *awskms.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: kmscancel KEY")
		}
		api, ok := c.API().(*kms.Client)
		if !ok {
			ts.Fatalf("kmscancel: the KMS client is a %T", c.API())
		}
		_, err := api.CancelKeyDeletion(context.Background(), &kms.CancelKeyDeletionInput{KeyId: aws.String(args[0])})
		ts.Check(err)
	}
}

// listVersions lists every version and delete marker under prefix, raw.
func listVersions(ctx context.Context, c *awss3.Client, bucket, prefix string) ([]string, error) {
	var out []string
	var keyMarker, versionMarker *string
	for {
		page, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{
			Bucket: aws.String(bucket), Prefix: aws.String(prefix), KeyMarker: keyMarker, VersionIdMarker: versionMarker,
		})
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			out = append(out, fmt.Sprintf("v %s %s", aws.ToString(v.Key), aws.ToString(v.VersionId)))
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, fmt.Sprintf("m %s %s", aws.ToString(m.Key), aws.ToString(m.VersionId)))
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		keyMarker, versionMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	sort.Strings(out)
	return out, nil
}

func s3VersionsCmd(c *awss3.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: s3versions PREFIX")
		}
		w := ts.Stdout() // set even when nothing is listed
		vs, err := listVersions(context.Background(), c, ts.Getenv("BUCKET"), args[0])
		ts.Check(err)
		for _, v := range vs {
			fmt.Fprintln(w, v)
		}
	}
}

func s3GetCmd(c *awss3.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: s3get KEY FILE")
		}
		out, err := c.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String(ts.Getenv("BUCKET")), Key: aws.String(args[0])})
		ts.Check(err)
		defer out.Body.Close()
		var b bytes.Buffer
		_, err = b.ReadFrom(out.Body)
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o600))
	}
}

func s3PutCmd(c *awss3.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: s3put KEY FILE")
		}
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		_, err = c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(ts.Getenv("BUCKET")), Key: aws.String(args[0]), Body: bytes.NewReader(b)})
		ts.Check(err)
	}
}

func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if n := strings.Count(string(b), args[1]); n != 1 {
		ts.Fatalf("replace: %q occurs %d times in %s, want once", args[1], n, args[0])
	}
	ts.Check(os.WriteFile(path, []byte(strings.Replace(string(b), args[1], args[2], 1)), 0o600))
}

// ---- in-process runs with a store that refuses deletes

// failingS3 is a proxy in front of the test S3 server that can refuse
// DELETE requests whose path matches (AccessDenied, which no retry
// overcomes): a store that fails in the middle of a shred.
type failingS3 struct {
	URL  string
	fail atomic.Pointer[func(path string) bool]
	hits atomic.Int64
}

func newFailingS3(t *testing.T, endpoint string) *failingS3 {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	f := &failingS3{}
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps the Host header: the signature holds
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match := f.fail.Load(); match != nil && r.Method == http.MethodDelete && (*match)(r.URL.Path) {
			f.hits.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied (test)</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *failingS3) failDeletes(match func(path string) bool) { f.fail.Store(&match) }
func (f *failingS3) heal()                                    { f.fail.Store(nil) }

// inProcess runs the CLI in this process with an environment of its own.
type inProcess struct {
	t   *testing.T
	env map[string]string
}

func newInProcess(t *testing.T, endpoint string) *inProcess {
	home := t.TempDir()
	p := &inProcess{t: t, env: map[string]string{
		"HOME":                      home,
		"XDG_DATA_HOME":             filepath.Join(home, "data"),
		"XDG_STATE_HOME":            filepath.Join(home, "state"),
		"XDG_CONFIG_HOME":           filepath.Join(home, "config"),
		"AWS_ENDPOINT_URL_S3":       endpoint,
		"AWS_ENDPOINT_URL_STS":      "http://127.0.0.1:9",
		"AWS_EC2_METADATA_DISABLED": "true",
		"CHATVAULT_PASSPHRASE":      "shred test passphrase",
		"CHATVAULT_CONFIG":          "",
		"CHATVAULT_REPO":            "",
		"AWS_MAX_ATTEMPTS":          "2",
	}}
	for k, v := range p.env {
		t.Setenv(k, v)
	}
	if os.Getenv("AWS_REGION") == "" {
		t.Setenv("AWS_REGION", "us-east-1")
	}
	return p
}

func (p *inProcess) run(args ...string) (int, string) {
	p.t.Helper()
	var out bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &out)
	p.t.Logf("$ chatvault %s\n%s(exit %d)", strings.Join(args, " "), out.String(), code)
	return code, out.String()
}

func (p *inProcess) must(args ...string) string {
	p.t.Helper()
	code, out := p.run(args...)
	if code != 0 {
		p.t.Fatalf("chatvault %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (p *inProcess) want(code int, args ...string) string {
	p.t.Helper()
	got, out := p.run(args...)
	if got != code {
		p.t.Fatalf("chatvault %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, out)
	}
	return out
}

func readReport(t *testing.T, path string) *shred.Report {
	t.Helper()
	r, err := shred.LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const shredChats = `{"conversation":"alpha","id":"1","time":"2024-03-01T08:00:00Z","kind":"message","text":"one"}
{"conversation":"alpha","id":"2","time":"2024-03-01T09:00:00Z","kind":"message","text":"two"}
{"conversation":"beta","id":"3","time":"2024-03-01T10:00:00Z","kind":"message","text":"three"}
`

// A whole-archive shred stopped by a store that refuses deletes exits 6 with
// an incomplete report (key material already gone); running it again
// finishes it — from the journal once the archive no longer opens — and the
// earlier run's report is kept beside the new one.
func TestShredInterruptedResumes(t *testing.T) {
	endpoint := s3test.Endpoint(t)
	proxy := newFailingS3(t, endpoint)
	p := newInProcess(t, proxy.URL)
	dir := t.TempDir()
	bucket := s3test.Bucket(t, true)
	repo := "s3://" + bucket + "/vault"
	chats := writeFile(t, filepath.Join(dir, "chats.jsonl"), shredChats)

	for i, crash := range []bool{false, true} {
		label := fmt.Sprintf("archive%d", i)
		out := p.must("--repo", repo, "--json", "init", label)
		var rec initRecord
		decodeLast(t, out, &rec)
		p.must("--repo", repo, "export", label, chats)
		report := filepath.Join(dir, label+".json")

		// Every delete of the archive's data fails (its key material goes).
		proxy.failDeletes(func(path string) bool {
			return strings.Contains(path, "/archives/"+rec.ID+"/") && !strings.Contains(path, "/keys/")
		})
		out = p.want(6, "--repo", repo, "shred", label, "--yes", "--report", report)
		if !strings.Contains(out, "NOT complete") || !strings.Contains(out, "hint: run the same command again") {
			t.Errorf("interrupted shred output:\n%s", out)
		}
		if proxy.hits.Load() == 0 {
			t.Fatal("the proxy refused no delete")
		}
		r := readReport(t, report)
		if r.Complete || len(r.Remaining) == 0 {
			t.Fatalf("the report of the interrupted shred says complete=%v, %d remaining", r.Complete, len(r.Remaining))
		}
		// The key material went first: none of it is left, in any version.
		keys, err := listVersions(t.Context(), s3test.Client(t), bucket, "vault/archives/"+rec.ID+"/keys/")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Errorf("key material left after the interrupted shred: %v", keys)
		}
		p.want(6, "verify-shred", report, "--allow-best-effort")

		if crash {
			// As if the run had died after deleting the commits: the archive
			// no longer opens, and the rerun resumes from the journal.
			c := s3test.Client(t)
			vs, err := listVersions(t.Context(), c, bucket, "vault/archives/"+rec.ID+"/commits/")
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				f := strings.Fields(v)
				if _, err := c.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(f[1]), VersionId: aws.String(f[2])}); err != nil {
					t.Fatal(err)
				}
			}
		}
		proxy.heal()
		name := label
		if crash {
			name = rec.ID // the label is no longer listed: the id finds the journal
		}
		out = p.must("--repo", repo, "shred", name, "--yes", "--report", report)
		if !strings.Contains(out, ": shredded") || !strings.Contains(out, "is kept as") {
			t.Errorf("rerun output:\n%s", out)
		}
		r = readReport(t, report)
		if !r.Complete || r.Grade != shred.GradeBestEffort {
			t.Errorf("rerun report: complete %v, grade %s", r.Complete, r.Grade)
		}
		all, err := listVersions(t.Context(), s3test.Client(t), bucket, "vault/archives/"+rec.ID+"/")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 0 {
			t.Errorf("left after the rerun: %v", all)
		}
		kept, _ := filepath.Glob(filepath.Join(dir, label+".run-*.json"))
		if len(kept) != 1 {
			t.Errorf("earlier reports kept: %v", kept)
		}
		p.want(1, "verify-shred", report)
		p.must("verify-shred", report, "--allow-best-effort")

		recs, err := audit.ReadFile(filepath.Join(p.env["XDG_STATE_HOME"], "chatvault", "audit.log"))
		if err != nil {
			t.Fatal(err)
		}
		var phases []string
		for _, x := range recs {
			if x.Archive == rec.ID && x.Action == audit.ActionShred {
				phases = append(phases, fmt.Sprint(x.Details["phase"]))
			}
		}
		if got := strings.Join(phases, " "); got != "started incomplete started finished" {
			t.Errorf("audit records of the shred: %s", got)
		}
	}
}

// A conversation shred whose deletions fail after its commit exits 6; the
// same command again (the conversation is gone by then) finishes the
// deletions and the report, without shredding anything twice.
func TestShredConversationInterruptedResumes(t *testing.T) {
	endpoint := s3test.Endpoint(t)
	proxy := newFailingS3(t, endpoint)
	p := newInProcess(t, proxy.URL)
	dir := t.TempDir()
	bucket := s3test.Bucket(t, true)
	repo := "s3://" + bucket + "/vault"
	chats := writeFile(t, filepath.Join(dir, "chats.jsonl"), shredChats)
	pass := writeFile(t, filepath.Join(dir, "pass.txt"), "shred test passphrase\n")
	report := filepath.Join(dir, "conv.json")

	var rec initRecord
	decodeLast(t, p.must("--repo", repo, "--json", "init", "Conv"), &rec)
	p.must("--repo", repo, "export", "Conv", chats)

	proxy.failDeletes(func(path string) bool { return strings.Contains(path, "/archives/"+rec.ID+"/") })
	out := p.want(6, "--repo", repo, "shred", "Conv", "--conversation", "alpha", "--yes", "--new-passphrase-file", pass, "--report", report)
	if !strings.Contains(out, "in commit 3") {
		t.Fatalf("the interrupted conversation shred made no commit:\n%s", out)
	}
	proxy.heal()
	out = p.must("--repo", repo, "shred", "Conv", "--conversation", "alpha", "--yes", "--new-passphrase-file", pass, "--report", report)
	if !strings.Contains(out, "finishing the interrupted shred of conversation") || strings.Contains(out, "in commit 4") {
		t.Errorf("rerun output:\n%s", out)
	}
	r := readReport(t, report)
	if !r.Complete || r.Commit != 3 || r.Kind != shred.KindConversation || len(r.Tombstones) == 0 {
		t.Errorf("report: complete %v, commit %d, kind %s, %d tombstones", r.Complete, r.Commit, r.Kind, len(r.Tombstones))
	}
	var former int
	for _, w := range r.Wrappers {
		if w.Type == "passphrase" && w.Source == "head" {
			former++
		}
	}
	if former != 1 {
		t.Errorf("the rerun's report names %d former passphrase wrappers, want 1: %+v", former, r.Wrappers)
	}
	p.must("--repo", repo, "verify", "Conv")
	out = p.must("--repo", repo, "--json", "ls", "Conv")
	if strings.Count(out, `"type":"conversation"`) != 1 {
		t.Errorf("conversations after the shred:\n%s", out)
	}
	p.must("verify-shred", report, "--allow-best-effort")
	// Nothing pending any more: the next run shreds again (and finds no alpha).
	p.want(1, "--repo", repo, "shred", "Conv", "--conversation", "alpha", "--yes", "--new-passphrase-file", pass)
}

// The audit log's records are JSON lines without secrets.
func TestAuditDetailsRefuseSecrets(t *testing.T) {
	p := newInProcess(t, "http://127.0.0.1:9")
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	a.stateDir = filepath.Join(p.env["XDG_STATE_HOME"], "chatvault")
	a.repo = t.TempDir()
	id := archive.ID{1}
	if err := a.auditStrict(t.Context(), audit.ActionRekey, id, map[string]any{"passphrase_file": "x"}); err == nil {
		t.Fatal("a detail naming a passphrase was logged")
	}
	if err := a.auditStrict(t.Context(), audit.ActionRekey, id, map[string]any{"commit": 3}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(a.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(b), &line); err != nil || line["action"] != "rekey" {
		t.Fatalf("audit log %q: %v", b, err)
	}
	if fi, err := os.Stat(a.auditPath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode: %v %v", fi.Mode(), err)
	}
}

// An incomplete shred is exit 6 whatever stopped it (it wraps that error too).
func TestShredIncompleteExitCode(t *testing.T) {
	for _, cause := range []error{remote.ErrUnavailable, archive.ErrIntegrity, awskms.ErrUnreachable, errors.New("denied")} {
		err := fmt.Errorf("%w: 3 items not done (rerun to finish): %w", shred.ErrIncomplete, cause)
		if code, _ := exitCode(t.Context(), err, true); code != exitConflict {
			t.Errorf("incomplete shred stopped by %v: exit %d, want %d", cause, code, exitConflict)
		}
	}
}
