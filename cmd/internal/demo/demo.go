// Package demo is `carecheck demo`: the real service on the embedded Redis,
// the fake Twilio and Telegram, a seeded agency and a page where a person
// plays the clients and the case managers. The service itself comes from
// cmd/carecheck's wiring through a inproc.Start.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/carecheck/carecheck/cmd/internal/inproc"
)

const demoUsage = `usage: carecheck demo [-addr 127.0.0.1:8080] [-page 127.0.0.1:8081] [-v]

Runs the real service on the embedded Redis with fake Twilio and Telegram
servers on loopback, seeds an agency, a case manager with a backup, an
on-call rotation whose person is called, and two clients, and serves a page
where you play the clients and the case managers.
Nothing leaves this machine and nothing is kept.`

// Main is the `carecheck demo` subcommand: it runs everything on this
// machine (app.go, page.go) until ctx ends; start builds the service.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, start inproc.Start) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, demoUsage) }
	addr := fs.String("addr", "", "where the service listens (default 127.0.0.1:8080, or a free port when that is taken)")
	page := fs.String("page", "", "where the demo page listens (default 127.0.0.1:8081, or a free port when that is taken)")
	verbose := fs.Bool("v", false, "log at info level (default: warnings only)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return inproc.UsageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return inproc.UsageError{Msg: fmt.Sprintf("demo: unexpected argument %q\n%s", fs.Arg(0), demoUsage)}
	}
	level := "warn"
	if *verbose {
		level = "info"
	}
	app, err := Start(ctx, start, Options{
		Addr: *addr, PageAddr: *page, Timings: DefaultTimings(), LogTo: stderr, LogLevel: level, CallsTo: stdout,
	})
	if err != nil {
		return err
	}
	app.printIntro(stdout)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping the demo (nothing is kept)")
	return app.Close()
}

// printIntro says where everything is and how to try the agency API beside the page.
func (a *App) printIntro(w io.Writer) {
	t := a.timings
	k := a.APIKey
	var b strings.Builder
	fmt.Fprintf(&b, "\nCareCheck demo: the real service with fake Twilio and Telegram, all on this machine.\n\n")
	fmt.Fprintf(&b, "  Demo page   %s   ← open this: you play the clients and the case managers\n", a.PageURL)
	fmt.Fprintf(&b, "  Service     %s   (agency API, webhooks, workers; embedded Redis)\n", a.ServiceURL)
	fmt.Fprintf(&b, "  API key     %s   (agency %q)\n", k, demoAgencyName)
	fmt.Fprintf(&b, "  Console     %s   sign in as %s: email %s, password %s\n\n", a.ConsoleURL, CaseManagerName, CaseManagerEmail, a.ConsolePassword)
	fmt.Fprintf(&b, "Seeded: case manager %s with backup %s; clients %s (SMS) and %s (Telegram, linked),\n",
		CaseManagerName, BackupName, SMSClientName, demoTGName)
	fmt.Fprintf(&b, "each with a daily check-in; a check-in has started for both; %s has an appointment (its reminder in about %s).\n",
		demoTGName, short(t.ReminderIn))
	fmt.Fprintf(&b, "Timings: reply window %s, then one nudge; escalation: the case manager, after %s the backup, after %s more\n"+
		"whoever is on call in the %q rotation (%s, by phone call: her phone answers and presses 1), then the on-call\n"+
		"person again every %s, up to %d more times; quiet hours off. Calls and how they end are printed below.\n\n",
		short(t.ReplyWindow), short(t.AssignedWait), short(t.BackupWait), RotationName, OnCallName, short(t.BackupWait), t.Repeat)
	fmt.Fprintf(&b, "Try: as %s type \"I want to end my life\"; %s gets the alert; reply \"ACK <n>\" as %s (or wait and see %s alerted).\n\n",
		SMSClientName, CaseManagerName, CaseManagerName, BackupName)
	fmt.Fprintf(&b, "The agency API, beside the page:\n")
	fmt.Fprintf(&b, "  URL=%s\n  KEY=%s\n", a.ServiceURL, k)
	fmt.Fprintf(&b, "  curl -s $URL/v1/escalations -H \"Authorization: Bearer $KEY\"\n")
	fmt.Fprintf(&b, "  curl -s $URL/v1/clients -H \"Authorization: Bearer $KEY\"\n")
	fmt.Fprintf(&b, "  curl -s $URL/v1/clients/%s/responses -H \"Authorization: Bearer $KEY\"\n", a.smsClientID)
	fmt.Fprintf(&b, "  curl -s -X POST $URL/v1/clients/%s/checkins -H \"Authorization: Bearer $KEY\" -d '{\"questionnaire\":\"phq2\"}'\n", a.smsClientID)
	fmt.Fprintf(&b, "\nCtrl-C stops it.\n")
	fmt.Fprint(w, b.String())
}

// short writes 2m rather than 2m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
