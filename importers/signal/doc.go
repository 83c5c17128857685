// Package signal imports the Markdown transcripts of signal-export
// (carderne/signal-export, chat-formats.md §5): an export folder holding one
// folder per chat (chat.md, index.md in early versions, media/, data.json,
// index.html) and exported_stickers/, a single chat folder, or a transcript
// file (.md, or .txt as the v1 samples are).
//
// # Credentials stripped from raw
//
// None: a transcript holds no tokens or signed URLs. raw is the message's
// original lines as a JSON string (line terminators inside kept as written,
// the final one, the blank separator lines and a leading byte order mark
// dropped).
//
// # Reading
//
// A message starts with a header line `[2022-01-01 10:00:00] Name: body`
// (v1: `[2019-12-24, 12:23] Name: body`; the other two combinations
// signal-export's merge.py reads are accepted as well), and every following
// line that is not a header belongs to it. Only headers with the timestamp
// style of the file's first header count. signal-export writes a blank line
// after every message: when the second header of a file follows a blank line,
// a header-like line that does not is message text (a quoted transcript
// inside a message); v1 files, which have no blank lines, take every header.
// Such lines are reported in one warning per file. Trailing blank lines of a
// message are not part of it. Memory is bounded by the largest message
// (16 MiB, 4 MiB per line).
//
// The body is taken apart as signal-export writes it (models.Message.to_md):
//
//   - the two spaces it pads every body with (Markdown line breaks) are
//     dropped from the text;
//   - a quote "\n\n> quoted\n> lines\n\n" before the body is left out of the
//     text; reply_to is the id of the latest of the last 4096 distinct
//     messages of the chat whose text is exactly the quoted text (none if
//     there is no such message: Signal quotes carry no id);
//   - a last line "(- Name: 👍, Name2: ❤️ -)" gives reactions (grouped by
//     emoji, by = the names);
//   - a last line "(( 😀 ))" is a sticker without a file: an attachment named
//     after the label with missing "not exported";
//   - Markdown links at the end whose target is relative ("./media/…",
//     "../exported_stickers/…") are attachments (name = the link text, or the
//     sticker's file name). Their files are looked up relative to the
//     transcript's folder through an os.Root on the folder given to Open
//     (the transcript's folder when a file is given), so nothing outside it
//     is read: a sticker under ../exported_stickers is found when the whole
//     export folder is imported and is missing "outside the export"
//     otherwise. "\" separators (Windows) are read as "/", and %20 and other
//     escapes are undone when the name as written does not exist. A file
//     present is hashed (size, sha256, blob) and returned by Blobs; else
//     missing says why: "not found in export", "outside the export",
//     "symlink refused", "not a regular file", "unreadable".
//   - "(This message was deleted)" stays the text of an ordinary message.
//   - A body that is exactly a call record as signal-export words it
//     ("Incoming voice call (accepted, 1m 2s)", "Missed video call",
//     "Outgoing call", …) is kind service, service "phone_call".
//
// Whatever does not have these exact shapes stays text.
//
// # Identity and time
//
// conversation is "signal:" + the chat folder's name (signal-export makes
// those unique and stable: alphanumeric, "Alice2" for a second Alice), or,
// for a transcript not named chat.md/index.md, its file name without the
// extension; conversation_name is the same name. sender and sender_name are
// the name as written ("Me" for the exporter's own messages); for
// signal-export's "No-Sender" only sender_name is set.
//
// signal-export writes the exporting machine's local time without an offset:
// times are read in Options.TZ (nil: the machine's zone) and time_basis is
// "assumed_tz:<zone>". A time in a DST gap moves forward as time.Date does;
// an ambiguous one (the repeated autumn hour) takes the offset time.Date
// picks, the standard-time one with today's Go. Signal has no message
// ids in the transcript: id is "syn:" + hex SHA-256 over (the conversation
// key, the timestamp as written between the brackets, the sender as written,
// the text, the duplicate index), each length-prefixed; the index counts
// identical (timestamp, sender, text) messages before it within the last
// 4096 distinct ones. Ids thus do not depend on --tz, on reactions added
// later, or on CRLF versus LF.
//
// # Bad input
//
// A transcript whose first non-blank line is not a header is not one: an
// error wrapping importers.ErrMalformed names the file and line (with
// Options.SkipInvalid the chat is reported and skipped). A header with a
// date that does not exist, or a message over the size limits, is an error
// naming the file and line; with SkipInvalid that message is reported and
// skipped. Invalid UTF-8 is replaced by U+FFFD with a warning.
//
// data.json (JSON Lines) and index.html are not read: chat.md holds the same
// messages.
package signal
