// Package corpus generates synthetic chat history as chatvault canonical JSON
// Lines, for benchmarks. The output depends only on the options: the same
// seed, size, conversation count and order give byte-identical output.
//
// Each conversation draws its messages from its own random stream and stops at
// its share of the requested size (shares are Zipf-like, so a few
// conversations are large and many are small). Grouped and interleaved
// corpora made with the same seed therefore hold exactly the same lines, only
// in a different order: grouped writes one conversation after the other,
// interleaved mixes them message by message.
package corpus

import (
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Order is how conversations follow each other in the output.
type Order int

const (
	Grouped     Order = iota // all of one conversation, then the next
	Interleaved              // conversations mixed message by message
)

func (o Order) String() string {
	if o == Interleaved {
		return "interleaved"
	}
	return "grouped"
}

// ParseOrder maps "grouped" or "interleaved" to an Order.
func ParseOrder(s string) (Order, error) {
	switch s {
	case "grouped":
		return Grouped, nil
	case "interleaved":
		return Interleaved, nil
	}
	return 0, fmt.Errorf("unknown order %q (want grouped or interleaved)", s)
}

// Options describe a corpus.
type Options struct {
	Size          int64  // target bytes; the output ends at the first line boundary at or after each conversation's share
	Seed          uint64 // same seed, same bytes
	Conversations int    // number of conversations (>= 1)
	Order         Order
}

// Stats describe a generated corpus.
type Stats struct {
	Lines int64
	Bytes int64
}

// Generate writes a corpus to w.
func Generate(w io.Writer, o Options) (Stats, error) {
	if o.Conversations < 1 {
		return Stats{}, fmt.Errorf("need at least one conversation, got %d", o.Conversations)
	}
	if o.Size < 0 {
		return Stats{}, fmt.Errorf("negative size")
	}
	convs := setup(o)
	g := &gen{w: w, buf: make([]byte, 0, 1<<20+64<<10)}
	switch o.Order {
	case Grouped:
		for _, c := range convs {
			for !c.done() {
				if err := g.emit(c); err != nil {
					return g.st, err
				}
			}
		}
	case Interleaved:
		r := newRNG(o.Seed, math.MaxUint32)
		active := append([]*conv(nil), convs...)
		// Integer arithmetic only, so that the order is the same on every
		// platform. Each message comes from a conversation picked with
		// probability proportional to its share.
		var total int64
		for _, c := range active {
			total += c.weight()
		}
		for len(active) > 0 {
			x := int64(r.intn(int(total)))
			i := 0
			for ; i < len(active)-1; i++ {
				x -= active[i].weight()
				if x < 0 {
					break
				}
			}
			c := active[i]
			if err := g.emit(c); err != nil {
				return g.st, err
			}
			if c.done() {
				total -= c.weight()
				active = append(active[:i], active[i+1:]...)
			}
		}
	default:
		return Stats{}, fmt.Errorf("unknown order %d", o.Order)
	}
	return g.st, g.flush()
}

type gen struct {
	w   io.Writer
	buf []byte
	st  Stats
}

func (g *gen) emit(c *conv) error {
	n := len(g.buf)
	g.buf = c.line(g.buf)
	c.written += int64(len(g.buf) - n)
	g.st.Lines++
	g.st.Bytes += int64(len(g.buf) - n)
	if len(g.buf) >= 1<<20 {
		return g.flush()
	}
	return nil
}

func (g *gen) flush() error {
	_, err := g.w.Write(g.buf)
	g.buf = g.buf[:0]
	return err
}

type person struct {
	id   string // Telegram from_id, e.g. "user123456789"
	name string
}

const (
	langEN = iota
	langRU
	langDE
	langJA
)

// conv is one conversation's generator state.
type conv struct {
	r        *rng
	key      string
	name     string
	chatType string
	people   []person
	zone     *time.Location // standard offset
	dstZone  *time.Location // offset + 1 h in summer months, or nil
	frac     bool           // times carry milliseconds
	lang     int
	sec      int64 // unix seconds of the last message
	nsec     int
	firstID  int64
	nextID   int64
	budget   int64
	written  int64
	scratch  []byte
	entities []entity
}

// weight is the conversation's share as a positive integer.
func (c *conv) weight() int64 { return max(c.budget, 1) }

func (c *conv) done() bool { return c.written >= c.budget && c.written > 0 }

var offsets = []int{0, 0, 3600, 7200, 10800, -18000, -14400, -25200, 19800, 20700, 32400, 34200, -12600, 46800}

func setup(o Options) []*conv {
	r := newRNG(o.Seed, math.MaxUint32+1)
	n := o.Conversations
	// Zipf-like shares, assigned to conversations in random order.
	weights := make([]float64, n)
	var sum float64
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), 0.9)
		sum += weights[i]
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		weights[i], weights[j] = weights[j], weights[i]
	}
	convs := make([]*conv, n)
	for i := range convs {
		c := &conv{r: newRNG(o.Seed, uint64(i))}
		c.budget = int64(float64(o.Size) * weights[i] / sum)
		cr := c.r
		var chatID int64
		switch x := cr.float(); {
		case x < 0.40:
			c.chatType = "personal_chat"
			chatID = int64(cr.between(10_000_000, 999_999_999))
			c.key = "telegram:chat:" + strconv.FormatInt(chatID, 10)
		case x < 0.75:
			c.chatType = "private_group"
			chatID = int64(cr.between(100_000_000, 999_999_999))
			c.key = "telegram:chat:-" + strconv.FormatInt(chatID, 10)
		case x < 0.90:
			c.chatType = "private_supergroup"
			chatID = int64(cr.between(1_000_000_000, 2_147_483_647))
			c.key = "telegram:chat:-100" + strconv.FormatInt(chatID, 10)
		default:
			c.chatType = "public_channel"
			chatID = int64(cr.between(1_000_000_000, 2_147_483_647))
			c.key = "telegram:chat:-100" + strconv.FormatInt(chatID, 10)
		}
		npeople := map[string][2]int{"personal_chat": {2, 2}, "private_group": {3, 12}, "private_supergroup": {10, 60}, "public_channel": {1, 1}}[c.chatType]
		for range cr.between(npeople[0], npeople[1]) {
			name := pick(cr, firstNames)
			if last := pick(cr, lastNames); last != "" {
				name += " " + last
			}
			c.people = append(c.people, person{id: "user" + strconv.Itoa(cr.between(10_000, 6_999_999_999)), name: name})
		}
		if c.chatType == "personal_chat" {
			c.name = c.people[1].name
		} else {
			c.name = pick(cr, chatNames)
		}
		off := pick(cr, offsets)
		c.zone = time.FixedZone("", off)
		if cr.chance(0.4) {
			c.dstZone = time.FixedZone("", off+3600)
		}
		c.frac = cr.chance(0.2)
		c.lang = []int{langEN, langEN, langEN, langRU, langDE, langJA}[cr.intn(6)]
		c.sec = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + int64(cr.intn(3*365*86400))
		c.firstID = int64(cr.between(1, 200_000))
		c.nextID = c.firstID
		convs[i] = c
	}
	return convs
}

