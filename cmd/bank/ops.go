package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/search/opensearch"
	"github.com/fintech-banking/bank/internal/store"
)

// outputFlag adds -o and --output: "table" (the default) or "json".
func outputFlag(fs *flag.FlagSet) *string {
	o := new(string)
	*o = "table"
	fs.StringVar(o, "o", "table", "output format: table or json")
	fs.StringVar(o, "output", "table", "the same as -o")
	return o
}

// staffAPI is the flags of a command that calls the API as a staff user:
// --url, and --token (or BANK_TOKEN), so the API's own rules hold for it.
type staffAPI struct{ url, token *string }

func staffAPIFlags(fs *flag.FlagSet) staffAPI {
	return staffAPI{
		url:   fs.String("url", "http://localhost:8080", "the API (transaction-service when split)"),
		token: fs.String("token", "", "a staff user's access token (default $BANK_TOKEN)"),
	}
}

// client returns the API client of the flags, with requests bounded by timeout.
func (a staffAPI) client(getenv func(string) string, timeout time.Duration) (*client.Client, error) {
	token := cmp.Or(*a.token, getenv("BANK_TOKEN"))
	if token == "" {
		return nil, usagef("--token (or BANK_TOKEN) is required: a staff user's access token")
	}
	return client.New(*a.url, &http.Client{Timeout: timeout}).WithToken(token), nil
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usagef("-o must be table or json, not %q", o)
	}
	return nil
}

// openExisting opens the configured database without creating or migrating
// it: an operator's command must not leave an empty SQLite file behind a
// mistyped path.
func openExisting(ctx context.Context, cfg *Config, app string) (*store.DB, error) {
	if path, ok := strings.CutPrefix(cfg.DatabaseURL, "sqlite://"); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("there is no database at %s (set --database-url or BANK_DATABASE_URL)", path)
		}
	}
	return openDB(ctx, cfg, app, false, slog.New(slog.DiscardHandler))
}

// reportExit turns a graded report into the exit status of diagnose and
// certs check.
func reportExit(r ops.Report) error {
	if r.Level == ops.OK {
		return nil
	}
	return exitError{code: r.Level.ExitCode()}
}

// multiFlag is a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// diagnoseServices says which services diagnose checks: --url flags, else
// BANK_DIAGNOSE_URLS, else the Kubernetes services when run in a cluster,
// else "bank serve all" on localhost:8080.
func diagnoseServices(urls []string, getenv func(string) string) ([]ops.Service, error) {
	if len(urls) == 0 {
		if env := getenv("BANK_DIAGNOSE_URLS"); env != "" {
			urls = strings.Split(env, ",")
		}
	}
	if len(urls) == 0 {
		if getenv("KUBERNETES_SERVICE_HOST") != "" {
			return parseServices(strings.Split(defaultServiceURLs(), ","))
		}
		return []ops.Service{{Name: "bank", URL: "http://localhost:8080"}}, nil
	}
	return parseServices(urls)
}

// parseServices reads services given as NAME=URL.
func parseServices(urls []string) ([]ops.Service, error) {
	var out []ops.Service
	for _, u := range urls {
		name, url, ok := strings.Cut(strings.TrimSpace(u), "=")
		if !ok || name == "" || !strings.HasPrefix(url, "http") {
			return nil, usagef("--url %q must be NAME=http://HOST:PORT", u)
		}
		out = append(out, ops.Service{Name: name, URL: url})
	}
	if len(out) == 0 {
		return nil, usagef("no service given")
	}
	return out, nil
}

// defaultServiceURLs are the Kubernetes Services of deploy/k8s, as
// NAME=URL,…: what a pod reaches each service by.
func defaultServiceURLs() string {
	urls := make([]string, len(services))
	for i, s := range services {
		urls[i] = s + "-service=http://" + s + "-service:8080"
	}
	return strings.Join(urls, ",")
}

func diagnoseCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("diagnose", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var urls, certs multiFlag
	fs.Var(&urls, "url", "a service to check, NAME=URL (repeatable; $BANK_DIAGNOSE_URLS, comma-separated)")
	fs.Var(&certs, "cert", "a certificate to check, HOST:PORT or a PEM file (repeatable; $BANK_DIAGNOSE_CERTS)")
	output := outputFlag(fs)
	if err := cfg.load(fs, args, getenv, append([]string{"search-url", "search-index"}, queueSettings...)...); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	svcs, err := diagnoseServices(urls, getenv)
	if err != nil {
		return err
	}
	if len(certs) == 0 && getenv("BANK_DIAGNOSE_CERTS") != "" {
		certs = strings.Split(getenv("BANK_DIAGNOSE_CERTS"), ",")
	}
	d := ops.Diagnosis{Services: svcs, Certs: certs}
	db, err := openExisting(ctx, &cfg, "bank-diagnose")
	if err != nil {
		d.DBMissing = err.Error()
	} else {
		defer db.Close()
		d.DB = db
		l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
		d.Ledger = func(ctx context.Context) ([]string, error) {
			r, err := l.Verify(ctx)
			if err != nil {
				return nil, err
			}
			return r.Violations, nil
		}
	}
	if d.DB != nil && cfg.SearchURL != "" {
		sq, err := openSearchQueue(ctx, d.DB)
		d.SearchLag = func(ctx context.Context) (time.Duration, error) {
			if err != nil {
				return 0, err
			}
			s, err := sq.Stats(ctx)
			return opensearch.Lag(s), err
		}
	}
	if d.DB != nil || cfg.QueueURL != "db" {
		q, err := openQueue(ctx, &cfg, d.DB, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			d.QueueMissing = err.Error()
		} else {
			d.Queue = q.Stats
		}
	} else {
		d.QueueMissing = "no database, so no table queue"
	}
	r := ops.Diagnose(ctx, d)
	if err := printOutput(stdout, *output, r, func(w io.Writer) { _ = r.WriteTable(w) }); err != nil {
		return err
	}
	return reportExit(r)
}

func certsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("certs check", flag.ContinueOnError)
	fs.SetOutput(stdout)
	output := outputFlag(fs)
	// Targets and flags may come in any order.
	var targets []string
	for {
		if err := parseFlagsLoose(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		targets = append(targets, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	if len(targets) == 0 {
		return usagef("certs check needs at least one HOST:PORT or FILE (see \"bank certs check --help\")")
	}
	var checks []ops.Check
	for _, t := range targets {
		checks = append(checks, ops.CertExpiry(ctx, t, time.Now()))
	}
	r := ops.NewReport(checks)
	if err := printOutput(stdout, *output, r, func(w io.Writer) { _ = r.WriteTable(w) }); err != nil {
		return err
	}
	return reportExit(r)
}

// parseFlagsLoose is parseFlags that leaves positional arguments to the caller.
func parseFlagsLoose(fs *flag.FlagSet, args []string) error {
	err := parseFlags(fs, args)
	var u usageError
	if errors.As(err, &u) && fs.NArg() > 0 && strings.HasPrefix(u.msg, "unexpected argument") {
		return nil
	}
	return err
}

func dbCmd(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("db "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	output := outputFlag(fs)
	limit := new(int)
	olderThan := new(time.Duration)
	yes := new(bool)
	var tables multiFlag
	op := ""
	concurrently := new(bool)
	switch sub {
	case "slow-queries":
		fs.IntVar(limit, "limit", 10, "how many statements to show")
	case "terminate":
		fs.DurationVar(olderThan, "older-than", 0, "terminate statements running for longer than this, such as 5m (required)")
		fs.BoolVar(yes, "yes", false, "terminate them; without it, only list them")
	case "maintenance":
		fs.Var(&tables, "table", "a table to work on (repeatable; default: "+strings.Join(ops.MaintenanceTables, ", ")+")")
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			if len(args) > 0 && isHelp(args[0]) {
				return parseFlags(fs, args[:1])
			}
			return usagef("db maintenance needs analyze, vacuum or reindex (see \"bank db maintenance --help\")")
		}
		op, args = args[0], args[1:]
		if op != "analyze" && op != "vacuum" && op != "reindex" {
			return usagef("db maintenance needs analyze, vacuum or reindex, not %q", op)
		}
		if op == "reindex" {
			fs.BoolVar(concurrently, "concurrently", true,
				"PostgreSQL: REINDEX TABLE CONCURRENTLY, which lets writes go on; false runs REINDEX TABLE, which blocks them (SQLite has only the latter)")
		}
	}
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	if sub == "terminate" && *olderThan <= 0 {
		return usagef("--older-than is required, such as --older-than 5m")
	}
	if sub == "slow-queries" && (*limit < 1 || *limit > 1000) {
		return usagef("--limit must be from 1 to 1000")
	}
	db, err := openExisting(ctx, &cfg, "bank-cli")
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "connections":
		gs, err := ops.Connections(ctx, db)
		if err != nil {
			return err
		}
		return printOutput(stdout, *output, gs, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "APPLICATION\tSTATE\tCONNECTIONS")
			for _, g := range gs {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", g.Application, g.State, g.Count)
			}
			tw.Flush()
		})
	case "slow-queries":
		ss, err := ops.SlowQueries(ctx, db, *limit)
		if err != nil {
			return err
		}
		return printOutput(stdout, *output, ss, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MEAN MS\tCALLS\tTOTAL MS\tQUERY")
			for _, s := range ss {
				fmt.Fprintf(tw, "%.2f\t%d\t%.0f\t%s\n", s.MeanMs, s.Calls, s.TotalMs, s.Query)
			}
			tw.Flush()
		})
	case "terminate":
		qs, err := ops.LongQueries(ctx, db, *olderThan)
		if err != nil {
			return err
		}
		result := struct {
			Queries    []ops.Query `json:"queries"`
			Terminated []int       `json:"terminated"`
		}{qs, []int{}}
		if *yes {
			if result.Terminated, err = ops.Terminate(ctx, db, qs); err != nil {
				return err
			}
		}
		return printOutput(stdout, *output, result, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PID\tAPPLICATION\tSECONDS\tQUERY")
			for _, q := range qs {
				fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\n", q.PID, q.Application, q.Seconds, q.Query)
			}
			tw.Flush()
			switch {
			case len(qs) == 0:
				fmt.Fprintf(w, "no statement has run for longer than %s\n", *olderThan)
			case *yes:
				fmt.Fprintf(w, "terminated %d of %d\n", len(result.Terminated), len(qs))
			default:
				fmt.Fprintf(w, "%d would be terminated; run again with --yes to terminate them\n", len(qs))
			}
		})
	case "maintenance":
		if len(tables) == 0 {
			tables = ops.MaintenanceTables
		}
		type done struct {
			Table string  `json:"table"`
			MS    float64 `json:"ms"`
		}
		var ds []done
		err := ops.Maintain(ctx, db, op, tables, *concurrently, func(t string, took time.Duration) {
			ds = append(ds, done{t, float64(took.Microseconds()) / 1000})
			if *output == "table" {
				fmt.Fprintf(stdout, "%s %s\t%.0f ms\n", op, t, float64(took.Microseconds())/1000)
			}
		})
		if err != nil {
			return err
		}
		if *output == "json" {
			return printOutput(stdout, "json", ds, nil)
		}
		return nil
	}
	return usagef("unknown command \"db %s\"", sub)
}

func usersUnlock(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("users unlock", flag.ContinueOnError)
	fs.SetOutput(stdout)
	email := fs.String("email", "", "the user's email address (required)")
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	if *email == "" {
		return usagef("--email is required")
	}
	db, err := openExisting(ctx, &cfg, "bank-cli")
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.DiscardHandler)
	svc, err := userAdmin(db, log)
	if err != nil {
		return err
	}
	// The command runs with the database's credentials: it acts as an
	// admin, and the audit trail names it as the actor.
	if _, err := svc.UnlockEmail(ctx, auth.Principal{UserID: "bank-cli", Role: auth.RoleAdmin}, *email); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "unlocked %s\n", *email)
	return nil
}
