package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bench"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
)

// benchCmd is "bank bench": a closed-loop load generator over the public API.
// It needs the server's database too (the same BANK_DATABASE_URL): to create
// the operator that funds its accounts, and to run the ledger check after.
func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	url := fs.String("url", "http://localhost:8080", "the API to load (transaction-service when split); comma-separated URLs spread the clients over replicas")
	authURL := fs.String("auth-url", "", "auth-service, when services run apart (default: --url)")
	accountURL := fs.String("account-url", "", "account-service, when services run apart (default: --url)")
	bc := bench.Config{Currency: "EUR"}
	fs.StringVar(&bc.Scenario, "scenario", "uniform", "uniform, hot-source, hot-dest, batch or mixed")
	fs.IntVar(&bc.Clients, "c", 64, "concurrent clients")
	fs.DurationVar(&bc.Duration, "d", 10*time.Second, "measured duration")
	fs.DurationVar(&bc.Warmup, "warmup", 2*time.Second, "warm-up before measuring")
	fs.IntVar(&bc.Accounts, "accounts", 1000, "accounts to spread transfers over")
	fs.IntVar(&bc.BatchSize, "b", 100, "transfers per request in the batch scenario")
	output := fs.String("o", "table", "output: table or json")
	plot := fs.String("plot", "", "write a latency chart (SVG) to this file")
	serverPID := fs.Int("server-pid", 0, "pid of the server, for its CPU time (0: every process named bank)")
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	if err := bc.Validate(); err != nil {
		return usagef("%v", err)
	}
	if *output != "table" && *output != "json" {
		return usagef("-o must be table or json")
	}
	db, err := openDB(ctx, &cfg, "bank-bench", false, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()

	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: bc.Clients * 2, MaxIdleConnsPerHost: bc.Clients * 2}}
	urls := strings.Split(*url, ",")
	endpoint := func(u string) *client.Client {
		if u == "" {
			u = urls[0]
		}
		return client.New(strings.TrimRight(strings.TrimSpace(u), "/"), hc)
	}
	ep := bench.Endpoints{Auth: endpoint(*authURL), Accounts: endpoint(*accountURL)}
	for _, u := range urls {
		ep.Transactions = append(ep.Transactions, endpoint(u))
	}
	operator, err := benchOperator(ctx, db, ep.Auth)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "preparing %d funded accounts…\n", bc.Accounts)
	setup, err := bench.Prepare(ctx, ep, operator, bc)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: %d clients, %s warm-up, %s measured\n", bc.Scenario, bc.Clients, bc.Warmup, bc.Duration)
	var before bench.CPUSnapshot
	var stored bench.StorageSnapshot
	progress := func(el time.Duration, transfers, errors int64) {
		fmt.Fprintf(stderr, "\r%5.1fs  %8.0f transfers/s  %d errors   ", el.Seconds(), float64(transfers)/el.Seconds(), errors)
	}
	// CPU counters and storage are read when the warm-up ends and when the run does.
	samples, err := bench.Run(ctx, setup, bc, func() {
		before, stored = bench.TakeCPU(*serverPID), bench.TakeStorage(ctx, db)
	}, progress)
	after, storedAfter := bench.TakeCPU(*serverPID), bench.TakeStorage(ctx, db)
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	sum := bench.Summarize(bc, samples, bc.Duration)
	sum.CPU = bench.Cost(before, after, sum.Transfers)
	sum.Storage = bench.Storage(stored, storedAfter, sum.Transfers)
	if sum.Errors["429 rate_limited"] > 0 {
		fmt.Fprintln(stderr, "the server throttled the bench's customer: run the server with BANK_RATE_LIMIT=0 to measure it")
	}

	report, err := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig()).Verify(ctx)
	if err != nil {
		return fmt.Errorf("ledger check: %w", err)
	}
	sum.LedgerViolations, sum.LedgerTransaction = report.Violations, report.Transactions

	if *plot != "" {
		f, err := os.Create(*plot)
		if err != nil {
			return err
		}
		title := fmt.Sprintf("bank bench %s, %d clients, %.0f transfers/s", bc.Scenario, bc.Clients, sum.TransfersPerSec)
		if err := bench.WriteSVG(f, title, samples); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if err := printOutput(stdout, *output, sum, func(w io.Writer) { printSummary(w, sum) }); err != nil {
		return err
	}
	if len(sum.LedgerViolations) > 0 {
		return fmt.Errorf("ledger check found %d violations after the run", len(sum.LedgerViolations))
	}
	return nil
}

// benchOperator creates an operator for this run in the database, logs it in
// and returns its access token.
func benchOperator(ctx context.Context, db *store.DB, anon *client.Client) (string, error) {
	svc, err := userAdmin(db, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	email := fmt.Sprintf("bench-operator-%d@bench.invalid", time.Now().UnixNano())
	password := auth.GenerateSecret()
	if _, err := svc.CreateUser(ctx, email, "Bench operator", password, auth.RoleOperator); err != nil {
		return "", fmt.Errorf("create bench operator: %w", err)
	}
	tok, err := anon.Login(ctx, email, password)
	if err != nil {
		return "", fmt.Errorf("log the bench operator in (is the server using this database?): %w", err)
	}
	return tok.AccessToken, nil
}

func printSummary(w io.Writer, s bench.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", s.Scenario)
	fmt.Fprintf(tw, "clients\t%d\n", s.Clients)
	fmt.Fprintf(tw, "measured\t%.1fs\n", s.DurationSeconds)
	fmt.Fprintf(tw, "transfers/s\t%.0f\n", s.TransfersPerSec)
	fmt.Fprintf(tw, "requests/s\t%.0f\n", s.RequestsPerSec)
	fmt.Fprintf(tw, "latency p50/p95/p99/max\t%.1f / %.1f / %.1f / %.1f ms\n", s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs)
	codes := make([]string, 0, len(s.Errors))
	for c := range s.Errors {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	if len(codes) == 0 {
		fmt.Fprintf(tw, "errors\tnone\n")
	}
	for _, c := range codes {
		fmt.Fprintf(tw, "errors %s\t%d\n", c, s.Errors[c])
	}
	fmt.Fprintf(tw, "cpu\t%s\n", s.CPU)
	fmt.Fprintf(tw, "storage\t%s\n", s.Storage)
	fmt.Fprintf(tw, "ledger check\t%d transactions, %d violations\n", s.LedgerTransaction, len(s.LedgerViolations))
	tw.Flush()
}
