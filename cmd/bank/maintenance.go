package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fintech-banking/bank/internal/ops"
)

// maintenanceCmd is "bank maintenance on|off|status": the mode lives in the
// database, and every replica reads it every BANK_MAINTENANCE_POLL.
func maintenanceCmd(ctx context.Context, sub string, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("maintenance "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		message    = new(string)
		retryAfter = new(time.Duration)
		output     = new(string)
	)
	switch sub {
	case "on":
		fs.StringVar(message, "message", ops.DefaultMaintenanceMessage, "what clients are told")
		fs.DurationVar(retryAfter, "retry-after", 5*time.Minute, "when clients should come back (Retry-After)")
	case "status":
		output = outputFlag(fs)
	}
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	if sub == "on" && (*retryAfter < time.Second || *retryAfter > 24*time.Hour) {
		return usagef("--retry-after must be from 1s to 24h")
	}
	if sub == "status" {
		if err := checkOutput(*output); err != nil {
			return err
		}
	}
	db, err := openExisting(ctx, &cfg, "bank-cli")
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "on", "off":
		m := ops.Maintenance{On: sub == "on", Message: *message, RetryAfter: *retryAfter}
		if err := ops.SetMaintenance(ctx, db, m, time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "maintenance %s; every replica follows within BANK_MAINTENANCE_POLL (2s by default)\n", sub)
		return nil
	}
	m, err := ops.ReadMaintenance(ctx, db)
	if err != nil {
		return err
	}
	out := struct {
		ops.Maintenance
		RetryAfterSeconds int `json:"retry_after_seconds"`
	}{m, int(m.RetryAfter / time.Second)}
	return printOutput(stdout, *output, out, func(w io.Writer) {
		if !m.On {
			fmt.Fprintln(w, "maintenance off")
			return
		}
		fmt.Fprintf(w, "maintenance on since %s, Retry-After %s: %s\n", m.Since.Format(time.RFC3339), m.RetryAfter, m.Message)
	})
}
