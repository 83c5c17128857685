#!/usr/bin/env python3
"""Writes the synthetic Messenger / Instagram fixtures under testdata/ (run
from the package folder: python3 testdata/gen_fixtures.py). Like Meta's
"Download your information" JSON: indented, ASCII-escaped, every string's
UTF-8 bytes written as U+0000-U+00FF code points (mojibake), messages
newest-first, message_1.json the newest part of a thread."""
import json
import os
import shutil

here = os.path.dirname(os.path.abspath(__file__))


class Keep(str):
    """A string written as is (not mojibake): for the "keep it" cases."""


def moji(v):
    if isinstance(v, Keep):
        return str(v)
    if isinstance(v, str):
        return v.encode("utf-8").decode("latin-1")
    if isinstance(v, list):
        return [moji(x) for x in v]
    if isinstance(v, dict):
        return {moji(k): moji(x) for k, x in v.items()}
    return v


def write_json(rel, obj, raw=False):
    p = os.path.join(here, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w", encoding="ascii", newline="\n") as f:
        f.write(json.dumps(obj if raw else moji(obj), indent=2, ensure_ascii=True))


def write_bytes(rel, data):
    p = os.path.join(here, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


for d in ["facebook-jdoe-20240501", "instagram-jdoe-20240501", "secure_storage"]:
    shutil.rmtree(os.path.join(here, d), ignore_errors=True)

fb = "facebook-jdoe-20240501/your_facebook_activity/messages"
alice = "alicesmith_10158000000000001"
adir = f"{fb}/inbox/{alice}"
uri = f"your_facebook_activity/messages/inbox/{alice}"
T = 1700000000000  # 2023-11-14T22:13:20Z

participants = [{"name": "Alice Smith"}, {"name": "John Doe"}]
tail = {"title": "Alice Smith", "is_still_participant": True, "thread_path": f"inbox/{alice}", "magic_words": []}

# Newest part: message_1.json.
part1 = [
    {"sender_name": "Alice Smith", "timestamp_ms": T + 9000, "content": "Café 😀 à bientôt", "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 8000, "content": Keep("na\u00efve caf\u00e9 stays"), "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 7500, "content": Keep("\u00c3\u00a9 and \u20ac: not mojibake, kept"), "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 7200, "content": Keep("genuine \u00c3\u00a9 next to caf\u00e9: repairing would give invalid UTF-8, kept"), "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 7000, "content": Keep("\u00c3"), "is_geoblocked_for_viewer": False},
    {"sender_name": "Alice Smith", "timestamp_ms": T + 6000, "photos": [
        {"uri": f"{uri}/photos/101_201.jpg", "creation_timestamp": (T + 6000) // 1000},
        {"uri": f"{uri}/photos/102_202.jpg", "creation_timestamp": (T + 6000) // 1000}],
     "reactions": [{"reaction": "❤️", "actor": "John Doe"}, {"reaction": "😆", "actor": "Zoë Ünal"}, {"reaction": "❤️", "actor": "Zoë Ünal"}],
     "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 5000, "files": [{"uri": f"{uri}/files/résumé_303.pdf", "creation_timestamp": (T + 5000) // 1000}],
     "videos": [{"uri": f"{uri}/videos/404_505.mp4", "creation_timestamp": (T + 5000) // 1000, "thumbnail": {"uri": f"{uri}/videos/thumbnails/404_505.jpg"}}],
     "audio_files": [{"uri": f"{uri}/audio/audioclip_606.mp4", "creation_timestamp": (T + 5000) // 1000}],
     "is_geoblocked_for_viewer": False},
    {"sender_name": "Alice Smith", "timestamp_ms": T + 4000,
     "gifs": [{"uri": "https://scontent.xx.fbcdn.net/v/t39.1997-6/1234_n.gif?_nc_cat=1&ccb=1-7&_nc_sid=ac3552&_nc_ohc=SECRETOHC&oh=00_SECRETOH&oe=65A1B2C3"}],
     "sticker": {"uri": "your_facebook_activity/messages/stickers_used/39178562_1505197616293642_n.png", "ai_stickers": []},
     "is_geoblocked_for_viewer": False},
    {"sender_name": "Alice Smith", "timestamp_ms": T + 3000, "content": "Alice Smith sent a link.",
     "share": {"link": "https://example.com/article?id=7&access_token=SECRETTOKEN&x=1", "share_text": "An article"}, "type": "Share",
     "is_geoblocked_for_viewer": False},
    {"sender_name": "Alice Smith", "timestamp_ms": T + 2000, "content": "Alice called you.", "call_duration": 125, "type": "Call", "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 1500, "content": "You missed a call from Alice.", "call_duration": 0, "missed": True, "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 1000, "content": "John sent $5.00.", "type": "Payment", "is_geoblocked_for_viewer": False},
    {"sender_name": "Alice Smith", "timestamp_ms": T + 500, "is_unsent": True, "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": str(T + 400), "content": "string-encoded timestamp_ms", "is_geoblocked_for_viewer": False},
    {"sender_name": "John Doe", "timestamp_ms": T + 300, "photos": [
        {"uri": "../../../../etc/passwd"}, {"uri": "/etc/passwd"}, {"uri": f"{uri}\\photos\\101_201.jpg"}, {"uri": ""},
        {"uri": "file:///etc/passwd"}]},
    {"sender_name": "John Doe", "timestamp_ms": T, "content": "same ms, same text"},
    {"sender_name": "John Doe", "timestamp_ms": T, "content": "same ms, same text"},
]
write_json(f"{adir}/message_1.json", {"participants": participants, "messages": part1, **tail})

# Older part: message_2.json.
part2 = [
    {"sender_name": "John Doe", "timestamp_ms": T, "content": "same ms, same text"},
    {"sender_name": "Facebook user", "timestamp_ms": T - 60000, "content": "from a deleted account"},
    {"timestamp_ms": T - 70000, "content": "no sender at all"},
    {"sender_name": "John Doe", "timestamp_ms": T - 80000, "content": "Line one\nLine two\n\nLine four"},
    {"sender_name": "John Doe", "timestamp_ms": T - 90000, "content": "John Doe added Alice Smith to the group.", "users": [{"name": "Alice Smith"}], "type": "Subscribe"},
    {"sender_name": "Alice Smith", "timestamp_ms": T - 95000, "content": "Alice Smith left the group.", "users": [{"name": "Alice Smith"}], "type": "Unsubscribe"},
    {"sender_name": "Alice Smith", "timestamp_ms": T - 100000, "content": "Invisible:\u200e left\u200f right\u00a0nbsp\u202fnnbsp \u2066iso\u2069 👩‍👩‍👧 👍🏽 e\u0301 \ufeffbom"},
    {"sender_name": "John Doe", "timestamp": 1500000000, "content": "old export: timestamp in seconds"},
    {"sender_name": "John Doe", "timestamp_ms": T - 120000, "content": "odd shapes", "photos": {"uri": "not a list"}, "reactions": "nope", "content_extra": 1},
]
write_json(f"{adir}/message_2.json", {"participants": participants, "messages": part2, **tail})

write_bytes(f"{adir}/photos/101_201.jpg", b"\xff\xd8\xff\xe0 photo one\xff\xd9")
write_bytes(f"{adir}/photos/102_202.jpg", b"\xff\xd8\xff\xe0 photo one\xff\xd9")  # same bytes: one blob
write_bytes(f"{adir}/files/résumé_303.pdf", b"%PDF-1.4 resume\n%%EOF\n")
write_bytes(f"{adir}/videos/404_505.mp4", b"\x00\x00\x00\x18ftypmp42 video")
write_bytes(f"{fb}/stickers_used/39178562_1505197616293642_n.png", b"\x89PNG\r\n\x1a\n sticker")
# A metadata file that is no thread.
write_json(f"{fb}/autofill_information.json", {"autofill_information_v2": {"FULL_NAME": ["John Doe"]}})

# A group with a mojibake title, in archived_threads.
fam = "famlia_2345678901234567"
write_json(f"{fb}/archived_threads/{fam}/message_1.json", {
    "participants": [{"name": "João Silva"}, {"name": "Zoë Ünal"}, {"name": "John Doe"}],
    "messages": [
        {"sender_name": "João Silva", "timestamp_ms": T + 100, "content": "Olá família 👨‍👩‍👧", "reactions": [{"reaction": "👍🏽", "actor": "Zoë Ünal"}]},
        {"sender_name": "Zoë Ünal", "timestamp_ms": T + 50, "content": "Grüße aus Köln"},
    ],
    "title": "Família 🏠", "is_still_participant": True, "thread_type": "RegularGroup", "thread_path": f"archived_threads/{fam}", "magic_words": []})

# Instagram.
ig = "instagram-jdoe-20240501/your_instagram_activity/messages/inbox/janedoe_17841400000000000"
iguri = "your_instagram_activity/messages/inbox/janedoe_17841400000000000"
write_json(f"{ig}/message_1.json", {
    "participants": [{"name": "Jane Doe"}, {"name": "John Doe"}],
    "messages": [
        {"sender_name": "Jane Doe", "timestamp_ms": T + 3000, "content": "Liked a message", "is_geoblocked_for_viewer": False},
        {"sender_name": "Jane Doe", "timestamp_ms": T + 2000, "photos": [{"uri": f"{iguri}/photos/777.jpg", "creation_timestamp": (T + 2000) // 1000}],
         "reactions": [{"reaction": "😍", "actor": "John Doe"}], "is_geoblocked_for_viewer": False},
        {"sender_name": "John Doe", "timestamp_ms": T + 1000, "content": "Jane Doe sent an attachment.",
         "share": {"link": "https://www.instagram.com/p/Cabc123/", "share_text": "🌅 sunset", "original_content_owner": "someone"},
         "is_geoblocked_for_viewer": False},
        {"sender_name": "John Doe", "timestamp_ms": T + 500, "content": "Audio call ended", "call_duration": 61, "is_geoblocked_for_viewer": False},
        {"sender_name": "Jane Doe", "timestamp_ms": T, "content": "Héllo 👋",
         "photos": [{"uri": "https://scontent-ams2-1.cdninstagram.com/v/t51.2885-15/123_n.jpg?stp=dst-jpg&_nc_ht=x&_nc_ohc=SECRET&oh=00_SECRET&oe=65FF0000"}],
         "is_geoblocked_for_viewer": False},
    ],
    "title": "Jane Doe", "is_still_participant": True, "thread_path": f"inbox/janedoe_17841400000000000", "magic_words": [],
    "joinable_mode": {"mode": 1, "link": ""}})
write_bytes(f"{ig}/photos/777.jpg", b"\xff\xd8 instagram photo \xff\xd9")

# The end-to-end encrypted "secure storage" download: one file per thread,
# media beside it (schema second-hand: participants as strings, senderName,
# text, timestamp in ms, media, isUnsent).
write_json("secure_storage/bob_1.json", {
    "participants": ["Bob Brown", "John Doe"],
    "threadName": "Bob Brown",
    "messages": [
        {"isUnsent": False, "media": [{"uri": "./media/9f1c.jpeg"}], "reactions": [{"actor": "John Doe", "reaction": "👍"}],
         "senderName": "Bob Brown", "text": "", "timestamp": T + 2000, "type": "media"},
        {"isUnsent": False, "media": [], "reactions": [], "senderName": "John Doe", "text": "Encrypted héllo", "timestamp": T + 1000, "type": "text"},
        {"isUnsent": True, "media": [], "reactions": [], "senderName": "Bob Brown", "text": "", "timestamp": T, "type": "text"},
    ]}, raw=True)
write_bytes("secure_storage/media/9f1c.jpeg", b"\xff\xd8 e2ee photo \xff\xd9")
