package telegram

import (
	"testing"
)

func TestLinkURL(t *testing.T) {
	tests := []struct{ bot, code, want string }{
		{"carecheck_bot", "K7P2QX", "https://t.me/carecheck_bot?start=K7P2QX"},
		{"@carecheck_bot", "abc-123_x", "https://t.me/carecheck_bot?start=abc-123_x"},
		{"carecheck_bot", "a b&c", "https://t.me/carecheck_bot?start=a+b%26c"},
	}
	for _, tt := range tests {
		if got := LinkURL(tt.bot, tt.code); got != tt.want {
			t.Errorf("LinkURL(%q, %q) = %q; want %q", tt.bot, tt.code, got, tt.want)
		}
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		label   string
		cfg     Config
		wantErr bool
	}{
		{"polling, no secret", Config{Token: testToken}, false},
		{"webhook", Config{Token: testToken, WebhookSecret: testSecret, PublicURL: "https://care.example.org"}, false},
		{"fake API", Config{Token: testToken, APIURL: "http://127.0.0.1:9"}, false},
		{"no token", Config{WebhookSecret: testSecret}, true},
		{"webhook without secret", Config{Token: testToken, PublicURL: "https://care.example.org"}, true},
		{"secret with bad characters", Config{Token: testToken, WebhookSecret: "no spaces!"}, true},
		{"API URL not http", Config{Token: testToken, APIURL: "ftp://x"}, true},
		{"public URL relative", Config{Token: testToken, PublicURL: "/hooks"}, true},
		{"token with a slash", Config{Token: "1:a/b"}, true},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, newRecorder(), nil, nil)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: New err = %v; want error %t", tt.label, err, tt.wantErr)
		}
	}
	if _, err := New(Config{Token: testToken}, nil, nil, nil); err == nil {
		t.Error("New with a nil Receiver = nil error; want one")
	}
	if (Config{}).Enabled() || !(Config{Token: testToken}).Enabled() {
		t.Error("Enabled: want false without a token, true with one")
	}
}
