package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/store"
)

// databaseOnly are the settings of commands that only need the database.
var databaseOnly = []string{"database-url", "db-max-conns", "sqlite-synchronous", "log-level", "data-dir"}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	db, err := openDB(ctx, &cfg, "bank-migrate", false, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "nothing to migrate")
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return nil
}

func users(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(stdout)
	role := fs.String("role", "", "admin, operator or customer")
	email := fs.String("email", "", "the user's email address")
	name := fs.String("name", "", "the user's name (default: the email address)")
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	if !auth.Role(*role).Valid() {
		return usagef("--role must be admin, operator or customer")
	}
	if *email == "" {
		return usagef("--email is required")
	}
	if *name == "" {
		*name = *email
	}
	password := getenv("BANK_USER_PASSWORD")
	if password == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return usagef("give the password on stdin or in BANK_USER_PASSWORD")
	}
	log := slog.New(slog.DiscardHandler)
	db, err := openDB(ctx, &cfg, "bank-cli", true, log)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := userAdmin(db, log)
	if err != nil {
		return err
	}
	u, err := svc.CreateUser(ctx, *email, *name, password, auth.Role(*role))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
	return nil
}

func ledgerCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("ledger verify", flag.ContinueOnError)
	fs.SetOutput(stdout)
	output := fs.String("o", "table", "output format: table or json")
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return usagef("-o must be table or json")
	}
	db, err := openExisting(ctx, &cfg, "bank-cli")
	if err != nil {
		return exitError{code: 3, msg: err.Error()}
	}
	defer db.Close()
	// Exit 1 means a violation: a database without the ledger has none to
	// find, and says so with 3, as diagnose says "unknown".
	if ok, err := ops.HasSchema(ctx, db); err != nil {
		return err
	} else if !ok {
		return exitError{code: 3, msg: "the database has no schema yet, so there is no ledger to verify: run bank migrate first"}
	}
	r, err := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig()).Verify(ctx)
	if err != nil {
		return err
	}
	err = printOutput(stdout, *output, r, func(w io.Writer) {
		fmt.Fprintf(w, "accounts\t%d\ntransactions\t%d\npostings\t%d\ncurrencies\t%d\nviolations\t%d\n",
			r.Accounts, r.Transactions, r.Postings, r.Currencies, len(r.Violations))
		for _, v := range r.Violations {
			fmt.Fprintln(w, "VIOLATION\t"+v)
		}
	})
	if err != nil {
		return err
	}
	if !r.OK() {
		return fmt.Errorf("ledger verify found %d violations", len(r.Violations))
	}
	return nil
}

// printOutput writes v as indented JSON when format is "json", else as table
// prints it: the -o flag of every command that reports.
func printOutput(w io.Writer, format string, v any, table func(io.Writer)) error {
	if format != "json" {
		table(w)
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// userAdmin returns auth-service's Go API for a command that manages users
// directly in the database (users create, users unlock, the bench's
// operator). It signs no token that leaves the process, so its key is a
// throwaway one.
func userAdmin(db *store.DB, log *slog.Logger) (*auth.Service, error) {
	keys, err := auth.NewKeyring(auth.KeySource{Secret: auth.GenerateSecret()}, log)
	if err != nil {
		return nil, err
	}
	return auth.NewService(db, keys, auth.DefaultConfig(), time.Now, log)
}
