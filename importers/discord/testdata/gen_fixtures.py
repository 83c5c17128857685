# Generates the synthetic DiscordChatExporter fixtures in this folder (see README.md).
# Run from importers/discord: python3 testdata/gen_fixtures.py testdata
# Deterministic: the same output every run. Golden files: go test -update.
import json, os, datetime, hashlib, struct, zlib, sys

OUT = sys.argv[1]
EPOCH = 1420070400000

def ms(ts):
    t = ts.replace('Z', '+00:00')
    d = datetime.datetime.fromisoformat(t)
    return int(d.timestamp() * 1000)

_seq = {}
def snow(ts, worker=1):
    m = ms(ts)
    k = (m, worker)
    s = _seq.get(k, 0); _seq[k] = s + 1
    return str(((m - EPOCH) << 22) | (worker << 17) | (7 << 12) | s)

def user(id, name, disc, nick, bot=False, color=None, roles=True, avatar=None):
    u = {"id": id, "name": name, "discriminator": disc, "nickname": nick, "color": color, "isBot": bot}
    if roles:
        u["roles"] = [] if color is None else [{"id": "1100000000000000101", "name": "Moderators", "color": color, "position": 3}]
    u["avatarUrl"] = avatar or ("https://cdn.discordapp.com/avatars/%s/a1b2c3d4e5f60718293a4b5c6d7e8f90.png?size=512" % id)
    return u

def noroles(u):
    u = dict(u); u.pop("roles", None); return u

GUILD_ID = snow("2019-06-01T12:00:00Z", 0)
GUILD = {"id": GUILD_ID, "name": "Chatvault Test Server", "iconUrl": "https://cdn.discordapp.com/icons/%s/9f8e7d6c5b4a39281706f5e4d3c2b1a0.png?size=512" % GUILD_ID}

ALICE = user(snow("2019-06-02T10:00:00Z", 0), "alice", "0000", "Alice ✨", color="#1ABC9C")
BOB = user(snow("2019-06-03T10:00:00Z", 0), "bob", "1234", "Bobby")
DELETED = user("456226577798135808", "Deleted User", "0000", "Deleted User", avatar="https://cdn.discordapp.com/embed/avatars/0.png")
BOT = user(snow("2020-01-05T10:00:00Z", 0), "Chatvault Bot", "7781", "Chatvault Bot", bot=True, color="#5865F2")
NEWBIE = user(snow("2024-03-01T10:00:00Z", 0), "newbie_2024", "0000", "newbie")
FAMILY = user(snow("2021-07-07T10:00:00Z", 0), "jose.family", "0000", "\u200e👩\u200d👩\u200d👧 Jose\u0301\u200f")

def emoji(name, id=None, code=None, animated=False):
    if id:
        url = "https://cdn.discordapp.com/emojis/%s.%s" % (id, "gif" if animated else "png")
    else:
        cps = "-".join("%x" % ord(c) for c in name if ord(c) != 0xfe0f)
        url = "https://cdn.jsdelivr.net/gh/twitter/twemoji@latest/assets/svg/%s.svg" % cps
    return {"id": id, "name": name, "code": code or name, "isAnimated": animated, "imageUrl": url}

def msg(ts, author, content, type="Default", edited=None, pinned=False, attachments=(), embeds=(), stickers=(),
        reactions=(), mentions=(), reference=None, forwarded=None, interaction=None, inline=(), id=None,
        callEnded=None, components=None, worker=1):
    m = {"id": id or snow(ts, worker), "type": type, "timestamp": ts, "timestampEdited": edited,
         "callEndedTimestamp": callEnded, "isPinned": pinned, "content": content, "author": author,
         "attachments": list(attachments)}
    if components is not None:
        m["components"] = components
    m.update({"embeds": list(embeds), "stickers": list(stickers), "reactions": list(reactions),
              "mentions": list(mentions)})
    if reference is not None:
        m["reference"] = reference
    if forwarded is not None:
        m["forwardedMessage"] = forwarded
    if interaction is not None:
        m["interaction"] = interaction
    m["inlineEmojis"] = list(inline)
    return m

def att(id, url, name, size):
    return {"id": id, "url": url, "fileName": name, "fileSizeBytes": size}

