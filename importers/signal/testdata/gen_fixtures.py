#!/usr/bin/env python3
"""Writes the synthetic signal-export fixtures under testdata/ (run from the
package folder: python3 testdata/gen_fixtures.py). The transcripts follow
signal-export's models.Message.to_md: "[date] Sender: <quote><body>  ", then
"\n(- reactions -)", "\n(( sticker ))" or a sticker link, then the attachment
links, each message followed by a blank line."""
import os

here = os.path.dirname(os.path.abspath(__file__))


def write(rel, data):
    p = os.path.join(here, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(p, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)


def md(date, sender, body="", quote=None, reactions=(), sticker=None, sticker_path=None, atts=()):
    """Mirror of signal-export's Message.to_md, plus print()'s newline."""
    body = body.replace("`", "") + "  "
    if reactions:
        body += "\n(- " + ", ".join(f"{n}: {e}" for n, e in reactions) + " -)"
    if sticker is not None:
        if sticker_path:
            body += f"[{sticker}](../{sticker_path})  "
        else:
            body += "\n(( " + sticker + " ))"
    for name, path in atts:
        if path.split(".")[-1] in ("png", "jpg", "jpeg", "gif", "webp"):
            body += "!"
        body += f"[{name}](./{path})  "
    q = ""
    if quote is not None:
        q = "\n\n> " + quote.rstrip("\n").replace("\n", "\n> ") + "\n\n"
    return f"[{date}] {sender}: {q}{body}\n\n"


def deleted(date, sender):
    return f"[{date}] {sender}: (This message was deleted)\n\n"


alice = "".join([
    md("2022-01-01 10:00:00", "Me", "Hello Alice!"),
    md("2022-01-01 10:01:05", "AliceSmith", "Hi!\nSecond line\n\nAfter a blank line"),
    md("2022-01-01 10:02:00", "Me", "Glad you wrote", quote="Hi!\nSecond line\n\nAfter a blank line"),
    md("2022-01-01 10:03:00", "AliceSmith", "Look at this", reactions=[("Me", "👍"), ("BobJones", "❤️")],
       atts=[("2022-01-01T10-03-00.000_00_photo.jpg", "media/2022-01-01T10-03-00.000_00_photo.jpg")]),
    md("2022-01-01 10:04:00", "Me", "", atts=[
        ("2022-01-01T10-04-00.000_00_notes.pdf", "media/2022-01-01T10-04-00.000_00_notes.pdf"),
        ("2022-01-01T10-04-00.000_01_missing.zip", "media/2022-01-01T10-04-00.000_01_missing.zip")]),
    md("2022-01-01 10:05:00", "AliceSmith", "", sticker="😀"),
    md("2022-01-01 10:05:30", "AliceSmith", "", sticker="🐱", sticker_path="exported_stickers/pack1/1.webp"),
    deleted("2022-01-01 10:06:00", "AliceSmith"),
    md("2022-01-01 10:07:00", "Me", "Outgoing voice call (accepted, 1m 5s)"),
    md("2022-01-01 10:08:00", "Me", "Forwarding the old log:\n[2021-12-31 23:59:59] Someone: happy new year\nend of log"),
    md("2022-01-01 10:09:00", "AliceSmith", "ok"),
    md("2022-01-01 10:09:00", "AliceSmith", "ok"),
    md("2022-01-01 10:10:00", "Me", "", atts=[("2022-01-01T10-10-00.000_00_win.png", "media\\2022-01-01T10-10-00.000_00_win.png")]),
    md("2022-01-01 10:11:00", "Me", "", atts=[("my file.txt", "media/my%20file.txt")]),
    md("2022-01-01 10:12:00", "Me", "", atts=[("passwd", "../../../etc/passwd")]),
    md("2022-01-01 10:13:00", "No-Sender", "who am I"),
    md("2022-01-01 10:14:00", "AliceSmith", "see [docs](https://example.com/a_(b)) please"),
    md("2022-01-01 10:15:00", "Me", "my list:\n(- a: b -)\n(( not a sticker ))"),
    md("2022-01-01 10:16:00", "AliceSmith", "Invisible:\u200e left\u200f right\u00a0nbsp\u202fnnbsp \u2066iso\u2069 👩‍👩‍👧 👍🏽 e\u0301 \ufeffbom"),
    md("2022-01-01 10:17:00", "Me", "code `x` gone and <b>html</b> & \"quotes\""),
    md("2022-01-01 10:18:00", "Me", "nothing quoted matches", quote="a message that is not in this chat"),
    md("2022-01-01 10:19:00", "AliceSmith", "Missed video call"),
])
write("export/AliceSmith/chat.md", alice)
write("export/AliceSmith/media/2022-01-01T10-03-00.000_00_photo.jpg", b"\xff\xd8\xff\xe0 fake jpeg bytes\xff\xd9")
write("export/AliceSmith/media/2022-01-01T10-04-00.000_00_notes.pdf", b"%PDF-1.4 fake\n%%EOF\n")
write("export/AliceSmith/media/2022-01-01T10-10-00.000_00_win.png", b"\x89PNG\r\n\x1a\n fake png")
write("export/AliceSmith/media/my file.txt", "a file with a space in its name\n")
write("export/exported_stickers/pack1/1.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 fake")

family = "".join([
    md("2023-06-10 18:00:00", "Me", "Dinner at 7?"),
    md("2023-06-10 18:00:42", "BobJones", "Yes!", reactions=[("AliceSmith", "👍"), ("Me", "👍"), ("CarolDeLaCruz", "😂")]),
    md("2023-06-10 18:01:00", "CarolDeLaCruz", "Bringing dessert", quote="Dinner at 7?",
       atts=[("2023-06-10T18-01-00.000_00_cake.jpg", "media/2023-06-10T18-01-00.000_00_cake.jpg"),
             ("2023-06-10T18-01-00.000_01_cake.jpg", "media/2023-06-10T18-01-00.000_01_cake.jpg")]),
    md("2023-06-10 18:02:00", "BobJones", "Incoming call"),
])
write("export/Family/chat.md", family)
# The same bytes twice: one blob.
write("export/Family/media/2023-06-10T18-01-00.000_00_cake.jpg", b"\xff\xd8 cake \xff\xd9")
write("export/Family/media/2023-06-10T18-01-00.000_01_cake.jpg", b"\xff\xd8 cake \xff\xd9")
# Files signal-export writes beside chat.md that are not read.
write("export/Family/data.json", '{"date": "2023-06-10T18:00:00", "sender": "Me", "body": "Dinner at 7?  "}\n')
write("export/style.css", "body {}\n")

# v1 (2019-2021): "[YYYY-MM-DD, HH:MM] Name: text", no blank lines, no padding.
write("v1/Bob Jones.txt", "".join([
    "[2020-03-01, 09:00] Bob Jones: Morning\n",
    "[2020-03-01, 09:01] Me: Hi Bob\n",
    "this is line two\n",
    "[2020-03-01 09:02:00] Bob Jones: a header of another style stays text\n",
    "[2020-03-01, 09:03] Bob Jones: time: 09:03, mood: good\n",
    "[2020-03-01, 09:04] Bob Jones:\n",
    "[2020-03-01, 09:05] Dr. Who: Time: ok\n",
    "\n",
    "\n",
    "[2020-03-01, 09:06] Me: bye\n",
]))

# CRLF line ends and a byte order mark (a transcript edited on Windows).
write("odd/crlf_bom.md", "\ufeff" + md("2022-05-05 08:00:00", "Me", "first\nsecond").replace("\n", "\r\n")
      + md("2022-05-05 08:01:00", "Alice", "third").replace("\n", "\r\n"))
# A date that does not exist between two good messages.
write("odd/bad_date.md", md("2022-02-28 10:00:00", "Me", "ok before")
      + md("2022-02-30 10:00:00", "Me", "no such day\nsecond line")
      + md("2022-03-01 10:00:00", "Me", "ok after"))
# Not a transcript.
write("odd/notes.md", "# My notes\n\n[2022-01-01 10:00:00] Me: a header, but not on the first line\n")
