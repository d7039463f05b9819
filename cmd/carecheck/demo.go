package main

import (
	"context"
	"io"
)

// demo runs everything on this machine; see demo issue.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return usageError{"demo: not built yet"}
}
