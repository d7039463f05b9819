package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	_ "time/tzdata" // zones behave the same on every machine

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/api/throttle"
	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/telegram"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/cmd/internal/bench"
	"github.com/carecheck/carecheck/cmd/internal/demo"
	"github.com/carecheck/carecheck/console"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/detect"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/webhooks"
	"github.com/carecheck/carecheck/work"
)

const usage = `usage: carecheck <command>

commands:
  serve    run the HTTP API, webhooks, scheduler and workers (config from the environment)
  demo     run everything on this machine with fake Twilio and Telegram and a seeded agency
  apply    make an agency's configuration match a file: apply -f agency.yaml [--dry-run]
  triage   read one message per line on stdin, write one JSON verdict per line on stdout
           (triage --eval FILE.csv: recall and precision on labelled messages, columns text,label[,lang])`

// run is main, testable: it owns config, wiring, signals and drain.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return usageError{usage}
	}
	switch args[1] {
	case "serve":
		cfg, err := loadConfig(getenv)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, newLogger(stderr, cfg.LogLevel), nil)
	case "triage":
		d, err := detect.New()
		if err != nil {
			return err
		}
		if len(args) > 2 {
			if len(args) != 4 || args[2] != "--eval" {
				return usageError{"triage: the only option is --eval FILE.csv\n" + usage}
			}
			return d.EvalFile(args[3], stdout)
		}
		return d.Triage(stdin, stdout)
	case "apply":
		return applyFile(ctx, args[2:], getenv, stdin, stdout, stderr)
	case "demo":
		return asUsage(demo.Main(ctx, args[2:], stdout, stderr, startInProc))
	case "bench":
		return asUsage(bench.Main(ctx, args[2:], getenv, stdout, stderr, startInProc))
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", args[1], usage)}
	}
}

// service is one CareCheck process: store, channels, engines, HTTP surface, workers.
type service struct {
	cfg      config
	log      *slog.Logger
	store    *store.Store
	closeAll func() error
	handler  http.Handler
	registry *prometheus.Registry
	outbox   *bot.Outbox
	rooms    *conversations.Rooms
	esc      *escalation.Service
	work     *work.Runner
	hooks    *webhooks.Service
	telegram *telegram.Channel
	lastTick *prometheus.GaugeVec
	tickMu   sync.Mutex
	tick     time.Time
	// afterTick, when set before start (tests), is told after each move of due work.
	afterTick func(time.Time)
}

