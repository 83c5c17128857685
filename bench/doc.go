// Package bench holds chatvault's throughput benchmarks (bench_test.go), the
// corpus generator (./gencorpus, ./corpus) and the end-to-end script run.sh
// that measures the chatvault binary. docs/PERFORMANCE.md has the figures and
// how to reproduce them.
package bench
