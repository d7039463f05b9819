package freetext

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		rule     Rule
		want     string // the stored value, or the error's text
		code     string
	}{
		{"NFC and trimmed", "  Jose\u0301 ", Name, "José", ""},
		{"ZWNJ between letters kept", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", Name, "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", ""},
		{"ESC", "Ana\x1b[2J", Name, "name: control character U+001B is not allowed", CodeControl},
		{"bidi override", "Ana\u202eevil", Name, "name: invisible formatting character U+202E is not allowed", CodeInvisible},
		{"newline in a name", "Ana\nB", Name, "name: control character U+000A is not allowed", CodeControl},
		{"newline in a note", "line 1\r\nline 2", Note, "line 1\nline 2", ""},
		{"only a zero-width space", "\u200b", Name, "name: invisible formatting character U+200B is not allowed", CodeInvisible},
		{"only braille blanks", "\u2800\u2800", Name, "name: only invisible or space characters", CodeBlank},
		{"empty", "  ", Name, "name: required", CodeRequired},
		{"empty optional", "  ", OptionalLine, "", ""},
		{"characters not bytes", strings.Repeat("é", 200), Name, strings.Repeat("é", 200), ""},
		{"too long", strings.Repeat("a", 201), Name, "name: at most 200 characters (got 201)", CodeLong},
		{"not UTF-8", "a\xffb", Name, "name: not valid UTF-8", CodeUTF8},
	} {
		got, err := Check("name", tc.in, tc.rule)
		if tc.code == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: Check = %q, %v; want %q", tc.name, got, err, tc.want)
			}
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != tc.code || err.Error() != tc.want || got != "" {
			t.Errorf("%s: Check = %q, %v; want %q (%s)", tc.name, got, err, tc.want, tc.code)
		}
	}
}

func TestTreeNamesThePath(t *testing.T) {
	v := map[string]any{"questions": []any{map[string]any{"text": map[string]any{"es": "hola\x07"}}}}
	if _, err := Tree("", v, Form); err == nil || err.Error() != "questions[0].text.es: control character U+0007 is not allowed" {
		t.Errorf("Tree = %v", err)
	}
}
