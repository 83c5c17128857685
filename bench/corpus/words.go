package corpus

// Vocabularies for names and message text. Mixed scripts and emoji make the
// text look like real chat history (and exercise UTF-8 and escapes).

var firstNames = []string{
	"Anna", "Ben", "Chloé", "Dmitri", "Émile", "Fatima", "Georg", "Hana", "Igor", "Julia",
	"Kenji", "Lena", "Marco", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tanja",
	"Ulrich", "Vera", "Wei", "Xenia", "Yusuf", "Zoë", "Алексей", "Мария", "Ольга", "Сергей",
	"健太", "さくら", "José", "Søren", "Łukasz", "Ayşe", "Nguyễn", "Björn", "Iñaki", "Chiara",
}

var lastNames = []string{
	"Müller", "Schmidt", "Rossi", "García", "Kowalski", "Ivanova", "Petrov", "Tanaka", "Sato",
	"Johnson", "O'Brien", "Dubois", "Nielsen", "Yılmaz", "Novak", "Kim", "Silva", "Smirnov",
	"Lindqvist", "Haddad", "", "", "",
}

var chatNames = []string{
	"Family ❤", "Work \"Ops\" team", "Команда проекта", "日本語の勉強会", "Climbing crew 🧗",
	"Book club 📚", "Flat share", "Eltern Klasse 3b", "Release coordination", "Weekend plans",
	"Football ⚽ Sunday", "Backend guild", "Oma & Opa", "Trip to Lisbon 2023", "Neighbours",
	"Кулинария", "Photography", "On-call", "Choir 🎶", "Garden club", "Startup founders",
	"Café Wörterbuch", "Gaming night 🎮", "Movers", "Study group \\ exams",
}

var enWords = []string{
	"the", "a", "to", "and", "of", "in", "is", "it", "you", "that", "for", "on", "was", "with",
	"are", "be", "this", "have", "not", "but", "at", "we", "they", "so", "can", "just", "will",
	"what", "do", "if", "about", "get", "all", "one", "there", "my", "your", "out", "up", "time",
	"know", "like", "think", "tomorrow", "today", "meeting", "ok", "sure", "thanks", "great",
	"please", "sorry", "later", "morning", "evening", "lunch", "dinner", "train", "station",
	"weekend", "photo", "link", "document", "deadline", "release", "build", "deploy", "review",
	"coffee", "weather", "rain", "kids", "school", "doctor", "appointment", "ticket", "flight",
	"hotel", "price", "budget", "invoice", "draft", "version", "update", "issue", "fixed",
	"broken", "again", "maybe", "really", "probably", "definitely", "awesome", "haha", "lol",
	"yes", "no", "hmm", "wait", "call", "message", "send", "read", "write", "here", "there",
}

var ruWords = []string{
	"привет", "как", "дела", "хорошо", "спасибо", "завтра", "сегодня", "встреча", "да", "нет",
	"может", "быть", "давай", "потом", "позвоню", "фото", "ссылка", "вечером", "утром", "работа",
	"документ", "ладно", "конечно", "пожалуйста", "отлично", "понял", "купить", "хлеб", "молоко",
}

var deWords = []string{
	"Hallo", "und", "die", "der", "das", "ist", "nicht", "morgen", "heute", "Treffen", "Grüße",
	"schön", "Straße", "Bahnhof", "später", "vielleicht", "natürlich", "Danke", "bitte", "Käse",
	"Brötchen", "Wochenende", "Fußball", "übermorgen", "Termin", "genau",
}

var jaWords = []string{
	"こんにちは", "ありがとう", "明日", "今日", "会議", "了解", "すみません", "写真", "駅", "電車",
	"大丈夫", "よろしく", "お疲れ様です", "週末", "ラーメン", "日本語", "勉強", "東京",
}

var emoji = []string{
	"😀", "😂", "👍", "❤️", "🎉", "🙏", "😅", "🔥", "👀", "🤔", "😢", "✅", "🚀", "☕", "🍕",
	"👨‍👩‍👧", "🏳️‍🌈", "👍🏽", "🇩🇪", "🇯🇵",
}

var reactionEmoji = []string{"👍", "❤", "😂", "🔥", "🎉", "😢", "👀", "🙏", "👎", "🤔"}

var domains = []string{"example.com", "example.org", "docs.example.net", "git.example.dev", "maps.example.com"}

var fileKinds = []struct {
	ext, mime, dir, media string
	minSize, maxSize      int
}{
	{"jpg", "image/jpeg", "photos", "", 40_000, 4_000_000},
	{"jpg", "image/jpeg", "photos", "", 40_000, 4_000_000},
	{"png", "image/png", "files", "", 10_000, 2_000_000},
	{"mp4", "video/mp4", "video_files", "video_file", 500_000, 80_000_000},
	{"ogg", "audio/ogg", "voice_messages", "voice_message", 5_000, 900_000},
	{"pdf", "application/pdf", "files", "", 20_000, 9_000_000},
	{"webp", "image/webp", "stickers", "sticker", 8_000, 60_000},
}

var serviceActions = []string{
	"pin_message", "invite_members", "edit_group_title", "phone_call", "join_group_by_link",
	"remove_members", "edit_group_photo", "set_messages_ttl",
}

var missingReasons = []string{
	"(File not included. Change data exporting settings to download.)",
	"(File exceeds maximum size. Change data exporting settings to download.)",
	"(File unavailable, please try again later)",
}
