// Package bench is `carecheck bench`: the whole service in this process on a
// real Redis, with the fake Twilio and Telegram, measured against the
// performance targets. Every figure it prints is measured in the run that
// prints it; nothing here asserts a speed (cmd/carecheck's bench_test.go
// checks correctness only). The service itself comes from cmd/carecheck's
// wiring through a inproc.Start.
package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/carecheck/carecheck/cmd/internal/inproc"
)

// The bench's own credentials for the fakes (names distinct from the tests').
const (
	benchFrom     = "+13125550100"
	benchSID      = "ACbe0c00000000000000000000000000b1"
	benchToken    = "be0c00000000000000000000000000b1"
	benchBotToken = "424242:BENCHTOKEN"
	benchTGSecret = "bench-secret-1"
	benchCrisis   = "I took all my pills"
)

// benchNotes are free-text answers to "anything else?"; the detector rates
// each "none". There are more of them than the memory phase has days, so a
// client never repeats one within its 30 days and no encoding is flattered
// by repeated text.
var benchNotes = []string{
	"slept ok, went for a walk with my sister",
	"had a quiet day, cooked dinner",
	"work was busy but fine",
	"saw my friend at the park",
	"feeling a bit tired but ok",
	"took the bus to the clinic, the wait was long",
	"my neighbor brought soup, that was kind",
	"watched a movie with my son tonight",
	"the pharmacy had my refill ready this time",
	"cleaned the kitchen, did laundry",
	"rainy all day so I stayed in and read",
	"went to the group meeting at the church hall",
	"called my mom, we talked for an hour",
	"my back hurts a little from moving boxes",
	"fixed the bike chain and rode to the store",
	"had a job interview at the warehouse, fingers crossed",
	"played cards with my roommate after dinner",
	"garden tomatoes are finally turning red",
	"ate breakfast for once, eggs and toast",
	"the landlord finally fixed the heater",
	"walked the dog twice, he was happy",
	"busy at the food bank volunteering this morning",
	"paid the electric bill today",
	"my daughter visited with the baby",
	"slept badly because of the noise upstairs",
	"finished the puzzle I started last week",
	"signed up for the computer class at the library",
	"long shift but the manager said good job",
	"went fishing at the lake with my cousin",
	"bought new shoes, the old ones had holes",
	"tried the breathing exercise before bed, it helped",
	"sorted out my bus pass for next month",
	"made tamales with my aunt for the weekend",
	"hot today, sat in the shade and listened to the radio",
	"wrote a letter to my brother",
	"the cat knocked over my coffee but otherwise fine",
	"took my meds on time all week",
}

// Config sizes a run.
type Config struct {
	Name        string
	Rates       []int         // inbound steps, msgs/s, in order
	StepDur     time.Duration // length of each inbound step
	TargetP99   time.Duration // a step "holds" at or under this p99
	StopP99     time.Duration // no higher step after one whose p99 passes this
	CrisisRate  int           // background msgs/s during the crisis phase
	CrisisDur   time.Duration
	CrisisEvery time.Duration // one crisis message this often
	Dispatch    int           // occurrences due at once
	MemClients  int
	MemDays     int
	BoundDur    time.Duration
	RedisBench  int           // redis-benchmark requests; 0 skips it
	Wait        time.Duration // longest wait for replies and alerts after a phase
	QuietWait   time.Duration // longest wait for a quiet machine before a step
	CPUProfile  string        // CPU profile of the inbound steps
	Phases      []string      // nil: all of benchPhases
	// SMSKeepAlive, when > 0, gives the SMS sender an HTTP transport that
	// keeps this many idle connections to Twilio (an experiment: the
	// service's own wiring keeps http.DefaultTransport's 2).
	SMSKeepAlive int
	// TwilioLatency, when > 0, delays every call to the fake Twilio by this
	// much, as Twilio's own API answers in 100-300 ms (an experiment).
	TwilioLatency time.Duration
}

// benchPhases are the parts of a run, in the order --phases names them.
var benchPhases = []string{"bound", "dispatch", "inbound", "crisis", "memory"}

// has says whether the run includes phase.
func (c Config) has(phase string) bool {
	return c.Phases == nil || slices.Contains(c.Phases, phase)
}

