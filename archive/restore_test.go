package archive

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pipelineCorpus is an archive of many small conversations, each of several
// segments, written by two exports: the second adds messages later than the
// first's to some conversations, messages between the first's (so that
// segments overlap and restore merges them) to others, and new revisions of
// some messages to the rest. want is each conversation's restore, computed
// the straightforward way: the latest revision of each message, ordered by
// time, then export, then input position. The archive is returned opened
// afresh, with its conversations in restore order.
func pipelineCorpus(t *testing.T, e *env) (*Archive, map[string]string, []ConversationInfo) {
	t.Helper()
	a := e.create("x")
	type line struct {
		conv, id, text string
		at             time.Time
		run, pos       int
	}
	latest := map[[2]string]line{} // (conversation, id) → latest revision
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC)
	var run1, run2 strings.Builder
	add := func(b *strings.Builder, run int, conv, id string, at time.Time) {
		l := line{conv: conv, id: id, at: at, run: run, pos: len(latest) + b.Len(),
			text: fmt.Sprintf("%s/%s run %d %s", conv, id, run, strings.Repeat("z", rng.IntN(400)))}
		b.WriteString(msg(conv, id, at.Format(time.RFC3339), l.text))
		latest[[2]string{conv, id}] = l
	}
	const convs, perConv = 40, 60
	for c := range convs {
		conv := fmt.Sprintf("c%02d", c)
		for k := range perConv {
			add(&run1, 1, conv, fmt.Sprint(k), base.Add(time.Duration(2*k)*time.Minute))
		}
	}
	for c := range convs {
		conv := fmt.Sprintf("c%02d", c)
		for k := range perConv / 3 {
			switch c % 3 {
			case 0: // later messages
				add(&run2, 2, conv, fmt.Sprint("late", k), base.Add(time.Duration(2*perConv+k)*time.Minute))
			case 1: // between the first export's messages: overlapping segments
				add(&run2, 2, conv, fmt.Sprint("odd", k), base.Add(time.Duration(6*k+1)*time.Minute))
			case 2: // new revisions
				add(&run2, 2, conv, fmt.Sprint(3*k), base.Add(time.Duration(6*k)*time.Minute))
			}
		}
	}
	res := e.export(a, run1.String(), ExportOptions{SegmentSize: 4 << 10})
	if res.Segments < 3*convs {
		t.Fatalf("%d segments for %d conversations: want several each", res.Segments, convs)
	}
	e.export(a, run2.String(), ExportOptions{SegmentSize: 4 << 10})
	// Make sure every kind of step is there: merges and superseded lines.
	heads, err := a.conversationsAt(e.ctx, a.Head())
	if err != nil {
		t.Fatal(err)
	}
	merges, supers := 0, 0
	for id, ref := range heads {
		r, clusters, err := a.prepareConversation(e.ctx, id, ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range clusters {
			if len(cl) > 1 {
				merges++
			}
		}
		supers += len(r.supers)
	}
	if merges == 0 || supers == 0 {
		t.Fatalf("%d clusters to merge, %d superseded revisions: want some of each", merges, supers)
	}

	byConv := map[string][]line{}
	for _, l := range latest {
		byConv[l.conv] = append(byConv[l.conv], l)
	}
	want := map[string]string{}
	for conv, ls := range byConv {
		slices.SortFunc(ls, func(x, y line) int {
			return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.run, y.run), cmp.Compare(x.pos, y.pos))
		})
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(msg(conv, l.id, l.at.Format(time.RFC3339), l.text))
		}
		want[conv] = b.String()
	}
	a = e.open(a.ID())
	list, err := a.Conversations(e.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a, want, list
}

// orderWriter records what Restore does, in order, across conversations.
type orderWriter struct {
	log  *[]string
	conv string
	buf  *bytes.Buffer
}

func (w *orderWriter) WriteLine(l []byte) error {
	w.buf.Write(l)
	w.buf.WriteByte('\n')
	return nil
}

func (w *orderWriter) Close() error {
	*w.log = append(*w.log, "close "+w.conv)
	return nil
}

