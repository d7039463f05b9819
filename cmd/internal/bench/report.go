package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

func (e *benchEnv) printMachine(ctx context.Context, w io.Writer, origin string) {
	version := "?"
	if s, err := e.admin.Info(ctx, "server").Result(); err == nil {
		for line := range strings.SplitSeq(s, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				version = v
			}
		}
	}
	model := ""
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Fprintf(w, "# carecheck bench (%s), %s\n\n", e.cfg.Name, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(raw))
		if len(f) >= 3 {
			fmt.Fprintf(w, "Load average at start: %s %s %s (other work on the machine competes with the bench; see \"other processes\" below).\n\n", f[0], f[1], f[2])
		}
	}
	fmt.Fprintf(w, "Machine: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s; Redis %s, %s.\n", runtime.NumCPU(), model, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, version, origin)
	fmt.Fprintf(w, "The service, the load generator, the fake Twilio and Telegram and Redis all share these CPUs; pacing off "+
		"(TWILIO_MESSAGES_PER_SECOND=0); logs at info to io.Discard. Round trips are counted by a go-redis hook on the service's client; "+
		"commands by INFO commandstats (commands run inside Lua scripts included); CPU by getrusage (this process) and INFO cpu (Redis).\n\n")
}

func (e *benchEnv) report(w io.Writer, r *Results) {
	cfg := e.cfg
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	if cfg.TwilioLatency > 0 {
		p("**Experiment:** every send to the fake Twilio takes %s longer (`--twilio-latency`), as Twilio's real API does.\n\n", cfg.TwilioLatency)
	}
	if cfg.SMSKeepAlive > 0 {
		p("**Experiment:** the SMS sender's HTTP transport keeps %d idle connections to Twilio (`--sms-keepalive`); the service's own wiring keeps http.DefaultTransport's 2.\n\n", cfg.SMSKeepAlive)
	}
	best := -1
	for i, s := range r.Steps {
		if s.holds(cfg.TargetP99) {
			best = i
		}
	}
	if len(r.Steps) > 0 {
		p("## 1. Inbound: signed Twilio SMS webhooks, open loop\n\n")
		p("Each step seeds rate×%s/2 new clients and starts a daily-mood check-in for each (the first question goes out through the workers), "+
			"then sends at a constant arrival rate the answer \"7\" from each (first half of the step) and a free-text note from each (second half): "+
			"every message is stored, screened, advances a conversation and causes one reply. Latency counts from when a request was due, not when it was sent; "+
			"\"reply\" is from then to the fake Twilio recording the reply it caused.\n\n", cfg.StepDur)
		p("| offered /s | try | CPUs busy before | sent | achieved /s | errors | p50 | p90 | p99 | max | p99 in handler | reply p50 | reply p99 | replies | drain | notes held | holds |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Steps {
			p("| %d | %d | %.0f%% | %d | %.0f | %d | %s | %s | %s | %s | %s | %s | %s | %d/%d | %s | %d | %s |\n",
				s.Rate, s.Attempt, 100*s.BusyBefore, s.Msgs, s.Achieved, s.Errors, ms(s.Lat.P50), ms(s.Lat.P90), ms(s.Lat.P99), ms(s.Lat.Max), ms(s.Server.P99),
				ms(s.Reply.P50), ms(s.Reply.P99), s.Replies, s.Msgs, ms(s.Drain), s.Held, yes(s.holds(cfg.TargetP99)))
		}
		p("\n\"holds\": no errors, ≥ 97%% of the offered rate sent, p99 ≤ %s, every reply sent and the last within 1 s of the last webhook. "+
			"\"drain\": last webhook sent → last reply recorded. \"notes held\": notes that waited, past their due time, for the same client's \"7\" to be answered "+
			"(a person answers the second question after the first).\n\n", ms(cfg.TargetP99))
		p("What each message cost (its reply's sending included), per step:\n\n")
		p("| offered /s | try | RT/msg webhook | RT/msg workers | Redis cmds/msg | Redis CPU/msg | Go CPU/msg | Redis cores | Go cores | other processes, cores | all CPUs busy | go-redis pool waits |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Steps {
			u := s.Use
			p("| %d | %d | %.1f | %.1f | %.1f | %.3f ms | %.3f ms | %.2f | %.2f | %.2f | %.0f%% | %d |\n", s.Rate, s.Attempt, u.RTWebhook, u.RTOther, u.Cmds, u.RedisCPU, u.GoCPU,
				u.RedisCores, u.GoCore, u.Others, 100*u.Machine, u.PoolWaits)
		}
		p("\n")
		if best >= 0 {
			s := r.Steps[best]
			p("**Highest rate sustained with p99 ≤ %s: %d msgs/s** (p50 %s, p99 %s); %.1f Redis round trips per message (%.1f answering the webhook + %.1f in the workers, sending its reply).\n\n",
				ms(cfg.TargetP99), s.Rate, ms(s.Lat.P50), ms(s.Lat.P99), s.Use.RT(), s.Use.RTWebhook, s.Use.RTOther)
			e.printSources(w, fmt.Sprintf("Round trips per inbound message at %d/s", s.Rate), s.Use.Top)
		} else {
			p("**No step held p99 ≤ %s.**\n\n", ms(cfg.TargetP99))
			e.printSources(w, fmt.Sprintf("Round trips per inbound message at %d/s", r.Steps[0].Rate), r.Steps[0].Use.Top)
		}
	}

	c, b := r.Crisis, r.Crisis.Background
	if c.Sent > 0 {
		p("## 2. Crisis under load\n\n")
		p("%d msgs/s of normal traffic (as in 1) for %s; meanwhile a crisis message (%q) from another client every %s, each client with a case manager of its own. "+
			"Latency from when the crisis webhook was due to the fake Twilio recording the message.\n\n", cfg.CrisisRate, cfg.CrisisDur, benchCrisis, cfg.CrisisEvery)
		p("| what | n | delivered | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|\n")
		p("| crisis → alert, one at a time with nothing else running | %d | %d | %s | %s | %s | %s |\n", c.Idle, c.IdleAlerts, ms(c.IdleAlert.P50), ms(c.IdleAlert.P90), ms(c.IdleAlert.P99), ms(c.IdleAlert.Max))
		p("| crisis → alert to the case manager, under load | %d | %d | %s | %s | %s | %s |\n", c.Sent, c.Alerts, ms(c.Alert.P50), ms(c.Alert.P90), ms(c.Alert.P99), ms(c.Alert.Max))
		p("| crisis → safety reply to the client | %d | %d | %s | %s | %s | %s |\n", c.Sent, c.Safety, ms(c.SafetyLat.P50), ms(c.SafetyLat.P90), ms(c.SafetyLat.P99), ms(c.SafetyLat.Max))
		p("| crisis webhook answered | %d | %d ok | %s | %s | %s | %s |\n", c.Sent, c.Sent-c.Errors, ms(c.Webhook.P50), ms(c.Webhook.P90), ms(c.Webhook.P99), ms(c.Webhook.Max))
		p("| background webhooks (%.0f/s achieved) | %d | %d ok | %s | %s | %s | %s |\n", b.Achieved, b.Msgs, b.Msgs-b.Errors, ms(b.Lat.P50), ms(b.Lat.P90), ms(b.Lat.P99), ms(b.Lat.Max))
		p("| background replies | %d | %d | %s | %s | %s | %s |\n\n", b.Msgs, b.Replies, ms(b.Reply.P50), ms(b.Reply.P90), ms(b.Reply.P99), ms(b.Reply.Max))
		p("Redis round trips per message in this phase: %.1f; Redis %.2f cores, Go %.2f cores, other processes %.2f cores, all CPUs %.0f%% busy; go-redis pool waits %d.\n\n",
			b.Use.RT(), b.Use.RedisCores, b.Use.GoCore, b.Use.Others, 100*b.Use.Machine, b.Use.PoolWaits)
		p("One crisis message alone costs %.1f Redis round trips (%.1f answering the webhook, %.1f in the workers: safety reply and alert), %.1f Redis commands.\n\n",
			c.IdleUse.RT(), c.IdleUse.RTWebhook, c.IdleUse.RTOther, c.IdleUse.Cmds)
		e.printSources(w, "Round trips per crisis message, alone", c.IdleUse.Top)
	}

	d := r.Dispatch
	if d.N > 0 {
		p("## 3. Dispatch: %d check-in occurrences due at once\n\n", d.N)
		p("%d clients, each with a daily-mood schedule planned through `Checkins.PlanSchedule` (setup %s); the service clock then jumps past the due time. "+
			"Workers running, pacing off; counted until every first question is recorded by the fake, then until the queue is empty.\n\n", d.N, d.Setup.Round(time.Millisecond))
		p("| occurrences | first questions | duplicates | missed | all sent after | occurrences/s | due → sent p50 | p99 |\n|---|---|---|---|---|---|---|---|\n")
		p("| %d | %d | **%d** | %d | %s | %.0f | %s | %s |\n\n", d.N, d.Delivered, d.Duplicates, d.Misses, ms(d.Elapsed), d.Rate, ms(d.FirstSent.P50), ms(d.FirstSent.P99))
		u := d.Use
		p("| RT/occurrence | Redis cmds/occ | Redis CPU/occ | Go CPU/occ | Redis cores | Go cores | other processes, cores | all CPUs busy | go-redis pool waits |\n|---|---|---|---|---|---|---|---|---|\n")
		p("| %.1f | %.1f | %.3f ms | %.3f ms | %.2f | %.2f | %.2f | %.0f%% | %d |\n\n", u.RT(), u.Cmds, u.RedisCPU, u.GoCPU, u.RedisCores, u.GoCore, u.Others, 100*u.Machine, u.PoolWaits)
		e.printSources(w, "Round trips per dispatched occurrence", u.Top)
	}

	m := r.Memory
	if m.Clients > 0 {
		p("## 4. Memory per client\n\n")
		p("%d clients on a database of their own, driven through the real paths (webhooks, workers, fake Twilio) by a second service whose clock walks %d days: "+
			"a daily-mood schedule, every day's check-in answered (\"7\" and a note), one crisis on day %d whose escalation is resolved; %d SMS to them in all. "+
			"MEMORY USAGE (SAMPLES 0) of every key, by key shape, divided by the number of clients. Keys with a TTL are also shown at their steady-state share "+
			"(TTL ÷ %d days), because simulated days do not age them.\n\n", m.Clients, m.Days, m.Days/3+1, m.Messages, m.Days)
		p("| key | keys | bytes/client as stored | TTL | bytes/client steady state |\n|---|---|---|---|---|\n")
		for _, k := range m.Classes {
			ttl := "–"
			switch {
			case k.TTL >= time.Hour:
				ttl = k.TTL.Round(time.Hour).String()
			case k.TTL > 0:
				ttl = "≤ " + k.TTL.Round(time.Second).String()
			}
			note := ""
			if k.PerAgencyKey {
				note = " (per agency)"
			}
			p("| `%s`%s | %d | %.0f | %s | %.0f |\n", k.Class, note, k.Keys, k.Bytes/float64(m.Clients), ttl, k.Steady/float64(m.Clients))
		}
		p("| **total per client** | | **%.0f** | | **%.0f** |\n\n", m.PerClient, m.Steady)
		p("Split by what grows: the fixed state does not grow with time (target ≤ 2 KB); the history (timeline entries, the closed escalation and the client's index of it) grows with every answered day (no target).\n\n")
		p("| per client | bytes |\n|---|---|\n")
		p("| **fixed state** (client, schedule, queued occurrence, owner, idle conversation, dedupe, send bookkeeping at its TTL share) | **%.0f** |\n", m.Fixed)
		p("| history per answered check-in day (timeline + escalation, ÷ %d days) | %.0f |\n", m.Days, m.History/float64(m.Days))
		p("| history, %d days | %.0f |\n\n", m.Days, m.History)
		p("INFO used_memory grew by %.0f bytes per client over the phase (allocator and dict overhead included).\n\n", m.UsedDelta)
	}

	bd := r.Bound
	if bd.GoRT > 0 {
		p("## 5. The bound: round trips this Redis can serve\n\n")
		p("| loop | round trips/s |\n|---|---|\n")
		p("| go-redis, one goroutine, GET one at a time (p50 %s, p99 %s) | %.0f |\n", ms(bd.Serial.P50), ms(bd.Serial.P99), bd.SerialRT)
		p("| go-redis, %d goroutines, GET (Redis %.2f cores, all CPUs %.0f%% busy) | **%.0f** |\n", bd.Conns, bd.RedisCores, 100*bd.Machine, bd.GoRT)
		p("| go-redis, %d goroutines, pipelines of 16 GETs (commands/s) | %.0f |\n", bd.Conns, bd.Piped)
		if bd.RedisBench > 0 {
			p("| redis-benchmark -c 64 -t get (its own process) | %.0f |\n", bd.RedisBench)
		} else if bd.Note != "" {
			p("| redis-benchmark | %s |\n", bd.Note)
		}
		p("\n| figure | measured | RT per unit | RT/s it needs | the bound (%d goroutines) allows | fraction of the bound |\n|---|---|---|---|---|---|\n", bd.Conns)
		frac := func(name string, rate, rt float64, unit string) {
			if rate <= 0 || rt <= 0 {
				return
			}
			p("| %s | %.0f %s/s | %.1f | %.0f | %.0f %s/s | %.0f%% |\n", name, rate, unit, rt, rate*rt, bd.GoRT/rt, unit, 100*rate*rt/bd.GoRT)
		}
		if best >= 0 {
			s := r.Steps[best]
			frac("inbound, best sustained step", float64(s.Rate), s.Use.RT(), "msgs")
		}
		if len(r.Steps) > 0 {
			s := r.Steps[len(r.Steps)-1]
			frac(fmt.Sprintf("inbound, last step (%d/s offered)", s.Rate), s.Achieved, s.Use.RT(), "msgs")
		}
		if c.Sent > 0 {
			frac("crisis phase (background + crises)", b.Achieved, b.Use.RT(), "msgs")
		}
		frac("dispatch", d.Rate, d.Use.RT(), "occ")
		p("\n")
	}

	p("## Targets\n\n| target | measured | met |\n|---|---|---|\n")
	if len(r.Steps) > 0 {
		if best >= 0 {
			s := r.Steps[best]
			p("| ≥ 2,000 inbound/s sustained, p99 ≤ 50 ms | %d/s (p99 %s) | %s |\n", s.Rate, ms(s.Lat.P99), yes(s.Rate >= 2000))
		} else {
			p("| ≥ 2,000 inbound/s sustained, p99 ≤ 50 ms | no step held | no |\n")
		}
	}
	if c.Sent > 0 {
		p("| crisis → alert p99 ≤ 100 ms at 1,000 msgs/s | p99 %s (max %s), %d/%d delivered, background %.0f/s | %s |\n",
			ms(c.Alert.P99), ms(c.Alert.Max), c.Alerts, c.Sent, b.Achieved, yes(c.Alerts == c.Sent && c.Alert.P99 <= 100*time.Millisecond && b.Achieved >= 0.97*1000))
	}
	if d.N > 0 {
		p("| 100,000 occurrences, 0 duplicates | %d: %d sent, %d duplicates, %d missed, %.0f/s | %s |\n", d.N, d.Delivered, d.Duplicates, d.Misses, d.Rate,
			yes(d.Duplicates == 0 && d.Misses == 0 && d.N >= 100_000))
	}
	if m.Clients > 0 {
		p("| ≤ 2 KB Redis per client with a schedule (fixed state) | %.0f B fixed; history %.0f B per answered day, %.0f B over %d days (no target) | %s |\n", m.Fixed, m.History/float64(m.Days), m.History, m.Days,
			yes(m.Fixed <= 2048 && m.Days >= 30))
	}
	p("\n")
	if (d.N > 0 && d.N < 100_000) || (m.Clients > 0 && m.Clients < 100) {
		// A quick run's "no" there is its size, not a regression.
		p("A smaller run: %d occurrences rather than 100,000, and %d memory clients rather than 100 (the agency's and the queue's keys are shared by fewer clients, so the fixed state per client reads higher). The targets are judged on the full run.\n\n", d.N, m.Clients)
	}
}

func (e *benchEnv) printSources(w io.Writer, title string, top []RTSource) {
	if len(top) == 0 {
		return
	}
	fmt.Fprintf(w, "%s (go-redis hook; pipelines and MULTI count once):\n\n| round trip | per unit |\n|---|---|\n", title)
	for _, s := range top {
		fmt.Fprintf(w, "| `%s` | %.2f |\n", s.Desc, s.Per)
	}
	fmt.Fprintln(w)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
