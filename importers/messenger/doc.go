// Package messenger imports Facebook Messenger and Instagram "Download your
// information" JSON exports (chat-formats.md §7): a thread's message_1.json,
// message_2.json, … (message_1 the newest part; message.json in early
// exports), a thread folder, or any folder above thread folders (inbox,
// archived_threads, messages, the unzipped export: every thread found within
// six levels, media folders not walked). A thread file not named
// message_N.json is a thread of its own; the same reader takes the
// end-to-end encrypted "secure storage" download (one <name>.json per
// thread, participants as strings, senderName, text, timestamp in ms, media
// [{uri}] relative to the file), whose schema is second-hand.
//
// # Credentials stripped from raw
//
//   - The query string of urls on Meta's CDNs (*.fbcdn.net,
//     *.cdninstagram.com, *.fbsbx.com): oh/oe signatures, _nc_ohc, _nc_sid
//     and other cache keys that let anyone fetch the file. The rest of the
//     url is kept.
//   - access_token parameters of any other url.
//
// Only strings that are urls are rewritten; the rest of raw is the message
// object as read (mojibake and \u escapes included), compacted.
//
// # Mapping
//
//   - conversation "messenger:<thread folder>" or "instagram:<thread
//     folder>" (the folder name Meta gives a thread, "<title>_<id>", stable
//     across exports; for a file not named message_N.json the last element
//     of its thread_path, else its name without .json). Instagram is told
//     from Messenger by the folders the thread sits in, innermost first and
//     the thread folder itself left out: a name containing "instagram"
//     (your_instagram_activity, instagram-<user>-<date>) or "facebook" /
//     "messenger" (your_facebook_activity, facebook-<user>-<date>); a name
//     with both or neither decides nothing; nothing decided is Messenger.
//     conversation_name is the thread's title (the first part that has one;
//     Meta writes it after the messages, so each thread's file is first read
//     quickly without decoding, by bracket depth), repaired.
//   - Mojibake: Meta writes each string's UTF-8 bytes as U+0000–U+00FF code
//     points ("\u00c3\u00a9" for "é"). Names, content, titles, reactions and
//     file names are repaired only when every rune is ≤ U+00FF and the bytes
//     are valid UTF-8; any other string ("café" written properly, "€") is
//     kept as it is.
//   - id: Meta has no message ids. "syn:" + hex SHA-256 over (the
//     conversation key, timestamp_ms as written — a string's content when
//     written as a string —, sender_name and content as repaired, the
//     duplicate index), each length-prefixed; the index counts identical
//     (timestamp, sender, content) messages before it, in file order across
//     the parts of the thread, within the last 4096 distinct ones. Ids
//     thus do not depend on how the thread is split into parts.
//   - time: timestamp_ms in UTC with milliseconds
//     ("2022-11-16T19:50:03.612Z"), time_basis "exact". A number or a string
//     holding one; below 10^11 it is read as seconds (old exports'
//     "timestamp", written without a fraction). The encrypted download's
//     "timestamp" is milliseconds.
//   - sender and sender_name: sender_name repaired (names are the only
//     identity; "Facebook user" for deleted accounts is kept as is; none
//     when absent). text: content repaired (the share's link and text, the
//     "users" of group events and every other key stay in raw).
//   - kind: Facebook's "type" Generic and Share (and none: Instagram) are
//     messages; Call → service "phone_call", Subscribe → "invite_members",
//     Unsubscribe → "remove_members"; any other type → "unknown:<type>",
//     warned once per type. A message with call_duration is a phone_call.
//     is_unsent messages stay messages (without text).
//   - attachments: photos, videos, audio_files, gifs, files, sticker and the
//     encrypted download's media, in that order; name = the uri's last
//     element (repaired), mime from the extension (a fixed table). A uri is
//     looked up inside the folder given to Open (the file's folder for a
//     file) through an os.Root: the part after the thread folder's name
//     relative to the thread folder, the uri relative to the root, the uri
//     without the leading elements that are the root's own last elements
//     (Open given an inbox or messages folder), the uri relative to the
//     thread file's folder; the repaired spelling first. "\" separators are
//     read as "/". A file found is hashed and returned by Blobs; otherwise
//     missing says why: "not downloaded" (a web url), "not found in export"
//     (also: a part of a multi-part export not unpacked here), "outside the
//     export" (absolute, "..", file:), "symlink refused", "not a regular
//     file", "unreadable", "no uri in export".
//   - reactions: grouped by emoji (repaired) in order of first appearance,
//     by = the actors (repaired).
//
// # Streaming and bad input
//
// Each file is read with a json.Decoder: the top-level object token by
// token, each message decoded alone, so memory is bounded by the largest
// message (32 MiB; a larger value is an error) whatever the size of the
// export. Messages come out in file order (newest first: the archive sorts
// by time). A file that is not a JSON object, invalid JSON (the byte offset
// of the error), a truncated file, a "messages" that is not an array or data
// after the top-level object are errors wrapping importers.ErrMalformed that
// name the file; the rest of such a file cannot be read. A message that is
// not an object or has no usable timestamp is an error naming the file and
// the byte offset where the message starts (after the previous value). With
// Options.SkipInvalid each is reported and the import goes on (with the next
// message, or the next file). Optional keys of an unexpected shape are
// ignored with one warning per file and key. Zipped exports are not read:
// unzip (all parts into one folder) first.
package messenger
