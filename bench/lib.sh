# bench/lib.sh: helpers shared by bench/run.sh and bench/scale.sh (sourced;
# they set $tmp before sourcing it).

log() { printf '%s\n' "$*" >&2; }
die() { log "$(basename "$0"): $*"; exit 1; }

have_gnu_time() { [ -x /usr/bin/time ] && /usr/bin/time -V 2>&1 | grep -q GNU; }
apt_install() {
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		log "installing $* with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2; }
	else
		die "$* missing: install it (Debian: apt-get install -y $*)"
	fi
}
have_gnu_time || apt_install time
have_gnu_time || die "GNU time is needed at /usr/bin/time"

# measure NAME BYTES CMD...: runs CMD under GNU time and appends a row to
# $tmp/rows: name, bytes, wall seconds, user+sys seconds, max RSS KiB.
measure() {
	local name=$1 bytes=$2
	shift 2
	local t0 t1
	t0=$(date +%s%N)
	if ! /usr/bin/time -v -o "$tmp/time.txt" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then
		log "$(basename "$0"): $name failed:"
		cat "$tmp/stderr" "$tmp/time.txt" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	local rss user sys
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
	user=$(awk -F': ' '/User time/ {print $2}' "$tmp/time.txt")
	sys=$(awk -F': ' '/System time/ {print $2}' "$tmp/time.txt")
	awk -v n="$name" -v b="$bytes" -v ns="$((t1 - t0))" -v u="$user" -v s="$sys" -v r="$rss" \
		'BEGIN { printf "%s\t%.0f\t%.3f\t%.2f\t%d\n", n, b, ns / 1e9, u + s, r }' >>"$tmp/rows"
	log "  $(tail -n 1 "$tmp/rows" | awk -F'\t' '{ printf "%-38s %8.2f s %8.1f MB/s %8.1f MiB RSS", $1, $3, ($2 ? $2 / $3 / 1e6 : 0), $5 / 1024 }')"
}

