// Package all knows every importer: it detects the format of an export and
// opens it. A plain switch, no registry.
package all

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/chatvault/chatvault/importers"
	"github.com/chatvault/chatvault/importers/discord"
	"github.com/chatvault/chatvault/importers/jsonl"
	"github.com/chatvault/chatvault/importers/messenger"
	"github.com/chatvault/chatvault/importers/signal"
	"github.com/chatvault/chatvault/importers/slack"
	"github.com/chatvault/chatvault/importers/telegram"
	"github.com/chatvault/chatvault/importers/whatsapp"
)

// Formats lists the formats --format accepts besides "auto".
var Formats = []string{"jsonl", "telegram", "whatsapp", "slack", "discord", "signal", "messenger"}

type format struct {
	name   string
	detect func(path string) bool
	open   func(ctx context.Context, path string, o importers.Options) (importers.Source, error)
}

// formats, in the order Detect tries them. Canonical JSON Lines come first:
// their lines carry other formats' records in "raw", which those formats'
// sniffers would recognize (a Telegram message's keys, say), while the jsonl
// sniff is strict: a .jsonl name, or a first line that is a valid canonical
// message, which no other export's first line is (none has "conversation",
// "id", "time" and "kind" at its top level).
var formats = []format{
	{"jsonl", jsonl.Detect, jsonl.Open},
	{"telegram", telegram.Detect, telegram.Open},
	{"whatsapp", whatsapp.Detect, whatsapp.Open},
	{"slack", slack.Detect, slack.Open},
	{"discord", discord.Detect, discord.Open},
	{"signal", signal.Detect, signal.Open},
	{"messenger", messenger.Detect, messenger.Open},
}

// Detect names the format of the export at path, or returns an error saying
// that none matched.
func Detect(path string) (string, error) {
	if path == "-" {
		return "jsonl", nil
	}
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	for _, f := range formats {
		if f.detect(path) {
			return f.name, nil
		}
	}
	return "", fmt.Errorf("%w: %s: not an export chatvault recognizes (use --format to name one of: %s)", importers.ErrMalformed, path, strings.Join(Formats, ", "))
}

// Open opens the export at path in the named format ("auto" detects it) and
// returns the source and the format used.
func Open(ctx context.Context, name, path string, o importers.Options) (importers.Source, string, error) {
	if name == "" || name == "auto" {
		var err error
		if name, err = Detect(path); err != nil {
			return nil, "", err
		}
	}
	if path == "-" && name != "jsonl" {
		return nil, "", fmt.Errorf("standard input can only hold jsonl, not %s", name)
	}
	for _, f := range formats {
		if f.name == name {
			s, err := f.open(ctx, path, o)
			return s, name, err
		}
	}
	return nil, "", fmt.Errorf("unknown format %q (want auto or one of: %s)", name, strings.Join(Formats, ", "))
}