def cdn(chan, id, name):
    return ("https://cdn.discordapp.com/attachments/%s/%s/%s?ex=66a1b2c3&is=66a06143&hm=3f1e2d4c5b6a79880796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0&" % (chan, id, name))

def export(guild, channel, messages, exported, after=None, before=None, count=None):
    return {"guild": guild, "channel": channel, "dateRange": {"after": after, "before": before},
            "exportedAt": exported, "messages": messages,
            "messageCount": len(messages) if count is None else count}

def write(rel, obj, bom=False, raw=None):
    p = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    s = raw if raw is not None else json.dumps(obj, indent=2, ensure_ascii=False)
    with open(p, "w", encoding="utf-8", newline="\n") as f:
        if bom: f.write("\ufeff")
        f.write(s)

def png(w, h, rgb):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def media(rel, data):
    p = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return len(data)

# ---------------------------------------------------------------- guild/general
C1 = snow("2019-06-01T12:05:00Z", 0)
T1 = snow("2024-03-31T09:00:00Z", 0)
C_GENERAL = {"id": C1, "type": "GuildTextChat", "categoryId": snow("2019-06-01T12:01:00Z", 0), "category": "Text Channels",
             "name": "general", "topic": "Anything goes. Be nice."}
base = "Chatvault Test Server - Text Channels - general [%s]" % C1
files = base + ".json_Files"
cat = png(2, 2, (200, 120, 40)); img_a = png(1, 1, (255, 0, 0)); img_b = png(1, 1, (0, 0, 255))
notes = "shopping list\r\n- milk\r\n- bread\r\n".encode()
n_cat = media("guild/%s/cat-3F2A1.png" % files, cat)
n_notes = media("guild/%s/notes-9B0C4.txt" % files, notes)
n_a = media("guild/%s/image-A1B2C.png" % files, img_a)
n_b = media("guild/%s/image-D3E4F.png" % files, img_b)
media("guild/%s/avatar-0C1D2.png" % files, png(1, 1, (9, 9, 9)))

g = []
m1 = msg("2024-03-30T21:15:04.264+01:00", ALICE, "Hello everyone! 👋",
         reactions=[{"emoji": emoji("👋", id="", code="wave"), "count": 2, "users": [noroles(BOB), noroles(ALICE)]}])
g.append(m1)
m2 = msg("2024-03-30T21:16:40.02+01:00", BOB, "hi alice\nsecond line\n> quoted line\n\nthird paragraph\n", type="Reply",
         reference={"type": "Default", "messageId": m1["id"], "channelId": C1, "guildId": GUILD_ID}, mentions=[ALICE])
g.append(m2)
t3 = "2024-03-30T23:59:59.0000000+01:00"
m3id = snow(t3)
m3 = msg(t3, ALICE, "Photos from the trip, and the list", id=m3id, edited="2024-03-31T03:05:00.5+02:00", attachments=[
    att(snow(t3, 2), files.replace("/", "\\") + "\\cat-3F2A1.png", "cat.png", n_cat),
    att(snow(t3, 3), files + "\\notes-9B0C4.txt", "notes.txt", n_notes),
    att(snow(t3, 4), cdn(C1, snow(t3, 4), "holiday.mp4"), "holiday.mp4", 7340032),
])
g.append(m3)
t4 = "2024-03-31T01:30:00+01:00"  # before the DST switch at 01:00Z
g.append(msg(t4, NEWBIE, "Joined the server.", type="GuildMemberJoin"))
t5 = "2024-03-31T09:12:33.1+02:00"  # after the switch: the exporter's offset changes inside one file
g.append(msg(t5, BOB, "Pinned a message.", type="ChannelPinnedMessage",
             reference={"type": "Default", "messageId": m3id, "channelId": C1, "guildId": GUILD_ID}))
t6 = "2024-03-31T11:00:00.777+02:00"
g.append(msg(t6, ALICE, "Started a thread.", type="ThreadCreated",
             reference={"type": "Default", "messageId": None, "channelId": T1, "guildId": GUILD_ID}))
