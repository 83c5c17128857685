// Package whatsapp imports WhatsApp "Export chat" files: the chat text alone
// (.txt) or the zip WhatsApp makes with media ("WhatsApp Chat with NAME.txt"
// on Android, "_chat.txt" on iOS, plus the photos, videos, voice notes and
// documents). See chat-formats.md §2.
//
// # Credentials stripped from raw
//
// None: a WhatsApp export holds no tokens or signed URLs. raw is the
// message's original line(s) as a JSON string (line terminators inside kept
// as written, the final one and a leading byte order mark dropped).
//
// # Reading
//
// Open reads the chat text twice, streaming both times: the first pass learns
// the header style from the first header and the date order from the first
// date whose day is above 12 (stopping there); the second pass produces the
// messages. Memory is bounded by the longest message (16 MiB at most, 4 MiB
// per line) whatever the size of the export.
//
// A message starts with a header — "12/31/21, 11:59 PM - ", "[31.12.21,
// 23:59:59] ", "13.6.2018 klo 21.25.15 - ", with brackets or not, 12- or
// 24-hour clocks, AM/PM written "PM", "p.m." or "p. m." after an ASCII space,
// U+00A0 or U+202F, invisible bidi marks anywhere in the header, ASCII or
// Arabic-Indic digits. Every following line that does not start with a
// header of the same style (the shape of the file's first header: brackets,
// separators, year position, seconds, AM/PM) belongs to the message, so a
// quoted "2016-04-29 10:30:00 - x" inside an Android message stays text.
// Trailing empty lines of a message are not part of its text.
//
// # Dates and times
//
// A 4-digit first group means y/m/d. Otherwise the first header whose day
// cannot be a month (> 12) decides day-first or month-first; if no date
// decides and some date reads differently both ways, Open fails with an
// error wrapping importers.ErrAmbiguousDates that names the file, unless
// Options.DayFirst or Options.MonthFirst forces the order (dates that then do
// not exist are malformed). Two-digit years are 20yy. "12:xx AM" is 00:xx;
// "13:37 PM", seen in the wild, is 13:37; "13:00 AM" is malformed.
//
// Times are the exporting phone's wall clock with no zone: they are read in
// Options.TZ (nil: the machine's zone) and time_basis is
// "assumed_tz:<zone name>" (the IANA name of the machine's zone when TZ or
// /etc/localtime tells it, else "Local"). A time in a DST gap moves forward
// as time.Date does; file order is kept, never re-sorted.
//
// # Identity
//
// conversation is "whatsapp:" + the chat name taken from the file name
// ("WhatsApp Chat with NAME.txt" and a few translations; the zip's inner
// text; "WhatsApp Chat - NAME.zip"; the folder of an unzipped "_chat.txt"),
// else the base name without extension; conversation_name is that name. A
// browser's " (1)" suffix is not removed (it could be part of a name).
//
// WhatsApp has no message ids. id is "syn:" + hex(SHA-256(uvarint-length-
// prefixed conversation key, timestamp text, sender, text, duplicate index
// in decimal)). The timestamp text is the header's date and time as written,
// without invisible marks and with U+00A0/U+202F/U+2009 as ASCII spaces; the
// sender is the sender key below; the text the message's text; the duplicate
// index counts identical (timestamp text, sender, text) messages before it
// within the last 4096 distinct messages. Ids thus do not depend on --tz or
// on CRLF versus LF, and the same message in a later export of the chat gets
// the same id.
//
// sender_name is the author as written without invisible marks; sender is
// the same without the "~ " WhatsApp puts before group members who are not
// in the exporter's contacts. A line with no "Name: " is a system line
// (kind service, no sender); WhatsApp always writes ": " after the name, so
// "Name:." is a system line too.
//
// # Kinds and markers
//
//   - Android system lines (no author), and iOS lines whose text starts with
//     U+200E (attributed to the chat or a member) are kind service. service
//     is a verb for the English lines recognized (create_group,
//     invite_members, remove_members, leave_group, join_group_by_link,
//     edit_group_title, edit_group_photo, delete_group_photo,
//     edit_group_description, edit_group_settings, edit_admins,
//     encryption_notice, phone_call, security_code_changed, change_number,
//     set_messages_ttl, pin_message) and "system" for any other line: these
//     are free text, not an enumeration, so nothing is warned.
//   - Media: "<attached: NAME>" (iOS), "NAME (file attached)" (Android, and
//     translations), "NAME <attached>" (old iOS) give an attachment with the
//     file's size, SHA-256 and blob when the export holds it (the zip's
//     entry, or for a .txt a regular file of that name beside it), else
//     missing "not found in export". "<Media omitted>" and the iOS "image
//     omitted" family give an attachment with missing "not exported". The
//     marker line stays in the text.
//   - "This message was deleted" and the like are ordinary messages.
//   - The edited marker "<This message was edited>" (and translations) stays
//     in the text and edited_at is left out: WhatsApp does not say when.
//
// # Zips
//
// Entries whose name holds "..", is absolute, holds NUL, or is a symbolic
// link refuse the whole zip, as do entries declaring more than 16 GiB or
// over 100 times their compressed size (above 1 MiB), or all entries
// together over 100 times the zip's size plus 16 MiB. Reading an entry stops
// at its declared size. __MACOSX/ and "._" entries are ignored; a name twice
// is warned about and its first entry used; files no message names are
// listed in one warning at the end. Nested zips are attachments like any
// other file.
package whatsapp