func (c *conv) zoneAt(sec int64) *time.Location {
	if c.dstZone != nil {
		if m := time.Unix(sec, 0).UTC().Month(); m >= time.April && m <= time.October {
			return c.dstZone
		}
	}
	return c.zone
}

func (c *conv) appendTime(b []byte, sec int64, nsec int) []byte {
	t := time.Unix(sec, int64(nsec)).In(c.zoneAt(sec))
	if c.frac {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	return t.AppendFormat(b, time.RFC3339)
}

// line appends one canonical JSON line (with its newline) to b.
func (c *conv) line(b []byte) []byte {
	r := c.r
	// time: mostly minutes apart, sometimes hours or days
	var gap int
	switch x := r.float(); {
	case x < 0.70:
		gap = r.between(1, 300)
	case x < 0.95:
		gap = r.between(300, 7200)
	default:
		gap = r.between(7200, 3*86400)
	}
	c.sec += int64(gap)
	if c.frac {
		c.nsec = r.intn(1000) * 1_000_000
	}
	id := c.nextID
	c.nextID += 1 + int64(r.intn(20)/18) // a few ids skipped (deleted messages)
	from := c.people[0]
	if len(c.people) > 1 {
		// a few people talk most
		k := r.intn(len(c.people))
		if r.chance(0.5) {
			k = r.intn(min(3, len(c.people)))
		}
		from = c.people[k]
	}
	service := r.chance(0.05)

	b = append(b, `{"conversation":`...)
	b = appendString(b, c.key)
	b = append(b, `,"id":"`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `","time":"`...)
	b = c.appendTime(b, c.sec, c.nsec)
	if service {
		b = append(b, `","kind":"service","conversation_name":`...)
	} else {
		b = append(b, `","kind":"message","conversation_name":`...)
	}
	b = appendString(b, c.name)
	b = append(b, `,"sender":`...)
	b = appendString(b, from.id)
	b = append(b, `,"sender_name":`...)
	b = appendString(b, from.name)
	if service {
		return c.serviceRest(b, id, from)
	}

	text := c.text()
	b = append(b, `,"text":`...)
	b = appendString(b, text)
	var replyTo int64
	if id > c.firstID && r.chance(0.15) {
		replyTo = max(c.firstID, id-1-int64(r.intn(30)))
		b = append(b, `,"reply_to":"`...)
		b = strconv.AppendInt(b, replyTo, 10)
		b = append(b, '"')
	}
	var editSec int64
	if r.chance(0.08) {
		editSec = c.sec + int64(r.between(10, 3600))
		b = append(b, `,"edited_at":"`...)
		b = c.appendTime(b, editSec, 0)
		b = append(b, '"')
	}
	type reaction struct {
		emoji string
		by    []person
	}
	var reactions []reaction
	if r.chance(0.10) {
		for range r.between(1, 3) {
			re := reaction{emoji: pick(r, reactionEmoji)}
			for range r.between(1, min(4, len(c.people))) {
				re.by = append(re.by, pick(r, c.people))
			}
			reactions = append(reactions, re)
		}
		b = append(b, `,"reactions":[`...)
		for i, re := range reactions {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"emoji":`...)
			b = appendString(b, re.emoji)
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, int64(len(re.by)), 10)
			b = append(b, `,"by":[`...)
			for j, p := range re.by {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendString(b, p.id)
			}
			b = append(b, "]}"...)
		}
		b = append(b, ']')
	}
	type attachment struct {
		kind    int
		name    string
		size    int
		missing string
		sha     [32]byte
		w, h    int
	}
	var atts []attachment
	if r.chance(0.12) {
		n := 1
		if r.chance(0.15) {
			n = r.between(2, 4)
		}
		for range n {
			a := attachment{kind: r.intn(len(fileKinds))}
			fk := fileKinds[a.kind]
			switch fk.dir {
			case "photos":
				a.name = "photo_" + strconv.Itoa(r.between(1, 9999)) + "@" + time.Unix(c.sec, 0).In(c.zoneAt(c.sec)).Format("02-01-2006_15-04-05") + "." + fk.ext
				a.w, a.h = pick(r, []int{1280, 960, 2560, 1080}), pick(r, []int{720, 960, 1440, 1920})
			default:
				a.name = pick(r, []string{"IMG_", "Scan ", "report-", "voice_", "video_", "Документ_", "スクリーンショット "}) + strconv.Itoa(r.between(1, 99999)) + "." + fk.ext
			}
			a.size = r.between(fk.minSize, fk.maxSize)
			if r.chance(0.15) {
				a.missing = pick(r, missingReasons)
			} else {
				for i := 0; i < 32; i += 8 {
					v := r.next()
					for j := range 8 {
						a.sha[i+j] = byte(v >> (8 * j))
					}
				}
			}
			atts = append(atts, a)
		}
		b = append(b, `,"attachments":[`...)
		for i, a := range atts {
			if i > 0 {
				b = append(b, ',')
			}
			fk := fileKinds[a.kind]
			b = append(b, `{"name":`...)
			b = appendString(b, a.name)
			b = append(b, `,"mime":"`...)
			b = append(b, fk.mime...)
			b = append(b, `","size":`...)
			b = strconv.AppendInt(b, int64(a.size), 10)
			if a.missing != "" {
				b = append(b, `,"missing":`...)
				b = appendString(b, a.missing)
			} else {
				b = append(b, `,"sha256":"`...)
				b = hex.AppendEncode(b, a.sha[:])
				b = append(b, '"')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}

	// raw: the Telegram Desktop record
	b = append(b, `,"raw":{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"type":"message","date":"`...)
	b = time.Unix(c.sec, 0).In(c.zoneAt(c.sec)).AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, `","date_unixtime":"`...)
	b = strconv.AppendInt(b, c.sec, 10)
	b = append(b, '"')
	if editSec != 0 {
		b = append(b, `,"edited":"`...)
		b = time.Unix(editSec, 0).In(c.zoneAt(editSec)).AppendFormat(b, "2006-01-02T15:04:05")
		b = append(b, `","edited_unixtime":"`...)
		b = strconv.AppendInt(b, editSec, 10)
		b = append(b, '"')
	}
	b = append(b, `,"from":`...)
	b = appendString(b, from.name)
	b = append(b, `,"from_id":`...)
	b = appendString(b, from.id)
	if r.chance(0.03) {
		b = append(b, `,"forwarded_from":null`...)
	}
	if replyTo != 0 {
		b = append(b, `,"reply_to_message_id":`...)
		b = strconv.AppendInt(b, replyTo, 10)
	}
	if len(atts) > 0 {
		a := atts[0]
		fk := fileKinds[a.kind]
		path := fk.dir + "/" + a.name
		if a.missing != "" {
			path = a.missing
		}
		if fk.dir == "photos" {
			b = append(b, `,"photo":`...)
			b = appendString(b, path)
			b = append(b, `,"photo_file_size":`...)
			b = strconv.AppendInt(b, int64(a.size), 10)
			b = append(b, `,"width":`...)
			b = strconv.AppendInt(b, int64(a.w), 10)
			b = append(b, `,"height":`...)
			b = strconv.AppendInt(b, int64(a.h), 10)
		} else {
			b = append(b, `,"file":`...)
			b = appendString(b, path)
			b = append(b, `,"file_name":`...)
			b = appendString(b, a.name)
			b = append(b, `,"file_size":`...)
			b = strconv.AppendInt(b, int64(a.size), 10)
			if fk.media != "" {
				b = append(b, `,"media_type":"`...)
				b = append(b, fk.media...)
				b = append(b, '"')
			}
			b = append(b, `,"mime_type":"`...)
			b = append(b, fk.mime...)
			b = append(b, '"')
		}
	}
	b = append(b, `,"text":`...)
	if len(c.entities) == 1 && c.entities[0].typ == "plain" {
		b = appendString(b, text)
	} else {
		b = append(b, '[')
		for i, e := range c.entities {
			if i > 0 {
				b = append(b, ',')
			}
			if e.typ == "plain" {
				b = appendString(b, e.text)
				continue
			}
			b = c.appendEntity(b, e)
		}
		b = append(b, ']')
	}
	b = append(b, `,"text_entities":[`...)
	for i, e := range c.entities {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.appendEntity(b, e)
	}
	b = append(b, ']')
	if len(reactions) > 0 {
		b = append(b, `,"reactions":[`...)
		for i, re := range reactions {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"emoji","count":`...)
			b = strconv.AppendInt(b, int64(len(re.by)), 10)
			b = append(b, `,"emoji":`...)
			b = appendString(b, re.emoji)
			b = append(b, `,"recent":[`...)
			for j, p := range re.by {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"from":`...)
				b = appendString(b, p.name)
				b = append(b, `,"from_id":`...)
				b = appendString(b, p.id)
				b = append(b, `,"date":"`...)
				s := c.sec + int64(60*(j+1))
				b = time.Unix(s, 0).In(c.zoneAt(s)).AppendFormat(b, "2006-01-02T15:04:05")
				b = append(b, `"}`...)
			}
			b = append(b, "]}"...)
		}
		b = append(b, ']')
	}
	return append(b, "}}\n"...)
}

func (c *conv) appendEntity(b []byte, e entity) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, e.typ...)
	b = append(b, `","text":`...)
	b = appendString(b, e.text)
	if e.typ == "text_link" {
		b = append(b, `,"href":`...)
		b = appendString(b, e.href)
	}
	return append(b, '}')
}

// serviceRest finishes a service line after sender_name.
func (c *conv) serviceRest(b []byte, id int64, actor person) []byte {
	r := c.r
	action := pick(r, serviceActions)
	var text string
	switch action {
	case "pin_message":
		text = actor.name + " pinned a message"
	case "invite_members":
		text = actor.name + " invited " + pick(r, c.people).name
	case "edit_group_title":
		text = actor.name + " changed the group name to «" + pick(r, chatNames) + "»"
	case "phone_call":
		text = "Call (" + strconv.Itoa(r.between(3, 4000)) + " seconds)"
	default:
		text = actor.name + ": " + strings.ReplaceAll(action, "_", " ")
	}
	b = append(b, `,"text":`...)
	b = appendString(b, text)
	b = append(b, `,"service":"`...)
	b = append(b, action...)
	b = append(b, `","raw":{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"type":"service","date":"`...)
	b = time.Unix(c.sec, 0).In(c.zoneAt(c.sec)).AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, `","date_unixtime":"`...)
	b = strconv.AppendInt(b, c.sec, 10)
	b = append(b, `","actor":`...)
	b = appendString(b, actor.name)
	b = append(b, `,"actor_id":`...)
	b = appendString(b, actor.id)
	b = append(b, `,"action":"`...)
	b = append(b, action...)
	b = append(b, '"')
	switch action {
	case "pin_message":
		b = append(b, `,"message_id":`...)
		b = strconv.AppendInt(b, max(c.firstID, id-int64(r.between(1, 50))), 10)
	case "invite_members", "remove_members":
		b = append(b, `,"members":[`...)
		for i := range r.between(1, 3) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, pick(r, c.people).name)
		}
		b = append(b, ']')
	case "edit_group_title":
		b = append(b, `,"title":`...)
		b = appendString(b, pick(r, chatNames))
	case "phone_call":
		b = append(b, `,"duration_seconds":`...)
		b = strconv.AppendInt(b, int64(r.between(3, 4000)), 10)
		b = append(b, `,"discard_reason":"`...)
		b = append(b, pick(r, []string{"hangup", "missed", "busy", "disconnect"})...)
		b = append(b, '"')
	case "set_messages_ttl":
		b = append(b, `,"period":`...)
		b = strconv.AppendInt(b, int64(pick(r, []int{0, 86400, 604800})), 10)
	case "edit_group_photo":
		b = append(b, `,"photo":"photos/photo_`...)
		b = strconv.AppendInt(b, int64(r.between(1, 999)), 10)
		b = append(b, `.jpg","width":640,"height":640`...)
	}
	return append(b, `,"text":"","text_entities":[]}}`+"\n"...)
}

