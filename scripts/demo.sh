#!/usr/bin/env bash
# The main job on the embedded default: a local directory store and a
# passphrase. Builds chatvault, then init → export (the bundled sample export)
# → ls → restore → verify, in a fresh temporary store. Nothing else to install
# or start. Usage: ./scripts/demo.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."

work="${1:-$(mktemp -d -t chatvault-demo.XXXXXX)}"
mkdir -p "$work"
bin="$work/chatvault"
go build -o "$bin" ./cmd/chatvault

# A throwaway store and state directory, and a demo passphrase (for real use,
# leave CHATVAULT_PASSPHRASE unset and type it at the prompt instead).
export CHATVAULT_REPO="$work/store"
export XDG_STATE_HOME="$work/state"
export CHATVAULT_PASSPHRASE="${CHATVAULT_PASSPHRASE:-demo passphrase, do not reuse}"

run() { printf '\n$ chatvault %s\n' "$*"; "$bin" "$@"; }

run init "Demo chats"
run export "Demo chats" testdata/sample/chats.jsonl
run export "Demo chats" testdata/sample/chats.jsonl
run ls
run ls "Demo chats"
run restore "Demo chats" -o "$work/restored"
run restore "Demo chats" -o "$work/transcripts" --format text
run verify "Demo chats" --read-data
run verify "Demo chats" --keyless

printf '\nThe restored files are in %s and %s; the store is %s.\n' "$work/restored" "$work/transcripts" "$CHATVAULT_REPO"
if cat "$work"/restored/*.jsonl | sort | cmp -s - <(sort testdata/sample/chats.jsonl); then
  echo "Round trip: every restored line is byte-identical to the sample."
else
  echo "Round trip FAILED: restored lines differ from the sample." >&2
  exit 1
fi
