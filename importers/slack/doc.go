// Package slack imports a Slack workspace export (chat-formats.md §3): the
// .zip Slack hands out, or the folder it unpacks to.
//
// # Layout read
//
// The optional metadata files channels.json (public channels), groups.json
// (private channels), mpims.json (group DMs), dms.json (DMs), users.json and
// org_users.json (Enterprise Grid) are streamed once at Open; any of them may
// be missing. Every other top-level folder whose name does not start with "."
// or "__" is a conversation; its YYYY-MM-DD.json day files, each a JSON array
// of message objects, are read in byte order of folder name, then of file
// name, one message at a time with encoding/json's token streaming, so memory
// does not grow with the export (one message is bounded by [MaxRecordSize]).
// A zip whose entries all sit under one top-level folder is read from inside
// that folder.
//
// # Canonical mapping
//
//   - conversation "slack:<channel id>", the id found through the metadata
//     file naming the folder (channels, groups and mpims by name, dms by id;
//     a folder named like an id, e.g. "D0123ABCD", is that id). A folder no
//     metadata names gets "slack:name:<folder>" and a warning: that key will
//     differ from the one a complete export gives.
//   - conversation_name "#<name>" for public and private channels; for DMs and
//     group DMs the members' names (users.json, else the user id) joined by
//     ", ", falling back to the mpim name; none for a DM without members.
//   - id: "ts" as written (a JSON number is taken by its literal text), the
//     message id within the channel. A message without a usable ts is
//     malformed.
//   - time: from ts, exact UTC: "2016-01-15T05:55:52.000006Z", the fraction
//     digits exactly as in ts; time_basis "exact". Day file names are never
//     used for time.
//   - sender: "user", else "bot_id". sender_name: the user's name from
//     users.json (profile.real_name, real_name, profile.display_name, name, the
//     first non-empty), else the message's user_profile (real_name,
//     display_name, name), else bot_profile.name, else "username". A user
//     missing from users.json is kept with sender = the id.
//   - text: the "text" field verbatim, Slack mrkdwn included (<@U…>, <url|label>
//     and Slack's &amp; &lt; &gt; escapes are not rewritten: the rewriting would
//     depend on users.json and would be ambiguous; raw keeps everything),
//     except that credential query parameters are removed from URLs as in raw.
//     Text held only in blocks or legacy attachments is left in raw.
//   - reply_to: thread_ts when it differs from ts (thread replies and
//     thread_broadcast). Replies may come before their parent or in another
//     day file: nothing is resolved, the parent's ts is the reference.
//   - edited_at: from edited.ts (Slack keeps only the last edit). An
//     unparsable edited.ts is warned about and left out.
//   - reactions: emoji ":<name>:" (skin tones stay in the name, e.g.
//     ":+1::skin-tone-2:"), count as given (it may exceed the users listed;
//     len(users) when absent), by = the user ids.
//   - attachments: one per entry of "files" and of the legacy singular "file":
//     name (name, title or id), mime (mimetype), size. Slack's own exports
//     carry no file bytes: missing "not in export" ("deleted" for mode
//     tombstone, "hidden by the workspace plan's limit" for hidden_by_limit,
//     "external file" for is_external). Exports augmented by slackdump or
//     slack-advanced-exporter carry them as __uploads/<file id>/<name> or
//     <folder>/attachments/<file id>-<name>; those are hashed while importing
//     and handed out through Blobs.
//   - kind/service: no subtype, and the content subtypes (bot_message,
//     me_message, file_share, file_comment, file_mention, thread_broadcast,
//     reply_broadcast, slackbot_response) are kind "message". The known
//     channel events (channel_join, channel_topic, pinned_item, bot_add,
//     tombstone, huddle_thread, …; see serviceSubtypes) are kind "service" with
//     service = the subtype. An unknown subtype on a message that has text or
//     files stays a kind "message" (Slack adds subtypes to ordinary content
//     over time, and a message must not vanish from the readable history);
//     without text or files it becomes service "unknown:<subtype>". Both warn
//     once per subtype. A "type" other than "message" is service
//     "unknown:<type>".
//   - raw: the message object's own bytes (compacted by the encoder), with
//     credentials stripped.
//
// # Credentials stripped
//
// From every string in raw (keys included), and from text, these query
// parameters are removed wherever they appear as "?name=value" or
// "&name=value" (also after Slack's escaped "&amp;"), the value running to
// the next '&' or '#', whitespace, or a character that ends a URL in mrkdwn
// or prose (< > | quotes); the '?' goes too when nothing follows it:
//
//   - "t": the export token of url_private, url_private_download, thumb_*,
//     …, e.g. ?t=xoxe-…; except a value that is plainly a media time offset
//     (t=42, t=1m30s, as in YouTube links), which is kept;
//   - "token";
//   - "pub_secret": the secret of public file links.
//
// Finding parameters rather than whole URLs means a URL with a stray space
// or an escaped '=' (\u003d) loses its token too. Strings without such a
// parameter keep their exact bytes (escapes like "\/" included). users.json
// is read for names only and never copied into a record.
//
// # Safety
//
// A zip is refused, with an error wrapping importers.ErrMalformed, if an
// entry name is absolute, holds a ".." component or a NUL, is a symlink or
// is duplicated, or if an entry declares more than [MaxEntrySize] bytes or
// more than 100 times its compressed size (above 1 MiB), or the entries
// together more than 100 times the zip's size. Reads are held to the declared
// sizes. A folder export is read through os.Root, and symlinks inside it are
// refused.
//
// # Bad input
//
// A malformed file (bad JSON, truncation, a day file that is not an array) is
// an error naming the file, the line and byte offset and the cause, wrapping
// importers.ErrMalformed. With Options.SkipInvalid a bad message is reported
// through Options.Skipped and skipped; a file that stops parsing is reported
// and the rest of that file skipped. A leading UTF-8 BOM is ignored; a day
// file holding a single object instead of an array is read as one message,
// with a warning.
package slack
