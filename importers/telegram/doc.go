// Package telegram imports Telegram Desktop's "Export chat history" /
// "Export Telegram data" in the "Machine-readable JSON" format
// (chat-formats.md §1): a result.json, or the export folder holding it
// with its media folders.
//
// # Shapes
//
// A single-chat export is one chat object at the root ({name, type, id,
// messages}); a full-account export holds chats in "chats".list and
// "left_chats".list (other sections — contacts, sessions, … — are skipped).
// A root with both is read as both. The parse streams: the scanner holds one
// message at a time, and sections it does not need are validated and dropped
// without being buffered. Telegram Desktop writes a chat's name, type and id
// before its messages; when a file has them after "messages" (a file
// re-sorted by a tool), the messages array is skipped, the chat's members
// are read, and the scanner seeks back to the array: still bounded memory,
// at the cost of reading that array twice.
//
// # Canonical fields
//
//   - conversation: "telegram:<id>" with the chat's bare id ("saved_messages"
//     chats have one too). A chat without "id" (hand-made files) is keyed
//     "telegram:name:<name>", or "telegram:unknown" without a name either,
//     with a warning.
//   - conversation_name: the chat's name; "Saved Messages" / "Replies" for
//     those chats, which Telegram exports without a name.
//   - id: the message id (tdesktop shifts a migrated group's ids by
//     −1,000,000,000, so they stay unique); messages without one get
//     "syn:" + SHA-256 over (conversation, date_unixtime or else date as
//     written, sender, text, duplicate index).
//   - time: from date_unixtime, written with the exporter's offset
//     (date − date_unixtime, when it is a whole quarter-hour within
//     ±14 h; else "Z", with a warning), time_basis "exact". Without
//     date_unixtime, "date" is exporter-local wall time read in Options.TZ
//     ("assumed_tz:<zone>") or, when TZ is nil, in the machine's zone
//     ("exporter_local"). edited_at likewise from edited_unixtime / edited.
//     An "edited" may have been set by the server when the first reaction
//     was added (tdesktop #30647): it is kept as written.
//   - kind/service: "service" messages carry their "action"; a custom
//     service message (only "information_text") gets "custom_action" and
//     that text; unknown actions and message types become
//     "unknown:<value>" with one warning per value. Messages of type
//     "unsupported" without a date (Telegram writes only id and type) are
//     left out, with a count in a warning.
//   - sender/sender_name: from_id/from ("user…", "channel…", "chat…"; a
//     deleted account has a null name), actor_id/actor for service
//     messages.
//   - text: "text" flattened (a string, or an array of strings and entity
//     objects whose "text" parts are concatenated); the entities stay in raw.
//     When Telegram writes "text" twice (gifts, web-app data), the non-empty
//     values are joined by newlines. Forwards are not marked in the text:
//     "forwarded_from" (and "saved_from", "via_bot", "author") stay in raw,
//     so the text stays verbatim.
//   - reply_to: reply_to_message_id, unless reply_to_peer_id says the reply
//     is to another chat (then only raw has it).
//   - reactions: emoji, or "custom_emoji:<document_id>", or the reaction
//     type ("paid"); by = the from_id (else name) of the "recent" reactors,
//     which Telegram lists only in part.
//   - attachments: photo, file, thumbnail and contact_vcard. A skip note
//     ("(File not included. …)", "(File exceeds maximum size. …)", "(File
//     unavailable, …)") gives missing "not_exported" / "too_large" /
//     "unavailable"; a path absent from the folder "not_found_in_input"; an
//     absolute path, a ".." or a symbolic link leading out of the folder
//     "outside_export" (never read, with a warning). Windows backslashes are
//     read as slashes. A present file is hashed while importing (size,
//     sha256, blob = the same hex) and offered through Blobs; its Open
//     reads the file again and fails with ErrChangedFile if the bytes differ.
//   - raw: the message object as read, repaired and compacted.
//
// # Credentials
//
// Telegram exports carry no access tokens in messages, so raw is stripped
// of nothing. (Bot buttons' callback data and personal data such as shared
// contacts' phone numbers are message content and are kept.)
//
// # Repairs
//
// Telegram Desktop has written invalid JSON (chat-formats.md §1.5). The
// scanner repairs, as the bytes stream past: "\xHH" escapes (rewritten as
// "\u00HH"); unquoted member values such as
// `"document_id": video_files/sticker (2).webm` (quoted up to the end of the
// line, a final comma being the separator); and raw control characters in
// strings (escaped). One warning through Options.Warn names the file, what
// was repaired, how often, and the first byte offset. Byte offsets in
// errors are offsets in the original file.
//
// # Errors
//
// A syntax error or a truncated file is a *SyntaxError (wrapping
// importers.ErrMalformed) with the file and byte offset, and ends the
// import. A message that parses as JSON but cannot be understood (no date,
// a text of the wrong type, …) is an error naming the file, the byte offset
// of the message, the chat and the message id; with Options.SkipInvalid it
// is reported through Options.Skipped and the import goes on.
package telegram