t7 = "2024-03-31T11:20:00+02:00"
g.append(msg(t7, BOT, "", embeds=[{
    "title": "Build #412 passed", "url": "https://ci.example.org/builds/412", "timestamp": "2024-03-31T11:19:58+02:00",
    "description": "All 1,024 tests green :chatvault:", "color": "#2ECC71",
    "author": {"name": "CI", "url": None, "iconUrl": "https://media.discordapp.net/external/AbC/https/ci.example.org/icon.png", "iconCanonicalUrl": "https://ci.example.org/icon.png"},
    "thumbnail": {"url": "https://media.discordapp.net/external/XyZ/https/ci.example.org/thumb.png", "canonicalUrl": "https://ci.example.org/thumb.png", "width": 80, "height": 80},
    "footer": {"text": "ci.example.org"}, "images": [],
    "fields": [{"name": "Duration", "value": "3m 12s", "isInline": True}, {"name": "Commit", "value": "`a1b2c3d`", "isInline": True}],
    "inlineEmojis": [emoji("chatvault", id="1090000000000000000")]}]))
t8 = "2024-03-31T12:00:00+02:00"
m8 = msg(t8, DELETED, "@Alice ✨ look at this", mentions=[ALICE],
         reactions=[{"emoji": emoji("chatvault", id="1090000000000000000"), "count": 3, "users": [noroles(BOB)]},
                    {"emoji": emoji("🧑\u200d💻", id=None, code="technologist"), "count": 1, "users": []}])
g.append(m8)
t9 = "2024-03-31T12:05:00+02:00"
g.append(msg(t9, BOB, "", stickers=[{"id": "749054660769218631", "name": "Wumpus Wave", "format": "Lottie",
                                      "sourceUrl": "https://cdn.discordapp.com/stickers/749054660769218631.json"}]))
t10 = "2024-03-31T12:30:00+02:00"
g.append(msg(t10, ALICE, "files that went astray", attachments=[
    att(snow(t10, 2), files + "\\moved-5A6B7.jpg", "moved.jpg", 4096),
    att(snow(t10, 3), "..\\..\\secrets\\id_rsa", "id_rsa", 1679),
    att(snow(t10, 4), "C:\\Users\\exporter\\Discord media\\big-0F0F0.zip", "big.zip", 104857600),
    att(snow(t10, 5), "/home/exporter/discord-media/clip-11111.webm", "clip.webm", 5000),
    att(snow(t10, 6), files + "\\image-A1B2C.png", "image.png", n_a),
    att(snow(t10, 7), files + "/image-D3E4F.png", "image.png", n_b),
    att(snow(t10, 8), files + "\\image-A1B2C.png", "image.png", n_a),
]))
g.append(m8)  # duplicate id inside one file (seen in a real export)
t11 = "2024-03-31T13:00:00+02:00"
g.append(msg(t11, FAMILY, "\u202aRTL\u202c test \u2066isolate\u2069 nbsp\u00a0here narrow\u202fspace zero\u200bwidth \ufeffbom-in-text café vs cafe\u0301 👍🏽",
             inline=[]))
t12 = "2024-03-31T13:05:00+02:00"
fwd_src_chan = snow("2020-02-02T02:02:02Z", 0)
g.append(msg(t12, BOB, "", reference={"type": "Forward", "messageId": snow("2024-03-29T08:00:00Z", 5), "channelId": fwd_src_chan, "guildId": GUILD_ID},
             forwarded={"timestamp": "2024-03-29T09:00:00+01:00", "timestampEdited": None, "content": "forwarded: the meeting moved to 3pm",
                        "attachments": [att(snow(t12, 2), cdn(fwd_src_chan, snow(t12, 2), "agenda.pdf"), "agenda.pdf", 20480)],
                        "embeds": [], "stickers": []}))
write("guild/%s.json" % base, export(GUILD, C_GENERAL, g, "2024-04-01T10:00:00.1234567+02:00"))

# ---------------------------------------------------------------- guild/thread (newest first, UTC)
C_THREAD = {"id": T1, "type": "GuildPublicThread", "categoryId": C1, "category": "general", "name": "Release planning", "topic": None}
th = []
tt1 = "2024-03-31T09:01:00Z"; th1 = snow(tt1)
tt2 = "2024-03-31T09:05:30.5Z"; th2 = snow(tt2)
tt3 = "2024-03-31T09:07:00Z"
th.append(msg(tt3, ALICE, "agreed, and see the pin in #general", type="Reply",
              reference={"type": "Default", "messageId": th2, "channelId": T1, "guildId": GUILD_ID}))
