package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fintech-banking/bank/internal/bank"
)

// command is the help of one command: what "bank <name> --help" prints.
type command struct {
	name    string // "db connections"
	summary string // one line, a sentence
	usage   string // the arguments after the name
	example string // one or more lines, each a shell command
}

// commands lists every command the binary has, in the order "bank help"
// shows them. The list is the single source of every --help.
var commands = []command{
	{"serve", "Run every service, or one of them, until SIGTERM.", "all|auth|account|transaction|payment|notification|web [flags]",
		"bank serve all\nBANK_DATABASE_URL=postgres://bank@db/bank BANK_JWT_SECRET_FILE=/etc/bank/jwt-secret bank serve transaction"},
	{"migrate", "Apply the database migrations the database has not seen.", "[flags]",
		"bank migrate --database-url postgres://bank@db:5432/bank"},
	{"users create", "Create a user; the password comes from stdin or BANK_USER_PASSWORD.", "--role admin|operator|customer --email EMAIL [--name NAME] [flags]",
		"printf 'a long password\\n' | bank users create --role admin --email admin@bank.example"},
	{"users unlock", "Lift the lock staff put on a user; their sessions stay ended.", "--email EMAIL [flags]",
		"bank users unlock --email ann@example.com"},
	{"recon import", "Reconcile a bank statement (CAMT.053 or CSV) with an account's postings; prints the counts.", "FILE --account ID [--format camt053|csv] [--date-column C --amount-column C --reference-column C] [--url URL] [--token TOKEN] [-o table|json]",
		"bank recon import statement.xml --account system-settlement-EUR --format camt053 --url https://api.bank.example"},
	{"approvals list", "List the staff actions waiting for a second staff user (four eyes), or those decided.", "[--status pending|approved|rejected|expired|all] [--url URL] [--token TOKEN] [-o table|json]",
		"BANK_TOKEN=$(cat ~/.bank-token) bank approvals list --url https://api.bank.example"},
	{"approvals approve", "Approve a staff action another staff user asked for; it runs once.", "ID [--url URL] [--token TOKEN] [-o table|json]",
		"bank approvals approve 01J9ZQ3K8V6M2X4T --url https://api.bank.example --token \"$BANK_TOKEN\""},
	{"approvals reject", "Reject a staff action waiting for approval; it never runs.", "ID [--reason TEXT] [--url URL] [--token TOKEN] [-o table|json]",
		"bank approvals reject 01J9ZQ3K8V6M2X4T --reason \"no receipt\""},
	{"ledger verify", "Recompute every balance from the postings and check every invariant; exit 1 on a violation.", "[-o table|json] [flags]",
		"bank ledger verify -o json"},
	{"diagnose", "Check every service, the database, the ledger and the certificates; exit 0 OK, 1 warning, 2 critical, 3 unknown.", "[--url NAME=URL]… [--cert HOST:PORT|FILE]… [-o table|json] [flags]",
		"bank diagnose --url auth=http://localhost:8080 --database-url postgres://postgres@127.0.0.1/bank\nbank diagnose -o json"},
	{"db connections", "Show the database's connections grouped by application and state.", "[-o table|json] [flags]",
		"bank db connections --database-url postgres://postgres@127.0.0.1/bank"},
	{"db slow-queries", "Show the statements with the highest mean time (pg_stat_statements).", "[--limit 10] [-o table|json] [flags]",
		"bank db slow-queries --limit 5"},
	{"db terminate", "Terminate the queries running for longer than a duration.", "--older-than 5m [--yes] [flags]",
		"bank db terminate --older-than 5m          # lists them\nbank db terminate --older-than 5m --yes    # terminates them"},
	{"db maintenance", "Run ANALYZE, VACUUM (ANALYZE) or REINDEX (on PostgreSQL CONCURRENTLY: writes go on) on the ledger's tables.", "analyze|vacuum|reindex [--table NAME] [--concurrently=false] [flags]",
		"bank db maintenance vacuum --table transactions\nbank db maintenance reindex --table transactions   # REINDEX TABLE CONCURRENTLY on PostgreSQL"},
	{"backup create", "Back up the database with a manifest of its checksums, row counts and ledger totals.", "[--dir ./data/backups] [-o table|json] [flags]",
		"bank backup create --database-url postgres://postgres@db/bank --dir /var/backups/bank"},
	{"backup list", "List the backups in a folder.", "[--dir ./data/backups] [-o table|json]",
		"bank backup list --dir /var/backups/bank"},
	{"backup restore", "Restore a backup into a new database, or over one with --force.", "NAME [--to DATABASE-URL [--force]] [--dir ./data/backups] [flags]",
		"bank backup restore bank-20261201T030000Z                      # into a new database beside the configured one\nbank backup restore bank-20261201T030000Z --to postgres://postgres@db/bank_restored"},
	{"backup verify", "Restore a backup into a scratch database, check the ledger and compare it with the manifest.", "NAME [--dir ./data/backups] [-o table|json] [flags]",
		"bank backup verify bank-20261201T030000Z"},
	{"queue stats", "Show the queue and its dead-letter queue in events: visible, in flight, delayed, oldest message's age.", "[-o table|json] [flags]",
		"bank queue stats\nBANK_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/fintech-banking-events bank queue stats -o json"},
	{"queue purge", "Delete every message of the queue or of its dead-letter queue.", "--queue main|dlq --yes [flags]",
		"bank queue purge --queue dlq --yes"},
	{"queue redrive", "Move dead-lettered messages back to the queue (new message ids, same bodies).", "[--max N] [-o table|json] [flags]",
		"bank queue redrive              # all of them\nbank queue redrive --max 10     # try a few first"},
	{"queue set-visibility", "Set the queue's visibility timeout, for every consumer (runbook 5.2).", "--seconds N [flags]",
		"bank queue set-visibility --seconds 300"},
	{"search reindex", "Put the database's transactions into the OpenSearch index (BANK_SEARCH_URL), all or those since a time; after a snapshot restore, since the snapshot.", "[--since RFC3339] [-o table|json] [flags]",
		"bank search reindex --since 2026-01-15T00:00:00Z\nbank search reindex                              # every transaction"},
	{"search status", "Show the search index's documents against the database's transactions, and its lag.", "[-o table|json] [flags]",
		"bank search status\nBANK_SEARCH_URL=https://search.bank.example bank search status -o json"},
	{"maintenance on", "Put every replica in maintenance: 503 with Retry-After, health endpoints up.", "[--message TEXT] [--retry-after 5m] [flags]",
		"bank maintenance on --message \"Back at 04:00 UTC\" --retry-after 30m"},
	{"maintenance off", "End the maintenance.", "[flags]", "bank maintenance off"},
	{"maintenance status", "Show whether the platform is in maintenance.", "[-o table|json] [flags]", "bank maintenance status -o json"},
	{"certs check", "Show how many days each certificate has left; warning at 30, critical at 7.", "HOST:PORT|FILE… [-o table|json]",
		"bank certs check api.bank.example:443 /etc/tls/tls.crt"},
	{"jwt rotate", "Write a new jwt-secret key and keep the current one as the previous key, once every service accepts it.", "[--secret-file FILE --previous-secret-file FILE] --url URL... | --force [flags]",
		"bank jwt rotate --secret-file /etc/bank/jwt-secret --previous-secret-file /etc/bank/jwt-previous-secret --url http://10.0.0.5:8080 --url http://10.0.0.6:8080"},
	{"bench", "Load the API with closed-loop clients and report throughput and latency.", "[--url URL] [--scenario uniform|hot-source|hot-dest|batch|mixed] [-c 64] [-d 10s] [-o table|json] [--plot FILE] [flags]",
		"bank bench --url http://localhost:8080 -c 32 -d 10s"},
	{"version", "Print the version.", "", "bank version"},
}

