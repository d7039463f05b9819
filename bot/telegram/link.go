package telegram

import (
	"net/url"
	"strings"
)

// LinkURL is the t.me deep link that opens a chat with the bot and sends
// "/start <code>": "https://t.me/<bot>?start=<code>".
func LinkURL(botUsername, code string) string {
	return "https://t.me/" + url.PathEscape(strings.TrimPrefix(botUsername, "@")) + "?start=" + url.QueryEscape(code)
}