th.append(msg(tt2, BOB, "we should ship on Friday", type="Reply", id=th2,
              reference={"type": "Default", "messageId": m3id, "channelId": C1, "guildId": GUILD_ID}))
th.append(msg(tt1, ALICE, "Kick-off for 1.0", id=th1, pinned=True))
write("guild/Chatvault Test Server - general - Release planning [%s].json" % T1,
      export(GUILD, C_THREAD, th, "2024-04-01T08:00:00Z"))

# ---------------------------------------------------------------- guild/announcements partitions
C2 = snow("2019-06-01T12:06:00Z", 0)
C_ANN = {"id": C2, "type": "GuildNews", "categoryId": snow("2019-06-01T12:01:00Z", 0), "category": "Text Channels", "name": "announcements", "topic": None}
ann = [msg("2024-02-%02dT18:00:00+01:00" % d, BOT if d % 2 else ALICE, "Announcement number %d" % d) for d in range(1, 6)]
write("guild/Chatvault Test Server - Text Channels - announcements [%s] [part 1].json" % C2,
      export(GUILD, C_ANN, ann[:3], "2024-04-01T10:00:00+02:00"))
write("guild/Chatvault Test Server - Text Channels - announcements [%s] [part 2].json" % C2,
      export(GUILD, C_ANN, ann[2:], "2024-04-01T10:00:00+02:00"))
# not an export: ignored with a warning in directory mode
write("guild/channels-index.json", {"channels": [C1, C2]})

# ---------------------------------------------------------------- overlap: the same channel exported later elsewhere
def reoffset(m, tz, edit=None):
    m = json.loads(json.dumps(m))
    d = datetime.datetime.fromisoformat(m["timestamp"])
    m["timestamp"] = d.astimezone(datetime.timezone(datetime.timedelta(hours=tz))).isoformat(timespec="milliseconds").replace(".000", "")
    if edit:
        m["content"], m["timestampEdited"] = edit
    return m
ov = [reoffset(m, -5) for m in ann[3:]] + [msg("2024-02-06T12:00:00-05:00", BOB, "Announcement number 6")]
ov[0] = reoffset(ann[3], -5, edit=("Announcement number 4 (corrected)", "2024-03-01T09:00:00-05:00"))
write("overlap/Chatvault Test Server - Text Channels - announcements [%s].json" % C2,
      export(GUILD, C_ANN, ov, "2024-04-02T07:00:00-04:00", after="2024-02-03T00:00:00-05:00"))

# ---------------------------------------------------------------- dm
DMG = {"id": "0", "name": "Direct Messages", "iconUrl": "https://cdn.discordapp.com/embed/avatars/0.png"}
D1 = snow("2022-01-01T00:00:00Z", 0)
C_DM = {"id": D1, "type": "DirectTextChat", "categoryId": None, "category": None, "name": "alice", "topic": None}
dm = []
d1 = msg("2024-07-04T09:00:00.5-07:00", BOB, "hey, call later?"); dm.append(d1)
dm.append(msg("2024-07-04T09:01:10-07:00", ALICE, "sure", type="Reply",
              reference={"type": "Default", "messageId": d1["id"], "channelId": D1, "guildId": None}))
dm.append(msg("2024-07-04T18:30:00-07:00", BOB, "Started a call that lasted 5 minutes.", type="Call",
              callEnded="2024-07-04T18:35:12.25-07:00"))
dm.append(msg("2024-07-04T18:36:00-07:00", ALICE, "",
              attachments=[att(snow("2024-07-04T18:36:00-07:00", 2), cdn(D1, "1", "voice-message.ogg"), "voice-message.ogg", 33001)]))
