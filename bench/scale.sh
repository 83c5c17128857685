#!/usr/bin/env bash
# bench/scale.sh: memory and time of chatvault on an archive of millions of
# messages (architecture.md: ≤ 256 MiB RSS up to 20 M messages).
#
# Streams a generated corpus (bench/gencorpus, never written to disk) into
# `chatvault export` twice (the second run finds every message already there:
# it loads the whole id index), then times `verify --read-data` and
# `restore`, each under GNU time. The default size, 15 GiB, is ≈ 20.7 M
# messages (the corpus averages ≈ 778 bytes a line) and needs ≈ 2 GiB of
# store and 15 GiB of restore space in $TMPDIR; the generator shares the
# CPUs with chatvault, so read MB/cpu-s and peak RSS rather than MB/s.
#
# Environment:
#   BENCH_SCALE_SIZE=15GiB      corpus size (gencorpus -size syntax)
#   BENCH_SCALE_ORDER=grouped   grouped or interleaved
#   BENCH_SCALE_CONVERSATIONS=200  conversations (1: one conversation of that size)
#   BENCH_SCALE_RESTORE=1       0 skips the restore step
#   BENCH_CHATVAULT=            a chatvault binary to measure instead of building ./cmd/chatvault
#   BENCH_OUT=bench/out         results (gitignored)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
size=${BENCH_SCALE_SIZE:-15GiB}
order=${BENCH_SCALE_ORDER:-grouped}
convs=${BENCH_SCALE_CONVERSATIONS:-200}
out=${BENCH_OUT:-$root/bench/out}
mkdir -p "$out"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chatvault-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
. "$root/bench/lib.sh"

cv=${BENCH_CHATVAULT:-}
if [ -z "$cv" ]; then
	go build -o "$tmp/chatvault" ./cmd/chatvault
	cv=$tmp/chatvault
fi
go build -o "$tmp/gencorpus" ./bench/gencorpus
gen() { "$tmp/gencorpus" -q -size "$size" -seed 1 -order "$order" -conversations "$convs"; }

log "counting the corpus ($size, $order, $convs conversations)"
read -r lines bytes < <(gen | wc -lc)
log "$lines messages, $bytes bytes"

export CHATVAULT_PASSPHRASE=chatvault-benchmark-passphrase XDG_CONFIG_HOME=$tmp/config
unset CHATVAULT_REPO CHATVAULT_STATE_DIR CHATVAULT_CONFIG
g=(--repo "$tmp/repo" --state-dir "$tmp/state")
: >"$tmp/rows"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
measure "init (Argon2id)" 0 "$cv" "${g[@]}" --json init scale
id=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' "$tmp/stdout")
measure "export" "$bytes" "$cv" "${g[@]}" -q export --format jsonl "$id" <(gen)
measure "export again (no change)" "$bytes" "$cv" "${g[@]}" --json export --format jsonl "$id" <(gen)
grep -q '"version":0,' "$tmp/stdout" || die "the second export added something: $(cat "$tmp/stdout")"
stored=$(du -sb "$tmp/repo" | cut -f1)
measure "ls" 0 "$cv" "${g[@]}" ls "$id"
measure "verify --read-data" "$bytes" "$cv" "${g[@]}" -q verify --read-data "$id"
if [ "${BENCH_SCALE_RESTORE:-1}" = 1 ]; then
	measure "restore" "$bytes" "$cv" "${g[@]}" -q restore "$id" -o "$tmp/restore"
	got=$(cat "$tmp/restore"/* | wc -l)
	[ "$got" = "$lines" ] || die "restore wrote $got lines, the corpus has $lines"
	rm -rf "$tmp/restore"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

report=$out/scale-$(date -u +%Y%m%dT%H%M%SZ).md
{
	echo "## chatvault at scale: $lines messages in $convs conversations ($size $order corpus, $bytes bytes)"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo ' (+ uncommitted changes)'); load $load_before / $load_after"
	echo "- stored: $(awk -v s="$stored" -v b="$bytes" 'BEGIN { printf "%.1f GiB, %.1f%% of the corpus", s / 2^30, 100 * s / b }')"
	echo
	echo "| step | wall s | MB/s | CPU s | MB/cpu-s | peak RSS MiB | ≤ 256 MiB |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	awk -F'\t' '{ printf "| %s | %.1f | %s | %.1f | %s | %.0f | %s |\n", $1, $3, ($2 ? sprintf("%.1f", $2 / $3 / 1e6) : "–"), $4, ($2 && $4 ? sprintf("%.1f", $2 / $4 / 1e6) : "–"), $5 / 1024, ($5 <= 262144 ? "yes" : "**no**") }' "$tmp/rows"
} | tee "$report"
log "written $report"