// Restore decodes ahead across conversations; the conversations must still
// come one after the other, in Conversations order, each whole and in order
// before the next is opened, whatever the parallelism.
func TestRestoreManySmallConversations(t *testing.T) {
	e := newEnv(t)
	a, want, convs := pipelineCorpus(t, e)
	var wantLog []string
	for _, c := range convs {
		wantLog = append(wantLog, "open "+c.SourceKey, "close "+c.SourceKey)
	}
	for _, jobs := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprint("jobs=", jobs), func(t *testing.T) {
			var log []string
			got := map[string]*bytes.Buffer{}
			err := a.Restore(e.ctx, RestoreOptions{Jobs: jobs}, func(c ConversationInfo) (LineWriter, error) {
				if c.Blobs != 0 {
					t.Errorf("%s: Blobs = %d, want 0", c.SourceKey, c.Blobs)
				}
				log = append(log, "open "+c.SourceKey)
				got[c.SourceKey] = &bytes.Buffer{}
				return &orderWriter{log: &log, conv: c.SourceKey, buf: got[c.SourceKey]}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(log, wantLog) {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(wantLog, "\n"))
			}
			if len(got) != len(want) {
				t.Fatalf("%d conversations restored, want %d", len(got), len(want))
			}
			for conv, w := range want {
				if g := got[conv].String(); g != w {
					t.Errorf("%s differs:\n%s\nwant:\n%s", conv, g, w)
				}
			}
		})
	}
}

type failingWriter struct {
	orderWriter
	failAt int // WriteLine fails at this line
	n      int
}

var errWriter = errors.New("writer failed")

func (w *failingWriter) WriteLine(l []byte) error {
	if w.n++; w.n == w.failAt {
		return errWriter
	}
	return w.orderWriter.WriteLine(l)
}

// A failure stops the restore where it happens: the conversations before it
// were written whole, nothing after it is opened, the failing conversation's
// writer is closed, and the goroutines that ran ahead are gone.
func TestRestoreStopsAtFailure(t *testing.T) {
	e := newEnv(t)
	a, want, convs := pipelineCorpus(t, e)
	const failConv = 17
	run := func(t *testing.T, out func(c ConversationInfo, w *failingWriter) (LineWriter, error)) ([]string, map[string]*bytes.Buffer, error) {
		var log []string
		got := map[string]*bytes.Buffer{}
		err := a.Restore(e.ctx, RestoreOptions{Jobs: 2}, func(c ConversationInfo) (LineWriter, error) {
			log = append(log, "open "+c.SourceKey)
			got[c.SourceKey] = &bytes.Buffer{}
			return out(c, &failingWriter{orderWriter: orderWriter{log: &log, conv: c.SourceKey, buf: got[c.SourceKey]}})
		})
		return log, got, err
	}
	check := func(t *testing.T, log []string, got map[string]*bytes.Buffer, closed bool) {
		var wantLog []string
		for i, c := range convs[:failConv+1] {
			wantLog = append(wantLog, "open "+c.SourceKey)
			if i < failConv || closed {
				wantLog = append(wantLog, "close "+c.SourceKey)
			}
		}
		if !slices.Equal(log, wantLog) {
			t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(wantLog, "\n"))
		}
		for _, c := range convs[:failConv] {
			if got[c.SourceKey].String() != want[c.SourceKey] {
				t.Errorf("%s differs", c.SourceKey)
			}
		}
	}
	t.Run("writer", func(t *testing.T) {
		log, got, err := run(t, func(c ConversationInfo, w *failingWriter) (LineWriter, error) {
			if c.ID == convs[failConv].ID {
				w.failAt = 30
			}
			return w, nil
		})
		if !errors.Is(err, errWriter) {
			t.Fatalf("err = %v", err)
		}
		check(t, log, got, true)
	})
	t.Run("out", func(t *testing.T) {
		log, got, err := run(t, func(c ConversationInfo, w *failingWriter) (LineWriter, error) {
			if c.ID == convs[failConv].ID {
				return nil, errWriter
			}
			return w, nil
		})
		if !errors.Is(err, errWriter) {
			t.Fatalf("err = %v", err)
		}
		check(t, log, got, false)
	})
	t.Run("damaged segment", func(t *testing.T) {
		heads, err := a.conversationsAt(e.ctx, a.Head())
		if err != nil {
			t.Fatal(err)
		}
		chain, err := a.manifestChain(e.ctx, convs[failConv].ID, heads[convs[failConv].ID])
		if err != nil {
			t.Fatal(err)
		}
		seg := chain[0].Segments[len(chain[0].Segments)-1]
		path := filepath.Join(e.st.Root(), filepath.FromSlash(a.paths.object(areaObjects, seg.ID)))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b := bytes.Clone(orig)
		b[len(b)/2] ^= 1
		os.Chmod(path, 0o600)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, orig, 0o600)
		log, got, err := run(t, func(c ConversationInfo, w *failingWriter) (LineWriter, error) { return w, nil })
		if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), a.paths.object(areaObjects, seg.ID)) {
			t.Fatalf("err = %v", err)
		}
		check(t, log, got, true)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(e.ctx)
		defer cancel()
		n := 0
		err := a.Restore(ctx, RestoreOptions{Jobs: 2}, func(c ConversationInfo) (LineWriter, error) {
			if n++; n == failConv {
				cancel()
			}
			return &memWriter{out: map[string]*bytes.Buffer{"": {}}}, nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}
