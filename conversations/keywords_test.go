package conversations

import "testing"

func TestParseKeyword(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Keyword
	}{
		{"STOP", StopKeyword},
		{"stop", StopKeyword},
		{"STOP.", StopKeyword},
		{"  Stop!  ", StopKeyword},
		{"stop?", StopKeyword},
		{"END", StopKeyword},
		{"cancel", StopKeyword},
		{"Unsubscribe", StopKeyword},
		{"QUIT", StopKeyword},
		{"stopall", StopKeyword},
		{"revoke", StopKeyword},
		{"optout", StopKeyword},
		{"¡ALTO!", StopKeyword},
		{"parar", StopKeyword},
		{"START", StartKeyword},
		{"unstop", StartKeyword},
		{"Yes", StartKeyword},
		{"HELP", HelpKeyword},
		{"help?", HelpKeyword},
		{"info", HelpKeyword},
		{"¿Ayuda?", HelpKeyword},
		// A whole message is a keyword, or it is not one.
		{"end it all", NoKeyword},
		{"I want to end it", NoKeyword},
		{"stop it please", NoKeyword},
		{"help me", NoKeyword},
		{"please stop", NoKeyword},
		{"stopped my meds", NoKeyword},
		{"s t o p", NoKeyword},
		{"", NoKeyword},
		{"   ", NoKeyword},
		{"7", NoKeyword},
	} {
		if got := ParseKeyword(c.in); got != c.want {
			t.Errorf("ParseKeyword(%q) = %v; want %v", c.in, got, c.want)
		}
	}
}
