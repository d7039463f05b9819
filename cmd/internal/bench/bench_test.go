package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/cmd/internal/inproc"
	"github.com/carecheck/carecheck/escalation/detect"
)

// A mistyped phase is refused before anything starts, naming the phase and
// the ones that exist.
func TestMainRefusesUnknownPhase(t *testing.T) {
	var stderr bytes.Buffer
	started := false
	start := func(context.Context, inproc.Options) (inproc.Service, error) {
		started = true
		return nil, errors.New("not reached")
	}
	err := Main(t.Context(), []string{"--phases", "inbound,nope"}, func(string) string { return "" }, io.Discard, &stderr, start)
	var u inproc.UsageError
	if !errors.As(err, &u) || !strings.Contains(u.Msg, `"nope"`) || !strings.Contains(u.Msg, "bound,dispatch,inbound,crisis,memory") {
		t.Errorf("bench --phases inbound,nope = %v; want a usage error naming nope and the phases", err)
	}
	if started {
		t.Error("the service was started for a refused command")
	}
}

// CmdDesc names round trips the way the report prints them: the command
// and the shape of its keys, never an id.
func TestCmdDescHidesIDs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		args []any
		want string
	}{
		{"hash", []any{"hset", "{c:cl_1a2b}:conv", "f", "v"}, "hset {c}:conv"},
		{"script", []any{"evalsha", "abc", 2, "{c:cl_1a2b}:conv", "{c:cl_1a2b}:timeline", "x"}, "evalsha {c}:conv,{c}:timeline"},
		{"plain key", []any{"set", "sent:r:12345", "1"}, "set sent:*"},
		{"named parts kept, ids dropped", []any{"zadd", "{a:ag_1x}:escs:client:cl_9y", "0", "es_1"}, "zadd {a}:escs:client"},
		{"an email is an id", []any{"get", "{a:ag_1x}:staffemail:ana@example.org"}, "get {a}:staffemail"},
		{"no key", []any{"ping"}, "ping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := redisCmd(ctx, tc.args...)
			if got := CmdDesc(cmd); got != tc.want {
				t.Errorf("CmdDesc(%v) = %q; want %q", tc.args, got, tc.want)
			}
		})
	}
}

func redisCmd(ctx context.Context, args ...any) *redis.Cmd { return redis.NewCmd(ctx, args...) }

// The free-text notes the bench answers with are ordinary client notes:
// the detector reads every one as none and asks no safety question. A
// crisis would get a safety reply and the question another message (the
// bench then counts a reply short); a concern would put an everyday note
// before a case manager. "wrote a letter to my brother" once got the
// question, from a model that had seen letters written only as goodbyes.
func TestBenchNotesAreOrdinary(t *testing.T) {
	d, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range benchNotes {
		if res := d.Detect(n, "en"); res.Level != detect.None || res.Ask {
			t.Errorf("note %q rated %s (ask %v, signals %+v); want none and no safety question", n, res.Level, res.Ask, res.Signals)
		}
	}
}
