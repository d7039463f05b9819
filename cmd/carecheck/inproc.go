package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/cmd/internal/inproc"
	"github.com/carecheck/carecheck/store"
)

// startInProc builds a process for the commands that run one inside
// themselves (bench, demo): the same config and wiring as `serve`.
func startInProc(ctx context.Context, o inproc.Options) (inproc.Service, error) {
	cfg, err := loadConfig(func(k string) string { return o.Env[k] })
	if err != nil {
		return nil, err
	}
	logTo, level := o.LogTo, o.LogLevel
	if logTo == nil {
		logTo = io.Discard
	}
	if level == "" {
		level = "info"
	}
	svc, err := newService(ctx, cfg, newLogger(logTo, level), o.Now)
	if err != nil {
		return nil, err
	}
	if o.SMSClient != nil {
		sender, err := twilio.NewSender(twilio.Config{AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken,
			FromNumber: cfg.TwilioFrom, APIURL: cfg.TwilioAPIURL, PublicURL: cfg.PublicURL}, o.SMSClient)
		if err != nil {
			_ = svc.closeAll()
			return nil, err
		}
		svc.outbox.AddSender(bot.SMS, sender)
	}
	if o.Wrap != nil {
		svc.handler = o.Wrap(svc.handler)
	}
	return inprocService{svc}, nil
}

// asUsage makes a command's usage error this binary's, which exits 2.
func asUsage(err error) error {
	var u inproc.UsageError
	if errors.As(err, &u) {
		return usageError{u.Msg}
	}
	return err
}

// inprocService is a service as cmd/internal/inproc describes it.
type inprocService struct{ s *service }

var _ inproc.Service = inprocService{}

// Store is the process's store.
func (x inprocService) Store() *store.Store { return x.s.store }

// Handler is the process's HTTP surface.
func (x inprocService) Handler() http.Handler { return x.s.handler }

// Close releases the store.
func (x inprocService) Close() error { return x.s.closeAll() }

// Work runs the workers alone until ctx ends.
func (x inprocService) Work(ctx context.Context) func() { return x.s.start(ctx).Wait }

// Serve answers HTTP on ln and runs the workers until ctx ends, then drains.
func (x inprocService) Serve(ctx context.Context, ln net.Listener, ready chan<- string) error {
	return x.s.serveOn(ctx, ln, ready)
}

// StartCheckin starts a check-in now.
func (x inprocService) StartCheckin(ctx context.Context, c *store.Client, questionnaire string) error {
	_, err := x.s.rooms.Checkins.StartCheckin(ctx, c, questionnaire)
	return err
}

// PlanSchedule queues the schedule's first occurrence after the given time.
func (x inprocService) PlanSchedule(ctx context.Context, a *store.Agency, sc *store.Schedule, after time.Time) error {
	return x.s.rooms.Checkins.PlanSchedule(ctx, a, sc, after)
}

// ResolveEscalation resolves an escalation as actor, with a note.
func (x inprocService) ResolveEscalation(ctx context.Context, agencyID, id, actor, note string) error {
	_, err := x.s.esc.Resolve(ctx, agencyID, id, actor, note)
	return err
}
