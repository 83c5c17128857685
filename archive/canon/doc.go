// Package canon is the fast, strict reader of chatvault's canonical JSON
// Lines: one JSON object per line, one message per object.
//
// # Bytes are kept verbatim
//
// A line is archived as the exact bytes it arrived with, and restore hands
// those bytes back unchanged. This package therefore never re-encodes a line:
// it validates it, pulls out the few top-level keys the archive indexes on,
// and returns the original bytes in [Message.Line]. Anything else in the
// object (sender, text, attachments, raw source data, unknown keys, and the
// formatting of numbers, escapes and whitespace) is carried along untouched.
//
// # What is validated
//
// [ParseLine] runs a hand-written tokenizer over the whole line; it does not
// use encoding/json. A line is accepted exactly when all of these hold:
//
//   - The line is one JSON value under the same grammar that json.Valid
//     accepts (RFC 8259; surrounding JSON whitespace is allowed, nothing may
//     follow the value). Like json.Valid, the tokenizer does not reject
//     invalid UTF-8 inside strings: such bytes are kept verbatim in the line,
//     and in the extracted strings each invalid byte becomes U+FFFD, just as
//     encoding/json decodes it. This keeps the validity decision identical to
//     encoding/json's, which the differential fuzz test relies on.
//   - The value is an object nested at most [MaxDepth] arrays/objects deep
//     (the top-level object counts as depth 1). This is the one place where
//     the tokenizer is stricter than json.Valid, whose limit is 10000.
//   - The top-level keys "conversation", "id", "time" and "kind" are each
//     present exactly once and each has a string value. Keys are compared
//     after unescaping, so "\u0069d" is "id". A repeated required key is
//     malformed: which one would win is exactly the kind of ambiguity an
//     archive must not carry.
//   - "time" parses with time.Parse(time.RFC3339Nano, …), so it carries an
//     offset ("Z" or ±hh:mm) and may carry fractional seconds. Go's parser
//     is slightly more lenient than RFC 3339 (it takes a one-digit hour, a
//     ',' before the fraction, an offset hour of 24: go.dev/issue/54580);
//     those are accepted too, and Message.TimeText keeps the text as written.
//   - "kind" is "message" or "service".
//
// "conversation_name" is extracted when present and a string; it is optional,
// and if it is repeated the last one wins, as with encoding/json. All other
// keys, known or unknown, are allowed, may repeat, and are not interpreted.
//
// Extracted strings are unescaped exactly as encoding/json does it: \uXXXX
// escapes, UTF-16 surrogate pairs, and U+FFFD for lone or mismatched
// surrogates and for invalid UTF-8 bytes.
//
// # Errors
//
// Every rejection is a *[LineError] that says why and, where it makes sense,
// at which byte offset of the line; it wraps [ErrMalformed] (or
// [ErrLineTooLong] for a line over the [Reader]'s size bound), so
// errors.Is(err, ErrMalformed) works. A [Reader] also fills in the file name
// and line number, giving messages such as
//
//	export.jsonl:12: missing required key "time"
//
// # Reading files
//
// ParseLine itself takes one line with or without its terminator: "\n" and
// "\r" are JSON whitespace, and whatever whitespace surrounds the object is
// part of Message.Line.
//
// [Reader] splits its input at '\n', strips one trailing '\r' (so CRLF files
// import exactly like LF files: the line ending is not part of a line, and a
// restore writes "\n"), accepts a missing final newline, skips lines
// that are empty or only JSON whitespace, and bounds a line at
// [MaxLineSize] bytes: a longer line is reported as an error and skipped
// without buffering it, so memory stays bounded. Message.Line returned by a
// Reader points into the Reader's buffer and is only valid until the next
// call to Next.
package canon
