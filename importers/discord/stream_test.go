package discord

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
	"github.com/chatvault/chatvault/importers/importertest"
)

// genExport writes a DCE-style export (pretty-printed like JsonMessageWriter,
// about 1.3 KB per message) of at least size bytes and returns its path and
// size. Every 5000th message carries a reaction, a reply and a signed CDN
// attachment url; with huge set, one message holds 4 MiB of text.
func genExport(t testing.TB, dir string, size int64, huge bool) (string, int64) {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("Big Server - Text Channels - firehose [900000000000000000] %d.json", size))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, `{
  "guild": {
    "id": "800000000000000000",
    "name": "Big Server",
    "iconUrl": "https://cdn.discordapp.com/icons/800000000000000000/abc.png?size=512"
  },
  "channel": {
    "id": "900000000000000000",
    "type": "GuildTextChat",
    "categoryId": "700000000000000000",
    "category": "Text Channels",
    "name": "firehose",
    "topic": null
  },
  "dateRange": {
    "after": null,
    "before": null
  },
  "exportedAt": "2024-06-01T00:00:00+02:00",
  "messages": [`)
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.FixedZone("", 7200))
	for i := 0; ; i++ {
		if i > 0 {
			w.WriteString(",")
		}
		ts := base.Add(time.Duration(i) * time.Second)
		id := (uint64(ts.UnixMilli()-discordEpochMs) << 22) | uint64(i%4096)
		content := fmt.Sprintf("message number %d with some text to make it realistic: the quick brown fox jumps over the lazy dog \\u00e9 \\\"quoted\\\" 👍", i)
		if huge && i == 1000 {
			content = strings.Repeat("x", 4<<20)
		}
		extra := `"attachments": [],`
		reactions := `[]`
		if i%5000 == 4999 {
			extra = fmt.Sprintf(`"attachments": [
        {
          "id": "%d",
          "url": "https://cdn.discordapp.com/attachments/900000000000000000/%d/photo.jpg?ex=65f1&is=65e0&hm=deadbeef&",
          "fileName": "photo.jpg",
          "fileSizeBytes": 123456
        }
      ],
      "reference": {
        "type": "Default",
        "messageId": "%d",
        "channelId": "900000000000000000",
        "guildId": "800000000000000000"
      },`, id, id, id-1)
			reactions = `[
        {
          "emoji": {
            "id": "",
            "name": "👍",
            "code": "thumbsup",
            "isAnimated": false,
            "imageUrl": "https://cdn.jsdelivr.net/gh/twitter/twemoji@latest/assets/svg/1f44d.svg"
          },
          "count": 1,
          "users": [
            {
              "id": "600000000000000001",
              "name": "ann",
              "discriminator": "0000",
              "nickname": "Ann",
              "color": null,
              "isBot": false,
              "avatarUrl": "https://cdn.discordapp.com/avatars/600000000000000001/abc.png?size=512"
            }
          ]
        }
      ]`
		}
		fmt.Fprintf(w, `
    {
      "id": "%d",
      "type": "Default",
      "timestamp": "%s",
      "timestampEdited": null,
      "callEndedTimestamp": null,
      "isPinned": false,
      "content": "%s",
      "author": {
        "id": "60000000000000000%d",
        "name": "user%d",
        "discriminator": "0000",
        "nickname": "User %d",
        "color": "#1ABC9C",
        "isBot": false,
        "roles": [
          {
            "id": "500000000000000000",
            "name": "Members",
            "color": "#1ABC9C",
            "position": 1
          }
        ],
        "avatarUrl": "https://cdn.discordapp.com/avatars/60000000000000000%d/0123456789abcdef.png?size=512"
      },
      %s
      "embeds": [],
      "stickers": [],
      "reactions": %s,
      "mentions": [],
      "inlineEmojis": []
    }`, id, ts.Format("2006-01-02T15:04:05.000-07:00"), content, i%10, i%10, i%10, i%10, extra, reactions)
		if i%1000 == 999 {
			w.Flush()
			fi, _ := f.Stat()
			if fi.Size() >= size {
				break
			}
		}
	}
	fmt.Fprint(w, "\n  ],\n  \"messageCount\": 0\n}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Close()
	return p, fi.Size()
}

// peakHeap imports path and returns the peak HeapInuse and the message count.
func peakHeap(t testing.TB, path string) (uint64, int) {
	return importertest.PeakHeap(t, func() (importers.Source, error) {
		return Open(context.Background(), path, importers.Options{Warn: func(string) {}})
	})
}

// TestChecklist2_HugeFileBoundedMemory (§10.2, §4.4.4): peak heap while
// importing a 96 MB export is about that of a 12 MB one, and small in
// absolute terms, even with a 4 MiB message inside.
func TestChecklist2_HugeFileBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates ~110 MB of input")
	}
	dir := t.TempDir()
	small, smallSize := genExport(t, dir, 12<<20, true)
	large, largeSize := genExport(t, dir, 96<<20, true)
	ps, ns := peakHeap(t, small)
	pl, nl := peakHeap(t, large)
	t.Logf("small: %d MB, %d messages, peak HeapInuse %.1f MiB", smallSize>>20, ns, float64(ps)/(1<<20))
	t.Logf("large: %d MB, %d messages, peak HeapInuse %.1f MiB", largeSize>>20, nl, float64(pl)/(1<<20))
	if nl < 7*ns {
		t.Fatalf("large input too small: %d vs %d messages", nl, ns)
	}
	limit := int64(64 << 20)
	if raceEnabled {
		limit = 128 << 20
	}
	if pl > ps+16<<20 || int64(pl) > limit {
		t.Fatalf("peak heap grows with the input: %.1f MiB for %d MB vs %.1f MiB for %d MB",
			float64(pl)/(1<<20), largeSize>>20, float64(ps)/(1<<20), smallSize>>20)
	}
}

var benchFile struct {
	once sync.Once
	dir  string
	path string
	size int64
}

// BenchmarkImport measures import throughput in MB/s of DCE JSON input.
func BenchmarkImport(b *testing.B) {
	benchFile.once.Do(func() {
		dir, err := os.MkdirTemp("", "discord-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchFile.dir = dir
		benchFile.path, benchFile.size = genExport(b, dir, 32<<20, false)
	})
	b.SetBytes(benchFile.size)
	b.ReportAllocs()
	for b.Loop() {
		src, err := Open(context.Background(), benchFile.path, importers.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		src.Close()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchFile.dir != "" {
		os.RemoveAll(benchFile.dir)
	}
	os.Exit(code)
}
