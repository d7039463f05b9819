package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/carecheck/carecheck/agencyfile"
	"github.com/carecheck/carecheck/apiclient"
)

const applyUsage = `usage: carecheck apply -f agency.yaml [--dry-run] [--server URL] [--api-key KEY]

  -f FILE      the agency's configuration file ("-" reads stdin)
  --dry-run    print what would change (created/updated/unchanged, field by field); change nothing
  --server     the service's base URL (default $CARECHECK_URL, else http://localhost:8080)
  --api-key    the agency's API key (default $CARECHECK_API_KEY; prefer the variable: flags show in ps)`

// applyFile is `carecheck apply`: flags and environment here, the work in
// package agencyfile.
func applyFile(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, applyUsage) }
	file := fs.String("f", "", "")
	dry := fs.Bool("dry-run", false, "")
	server := fs.String("server", getenv("CARECHECK_URL"), "")
	key := fs.String("api-key", getenv("CARECHECK_API_KEY"), "")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error() + "\n" + applyUsage}
	}
	if *file == "" || fs.NArg() > 0 {
		return usageError{"apply: -f FILE is required, and nothing else\n" + applyUsage}
	}
	if *server == "" {
		*server = "http://localhost:8080"
	}
	var src []byte
	var err error
	if *file == "-" {
		src, err = io.ReadAll(io.LimitReader(stdin, 2<<20))
	} else {
		src, err = os.ReadFile(*file)
	}
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if *key == "" {
		return usageError{"apply: api key: required (--api-key or CARECHECK_API_KEY)"}
	}
	c, err := apiclient.New(*server, *key, nil)
	if err != nil {
		return usageError{"apply: " + err.Error()}
	}
	f, err := agencyfile.Parse(src)
	if err == nil {
		_, err = agencyfile.Apply(ctx, c, f, *dry, stdout)
	}
	var bad agencyfile.Invalid
	if errors.As(err, &bad) {
		return fmt.Errorf("apply: %s is not applied, nothing was changed (problems: %d)\n%s", *file, len(bad), bad.In(*file))
	}
	var refused *agencyfile.Refused
	if errors.As(err, &refused) {
		return fmt.Errorf("apply: stopped after %d changes sent:\n%s", refused.Sent, agencyfile.Invalid{refused.Problem}.In(*file))
	}
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}