// findCommand returns the command named name.
func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// subcommands returns the commands of group ("db"): those named "db …".
func subcommands(group string) []command {
	var out []command
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			out = append(out, c)
		}
	}
	return out
}

// errHelp says --help was asked for and printed: run returns nil for it.
var errHelp = errors.New("help printed")

// usage prints the top-level help.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "bank — the fintech-banking platform\n\nUsage:\n  bank COMMAND [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "  help\tPrint this help.\n")
	tw.Flush()
	fmt.Fprint(w, `
Every setting has a flag and a BANK_* environment variable; the flag wins.
With no configuration, "bank serve all" keeps its data in ./data (SQLite) and
serves on :8080. Run "bank COMMAND --help" for a command's flags and examples.
`)
}

// printGroup prints the help of a command group ("bank db").
func printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage:\n  bank %s COMMAND [flags]\n\nCommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range subcommands(group) {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimPrefix(c.name, group+" "), c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun \"bank %s COMMAND --help\" for a command's flags and examples.\n", group)
}

// group runs the subcommand of group that args name, or prints the group's
// help. run maps a name to its function.
func group(name string, args []string, stdout io.Writer, run func(sub string, args []string) error) error {
	if len(args) == 0 {
		return usagef("%s needs a command: %s (see \"bank %s --help\")", name, subNames(name), name)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printGroup(stdout, name)
		return errHelp
	}
	if _, ok := findCommand(name + " " + args[0]); !ok {
		return usagef("unknown command \"%s %s\": want %s (see \"bank %s --help\")", name, args[0], subNames(name), name)
	}
	return run(args[0], args[1:])
}

