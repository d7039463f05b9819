package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/detect"
	"github.com/carecheck/carecheck/store"
)

// services completes have with the product engines the API needs over st,
// built as run builds them (no channel is on and no runner works the queue:
// what they queue stays there).
func services(t testing.TB, st *store.Store, have api.Services) api.Services {
	t.Helper()
	det, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	ob := bot.NewOutbox(st, nil, bot.Pacing{}, conversations.NewStops(st, nil), nil)
	if have.Escalations == nil {
		have.Escalations = escalation.NewService(st, ob, nil, nil)
	}
	rooms := conversations.New(conversations.Deps{Store: st, Screen: escalation.NewScreener(det), Escalations: have.Escalations, Outbox: ob})
	if have.Checkins == nil {
		have.Checkins = rooms.Checkins
	}
	if have.Appointments == nil {
		have.Appointments = rooms.Appointments
	}
	return have
}

// newServer is api.NewServer for a test, with the engines d lacks: it must build.
func newServer(t testing.TB, d api.Deps) http.Handler {
	t.Helper()
	d.Services = services(t, d.Store, d.Services)
	h, err := api.NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestNewServerNeedsItsServices: a process wired without an engine fails
// at start, naming it, rather than answering 503 on a request.
func TestNewServerNeedsItsServices(t *testing.T) {
	_, err := api.NewServer(api.Deps{Store: &store.Store{}})
	if err == nil {
		t.Fatal("NewServer without services succeeded; want an error at start")
	}
	for _, name := range []string{"Checkins", "Appointments", "Escalations"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
