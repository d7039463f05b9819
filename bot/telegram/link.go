package telegram

import (
	"net/url"
	"strings"
)

// DefaultBot is the bot's username when none is configured.
const DefaultBot = "CareCheckBot"

// LinkURL is the t.me deep link that opens a chat with the bot and sends
// "/start <code>": "https://t.me/<bot>?start=<code>" ("" is DefaultBot).
func LinkURL(botUsername, code string) string {
	if botUsername == "" {
		botUsername = DefaultBot
	}
	return "https://t.me/" + url.PathEscape(strings.TrimPrefix(botUsername, "@")) + "?start=" + url.QueryEscape(code)
}
