package telegramtest

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Date is the fixed "date" (Unix seconds) the update builders put in
// messages, so that updates built twice are byte for byte the same.
const Date = 1767261600 // 2026-01-01T10:00:00Z

// BotID and BotUsername describe the bot in built updates.
const (
	BotID       = 7000000001
	BotUsername = "carecheck_test_bot"
)

func person(chatID int64, firstName string) map[string]any {
	return map[string]any{"id": chatID, "is_bot": false, "first_name": firstName, "language_code": "es"}
}

func privateChat(chatID int64, firstName string) map[string]any {
	return map[string]any{"id": chatID, "first_name": firstName, "type": "private"}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of plain values reach here
	}
	return b
}

// TextUpdate is a private-chat text message as Telegram sends it: chatID is
// also the sender's user id. A leading "/command" gets its bot_command
// entity, as in "/start <code>".
func TextUpdate(updateID int64, chatID int64, firstName, text string) []byte {
	msg := map[string]any{
		"message_id": updateID % 100000,
		"from":       person(chatID, firstName),
		"chat":       privateChat(chatID, firstName),
		"date":       Date,
		"text":       text,
	}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		msg["entities"] = []map[string]any{{"offset": 0, "length": len(utf16.Encode([]rune(cmd))), "type": "bot_command"}}
	}
	return mustJSON(map[string]any{"update_id": updateID, "message": msg})
}

// CallbackID is the callback_query id CallbackUpdate gives its query.
func CallbackID(updateID int64, chatID int64) string {
	return strconv.FormatInt(chatID, 10) + strconv.FormatInt(updateID, 10)
}

// CallbackUpdate is a press on an inline button with data, under a message
// the bot sent to the private chat chatID.
func CallbackUpdate(updateID int64, chatID int64, data string) []byte {
	return mustJSON(map[string]any{
		"update_id": updateID,
		"callback_query": map[string]any{
			"id":   CallbackID(updateID, chatID),
			"from": person(chatID, "Ana"),
			"message": map[string]any{
				"message_id": 1,
				"from":       map[string]any{"id": BotID, "is_bot": true, "first_name": "CareCheck", "username": BotUsername},
				"chat":       privateChat(chatID, "Ana"),
				"date":       Date,
				"text":       "How are you feeling today?",
				"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{
					{{"text": "OK", "callback_data": data}},
				}},
			},
			"chat_instance": "-4356281192417396582",
			"data":          data,
		},
	})
}

// KickedUpdate is the my_chat_member update Telegram sends when the person
// in the private chat chatID blocks the bot.
func KickedUpdate(updateID int64, chatID int64) []byte {
	return memberUpdate(updateID, chatID, "member", "kicked")
}

// memberUpdate is a my_chat_member update: the bot's status in the private
// chat chatID went from one to another.
func memberUpdate(updateID int64, chatID int64, from, to string) []byte {
	status := func(s string) map[string]any {
		m := map[string]any{"user": map[string]any{"id": BotID, "is_bot": true, "first_name": "CareCheck", "username": BotUsername}, "status": s}
		if s == "kicked" {
			m["until_date"] = 0
		}
		return m
	}
	return mustJSON(map[string]any{
		"update_id": updateID,
		"my_chat_member": map[string]any{
			"chat":            privateChat(chatID, "Ana"),
			"from":            person(chatID, "Ana"),
			"date":            Date,
			"old_chat_member": status(from),
			"new_chat_member": status(to),
		},
	})
}

// EditedUpdate is the edited_message update Telegram sends when the person
// in the private chat chatID edits a message they sent.
func EditedUpdate(updateID int64, chatID int64, messageID int64, text string) []byte {
	return mustJSON(map[string]any{
		"update_id": updateID,
		"edited_message": map[string]any{
			"message_id": messageID,
			"from":       person(chatID, "Ana"),
			"chat":       privateChat(chatID, "Ana"),
			"date":       Date,
			"edit_date":  Date + 60,
			"text":       text,
		},
	})
}

// UnblockedUpdate is the my_chat_member update Telegram sends when the
// person in the private chat chatID unblocks the bot.
func UnblockedUpdate(updateID int64, chatID int64) []byte {
	return memberUpdate(updateID, chatID, "kicked", "member")
}