write("dm/Direct Messages - Private - alice [%s].json" % D1, export(DMG, C_DM, dm, "2024-07-05T08:00:00-07:00"))
G1 = snow("2023-05-05T00:00:00Z", 0)
CAROL = user(snow("2020-05-05T00:00:00Z", 0), "carol", "0000", "Carol")
C_GDM = {"id": G1, "type": "DirectGroupTextChat", "categoryId": None, "category": None, "name": "weekend plans", "topic": None,
         "iconUrl": "https://cdn.discordapp.com/channel-icons/%s/0a1b2c3d4e5f.png" % G1}
gd = []
gd.append(msg("2024-08-01T10:00:00+03:00", ALICE, "Added bob to the group.", type="RecipientAdd", mentions=[BOB]))
gd.append(msg("2024-08-01T10:00:05+03:00", ALICE, "Removed carol from the group.", type="RecipientRemove", mentions=[CAROL]))
gd.append(msg("2024-08-01T10:01:00+03:00", BOB, "Changed the channel name: weekend plans", type="ChannelNameChange"))
gd.append(msg("2024-08-01T10:02:00+03:00", BOB, "Changed the channel icon.", type="ChannelIconChange"))
g5 = msg("2024-08-01T10:03:00+03:00", BOB, "Saturday 10am at the lake?"); gd.append(g5)
gd.append(msg("2024-08-01T10:04:00+03:00", ALICE, "Pinned a message.", type="ChannelPinnedMessage",
              reference={"type": "Default", "messageId": g5["id"], "channelId": G1, "guildId": None}))
write("dm/Direct Messages - Group - weekend plans [%s].json" % G1, export(DMG, C_GDM, gd, "2024-08-02T10:00:00+03:00"))

# ---------------------------------------------------------------- odd/unknown-types (newer DCE: components, interaction)
C3 = snow("2019-06-01T12:07:00Z", 0)
C_BOTS = {"id": C3, "type": "GuildTextChat", "categoryId": None, "category": None, "name": "bot-spam", "topic": None}
ut = []
ut.append(msg("2024-09-01T12:00:00+02:00", ALICE, "/roll"))
ut.append(msg("2024-09-01T12:00:01.5+02:00", BOT, "🎲 You rolled a 4", type="20", components=[
    {"type": "ActionRow", "components": [{"type": "Button", "style": "Primary", "label": "Roll again", "url": None,
                                          "customId": "roll", "skuId": None, "isDisabled": False}]}],
    interaction={"id": snow("2024-09-01T12:00:00+02:00", 9), "name": "roll", "user": ALICE}))
ut.append(msg("2024-09-01T12:05:00+02:00", BOT, "🎲 You rolled a 6", type="20", components=[]))
ut.append(msg("2024-09-01T12:10:00+02:00", BOB, "", type="GuildBoost"))
ut.append(msg("2024-09-01T12:11:00+02:00", BOB, "poll closed", type=46))
ut.append(msg("2024-09-01T12:12:00+02:00", ALICE, "no type at all"))
del ut[-1]["type"]
write("odd/Chatvault Test Server - bot-spam [%s].json" % C3, export(GUILD, C_BOTS, ut, "2024-09-02T00:00:00+02:00"))

# ---------------------------------------------------------------- odd/messages-first (hand edited; BOM; UTC)
C4 = snow("2019-06-01T12:08:00Z", 0)
C_ED = {"id": C4, "type": "GuildTextChat", "categoryId": None, "category": None, "name": "edited-by-hand", "topic": None}
mf = [msg("2024-10-10T10:00:00Z", ALICE, "utc Z"),
      msg("2024-10-10T10:01:00+00:00", BOB, "utc +00:00"),
      msg("2024-10-10T10:02:00.123456789-03:30", ALICE, "nanoseconds, odd offset"),
      msg("2024-10-10T10:03:00", BOB, "no offset at all"),
      msg("2024-10-10T10:04:00Z", ALICE, "unreadable timestamp")]
mf[4]["timestamp"] = "yesterday at noon"
obj = {"messages": mf, "messageCount": 7, "exportedAt": "2024-10-11T00:00:00Z",
       "channel": C_ED, "guild": GUILD, "dateRange": {"after": None, "before": None}}
write("odd/messages-first.json", obj, bom=True)