type entity struct {
	typ, text, href string
}

// maxText bounds a message's text so that lines stay around 300–1500 bytes
// (the text appears three times: text, raw.text and raw.text_entities).
const maxText = 260

// text makes a message text and sets c.entities to its Telegram entities.
func (c *conv) text() string {
	r := c.r
	var words int
	switch x := r.float(); {
	case x < 0.60:
		words = r.between(1, 8)
	case x < 0.92:
		words = r.between(8, 25)
	default:
		words = r.between(25, 60)
	}
	b := c.scratch[:0]
	c.entities = c.entities[:0]
	plainStart := 0
	special := func(typ, text, href string) {
		if len(b) > plainStart {
			c.entities = append(c.entities, entity{typ: "plain", text: string(b[plainStart:])})
		}
		b = append(b, text...)
		c.entities = append(c.entities, entity{typ: typ, text: text, href: href})
		plainStart = len(b)
	}
	for i := 0; i < words && len(b) < maxText; i++ {
		if i > 0 {
			switch x := r.float(); {
			case x < 0.006:
				b = append(b, '\n')
			case x < 0.008:
				b = append(b, '\t')
			case x < 0.0085:
				b = append(b, "\u2028"...)
			default:
				b = append(b, ' ')
			}
		}
		switch x := r.float(); {
		case x < 0.04:
			b = append(b, pick(r, emoji)...)
		case x < 0.055:
			url := "https://" + pick(r, domains) + "/" + pick(r, enWords) + "?id=" + strconv.Itoa(r.intn(100000))
			if r.chance(0.3) {
				special("text_link", pick(r, enWords), url)
			} else {
				special("link", url, "")
			}
		case x < 0.065:
			special("bold", pick(r, c.vocab())+" "+pick(r, c.vocab()), "")
		case x < 0.070:
			special("code", "C:\\Users\\"+strings.ToLower(pick(r, firstNames))+"\\Documents\\notes.txt", "")
		case x < 0.074:
			special("mention", "@"+strings.ToLower(strings.Fields(pick(r, firstNames))[0])+strconv.Itoa(r.intn(100)), "")
		case x < 0.084:
			b = append(b, '"')
			b = append(b, pick(r, c.vocab())...)
			b = append(b, '"')
		default:
			v := c.vocab()
			if c.lang != langEN && r.chance(0.2) {
				v = enWords
			}
			b = append(b, pick(r, v)...)
		}
		if r.chance(0.08) {
			b = append(b, pick(r, []string{",", ".", "!", "?", "…", "!!", " :)"})...)
		}
	}
	if len(b) > plainStart || len(c.entities) == 0 {
		c.entities = append(c.entities, entity{typ: "plain", text: string(b[plainStart:])})
	}
	c.scratch = b
	return string(b)
}

func (c *conv) vocab() []string {
	switch c.lang {
	case langRU:
		return ruWords
	case langDE:
		return deWords
	case langJA:
		return jaWords
	}
	return enWords
}

// appendString appends s as a JSON string the way encoding/json writes it
// without HTML escaping: quotes, backslashes and control characters escaped,
// U+2028 and U+2029 as \u escapes, other UTF-8 verbatim.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ParseSize reads a size such as 1GiB, 64MiB, 500MB, 4096 or 1.5GiB. K, M, G
// and T without "B" are binary, like KiB.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("bad size %q: unknown unit %q", s, t[i:])
	}
	return int64(v * mult), nil
}