// newService wires a process from its config. now is the clock (nil: the real one).
func newService(ctx context.Context, cfg config, log *slog.Logger, now func() time.Time) (*service, error) {
	if now == nil {
		now = time.Now
	}
	st, closeStore, err := store.Open(ctx, store.Options{URL: cfg.RedisURL, NoAutoPipeline: !cfg.RedisAutoPipeline, SMSNumber: cfg.TwilioFrom, Log: log, Now: now})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if cfg.RedisURL != "" {
		log.Info("store ready", "store", "redis")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &service{cfg: cfg, log: log, store: st, closeAll: closeStore, registry: reg}

	det, err := detect.New()
	if err != nil {
		_ = closeStore()
		return nil, fmt.Errorf("detector: %w", err)
	}
	// In dependency order: the runner needs only the store; the services
	// take it as their handoff; then each kind of work gets its handler.
	s.outbox = bot.NewOutbox(st, nil, bot.Pacing{SMSPerSecond: cfg.TwilioRate, TelegramPerSecond: 30, TelegramChatPerSecond: 1}, conversations.NewStops(st, log), log)
	s.work = s.newRunner(st, log, reg)
	s.esc = escalation.NewService(st, s.outbox, s.work, log)
	s.rooms = conversations.New(conversations.Deps{Store: st, Screen: escalation.NewScreener(det), Escalations: s.esc, Outbox: s.outbox,
		Handoff: s.work, Log: log})
	// Outbound webhooks: told of what the store records, delivered as work.
	s.hooks = webhooks.New(st, nil, log)
	st.SetObserver(s.hooks)
	s.work.Handle(webhooks.Kind, s.hooks.DeliverJob)
	s.work.Handle(bot.JobKind, s.outbox.SendJob)
	s.work.Handle(escalation.StepKind, s.esc.StepJob)
	s.work.Handle(escalation.RuleKind, s.esc.RuleJob)
	s.esc.Observe = newAlertMetrics(reg)
	s.outbox.Outcomes = s.esc // what became of each alert: audit and metrics
	s.work.Handle(conversations.WorkCheckin, s.rooms.Checkins.CheckinJob)
	s.work.Handle(conversations.WorkTimeout, s.rooms.Checkins.TimeoutJob)
	s.work.Handle(conversations.WorkReminder, s.rooms.Appointments.ReminderJob)
	s.work.Handle(conversations.WorkSafetyQuestion, s.rooms.Inbox.SafetyQuestionJob)
	// Messages a crashed process stored but did not process.
	s.work.Every(func(ctx context.Context) error { return s.rooms.Inbox.Sweep(ctx, 10*time.Second) })
	// Escalations a binary older than the unresolved index opened, during
	// a rolling upgrade: into the console's inbox within a chore's period.
	s.work.Every(st.IndexEscalations)

	deps := api.Deps{Store: st, Log: log, Registry: reg, OperatorToken: cfg.OperatorToken, Now: now,
		Services: api.Services{Checkins: s.rooms.Checkins, Appointments: s.rooms.Appointments, Escalations: s.esc, TelegramBot: cfg.TelegramBot}, Ready: s.ready}

	twCfg := twilio.Config{AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken, FromNumber: cfg.TwilioFrom, APIURL: cfg.TwilioAPIURL, PublicURL: cfg.PublicURL}
	if twCfg.Enabled() {
		if err := twCfg.Validate(); err != nil {
			_ = closeStore()
			return nil, usageError{fmt.Sprintf("bad config: %v", err)}
		}
		// Keep connections to Twilio open: a new TLS handshake per message
		// costs more than the message.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 128
		sender, err := twilio.NewSender(twCfg, &http.Client{Timeout: 15 * time.Second, Transport: tr})
		if err != nil {
			_ = closeStore()
			return nil, usageError{fmt.Sprintf("bad config: %v", err)}
		}
		s.outbox.AddSender(bot.SMS, sender)
		deps.TwilioSMS = twilio.SMSHandler(twCfg, s.rooms.Inbox, now, log)
		deps.TwilioStatus = twilio.StatusHandler(twCfg, s.outbox, now, log)
		log.Info("channel on", "channel", "sms")
		if cfg.TwilioVoice && twCfg.PublicURL != "" {
			caller, err := twilio.NewCaller(sender)
			if err != nil {
				_ = closeStore()
				return nil, usageError{fmt.Sprintf("bad config: %v", err)}
			}
			s.outbox.AddSender(bot.Voice, caller)
			deps.TwilioVoice = twilio.VoiceHandler(twCfg, s.esc, now, log)
			deps.TwilioVoiceDigits = twilio.VoiceDigitsHandler(twCfg, s.esc, now, log)
			deps.TwilioVoiceStatus = twilio.VoiceStatusHandler(twCfg, s.esc, now, log)
			log.Info("channel on", "channel", "voice")
		} else {
			log.Warn("channel off: voice rules go by SMS (set CARECHECK_PUBLIC_URL, and TWILIO_VOICE=true)", "channel", "voice")
		}
	} else {
		log.Warn("channel off: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER to turn SMS on", "channel", "sms")
	}
	tgCfg := telegram.Config{Token: cfg.TelegramToken, WebhookSecret: cfg.TelegramSecret, APIURL: cfg.TelegramAPIURL, PublicURL: cfg.PublicURL, BotUsername: cfg.TelegramBot}
	if tgCfg.Enabled() {
		ch, err := telegram.New(tgCfg, s.rooms.Inbox, now, log)
		if err != nil {
			_ = closeStore()
			return nil, usageError{fmt.Sprintf("bad config: %v", err)}
		}
		s.telegram = ch
		s.outbox.AddSender(bot.Telegram, ch)
		deps.Telegram = ch.WebhookHandler()
		log.Info("channel on", "channel", "telegram")
	} else {
		log.Warn("channel off: set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET to turn Telegram on", "channel", "telegram")
	}
	// validate parsed it already.
	deps.TrustedProxies, _ = throttle.ParseProxies(cfg.TrustedProxies)
	deps.PublicURL = cfg.PublicURL
	if deps.Console, err = console.New(console.Deps{Store: st, Escalations: s.esc, Schedules: s.rooms.Checkins, Log: log, Now: now,
		TrustedProxies: deps.TrustedProxies, PublicURL: cfg.PublicURL, TelegramBot: cfg.TelegramBot}); err != nil {
		_ = closeStore()
		return nil, err
	}
	switch {
	case cfg.OperatorToken == "":
		log.Warn("CARECHECK_OPERATOR_TOKEN is not set: POST /v1/agencies is refused until it is")
	case utf8.RuneCountInString(cfg.OperatorToken) < minOperatorToken:
		// A guessable token never creates agencies; the rest of the service
		// (webhooks, agencies' own keys) starts as usual.
		log.Error(fmt.Sprintf("CARECHECK_OPERATOR_TOKEN is shorter than %d characters: POST /v1/agencies is refused until a longer one is set (e.g. openssl rand -hex 32)", minOperatorToken))
		deps.OperatorToken = ""
	}

	if s.handler, err = api.NewServer(deps); err != nil {
		_ = closeStore()
		return nil, err
	}
	return s, nil
}

// newRunner builds this process's work runner with its metrics.
func (s *service) newRunner(st *store.Store, log *slog.Logger, reg *prometheus.Registry) *work.Runner {
	s.lastTick = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "carecheck_scheduler_last_tick_seconds", Help: "Unix time of this process's last scheduler tick."}, nil)
	items := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "carecheck_work_items_total", Help: "Queued work items done, by kind and outcome."}, []string{"kind", "outcome"})
	reg.MustRegister(s.lastTick, items)
	return work.New(st, work.Options{Log: log,
		OnTick: func(t time.Time) {
			s.tickMu.Lock()
			s.tick = t
			after := s.afterTick
			s.tickMu.Unlock()
			s.lastTick.WithLabelValues().Set(float64(t.UnixNano()) / 1e9)
			if after != nil {
				after(t)
			}
		},
		OnItem: func(kind string, err error) {
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			items.WithLabelValues(kind, outcome).Inc()
		},
	})
}

