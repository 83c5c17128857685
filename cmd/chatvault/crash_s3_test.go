package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/remote/s3/s3test"
)

// kill -9 at any moment of a push to S3 or of a pull from it, then the same
// command again: the job finishes, no object already sent is sent again, and
// no multipart upload is left behind.
func TestKillDuringPushPullS3(t *testing.T) {
	endpoint := s3test.Endpoint(t)
	c := newCLI(t)
	c.env = append(c.env, "AWS_ENDPOINT_URL_S3="+endpoint)
	dir := t.TempDir()
	c.must("init", "crash")
	big := filepath.Join(dir, "big.jsonl")
	writeRandomCorpus(t, big, 80<<20)
	c.must("export", "crash", big, "--segment-size", "24MiB", "--compression", "off")
	id := strings.TrimSpace(c.must("--json", "ls"))
	var rec struct{ ID string }
	if err := json.Unmarshal([]byte(strings.SplitN(id, "\n", 2)[0]), &rec); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--s3-part-size", "5MiB", "--jobs", "3"}

	probe := "s3://" + s3test.Bucket(t, false)
	start := time.Now()
	c.must(append([]string{"push", "crash", "--to", probe}, flags...)...)
	full := time.Since(start)
	t.Logf("a whole push takes %s here", full)

	bucket := s3test.Bucket(t, true)
	remote := "s3://" + bucket + "/vault"
	for i := range 4 {
		killAfter(t, c, full*time.Duration(2*i+1)/8, append([]string{"push", "crash", "--to", remote}, flags...)...)
		// Whatever the remote holds is a complete, verifiable prefix.
		if code, out := c.run("--repo", remote, "verify", rec.ID, "--keyless"); code != 0 && !strings.Contains(out, "not found") {
			t.Fatalf("kill %d: the remote does not verify: exit %d\n%s", i, code, out)
		}
	}
	present := countObjects(t, bucket, "vault/archives/"+rec.ID+"/")
	var rep transferRecord
	out := c.must(append([]string{"--json", "push", "crash", "--to", remote}, flags...)...)
	decodeLast(t, out, &rep)
	if rep.Skipped != present {
		t.Errorf("rerun skipped %d objects, the remote held %d", rep.Skipped, present)
	}
	total := countObjects(t, bucket, "vault/archives/"+rec.ID+"/")
	if rep.Objects+rep.Skipped != total {
		t.Errorf("rerun sent %d and skipped %d objects; the archive has %d", rep.Objects, rep.Skipped, total)
	}
	noUploads(t, bucket)
	c.must("--repo", remote, "verify", rec.ID, "--keyless")

	// Pull into another device's store, killed at points spread over it.
	d := &cli{t: t, bin: c.bin, env: append(c.env, "CHATVAULT_REPO="+filepath.Join(dir, "store2"), "XDG_STATE_HOME="+filepath.Join(dir, "state2"))}
	start = time.Now()
	e := &cli{t: t, bin: c.bin, env: append(c.env, "CHATVAULT_REPO="+filepath.Join(dir, "store3"), "XDG_STATE_HOME="+filepath.Join(dir, "state3"))}
	e.must("pull", rec.ID, "--from", remote)
	full = time.Since(start)
	for i := range 3 {
		killAfter(t, d, full*time.Duration(2*i+1)/6, "pull", rec.ID, "--from", remote)
	}
	d.must("pull", rec.ID, "--from", remote)
	d.must("verify", rec.ID, "--read-data")
}

// killAfter starts chatvault and kills it with SIGKILL after wait (it may
// have finished by then).
func killAfter(t *testing.T, c *cli, wait time.Duration, args ...string) {
	t.Helper()
	cmd := c.cmd(args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(wait)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

func countObjects(t *testing.T, bucket, prefix string) int {
	t.Helper()
	n := 0
	p := awss3.NewListObjectsV2Paginator(s3test.Client(t), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); strings.Contains(k, "/objects/") || strings.Contains(k, "/keys/") {
				n++
			}
		}
	}
	return n
}

func noUploads(t *testing.T, bucket string) {
	t.Helper()
	ups, err := s3test.Client(t).ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left behind", len(ups.Uploads))
	}
}

// decodeLast decodes the last JSON line of out.
func decodeLast(t *testing.T, out string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("%v in %q", err, lines[len(lines)-1])
	}
}

// writeRandomCorpus writes about size bytes of messages with incompressible
// text, so that segments stay large.
func writeRandomCorpus(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	text := make([]byte, 4000)
	for i, n := 0, 0; n < size; i++ {
		for j := range text {
			text[j] = alphabet[r.IntN(len(alphabet))]
		}
		line := fmt.Sprintf(`{"conversation":"c%d","id":"m%d","time":"2024-01-01T00:00:00Z","kind":"message","text":"%s"}`+"\n", i%2, i, text)
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
		n += len(line)
	}
}
