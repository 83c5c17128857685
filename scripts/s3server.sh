#!/usr/bin/env bash
# Installs, starts and stops the S3 server the tests run against: versitygw with
# its posix backend, bound to 127.0.0.1 only (see shared/design/infra.md).
#
# Usage:
#   scripts/s3server.sh install        install versitygw into $TOOLS_BIN (once per machine)
#   scripts/s3server.sh start DIR      start a server keeping its data under DIR and print
#                                      the shell lines that point the tests at it:
#                                        eval "$(scripts/s3server.sh start /tmp/s3)"
#   scripts/s3server.sh stop DIR       stop the server started with DIR
#
# start prints
#   export CHATVAULT_TEST_S3=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_REGION=us-east-1
# The server keeps its pid in DIR/versitygw.pid and its log in DIR/versitygw.log.
# Buckets are created by the tests themselves (remote/s3/s3test); versioning is
# available because the server is started with --versioning-dir.
#
# Environment: CHATVAULT_TOOLS_BIN (default ~/.cache/chatvault-tools/bin) is where
# the binary goes; S3SERVER_PORT forces a port instead of a free one.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
TOOLS_BIN="${CHATVAULT_TOOLS_BIN:-$HOME/.cache/chatvault-tools/bin}"
VERSITYGW="$TOOLS_BIN/versitygw"

usage() {
  echo "usage: $0 install | start DIR | stop DIR" >&2
  exit 2
}

# installed reports whether $VERSITYGW is the wanted version. `versitygw --version`
# says "Version: git" for a binary built by go install (no release ldflags), so
# the module version recorded in the binary is read with `go version -m`.
installed() {
  [ -x "$VERSITYGW" ] &&
    go version -m "$VERSITYGW" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$VERSITYGW_VERSION([[:space:]]|\$)"
}

install() {
  if installed; then
    return 0
  fi
  echo "installing versitygw $VERSITYGW_VERSION into $TOOLS_BIN (a minute or two, once per machine)" >&2
  mkdir -p "$TOOLS_BIN"
  GOBIN="$TOOLS_BIN" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
  if ! installed; then
    echo "versitygw installed into $TOOLS_BIN but is not version $VERSITYGW_VERSION:" >&2
    go version -m "$VERSITYGW" >&2 || true
    exit 1
  fi
}

# free_port prints a TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
  if [ -n "${S3SERVER_PORT:-}" ]; then
    echo "$S3SERVER_PORT"
    return
  fi
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    # bash's /dev/tcp connect fails when nothing listens there.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "no free port found" >&2
  exit 1
}

random_hex() { # $1 bytes
  od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

running() { # $1 pid file
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

port_in_use() { # $1 port; bash's /dev/tcp connect succeeds when something listens
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# signed_ok URL ACCESS SECRET: a SigV4-signed ListBuckets succeeds, which proves
# that the server answering is the one just started with these credentials (and
# not another one on the same port). Skipped by a curl without --aws-sigv4.
signed_ok() {
  curl --help all 2>/dev/null | grep -q -- --aws-sigv4 || return 0
  local empty_sha=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  [ "$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$2:$3" \
    -H "x-amz-content-sha256: $empty_sha" "$1/" 2>/dev/null || true)" = 200 ]
}

fail_start() { # $1 message, $2 log, $3 pid, $4 pid file
  echo "$1; versitygw's log ($2):" >&2
  cat "$2" >&2 || true
  kill "$3" 2>/dev/null || true
  rm -f "$4"
  exit 1
}

start() {
  local dir=$1
  install
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local pidfile="$dir/versitygw.pid" log="$dir/versitygw.log"
  if running "$pidfile"; then
    echo "versitygw already running with pid $(cat "$pidfile") for $dir (run: $0 stop $dir)" >&2
    exit 1
  fi
  mkdir -p "$dir/data" "$dir/versions"
  local port access secret
  port=$(free_port)
  if port_in_use "$port"; then
    echo "port 127.0.0.1:$port is already in use" >&2
    exit 1
  fi
  access="test$(random_hex 8)"
  secret=$(random_hex 20)
  # The credentials are test-only and go nowhere but this loopback server; they
  # are kept beside the data so that the lines can be printed again (env.sh).
  "$VERSITYGW" --port "127.0.0.1:$port" --access "$access" --secret "$secret" \
    --health /health --quiet --keep-alive \
    posix --versioning-dir "$dir/versions" "$dir/data" >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pidfile"
  local url="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 20))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health" 2>/dev/null || true)" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail_start "versitygw exited at start" "$log" "$pid" "$pidfile"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail_start "versitygw did not become healthy at $url/health within 20 s" "$log" "$pid" "$pidfile"
    fi
    sleep 0.1
  done
  if ! kill -0 "$pid" 2>/dev/null || ! signed_ok "$url" "$access" "$secret"; then
    fail_start "the server at $url is not the versitygw just started, or refuses its credentials" "$log" "$pid" "$pidfile"
  fi
  local lines="export CHATVAULT_TEST_S3=$url AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1"
  echo "$lines" >"$dir/env.sh"
  echo "$lines"
}

stop() {
  local dir=$1 pidfile="$1/versitygw.pid"
  if ! [ -f "$pidfile" ]; then
    echo "no $pidfile: nothing to stop" >&2
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
install) [ $# -eq 1 ] || usage; install ;;
start) [ $# -eq 2 ] || usage; start "$2" ;;
stop) [ $# -eq 2 ] || usage; stop "$2" ;;
*) usage ;;
esac
