#!/usr/bin/env bash
# Installs, starts and stops kmsd (tools/kmsd: local-kms, an AWS KMS emulator,
# served on 127.0.0.1 only) for chatvault's KMS integration tests.
#
# Usage:
#   scripts/kmsserver.sh install      build kmsd into $CHATVAULT_TOOLS_BIN
#                                     (default ~/.cache/chatvault-tools/bin); rebuilt
#                                     only when tools/kmsd/{go.mod,go.sum,main.go} change
#   scripts/kmsserver.sh start DIR    install if needed, start kmsd in the background on a
#                                     free loopback port with a fresh key database
#                                     DIR/kms-data (pid DIR/kmsd.pid, log DIR/kmsd.log),
#                                     wait until it answers, then print on stdout
#                                       export CHATVAULT_TEST_KMS=http://127.0.0.1:PORT ...
#                                     for the caller to eval
#   scripts/kmsserver.sh stop DIR     stop the kmsd started with DIR (no error if none)
#
# Typical use:
#   dir=$(mktemp -d); eval "$(scripts/kmsserver.sh start "$dir")"
#   go test ./kms/...; scripts/kmsserver.sh stop "$dir"
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools_bin="${CHATVAULT_TOOLS_BIN:-$HOME/.cache/chatvault-tools/bin}"
kmsd="$tools_bin/kmsd"
stamp="$tools_bin/kmsd.stamp"
ready_timeout=20 # seconds

log() { printf 'kmsserver: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# source_hash identifies the kmsd sources; the binary is rebuilt when it changes.
source_hash() {
  (cd "$root/tools/kmsd" && cat go.mod go.sum main.go) | sha256sum | cut -d' ' -f1
}

install() {
  local want
  want="$(source_hash)"
  if [ -x "$kmsd" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "building kmsd into $tools_bin (about 30 s the first time)"
  mkdir -p "$tools_bin"
  (cd "$root/tools/kmsd" && GOBIN="$tools_bin" go install .)
  printf '%s\n' "$want" >"$stamp"
}

running_pid() { # prints the pid of DIR's kmsd if it is alive
  local pidfile="$1/kmsd.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

probe() { # POST ListKeys; succeeds on HTTP 200
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST \
    -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: TrentService.ListKeys' \
    --data '{}' "$1/" 2>/dev/null)" || return 1
  [ "$code" = 200 ]
}

start() {
  local dir="$1" pid url deadline
  command -v curl >/dev/null || die "curl is needed for the readiness probe"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if pid="$(running_pid "$dir")"; then
    die "kmsd already running for $dir (pid $pid); run: $0 stop $dir"
  fi
  install
  rm -rf "$dir/kms-data" "$dir/kmsd.addr" "$dir/kmsd.addr.tmp"
  mkdir -p "$dir/kms-data"
  # Port 0: kmsd binds a free port itself and writes the address to kmsd.addr,
  # so nothing can take the port between choosing and binding it.
  nohup "$kmsd" -addr 127.0.0.1:0 -data "$dir/kms-data" -addr-file "$dir/kmsd.addr" \
    >"$dir/kmsd.log" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$dir/kmsd.pid"

  deadline=$((SECONDS + ready_timeout))
  url=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "kmsd exited during start-up; its log ($dir/kmsd.log):"
      cat "$dir/kmsd.log" >&2
      rm -f "$dir/kmsd.pid"
      exit 1
    fi
    if [ -z "$url" ] && [ -s "$dir/kmsd.addr" ]; then
      url="$(cat "$dir/kmsd.addr")"
    fi
    if [ -n "$url" ] && probe "$url"; then
      log "kmsd ready at $url (pid $pid, data $dir/kms-data)"
      printf 'export CHATVAULT_TEST_KMS=%s\n' "$url"
      printf 'export AWS_ENDPOINT_URL_KMS=%s\n' "$url"
      printf 'export AWS_ACCESS_KEY_ID=%s\n' "${AWS_ACCESS_KEY_ID:-test}"
      printf 'export AWS_SECRET_ACCESS_KEY=%s\n' "${AWS_SECRET_ACCESS_KEY:-test}"
      printf 'export AWS_REGION=us-east-1\n'
      return 0
    fi
    sleep 0.1
  done
  log "kmsd did not answer within ${ready_timeout}s; its log ($dir/kmsd.log):"
  cat "$dir/kmsd.log" >&2
  stop "$dir"
  exit 1
}

stop() {
  local dir="$1" pid i
  if ! pid="$(running_pid "$dir")"; then
    rm -f "$dir/kmsd.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "kmsd (pid $pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/kmsd.pid"
}

case "${1:-}" in
install) install ;;
start)
  [ $# -eq 2 ] || die "usage: $0 start DIR"
  start "$2"
  ;;
stop)
  [ $# -eq 2 ] || die "usage: $0 stop DIR"
  stop "$2"
  ;;
*) die "usage: $0 install | start DIR | stop DIR" ;;
esac