// Full is `carecheck bench`: the sizes the README's figures come from.
func Full() Config {
	return Config{Name: "full", Rates: []int{500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000}, StepDur: 5 * time.Second,
		TargetP99: 50 * time.Millisecond, StopP99: 250 * time.Millisecond,
		CrisisRate: 1000, CrisisDur: 10 * time.Second, CrisisEvery: 50 * time.Millisecond,
		Dispatch: 100_000, MemClients: 100, MemDays: 30, BoundDur: 3 * time.Second, RedisBench: 200_000, Wait: 60 * time.Second, QuietWait: 30 * time.Second}
}

// Quick is `carecheck bench --quick`: the whole run in under a minute.
func Quick() Config {
	return Config{Name: "quick", Rates: []int{500, 1000, 2000, 3000}, StepDur: time.Second,
		TargetP99: 50 * time.Millisecond, StopP99: 250 * time.Millisecond,
		CrisisRate: 1000, CrisisDur: 3 * time.Second, CrisisEvery: 50 * time.Millisecond,
		Dispatch: 5_000, MemClients: 20, MemDays: 30, BoundDur: time.Second, RedisBench: 50_000, Wait: 20 * time.Second, QuietWait: 2 * time.Second}
}

// Tiny is what cmd/carecheck's bench_test.go runs: seconds, for correctness only.
func Tiny() Config {
	return Config{Name: "tiny", Rates: []int{100, 200}, StepDur: 500 * time.Millisecond,
		TargetP99: 50 * time.Millisecond, StopP99: 10 * time.Second,
		CrisisRate: 100, CrisisDur: time.Second, CrisisEvery: 100 * time.Millisecond,
		Dispatch: 200, MemClients: 3, MemDays: 3, BoundDur: 200 * time.Millisecond, Wait: 20 * time.Second}
}

const benchUsage = `usage: carecheck bench [--quick] [--out FILE] [--phases LIST] [--cpuprofile FILE] [--log FILE] [--sms-keepalive N] [--twilio-latency D]

Runs the whole service in this process against REDIS_URL (which must be
empty: its database and the next one are written to) or, when unset, a
throwaway redis-server started on a free loopback port, with the fake Twilio
and Telegram, and prints markdown tables of what it measured.`

