package escalation

import "testing"

// ParseAck is forgiving: a case manager in a hurry, on an old phone, types
// the code in many ways; anything else is not an acknowledgement.
func TestParseAck(t *testing.T) {
	for _, c := range []struct {
		in   string
		code string
		ok   bool
	}{
		{"ACK 12", "12", true},
		{"ack 12", "12", true},
		{"Ack12", "12", true},
		{"ack12.", "12", true},
		{"12a", "12", true},
		{"12A", "12", true},
		{"a 12", "12", true},
		{"a12", "12", true},
		{"ACK #3", "3", true},
		{"ack: 3", "3", true},
		{"ack:3", "3", true},
		{"  ACK 1.  ", "1", true},
		{"ACK 02", "2", true},
		{"ok 2", "2", true},
		{"Ack 2!", "2", true},
		{"ack\n2", "2", true},
		{"ack\t2", "2", true},
		{"ack, 2", "2", true},
		{"ACK-2", "2", true},
		{"/ack 2", "2", true},
		{"2 ack", "2", true},
		// A bare acknowledgement: the caller takes it when one alert is open.
		{"ACK", "", true},
		{"ack!", "", true},
		{"OK", "", true},
		{"Ok.", "", true},
		// Not acknowledgements.
		{"", "", false},
		{"   ", "", false},
		{"12", "", false},
		{"hello", "", false},
		{"ack 1 please call me", "", false},
		{"I can't take it", "", false},
		{"ack 1234567", "", false},
		{"acknowledge", "", false},
		{"back 2", "", false},
		// Two codes: ambiguous, not guessed.
		{"ack 1 2", "", false},
		{"ack 1 ack 2", "", false},
	} {
		code, ok := ParseAck(c.in)
		if code != c.code || ok != c.ok {
			t.Errorf("ParseAck(%q) = %q, %v; want %q, %v", c.in, code, ok, c.code, c.ok)
		}
	}
}
