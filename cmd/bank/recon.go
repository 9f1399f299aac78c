package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/fintech-banking/bank/client"
)

// reconCmd runs "bank recon import FILE": the statement in FILE reconciled
// with an account's postings through the API, as a staff user.
func reconCmd(ctx context.Context, sub string, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("recon "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	api := staffAPIFlags(fs)
	output := outputFlag(fs)
	account := fs.String("account", "", "the account the statement is of")
	format := fs.String("format", "camt053", "camt053 or csv")
	var cols client.CSVColumns
	fs.StringVar(&cols.Date, "date-column", "date", "csv: the booking date's column")
	fs.StringVar(&cols.Amount, "amount-column", "amount", "csv: the signed amount's column")
	fs.StringVar(&cols.Reference, "reference-column", "reference", "csv: the reference's column")
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case sub != "import":
		return usagef("unknown recon command %q: want import", sub)
	case file == "":
		return usagef("recon import needs the statement's file (see \"bank recon import --help\")")
	case *account == "":
		return usagef("--account is required")
	case *format != "camt053" && *format != "csv":
		return usagef("--format must be camt053 or csv, not %q", *format)
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	c, err := api.client(getenv, 5*time.Minute)
	if err != nil {
		return err
	}
	content, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	in := client.ReconciliationRequest{AccountID: *account, Format: *format, Content: string(content)}
	if *format == "csv" {
		in.CSVColumns = &cols
	}
	r, err := c.ImportReconciliation(ctx, in)
	if err != nil {
		return apiError(err)
	}
	return printOutput(stdout, *output, r, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACCOUNT\tMATCHED\tMISMATCHED\tUNMATCHED OURS\tUNMATCHED THEIRS")
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", r.ID, r.AccountID, r.Matched, r.Mismatched, r.UnmatchedOurs, r.UnmatchedTheirs)
		tw.Flush()
	})
}