# ---------------------------------------------------------------- odd/wrong name
C5 = snow("2019-06-01T12:09:00Z", 0)
C_RN = {"id": C5, "type": "GuildTextChat", "categoryId": None, "category": None, "name": "renamed-channel", "topic": None}
write("odd/Old Server Name - misc - old-channel-name [123456789].json",
      export(GUILD, C_RN, [msg("2024-11-11T11:11:11+01:00", ALICE, "the file name lies")], "2024-11-12T00:00:00+01:00"))

# ---------------------------------------------------------------- odd/lenient
C6 = snow("2019-06-01T12:10:00Z", 0)
C_LN = {"id": C6, "type": "GuildTextChat", "categoryId": None, "category": None, "name": "lenient", "topic": None}
ln = []
a = msg("2024-12-01T10:00:00+01:00", ALICE, "attachments is an object here"); a["attachments"] = {"oops": True}; ln.append(a)
b = msg("2024-12-01T10:01:00+01:00", BOB, "emoji without a name, odd embed colour",
        reactions=[{"emoji": {"id": None, "name": None, "code": "", "isAnimated": False, "imageUrl": ""}, "count": 1, "users": []},
                   {"emoji": {"id": "1090000000000000001", "name": "", "code": "", "isAnimated": True, "imageUrl": ""}, "count": "2", "users": None}],
        embeds=[{"title": "", "url": None, "timestamp": None, "description": "", "color": "#-1", "images": [], "fields": [], "inlineEmojis": []}])
ln.append(b)
c = msg("2024-12-01T10:02:00+01:00", None, None, type="ChannelPinnedMessage", edited="not a time",
        reference={"type": "Default", "messageId": None, "channelId": C6, "guildId": GUILD_ID}); ln.append(c)
d = msg("2024-12-01T10:03:00+01:00", ALICE, "numbers where strings belong",
        attachments=[att(1234, "https://cdn.discordapp.com/attachments/1/1234/x.bin?ex=1&is=2&hm=3", "x.bin", "1234")])
d["id"] = int(snow("2024-12-01T10:03:00+01:00", 3)); ln.append(d)
e = msg("2024-12-01T10:04:00+01:00", {"id": "42", "name": "webhook", "discriminator": "0000", "nickname": None, "color": None, "isBot": True,
                                      "roles": [], "avatarUrl": None}, 12345)
ln.append(e)
write("odd/lenient.json", export(GUILD, C_LN, ln, "2024-12-02T00:00:00+01:00"))

# ---------------------------------------------------------------- odd/truncated
C7 = snow("2019-06-01T12:11:00Z", 0)
C_TR = {"id": C7, "type": "GuildTextChat", "categoryId": None, "category": None, "name": "crashed-export", "topic": None}
tr = [msg("2025-01-01T00:00:%02d+01:00" % i, ALICE if i % 2 else BOB, "message %d" % i) for i in range(4)]
s = json.dumps(export(GUILD, C_TR, tr, "2025-01-02T00:00:00+01:00"), indent=2, ensure_ascii=False)
cut = s.index('"message 3"') + 4
write("odd/truncated.json", None, raw=s[:cut])

# ---------------------------------------------------------------- odd/bad-records
C8 = snow("2019-06-01T12:12:00Z", 0)
C_BR = {"id": C8, "type": "GuildTextChat", "categoryId": None, "category": None, "name": "bad-records", "topic": None}
br = [msg("2025-02-01T00:00:%02d+01:00" % i, ALICE, "good %d" % i) for i in range(6)]
s = json.dumps(export(GUILD, C_BR, [], "2025-02-02T00:00:00+01:00", count=7), indent=2, ensure_ascii=False)
ind = lambda m: "    " + json.dumps(m, indent=2, ensure_ascii=False).replace("\n", "\n    ")
bad_escape = ind(br[1]).replace('"good 1"', '"bad \\x41 escape"')
noid = dict(br[2]); del noid["id"]
items = [ind(br[0]), bad_escape, "    42", ind(noid), ind(br[3]), ind(br[4]) + "\n" + ind(br[5])]  # no comma before the last
body = ",\n".join(items[:-1]) + ",\n" + items[-1]
s = s.replace('"messages": []', '"messages": [\n' + body + '\n  ]')
write("odd/bad-records.json", None, raw=s)
print("ok")
