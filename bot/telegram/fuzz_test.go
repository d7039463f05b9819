package telegram

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/bot"
)

// checkInbound reports what is wrong with an Inbound the handler passed on.
func checkInbound(in bot.Inbound) string {
	id, err := strconv.ParseInt(in.From, 10, 64)
	switch {
	case in.Channel != bot.Telegram:
		return "Channel = " + string(in.Channel)
	case !strings.HasPrefix(in.ProviderID, "tg:"):
		return "ProviderID = " + in.ProviderID
	case err != nil || id == 0:
		return "From = " + in.From + "; want a chat id"
	case in.Kind != bot.KindText && in.Kind != bot.KindButton && in.Kind != bot.KindEdited && in.Kind != bot.KindUnreachable && in.Kind != bot.KindReachable:
		return "Kind = " + string(in.Kind)
	case (in.Kind == bot.KindText || in.Kind == bot.KindButton || in.Kind == bot.KindEdited) && in.Text == "":
		return string(in.Kind) + " Inbound without text"
	}
	return ""
}

func newOfflineChannel(tb testing.TB, recv bot.Receiver) *Channel {
	tb.Helper()
	ch, err := New(Config{Token: testToken, WebhookSecret: testSecret, APIURL: "http://127.0.0.1:9"}, recv, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ch.answer = func(context.Context, string) error { return nil }
	return ch
}

// FuzzWebhook sends arbitrary bodies with the right secret: the handler
// never panics, answers 200, 400 or 413, and passes on only well-formed
// Inbounds. Seeds are real updates in testdata/fuzz/FuzzWebhook.
func FuzzWebhook(f *testing.F) {
	f.Add([]byte(updText))
	recv := newRecorder()
	ch := newOfflineChannel(f, recv)
	h := ch.WebhookHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		recv.mu.Lock()
		recv.got = recv.got[:0]
		recv.mu.Unlock()
		rr := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", testSecret)
		h.ServeHTTP(rr, req)
		switch rr.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if rr.Code == http.StatusRequestEntityTooLarge && len(body) <= MaxUpdateBytes {
				t.Errorf("413 for %d bytes", len(body))
			}
			if n := len(recv.received()); n > 0 {
				t.Errorf("status %d but Receive called %d times", rr.Code, n)
			}
		default:
			t.Errorf("status = %d", rr.Code)
		}
		for _, in := range recv.received() {
			if problem := checkInbound(in); problem != "" {
				t.Errorf("%s (Inbound %+v)", problem, in)
			}
		}
	})
}

type nopReceiver struct{}

func (nopReceiver) Receive(context.Context, bot.Inbound) error { return nil }

// BenchmarkWebhook measures one text update through the handler: secret
// check, read, decode, map, Receive.
func BenchmarkWebhook(b *testing.B) {
	ch := newOfflineChannel(b, nopReceiver{})
	h := ch.WebhookHandler()
	body := []byte(updText)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rr := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", testSecret)
		h.ServeHTTP(rr, req)
		if rr.Code != http.StatusOK {
			b.Fatalf("status = %d", rr.Code)
		}
	}
}
