// Command gencorpus writes a seeded, deterministic corpus of chatvault
// canonical JSON Lines for benchmarks:
//
//	go run ./bench/gencorpus -size 1GiB -seed 1 -conversations 200 -order grouped -o corpus.jsonl
//
// The same flags always give byte-identical output. Grouped and interleaved
// corpora of the same seed hold the same lines in a different order. Without
// -o (or with -o -) the corpus goes to standard output.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chatvault/chatvault/bench/corpus"
)

func main() {
	size := flag.String("size", "64MiB", "target corpus `size` (e.g. 1GiB, 64MiB, 500MB, 4096)")
	seed := flag.Uint64("seed", 1, "random seed; the same seed gives the same bytes")
	convs := flag.Int("conversations", 200, "number of conversations")
	order := flag.String("order", "grouped", "grouped (one conversation after another) or interleaved (mixed message by message)")
	out := flag.String("o", "-", "output `file` (- for standard output)")
	quiet := flag.Bool("q", false, "no summary on standard error")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %q", flag.Args()))
	}
	n, err := corpus.ParseSize(*size)
	if err != nil {
		fail(err)
	}
	ord, err := corpus.ParseOrder(*order)
	if err != nil {
		fail(err)
	}
	opts := corpus.Options{Size: n, Seed: *seed, Conversations: *convs, Order: ord}

	var w io.Writer = os.Stdout
	var f *os.File
	var tmp string
	if *out != "-" {
		// Write to a temporary name and rename at the end, so that an
		// interrupted run never leaves a truncated corpus under FILE.
		f, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp*")
		if err != nil {
			fail(err)
		}
		tmp = f.Name()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	st, err := corpus.Generate(bw, opts)
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, *out)
		}
		if err != nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		fail(err)
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "gencorpus: %d lines, %d bytes, %d conversations, %s, seed %d\n", st.Lines, st.Bytes, *convs, ord, *seed)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gencorpus:", err)
	os.Exit(2)
}
