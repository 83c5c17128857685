#!/usr/bin/env bash
# Builds, starts and stops the HashiCorp Vault dev server the Vault Transit
# tests run against, bound to 127.0.0.1 only (see shared/design/vault.md).
#
# Usage:
#   scripts/vaultserver.sh install      build Vault v1.21.1 from tools/vault (its own Go
#                                       module) into $CHATVAULT_TOOLS_BIN, once per machine:
#                                       the binary is keyed by the sha256 of tools/vault/go.sum
#                                       and `go version` (about 11 minutes cold on 2 cores,
#                                       seconds once the Go caches are warm)
#   scripts/vaultserver.sh start DIR    install if needed, start a dev server on a free pair of
#                                       loopback ports (Vault also listens on PORT+1), enable
#                                       Transit, and print the shell lines that point the tests
#                                       at it:  eval "$(scripts/vaultserver.sh start /tmp/vault)"
#   scripts/vaultserver.sh stop DIR     stop the server started with DIR
#
# start prints: export VAULT_ADDR=http://127.0.0.1:PORT VAULT_TOKEN=... CHATVAULT_TEST_VAULT=1
# The Vault server is BUSL-1.1: built and run here for tests only (non-production
# use), never shipped or vendored with chatvault.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools_bin="${CHATVAULT_TOOLS_BIN:-$HOME/.cache/chatvault-tools/bin}"

log() { printf 'vaultserver: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

stamp() {
  { sha256sum "$root/tools/vault/go.sum" | cut -d' ' -f1; go version; } | sha256sum | cut -c1-16
}

binary() { echo "$tools_bin/vault-$(stamp)"; }

install() {
  local bin
  bin=$(binary)
  if [ -x "$bin" ]; then
    return 0
  fi
  log "building Vault v1.21.1 into $bin (about 11 minutes on 2 cores the first time on a machine)"
  mkdir -p "$tools_bin"
  (cd "$root/tools/vault" && go build -ldflags='-s -w' -o "$bin.tmp" github.com/hashicorp/vault) >&2
  mv "$bin.tmp" "$bin"
}

free_pair() {
  python3 - <<'PY'
import socket
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); continue
    a.close(); b.close(); print(p); break
PY
}

start() {
  local dir=$1
  install
  mkdir -p "$dir/home"
  if [ -f "$dir/vault.pid" ] && kill -0 "$(cat "$dir/vault.pid")" 2>/dev/null; then
    die "a Vault server is already running for $dir"
  fi
  local port token addr
  port=$(free_pair)
  token="root-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  addr="http://127.0.0.1:$port"
  HOME="$dir/home" "$(binary)" server -dev -dev-listen-address="127.0.0.1:$port" \
    -dev-root-token-id="$token" -dev-no-store-token >"$dir/vault.log" 2>&1 &
  echo $! >"$dir/vault.pid"
  for _ in $(seq 200); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$addr/v1/sys/health")" = 200 ]; then
      curl -sf -H "X-Vault-Token: $token" -X POST -d '{"type":"transit"}' "$addr/v1/sys/mounts/transit" >/dev/null ||
        die "could not enable Transit at $addr"
      echo "export VAULT_ADDR=$addr VAULT_TOKEN=$token CHATVAULT_TEST_VAULT=1"
      return 0
    fi
    sleep 0.1
  done
  cat "$dir/vault.log" >&2
  stop "$dir"
  die "Vault did not become ready at $addr"
}

stop() {
  local dir=$1
  if [ -f "$dir/vault.pid" ]; then
    kill -TERM "$(cat "$dir/vault.pid")" 2>/dev/null || true
    rm -f "$dir/vault.pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
