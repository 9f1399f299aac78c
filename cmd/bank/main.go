// Command bank is the fintech-banking platform: every service, the migrations
// and the operator's commands in one binary. Run "bank help".
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if msg := errorText(err); msg != "" {
			fmt.Fprintln(os.Stderr, "bank:", msg)
		}
		os.Exit(exitCode(err))
	}
}
