#!/usr/bin/env bash
# bench/s3.sh: push and pull throughput against a local S3 server (versitygw),
# side by side with plain PutObject / GetObject of the same bytes, and the cost
# of deciding what to send (a push with nothing to send vs a bare
# ListObjectsV2), as the S3 issue's performance requirement asks.
#
# Starts its own versitygw (scripts/s3server.sh, stopped on exit) with its data
# in a temporary directory, builds bench/s3 and runs it BENCH_S3_RUNS times
# (each run creates its archives anew), then prints the min and median of each
# figure over the runs as a markdown table and keeps a copy in
# bench/out/s3-results-*.md. docs/PERFORMANCE.md ("S3 push and pull") has the
# figures and what they mean.
#
# Environment:
#   BENCH_S3_RUNS=3            runs of bench/s3
#   BENCH_S3_SIZE=1GiB         corpus size of the large archive
#   BENCH_S3_OBJECTS=10000     objects of the decision-cost archive (about)
#   BENCH_S3_JOBS=8,4          Jobs of push and pull (the first is compared)
#   BENCH_S3_ARGS=             more flags for bench/s3 (go run ./bench/s3 -h)
#   BENCH_S3_CPUPROFILE=       a directory: CPU profiles of each step, per run
#   BENCH_OUT=bench/out        where results go (gitignored)
#   TMPDIR                     where the server's data and the local stores go
#                              (needs ≈ 16 GiB free for 1 GiB: every upload
#                              of both rounds stays until the run ends)
#
# Needs versitygw (scripts/s3server.sh installs it once per machine) and the
# usual AWS-less environment: the server's credentials are exported by
# s3server.sh for this script only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

runs=${BENCH_S3_RUNS:-3}
size=${BENCH_S3_SIZE:-1GiB}
objects=${BENCH_S3_OBJECTS:-10000}
jobs=${BENCH_S3_JOBS:-8,4}
out=${BENCH_OUT:-$root/bench/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { printf '%s\n' "$*" >&2; }
die() { log "s3.sh: $*"; exit 1; }

# One benchmark at a time (shared with run.sh): two on one machine spoil each
# other's figures.
if command -v flock >/dev/null; then
	exec 9>"$out/.lock"
	if ! flock -n 9; then
		log "s3.sh: another benchmark is running; waiting for it"
		flock 9
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chatvault-s3bench.XXXXXX")
cleanup() {
	scripts/s3server.sh stop "$tmp/s3" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building bench/s3"
go build -o "$tmp/s3bench" ./bench/s3 || die "bench/s3 does not build"

# The server's credentials and endpoint, for this script only.
eval "$(scripts/s3server.sh start "$tmp/s3")"
pid=$(cat "$tmp/s3/versitygw.pid")
log "versitygw (pid $pid) at $CHATVAULT_TEST_S3"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
extra=()
if [ -n "${BENCH_S3_ARGS:-}" ]; then
	read -r -a extra <<<"$BENCH_S3_ARGS"
fi
for i in $(seq "$runs"); do
	prof=()
	[ -n "${BENCH_S3_CPUPROFILE:-}" ] && prof=(-cpuprofile "$BENCH_S3_CPUPROFILE/run$i")
	log "run $i of $runs"
	"$tmp/s3bench" -endpoint "$CHATVAULT_TEST_S3" -server-pid "$pid" -size "$size" \
		-small-objects "$objects" -jobs "$jobs" -tmp "$tmp" -tsv "$tmp/rows.tsv" -run "$i" \
		"${prof[@]}" "${extra[@]}" >"$tmp/run$i.txt" || die "run $i failed"
	cat "$tmp/run$i.txt" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------

report=$out/s3-results-$(date -u +%Y%m%dT%H%M%SZ).md
{
	echo "## chatvault S3 push/pull benchmark"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo ' (+ uncommitted changes)')"
	echo "- machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(go env GOVERSION); versitygw $(go version -m "${CHATVAULT_TOOLS_BIN:-$HOME/.cache/chatvault-tools/bin}/versitygw" 2>/dev/null | awk '$1 == "mod" {print $3; exit}') (posix backend, --keep-alive) on the same machine"
	echo "- load average before / after: $load_before / $load_after"
	echo "- $runs runs; corpus $size (grouped, seed 1, 200 conversations), 8 MiB segments, no compression; push/pull Jobs $jobs"
	awk -F'\t' '$1 == "1" && $2 == "note" { print "- " $3 " (run 1)" }' "$tmp/rows.tsv"
	echo
	echo "Wall time: min / median of the runs; MB/s from those (10^6 bytes of the archive's objects per second); CPU-s: median."
	echo
	echo "| step | objects | wall s (min / median) | MB/s (best / median) | client CPU-s | server CPU-s |"
	echo "|---|---:|---:|---:|---:|---:|"
	awk -F'\t' '
		function sortv(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
		function median(a, n) { sortv(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
		$2 == "note" { next }
		{
			k = $2
			if (!(k in n)) { order[++keys] = k; label[k] = $3; bytes[k] = $4; objs[k] = $5 }
			n[k]++
			wall[k, n[k]] = $6; mbps[k, n[k]] = $7; cpu[k, n[k]] = $8; srv[k, n[k]] = $9
		}
		END {
			for (i = 1; i <= keys; i++) {
				k = order[i]
				split("", w); split("", c); split("", s); split("", m)
				for (j = 1; j <= n[k]; j++) { w[j] = wall[k, j]; c[j] = cpu[k, j]; s[j] = srv[k, j]; m[j] = mbps[k, j] }
				if (k ~ /^ratio:/) { ratio[++nr] = k; rl[k] = label[k]; sortv(m, n[k]); rmin[k] = m[1]; rmax[k] = m[n[k]]; rmed[k] = median(m, n[k]); continue }
				sortv(w, n[k]); wmin = w[1]; wmed = median(w, n[k])
				cm = median(c, n[k]); sm = median(s, n[k])
				if (bytes[k] > 0 && k !~ /^decide/) {
					printf "| %s | %d | %.2f / %.2f | %.1f / %.1f | %.2f | %s |\n", label[k], objs[k], wmin, wmed, bytes[k] / wmin / 1e6, bytes[k] / wmed / 1e6, cm, (sm >= 0 ? sprintf("%.2f", sm) : "–")
				} else {
					printf "| %s | %d | %.1f / %.1f ms | – | %.3f | %s |\n", label[k], objs[k], wmin * 1e3, wmed * 1e3, cm, (sm >= 0 ? sprintf("%.3f", sm) : "–")
				}
			}
			print ""
			print "| ratio (per run, same run’s figures) | median | min–max | target | met (median)? |"
			print "|---|---:|---:|---:|---|"
			for (i = 1; i <= nr; i++) {
				k = ratio[i]; t = "–"; met = "–"
				if (k == "ratio:push/put-seq" || k == "ratio:pull/get-seq-files") { t = "≥ 0.80"; met = (rmed[k] >= 0.8 ? "yes" : "**no**") }
				if (k == "ratio:decide/list") { t = "≤ 2.00"; met = (rmed[k] <= 2 ? "yes" : "**no**") }
				printf "| %s | %.2f | %.2f–%.2f | %s | %s |\n", rl[k], rmed[k], rmin[k], rmax[k], t, met
			}
		}' "$tmp/rows.tsv"
} | tee "$report"
cp "$tmp/rows.tsv" "${report%.md}.tsv"
log "written $report"