func subNames(group string) string {
	var names []string
	for _, c := range subcommands(group) {
		names = append(names, strings.TrimPrefix(c.name, group+" "))
	}
	return strings.Join(names, ", ")
}

// printHelp prints the help of the command fs runs: summary, usage, flags
// and examples.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	c, ok := findCommand(name)
	if !ok {
		// "serve all" and the other services share the help of "serve".
		c, _ = findCommand(strings.Fields(name)[0])
		c.usage = "[flags]"
	}
	fmt.Fprintf(w, "%s\n\nUsage:\n  bank %s %s\n", c.summary, name, c.usage)
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range flags {
			dash := "--"
			if len(f.Name) == 1 {
				dash = "-"
			}
			def := ""
			switch f.DefValue {
			case "", "0", "0s", "false", "[]":
			default:
				if !strings.Contains(f.Usage, "default ") {
					def = " (default " + f.DefValue + ")"
				}
			}
			arg, usage := flag.UnquoteUsage(f)
			if arg != "" {
				arg = " " + arg
			}
			fmt.Fprintf(tw, "  %s%s%s\t%s%s\n", dash, f.Name, arg, usage, def)
		}
		tw.Flush()
	}
	if c.example != "" {
		fmt.Fprint(w, "\nExamples:\n")
		for _, line := range strings.Split(c.example, "\n") {
			fmt.Fprintln(w, "  "+line)
		}
	}
}

// parseFlags parses args with fs. --help prints the command's help to fs's
// output and returns errHelp; a bad flag is a one-line usage error that
// points at --help. fs's output is where help goes (stdout): the flag
// package's own messages are not printed.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(out, fs)
		return errHelp
	}
	if err != nil {
		msg := strings.Replace(err.Error(), "flag provided but not defined: -", "unknown flag --", 1)
		return usagef("%s (see \"bank %s --help\")", msg, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see \"bank %s --help\")", fs.Arg(0), fs.Name())
	}
	return nil
}

// errorText is how main shows err: a sentence. A platform error shows its
// message (and the fields it names), not its API code.
func errorText(err error) string {
	var be *bank.Error
	if errors.As(err, &be) && be.Message != "" {
		msg := be.Message
		if be.Err != nil {
			msg += ": " + be.Err.Error()
		}
		return msg
	}
	return err.Error()
}

// exitError ends the program with a status of its own: diagnose and certs
// check exit 1 on a warning, 2 on a critical finding, 3 when they cannot tell.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// exitCode is the status main exits with for err.
func exitCode(err error) int {
	var (
		u usageError
		x exitError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &x):
		return x.code
	case errors.As(err, &u):
		return 2
	}
	return 1
}
