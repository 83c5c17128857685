package whatsapp

import (
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// chatPrefixes start the file names WhatsApp gives an export, per language.
// What follows is the chat's name.
var chatPrefixes = []string{
	"WhatsApp Chat with ",       // Android, English
	"WhatsApp Chat - ",          // iOS zip, English
	"WhatsApp-Chat mit ",        // German
	"WhatsApp Chat mit ",        // German (older)
	"Chat de WhatsApp con ",     // Spanish
	"Discussion WhatsApp avec ", // French
	"Chat WhatsApp con ",        // Italian
	"Conversa do WhatsApp com ", // Portuguese
	"WhatsApp-chat met ",        // Dutch
	"WhatsApp Chat met ",        // Dutch (older)
	"Чат WhatsApp с ",           // Russian
	"WhatsApp Sohbeti: ",        // Turkish
	"WhatsApp-chatt med ",       // Swedish
	"Czat WhatsApp z ",          // Polish
}

// chatNameFromBase returns the chat name in a file's base name (without
// extension) when it follows WhatsApp's naming.
func chatNameFromBase(base string) (string, bool) {
	for _, p := range chatPrefixes {
		if len(base) > len(p) && strings.EqualFold(base[:len(p)], p) {
			if name := strings.TrimSpace(base[len(p):]); name != "" {
				return name, true
			}
		}
	}
	return "", false
}

func trimExt(base string) string { return strings.TrimSuffix(base, path.Ext(base)) }

// chatName derives the conversation's name from the export's file names:
// "WhatsApp Chat with NAME.txt", the zip's inner text file, "WhatsApp Chat -
// NAME.zip", the folder of an unzipped "_chat.txt", else the base name
// without its extension.
func chatName(file, inner string) string {
	base := trimExt(filepath.Base(file))
	if inner != "" {
		if n, ok := chatNameFromBase(trimExt(path.Base(strings.ReplaceAll(inner, `\`, "/")))); ok {
			return n
		}
	} else if strings.EqualFold(base, "_chat") {
		dir := filepath.Base(filepath.Dir(file))
		if n, ok := chatNameFromBase(dir); ok {
			return n
		}
		if dir != "." && dir != string(filepath.Separator) && dir != "" {
			return dir
		}
		return base
	}
	if n, ok := chatNameFromBase(base); ok {
		return n
	}
	return base
}

// looksLikeMediaName reports the file names WhatsApp gives media:
// IMG-20210428-WA0001.jpg (Android), 00000012-PHOTO-2019-06-20-16-00-15.jpg
// and 00000013-report.pdf (iOS), 2015-08-04-PHOTO-00004762.jpg (old iOS).
func looksLikeMediaName(name string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return s != ""
	}
	if len(name) > 9 && digits(name[:8]) && name[8] == '-' {
		return true
	}
	for _, p := range []string{"IMG-", "VID-", "AUD-", "PTT-", "STK-", "DOC-", "PHOTO-", "VIDEO-"} {
		if strings.HasPrefix(name, p) && len(name) > len(p)+8 && digits(name[len(p):len(p)+8]) {
			return true
		}
	}
	if len(name) > 11 && digits(name[:4]) && name[4] == '-' && digits(name[5:7]) && name[7] == '-' && digits(name[8:10]) {
		for _, k := range []string{"-PHOTO-", "-VIDEO-", "-AUDIO-", "-STICKER-", "-GIF-"} {
			if strings.HasPrefix(name[10:], k) {
				return true
			}
		}
	}
	return false
}

// clean removes invisible marks and turns the special spaces into ASCII
// spaces.
func clean(s string) string {
	need := false
	for _, r := range s {
		if ignorable(r) || (r != ' ' && spaceLike(r)) {
			need = true
			break
		}
	}
	if !need {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case ignorable(r):
		case spaceLike(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// splitAuthor splits a header's body into author and text at the first ": "
// (or a final ":", an empty message). A body without one is a system line.
// WhatsApp always writes ": " after a name, so "Name:." is a system line.
func splitAuthor(body string) (author, text string, ok bool) {
	i := strings.Index(body, ": ")
	switch {
	case i > 0:
		author, text = body[:i], body[i+2:]
	case i < 0 && len(body) > 1 && body[len(body)-1] == ':':
		author = body[:len(body)-1]
	default:
		return "", body, false
	}
	if strings.TrimSpace(clean(author)) == "" {
		return "", body, false
	}
	return author, text, true
}

// senderKey turns an author as written into the sender key: invisible marks
// removed, spaces normalized and trimmed, and the "~ " WhatsApp puts before
// group members who are not in the exporter's contacts dropped.
func senderKey(display string) string {
	s := strings.TrimPrefix(display, "~")
	if s != display {
		s = strings.TrimSpace(s)
	}
	return s
}

// editedMarkers end an edited message (WhatsApp 2023+), per language. They
// stay in the text: WhatsApp does not say when the edit happened.
var editedMarkers = []string{
	"<This message was edited>",
	"<Diese Nachricht wurde bearbeitet>",
	"<Este mensaje fue editado>",
	"<Ce message a été modifié>",
	"<Questo messaggio è stato modificato>",
	"<Esta mensagem foi editada>",
	"<Dit bericht is bewerkt>",
}

// trimEdited removes a trailing edited marker.
func trimEdited(s string) (string, bool) {
	t := strings.TrimRight(s, " ")
	for _, m := range editedMarkers {
		if strings.HasSuffix(t, m) {
			return strings.TrimRight(t[:len(t)-len(m)], " "), true
		}
	}
	return s, false
}

// Android "<Media omitted>" in the languages seen; the iOS "image omitted"
// family is matched by its LRM and final "omitted".
var omittedAndroid = map[string]bool{
	"<media omitted>":           true,
	"<medien ausgeschlossen>":   true,
	"<multimedia omitido>":      true,
	"<archivo omitido>":         true,
	"<médias omis>":             true,
	"<fichier omis>":            true,
	"<media omessi>":            true,
	"<mídia oculta>":            true,
	"<arquivo de mídia oculto>": true,
	"<media weggelaten>":        true,
	"<без медиафайлов>":         true,
	"<medya dahil edilmedi>":    true,
}

var iosOmitted = map[string]bool{
	"image omitted": true, "video omitted": true, "audio omitted": true, "sticker omitted": true,
	"GIF omitted": true, "document omitted": true, "Contact card omitted": true,
}

// Android "(file attached)" per language.
var fileAttached = map[string]bool{
	"file attached": true, "Datei angehängt": true, "archivo adjunto": true, "fichier joint": true,
	"file allegato": true, "arquivo anexado": true, "bestand bijgevoegd": true,
}

// iOS "<attached: NAME>" words.
var attachedWords = map[string]bool{"attached": true, "angehängt": true, "adjunto": true, "pièce jointe": true, "allegato": true, "anexado": true, "المُرفق": true}

type marker int

const (
	noMedia marker = iota
	attachedMedia
	omittedMedia
)

// mediaMarker recognizes the media line a message starts with and returns
// the file name it gives (if any). exists says whether the export holds a
// file; it settles marker words in languages not listed above.
func mediaMarker(first string, lrm bool, exists func(string) bool) (string, marker) {
	l, _ := trimEdited(strings.TrimSpace(clean(first)))
	if l == "" {
		return "", noMedia
	}
	// iOS: <attached: 00000012-PHOTO-2019-06-20-16-00-15.jpg>
	if l[0] == '<' && l[len(l)-1] == '>' {
		inner := l[1 : len(l)-1]
		if omittedAndroid[strings.ToLower(l)] {
			return "", omittedMedia
		}
		if i := strings.Index(inner, ": "); i > 0 {
			word, name := inner[:i], strings.TrimSpace(inner[i+2:])
			if name != "" && (attachedWords[strings.ToLower(word)] || looksLikeMediaName(name) || exists(name)) {
				return name, attachedMedia
			}
		}
		return "", noMedia
	}
	// Android: IMG-20210428-WA0001.jpg (file attached)
	if l[len(l)-1] == ')' {
		if i := strings.LastIndex(l, " ("); i > 0 {
			name, word := l[:i], l[i+2:len(l)-1]
			if fileAttached[word] || ((looksLikeMediaName(name) || exists(name)) && utf8.RuneCountInString(word) <= 40) {
				return name, attachedMedia
			}
		}
	}
	// Old iOS: 2015-08-04-PHOTO-00004762.jpg <attached>
	if name, ok := strings.CutSuffix(l, " <attached>"); ok && name != "" {
		return name, attachedMedia
	}
	// iOS: ‎image omitted; ‎report.pdf • ‎3 pages ‎document omitted
	if iosOmitted[l] || (lrm && strings.HasSuffix(l, " omitted")) {
		name := ""
		if i := strings.Index(l, " • "); i > 0 && strings.HasSuffix(l, "document omitted") {
			name = l[:i]
		}
		return name, omittedMedia
	}
	return "", noMedia
}

// deletedMarkers are user messages even when iOS prefixes them with LRM.
var deletedMarkers = []string{
	"This message was deleted", "You deleted this message", "Waiting for this message",
	"Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
	"Se eliminó este mensaje", "Eliminaste este mensaje",
	"Ce message a été supprimé", "Vous avez supprimé ce message",
	"Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
}

func isDeletedMarker(s string) bool {
	for _, m := range deletedMarkers {
		if strings.HasPrefix(s, m) {
			return true
		}
	}
	return false
}

// classify names the action of a system line (English exports; anything
// else is "system"). The text itself is always kept.
func classify(s string) string {
	s = strings.TrimSpace(clean(s))
	has := func(sub ...string) bool {
		for _, x := range sub {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("end-to-end encrypt", "now secured with end-to-end"):
		return "encryption_notice"
	case strings.HasPrefix(s, "Missed voice call"), strings.HasPrefix(s, "Missed video call"),
		strings.HasPrefix(s, "Missed group voice call"), strings.HasPrefix(s, "Missed group video call"),
		strings.HasPrefix(s, "Voice call"), strings.HasPrefix(s, "Video call"):
		return "phone_call"
	case has(" created group ", "You created group ", " created this group"):
		return "create_group"
	case has("changed the subject", "changed the group name", "changed this group's name"):
		return "edit_group_title"
	case has("changed this group's icon", "changed the group icon", "changed the group photo"):
		return "edit_group_photo"
	case has("deleted this group's icon", "removed this group's icon"):
		return "delete_group_photo"
	case has("changed the group description", "changed this group's description", "deleted the group description"):
		return "edit_group_description"
	case has("changed this group's settings", "changed the group settings"):
		return "edit_group_settings"
	case has("joined using this group's invite link", "joined using an invite link", "joined from the community"):
		return "join_group_by_link"
	case has("security code"):
		return "security_code_changed"
	case has("changed their phone number", "changed to +", "changed their number"):
		return "change_number"
	case has("disappearing messages", "message timer"):
		return "set_messages_ttl"
	case has("pinned a message"):
		return "pin_message"
	case has("now an admin", "no longer an admin"):
		return "edit_admins"
	case s == "You were added", strings.HasSuffix(s, " added you"), has(" added "):
		return "invite_members"
	case strings.HasSuffix(s, " removed you"), has(" removed "):
		return "remove_members"
	case strings.HasSuffix(s, " left"):
		return "leave_group"
	}
	return "system"
}
