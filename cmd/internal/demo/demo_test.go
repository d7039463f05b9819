package demo

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/cmd/internal/inproc"
)

// A stray argument is refused with the usage, before anything starts.
func TestMainRefusesArguments(t *testing.T) {
	start := func(context.Context, inproc.Options) (inproc.Service, error) {
		t.Error("the service was started for a refused command")
		return nil, errors.New("not reached")
	}
	err := Main(t.Context(), []string{"now"}, io.Discard, io.Discard, start)
	var u inproc.UsageError
	if !errors.As(err, &u) || !strings.Contains(u.Msg, `"now"`) || !strings.Contains(u.Msg, "usage: carecheck demo") {
		t.Errorf("demo now = %v; want a usage error naming the argument, with the usage", err)
	}
}

// The intro names the demo's timings as a person reads them: 2m, not 2m0s.
func TestShortDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{2 * time.Minute: "2m", 45 * time.Second: "45s", 90 * time.Second: "1m30s", 2 * time.Hour: "2h"} {
		if got := short(d); got != want {
			t.Errorf("short(%s) = %q; want %q", d, got, want)
		}
	}
}
