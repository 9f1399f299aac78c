package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/fintech-banking/bank/client"
)

// approvalsCmd runs "bank approvals list|approve|reject". It calls the API
// as the staff user whose access token it is given (--token, or
// BANK_TOKEN), so the API's rules hold as for any other client: only staff
// decide, and the requester of an action cannot approve it.
func approvalsCmd(ctx context.Context, sub string, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("approvals "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	api := staffAPIFlags(fs)
	output := outputFlag(fs)
	var status, reason *string
	switch sub {
	case "list":
		status = fs.String("status", "pending", "pending, approved, rejected, expired or all")
	case "reject":
		reason = fs.String("reason", "", "why, for the audit trail")
	}
	// The approval's id comes first ("approve ID --flags"), as in "backup restore".
	var id string
	if sub != "list" && len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	if sub != "list" && id == "" {
		return usagef("approvals %s needs the approval's id (see \"bank approvals %s --help\")", sub, sub)
	}
	c, err := api.client(getenv, 60*time.Second)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if *status == "all" {
			*status = ""
		}
		var all []client.Approval
		for cursor := ""; ; {
			page, err := c.Approvals(ctx, *status, cursor)
			if err != nil {
				return apiError(err)
			}
			all = append(all, page.Data...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		return printOutput(stdout, *output, all, func(w io.Writer) { approvalTable(w, all) })
	case "approve":
		d, err := c.Approve(ctx, id)
		if err != nil {
			return apiError(err)
		}
		return printOutput(stdout, *output, d, func(w io.Writer) {
			approvalTable(w, []client.Approval{d.Approval})
			fmt.Fprintf(w, "result: %s\n", d.Result)
		})
	default: // reject
		a, err := c.Reject(ctx, id, *reason)
		if err != nil {
			return apiError(err)
		}
		return printOutput(stdout, *output, a, func(w io.Writer) { approvalTable(w, []client.Approval{*a}) })
	}
}

// apiError is how an API's refusal reads on the command line: its message.
func apiError(err error) error {
	var e *client.Error
	if errors.As(err, &e) {
		return fmt.Errorf("%s (%s)", e.Message, e.Code)
	}
	return err
}

func approvalTable(w io.Writer, as []client.Approval) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACTION\tSTATUS\tREQUESTED BY\tDECIDED BY\tEXPIRES\tREQUEST")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Action, a.Status, a.RequestedBy, a.DecidedBy,
			a.ExpiresAt.Format(time.RFC3339), a.Request)
	}
	tw.Flush()
}
