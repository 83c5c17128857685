#!/usr/bin/env bash
# Runs every test of chatvault: formatting, vet, unit, fuzz-seed, end-to-end CLI
# (testscript) and golden-archive tests under the race detector, the format test
# vectors against an independent implementation, and the release config check.
# It installs (once per machine, pinned versions) and starts the test servers on
# 127.0.0.1: versitygw as the S3 server (scripts/s3server.sh), local-kms as the
# KMS (scripts/kmsserver.sh) and a Vault dev server (scripts/vaultserver.sh:
# built from tools/vault, about 11 minutes the first time on a machine, before
# the tests start so the build does not compete with them), and stops them at
# the end. With the servers
# started here, tests that need one fail rather than skip
# (CHATVAULT_TEST_REQUIRE_SERVERS=1).
# Usage: ./scripts/test.sh        (CI calls exactly this)
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER_VERSION=v2.15.1
TOOLS_BIN="${CHATVAULT_TOOLS_BIN:-$HOME/.cache/chatvault-tools/bin}"

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...

step "go mod tidy"
go mod tidy -diff

step "test servers (versitygw, local-kms, Vault)"
servers=$(mktemp -d)
trap 'scripts/s3server.sh stop "$servers/s3" || true; scripts/kmsserver.sh stop "$servers/kms" || true; scripts/vaultserver.sh stop "$servers/vault" || true; rm -rf "$servers"' EXIT
eval "$(scripts/vaultserver.sh start "$servers/vault")"
eval "$(scripts/s3server.sh start "$servers/s3")"
eval "$(scripts/kmsserver.sh start "$servers/kms")"
# The stock age tool, for the test that recovers an archive key from a device
# wrapper with it alone (the documented emergency path).
AGE_VERSION=v1.3.2
if ! "$TOOLS_BIN/age" --version 2>/dev/null | grep -q "${AGE_VERSION}"; then
  (cd / && GOBIN="$TOOLS_BIN" GOFLAGS= go install "filippo.io/age/cmd/age@$AGE_VERSION")
fi
export CHATVAULT_TEST_AGE="$TOOLS_BIN/age"
export CHATVAULT_TEST_REQUIRE_SERVERS=1
echo "S3 at $CHATVAULT_TEST_S3, KMS at $CHATVAULT_TEST_KMS, Vault at $VAULT_ADDR"

step "go test (race detector)"
go test -race -count=1 -timeout 50m ./...

step "format test vectors, independent implementation"
if python3 -c 'import cryptography' 2>/dev/null; then
  python3 tools/check_vectors.py
else
  echo "skipped: python3 with pyca/cryptography is not installed (the Go tests check the same vectors)"
fi

step "goreleaser check ($GORELEASER_VERSION)"
if [ ! -x "$TOOLS_BIN/goreleaser" ] || ! "$TOOLS_BIN/goreleaser" --version 2>/dev/null | grep -q "${GORELEASER_VERSION#v}"; then
  echo "installing goreleaser $GORELEASER_VERSION into $TOOLS_BIN (a few minutes, once per machine)"
  GOBIN="$TOOLS_BIN" go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi
"$TOOLS_BIN/goreleaser" check

echo
echo "all tests passed"