// ready fails when this process's scheduler stopped ticking.
func (s *service) ready(ctx context.Context) error {
	s.tickMu.Lock()
	t := s.tick
	s.tickMu.Unlock()
	if t.IsZero() {
		return nil // starting
	}
	if s.store.Now().Sub(t) > 10*time.Second {
		return errors.New("scheduler stopped ticking")
	}
	return nil
}

// start runs the workers and the Telegram receiver in the background.
func (s *service) start(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.work.Run(ctx); err != nil {
			s.log.Error("work runner", "err", err)
		}
	}()
	wg.Add(1)
	go func() { defer wg.Done(); s.hooks.Run(ctx) }()
	if s.telegram != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.runTelegram(ctx) }()
	}
	return &wg
}

// runTelegram runs the Telegram receiver. Several serve processes may share
// one bot token, but Telegram allows one receiver per token: a Redis lease
// picks the process that runs it; another takes over within the lease time
// if that process dies.
func (s *service) runTelegram(ctx context.Context) {
	const ttl = 15 * time.Second
	holder := store.NewID("tg", time.Now())
	defer func() { _ = s.store.ReleaseLease(context.WithoutCancel(ctx), "telegram-receiver", holder) }()
	for ctx.Err() == nil {
		ok, err := s.store.HoldLease(ctx, "telegram-receiver", holder, ttl)
		if err != nil || !ok {
			sleepCtx(ctx, ttl/3)
			continue
		}
		s.runTelegramHeld(ctx, holder, ttl)
	}
}

// runTelegramHeld runs the receiver while this process holds the lease.
func (s *service) runTelegramHeld(ctx context.Context, holder string, ttl time.Duration) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.telegram.Run(runCtx) }()
	renew := time.NewTicker(ttl / 3)
	defer renew.Stop()
	for {
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				s.log.Error("telegram receiver stopped", "err", err)
				sleepCtx(ctx, 5*time.Second)
			}
			return
		case <-renew.C:
			if ok, err := s.store.HoldLease(ctx, "telegram-receiver", holder, ttl); err != nil || !ok {
				s.log.Warn("telegram receiver lease lost: stopping here")
				cancel()
				<-done
				return
			}
		case <-ctx.Done():
			cancel()
			<-done
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// serve runs the HTTP server and the workers until ctx ends, then drains.
// ready, when not nil, receives the listening address.
func serve(ctx context.Context, cfg config, log *slog.Logger, ready chan<- string) error {
	svc, err := newService(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer svc.closeAll()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return usageError{fmt.Sprintf("bad config: CARECHECK_ADDR %q: %v", cfg.Addr, err)}
	}
	stopAdmin, err := svc.serveAdmin(cfg.AdminAddr)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopAdmin()
	return svc.serveOn(ctx, ln, ready)
}

// serveAdmin serves /metrics and pprof on their own listener, which the
// public one never answers for; "off" serves nothing. The function it
// returns closes the listener.
func (s *service) serveAdmin(addr string) (func(), error) {
	if addr == adminOff {
		s.log.Info("admin listener off: no /metrics or pprof", "env", "CARECHECK_ADMIN_ADDR")
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageError{fmt.Sprintf("bad config: CARECHECK_ADMIN_ADDR %q: %v", addr, err)}
	}
	// No write timeout: a CPU profile streams for as long as it was asked to.
	srv := &http.Server{Handler: api.NewAdmin(s.registry), ReadHeaderTimeout: 10 * time.Second}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		s.log.Warn("admin listener is not on loopback: /metrics and pprof are reachable from the network", "addr", ln.Addr().String())
	}
	s.log.Info("admin listening", "addr", ln.Addr().String(), "serves", "/metrics /debug/pprof/")
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

func (s *service) serveOn(ctx context.Context, ln net.Listener, ready chan<- string) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	wg := s.start(workCtx)
	s.log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopWork()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "drain", "10s")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-shutCtx.Done():
		s.log.Warn("workers did not stop within the drain time")
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}
