package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/store"
)

const usage = `usage: carecheck <command>

commands:
  serve    run the HTTP API, webhooks, scheduler and workers (config from the environment)
  demo     run everything on this machine with fake Twilio and Telegram and a seeded agency
  triage   read one message per line on stdin, write one JSON verdict per line on stdout`

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
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", args[1], usage)}
	}
}

// service is one CareCheck process: store, HTTP surface, workers.
type service struct {
	cfg      config
	log      *slog.Logger
	store    *store.Store
	closeAll func() error
	handler  http.Handler
	registry *prometheus.Registry
}

// newService wires a process from its config.
func newService(ctx context.Context, cfg config, log *slog.Logger) (*service, error) {
	st, closeStore, err := store.Open(ctx, store.Options{URL: cfg.RedisURL, Log: log})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if cfg.RedisURL != "" {
		log.Info("store ready", "store", "redis")
	}
	st.SetSMSNumber(cfg.TwilioFrom)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &service{cfg: cfg, log: log, store: st, closeAll: closeStore, registry: reg}
	if cfg.OperatorToken == "" {
		log.Warn("CARECHECK_OPERATOR_TOKEN is not set: POST /v1/agencies is refused until it is")
	}
	deps := api.Deps{Store: st, Log: log, Registry: reg, OperatorToken: cfg.OperatorToken}
	s.handler = api.NewServer(deps)
	return s, nil
}

// serve runs the HTTP server and the workers until ctx ends, then drains.
// ready, when not nil, receives the listening address.
func serve(ctx context.Context, cfg config, log *slog.Logger, ready chan<- string) error {
	svc, err := newService(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.closeAll()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return usageError{fmt.Sprintf("bad config: CARECHECK_ADDR %q: %v", cfg.Addr, err)}
	}
	srv := &http.Server{Handler: svc.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain", "10s")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}
