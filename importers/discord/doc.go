// Package discord imports DiscordChatExporter (DCE) JSON exports
// (JsonMessageWriter, chat-formats.md §4): one JSON file per channel, thread
// or partition, or a directory of them.
//
// # Credentials stripped from raw
//
//   - The signature query parameters "ex", "is" and "hm" of Discord CDN urls
//     (cdn.discordapp.com, media.discordapp.net and other *.discordapp.com,
//     *.discordapp.net, *.discord.com hosts): together they are a token that
//     lets anyone fetch the attachment until it expires. The rest of the url
//     is kept, so the file can still be identified. DCE exports hold no other
//     secret (the user's token is never written).
//
// # Mapping
//
//   - conversation "discord:<channel.id>"; conversation_name
//     "<guild.name> / #<channel.name>", "<guild> / #<parent> / <thread>" for a
//     thread (channel.category is the parent channel), or the channel's own
//     name for direct messages (guild id "0", DirectTextChat,
//     DirectGroupTextChat).
//   - id: the message snowflake. time: "timestamp" with the exporter's offset
//     as written ("Z" for +00:00, trailing zero fraction digits dropped),
//     time_basis "exact". A time without an offset (never written by DCE) is
//     read in Options.TZ ("assumed_tz:<zone>"); an unreadable time falls back
//     to the instant the snowflake encodes, with a warning.
//   - type Default and Reply (or none) → kind message; RecipientAdd,
//     RecipientRemove, Call, ChannelNameChange, ChannelIconChange,
//     ChannelPinnedMessage, GuildMemberJoin, ThreadCreated → kind service with
//     service = the type; any other type (DCE writes kinds missing from its
//     enum as numbers, "20") → service "unknown:<type>", warned once per type.
//     The content DCE writes for system messages ("Pinned a message.") is the
//     text.
//   - timestampEdited → edited_at; reference.messageId → reply_to when the
//     reference is not a forward and points into the same channel (pins
//     reference the pinned message, so they get it too); author.id → sender,
//     author.nickname (else author.name) → sender_name; content → text, or
//     the forwarded message's content when the message itself has none.
//   - attachments (and those of a forwarded message): name fileName, size
//     fileSizeBytes, mime from the extension (a fixed table). A url that is a
//     relative path (--media; "\" separators from Windows are converted) is
//     looked up under the directory holding the JSON file, through an os.Root
//     so that nothing outside it is read; the file is hashed and returned by
//     Blobs. Otherwise "missing" says why: "not downloaded" (a web url),
//     "not found in export", "outside the export" (absolute, drive letter,
//     file: url or ".."), "symlink refused", "not a regular file",
//     "unreadable" (with a warning), "no url in export".
//   - reactions: emoji.name (a Unicode emoji, or a custom emoji's name), else
//     emoji.id; count; by = the ids of reaction.users when DCE listed them.
//   - embeds, stickers, mentions, components, interaction, roles, colours and
//     the rest stay in raw only: raw is the message object as read,
//     compacted, minus the credentials above.
//
// # Streaming and bad input
//
// The file is never decoded as a whole: a small lexer finds each message
// object by bracket depth, and only that object is decoded. Memory is bounded
// by the largest message (at most 32 MiB). Duplicate message ids (partitions,
// overlapping exports) are passed through: identical records give identical
// lines, and the archive keeps the last occurrence. A malformed message or a
// truncated file is an error wrapping importers.ErrMalformed that names the
// file and the byte offset; with Options.SkipInvalid the bad message is
// reported and the import goes on (a truncated file ends after its last
// complete message). A messageCount that disagrees with the messages read is
// a warning.
package discord