// Main is the `carecheck bench` subcommand: args are its flags, getenv its
// environment (REDIS_URL), start builds the service it measures.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, start inproc.Start) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, benchUsage); fs.PrintDefaults() }
	quick := fs.Bool("quick", false, "small counts and short steps: the whole run in under a minute")
	out := fs.String("out", "", "also write the report to this file")
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the inbound steps to this file")
	logFile := fs.String("log", "", "write the service's logs to this file (default: discarded)")
	phases := fs.String("phases", strings.Join(benchPhases, ","), "which phases to run")
	keep := fs.Int("sms-keepalive", 0, "experiment: give the SMS sender a transport keeping N idle connections (0: the service's own wiring)")
	lat := fs.Duration("twilio-latency", 0, "experiment: the fake Twilio answers each send this much later, as the real API does (e.g. 150ms)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return inproc.UsageError{Msg: err.Error()}
	}
	cfg := Full()
	if *quick {
		cfg = Quick()
	}
	cfg.CPUProfile = *cpu
	cfg.SMSKeepAlive = *keep
	cfg.TwilioLatency = *lat
	cfg.Phases = nil
	for p := range strings.SplitSeq(*phases, ",") {
		if p = strings.TrimSpace(p); !slices.Contains(benchPhases, p) {
			return inproc.UsageError{Msg: fmt.Sprintf("bench: unknown phase %q (phases: %s)", p, strings.Join(benchPhases, ","))}
		}
		cfg.Phases = append(cfg.Phases, p)
	}
	redisURL, origin := getenv("REDIS_URL"), "REDIS_URL"
	if redisURL == "" {
		rs, err := startBenchRedis()
		if err != nil {
			return err
		}
		defer rs.stop()
		redisURL, origin = rs.url, `redis-server started by the bench (--save "" --appendonly no)`
	}
	logw := io.Discard
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	var report bytes.Buffer
	_, err := Run(ctx, start, cfg, redisURL, origin, io.MultiWriter(stdout, &report), stderr, logw)
	if *out != "" {
		if werr := os.WriteFile(*out, report.Bytes(), 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// Results is everything a run measured (cmd/carecheck's bench_test.go checks it).
type Results struct {
	Bound    BoundResult
	Dispatch DispatchResult
	Steps    []StepResult
	Crisis   CrisisResult
	Memory   MemoryResult
}

// Run runs every phase and writes the report to out, progress to progress.
func Run(ctx context.Context, start inproc.Start, cfg Config, redisURL, origin string, out, progress, logw io.Writer) (*Results, error) {
	e, err := startBenchEnv(ctx, start, cfg, redisURL, logw)
	if err != nil {
		return nil, err
	}
	defer e.close()
	say := func(format string, a ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", a...) }
	res := &Results{}
	reported := false
	defer func() {
		if !reported {
			e.report(out, res) // what was measured before the failure
		}
	}()
	e.printMachine(ctx, out, origin)

	if cfg.has("bound") {
		e.waitQuiet(ctx)
		say("bound: go-redis GET loops for %s", cfg.BoundDur)
		res.Bound = e.boundPhase(ctx)
	}
	// Crisis under load runs before the inbound ramp, which ends by
	// saturating the process on purpose: what a saturated run leaves behind
	// (a grown heap, backlogged replies) is not the 1,000 msgs/s the
	// crisis target names.
	if cfg.has("crisis") {
		e.waitQuiet(ctx)
		say("crisis: %d msgs/s for %s, a crisis every %s", cfg.CrisisRate, cfg.CrisisDur, cfg.CrisisEvery)
		// A failed phase reports nothing of itself: its partial figures
		// (zero bytes, say) would read as a target met.
		r, err := e.crisisPhase(ctx)
		if err != nil {
			return res, fmt.Errorf("crisis: %w", err)
		}
		res.Crisis = r
		say("crisis: alert p99 %s, %d/%d delivered", ms(res.Crisis.Alert.P99), res.Crisis.Alerts, res.Crisis.Sent)
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return res, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return res, err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	g := gStep0
	for _, rate := range cfg.Rates {
		if !cfg.has("inbound") {
			break
		}
		// A step that fails is run once more: other work on a shared
		// machine can spoil one; the report shows both.
		failed := 0
		for attempt := range 2 {
			busy := e.waitQuiet(ctx)
			say("inbound: %d msgs/s for %s (CPUs %.0f%% busy before)", rate, cfg.StepDur, 100*busy)
			st, err := e.inboundStep(ctx, rate, cfg.StepDur, g)
			g++
			if err != nil {
				return res, fmt.Errorf("inbound %d/s: %w", rate, err)
			}
			st.Attempt, st.BusyBefore = attempt+1, busy
			res.Steps = append(res.Steps, st)
			say("inbound: %d/s → p50 %s p99 %s, %d errors, replies drained %s after; other processes %.2f cores", rate, ms(st.Lat.P50), ms(st.Lat.P99), st.Errors, ms(st.Drain), st.Use.Others)
			if st.Lat.P99 <= cfg.StopP99 && st.Errors <= st.Msgs/100 {
				break
			}
			failed++
		}
		if failed == 2 {
			break
		}
	}
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}

	// Dispatch runs after the inbound ramp: it leaves 100,000 clients in the
	// middle of a check-in in the same database (1.5 M keys, 1.1 GB), and
	// inbound measured on top of that is a different, slower machine (see
	// the README), not the rate the inbound target names.
	if cfg.has("dispatch") {
		e.waitQuiet(ctx)
		say("dispatch: seeding %d clients with a daily schedule", cfg.Dispatch)
		// A failed phase reports nothing of itself: its partial figures
		// (zero bytes, say) would read as a target met.
		r, err := e.dispatchPhase(ctx)
		if err != nil {
			return res, fmt.Errorf("dispatch: %w", err)
		}
		res.Dispatch = r
		say("dispatch: %d occurrences in %s, %d duplicates, %d missed", res.Dispatch.N, res.Dispatch.Elapsed.Round(time.Millisecond), res.Dispatch.Duplicates, res.Dispatch.Misses)
	}

	if cfg.has("memory") {
		say("memory: %d clients through %d simulated days", cfg.MemClients, cfg.MemDays)
		// A failed phase reports nothing of itself: its partial figures
		// (zero bytes, say) would read as a target met.
		r, err := e.memoryPhase(ctx)
		if err != nil {
			return res, fmt.Errorf("memory: %w", err)
		}
		res.Memory = r
	}
	reported = true
	e.report(out, res)
	return res, nil
}
