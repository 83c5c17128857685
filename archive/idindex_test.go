package archive

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// revisionScript makes the inputs of several exports over a few
// conversations: new messages, unchanged ones, edits, reverts and ids that
// repeat within one input (A, B, A).
func revisionScript(seed uint64, exports, perExport int) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	texts := map[string]string{} // conversation/id → current text
	times := map[string]string{} // conversation/id → its time, fixed
	var ids []string
	var out []string
	for x := range exports {
		var in strings.Builder
		for i := range perExport {
			var conv, id string
			if len(ids) == 0 || rng.IntN(3) == 0 {
				conv, id = fmt.Sprintf("c%d", rng.IntN(5)), fmt.Sprintf("m%d-%d", x, i)
				ids = append(ids, conv+"/"+id)
				times[conv+"/"+id] = fmt.Sprintf("2024-01-01T10:%02d:%02dZ", x, i%60)
			} else {
				conv, id, _ = strings.Cut(ids[rng.IntN(len(ids))], "/")
			}
			text := texts[conv+"/"+id]
			switch r := rng.IntN(4); {
			case text == "" || r == 0:
				text = fmt.Sprintf("text %d", rng.IntN(3)) // often a revision seen before
			}
			texts[conv+"/"+id] = text
			in.WriteString(msg(conv, id, times[conv+"/"+id], text))
		}
		out = append(out, in.String())
	}
	return out
}

// With a message-id index budget of a handful of entries, every export spills
// and merges its index through encrypted temporary files many times: the
// results, counts and every version's content must be those of an export
// that holds the whole index in memory, and no temporary file may remain;
// also when every batch's ids are looked up on two goroutines.
func TestSpilledIndexGivesSameResults(t *testing.T) {
	inputs := revisionScript(3, 6, 400)
	type outcome struct {
		results  []ExportResult
		versions []map[string]string
	}
	run := func(entries int) outcome {
		e := newEnv(t)
		tmp := t.TempDir()
		a := e.create("x")
		var o outcome
		for _, in := range inputs {
			o.results = append(o.results, e.export(a, in, ExportOptions{TempDir: tmp, IndexEntries: entries, Jobs: 2}))
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Fatalf("budget %d: %d temporary files left after the export", entries, len(left))
			}
		}
		a = e.open(a.ID())
		for v := uint64(2); v <= a.Head(); v++ {
			o.versions = append(o.versions, e.restore(a, RestoreOptions{Version: v}))
		}
		if _, err := a.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
			t.Fatal(err)
		}
		return o
	}
	whole := run(0)
	if whole.results[len(whole.results)-1].Updated == 0 || whole.results[len(whole.results)-1].Unchanged == 0 {
		t.Fatalf("the script makes no edits or repeats: %+v", whole.results)
	}
	spilled := map[string]outcome{"spilled": run(7)}
	defer func(n int) { parallelProbes = n }(parallelProbes)
	parallelProbes = 0 // every batch split
	spilled["spilled, probed in parallel"] = run(7)
	for how, sp := range spilled {
		for i := range whole.results {
			w, s := whole.results[i], sp.results[i]
			w.StoredBytes, s.StoredBytes = 0, 0 // random salts aside, sizes match; keep the test about content
			if w != s {
				t.Errorf("export %d: %+v with the whole index in memory, %+v %s", i+1, w, s, how)
			}
		}
		if len(whole.versions) != len(sp.versions) {
			t.Fatalf("%d versions vs %d %s", len(whole.versions), len(sp.versions), how)
		}
		for i := range whole.versions {
			if !maps.Equal(whole.versions[i], sp.versions[i]) {
				t.Errorf("version %d differs (%s)", i+2, how)
			}
		}
	}
}
