package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store"
)

// TestStatements runs the balance and statement endpoints on both databases:
// the statement ties out (opening plus its lines is its closing balance,
// which is the balance at its end), CSV has its header and a row per line,
// the PDF reads back with its header, lines, totals and page numbers, and
// bad input and other customers are refused.
func TestStatements(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			testStatements(t, startBank(t, d))
		})
	}
}

func testStatements(t *testing.T, b *testBank) {
	ctx := context.Background()
	alice, _ := b.customer("alice")
	bob, _ := b.customer("bob")
	from := time.Now().Add(-time.Minute)
	a := b.account(alice, "EUR", 1_000_000)
	dest := b.account(bob, "EUR", 0)
	var items []client.Transfer
	for i := range 80 {
		items = append(items, client.Transfer{FromAccountID: a.ID, ToAccountID: dest.ID, Amount: int64(100 + i), Currency: "EUR",
			Description: fmt.Sprintf("rent part %d", i)})
	}
	if _, err := alice.TransferBatch(ctx, "rent", items); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Transfer(ctx, "formula", client.Transfer{FromAccountID: a.ID, ToAccountID: dest.ID, Amount: 7, Currency: "EUR",
		Description: "=HYPERLINK(\"x\")"}); err != nil {
		t.Fatal(err)
	}
	to := time.Now().Add(time.Minute)

	st, err := alice.Statement(ctx, a.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	now, err := alice.Account(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	at, err := alice.Balance(ctx, a.ID, to)
	if err != nil {
		t.Fatal(err)
	}
	balance := st.OpeningBalance
	for _, ln := range st.Lines {
		balance += ln.Amount
		if ln.Balance != balance {
			t.Fatalf("line %+v: running balance %d", ln, balance)
		}
	}
	if len(st.Lines) != 82 || st.OpeningBalance != 0 || balance != st.ClosingBalance ||
		st.ClosingBalance != at.Posted || at.Posted != now.Balance.Posted || st.Currency != "EUR" {
		t.Fatalf("statement: %d lines, opening %d, lines end at %d, closing %d; balance at to %d, now %d",
			len(st.Lines), st.OpeningBalance, balance, st.ClosingBalance, at.Posted, now.Balance.Posted)
	}
	// Before the first posting the balance was nothing.
	if before, err := alice.Balance(ctx, a.ID, from); err != nil || before.Posted != 0 {
		t.Fatalf("balance at %s: %+v %v", from, before, err)
	}

	t.Run("csv", func(t *testing.T) {
		body, err := alice.StatementFile(ctx, a.ID, from, to, "csv")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(rows[0], ","), "transaction_id,created_at,type,description,amount,balance"; got != want {
			t.Fatalf("header %q, want %q", got, want)
		}
		if len(rows) != len(st.Lines)+1 {
			t.Fatalf("%d rows, %d lines", len(rows), len(st.Lines))
		}
		for i, ln := range st.Lines {
			r := rows[i+1]
			if r[0] != ln.TransactionID || r[4] != strconv.FormatInt(ln.Amount, 10) || r[5] != strconv.FormatInt(ln.Balance, 10) {
				t.Fatalf("row %d %q, line %+v", i+1, r, ln)
			}
		}
		if last := rows[len(rows)-1][3]; last != `'=HYPERLINK("x")` {
			t.Fatalf("a formula reaches the CSV as %q", last)
		}
	})

	t.Run("pdf", func(t *testing.T) {
		pdf, err := alice.StatementFile(ctx, a.ID, from, to, "pdf")
		if err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, pdf)
		for _, want := range []string{
			"Fintech Banking", "1 Ledger Street", // the bank
			"alice <alice-", "Account " + a.Number, // the customer
			st.Lines[5].Description, "transfer", // a line
			"Opening balance", "Total credits", "Total debits", "Closing balance", euros(st.ClosingBalance) + " EUR", // the totals
			"Page 1 of 2", "Page 2 of 2",
		} {
			if !strings.Contains(text, want) {
				t.Fatalf("the PDF's text has no %q:\n%s", want, text)
			}
		}
	})

	t.Run("access", func(t *testing.T) {
		if _, err := bob.Statement(ctx, a.ID, from, to); status(t, err) != 404 {
			t.Fatalf("bob's statement of alice's account: %v", err)
		}
		if _, err := bob.Balance(ctx, a.ID, to); status(t, err) != 404 {
			t.Fatalf("bob's balance of alice's account: %v", err)
		}
		if s, err := b.staff["operator"].Statement(ctx, a.ID, from, to); err != nil || s.ClosingBalance != st.ClosingBalance {
			t.Fatalf("the operator's statement: %+v %v", s, err)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		base := "/api/v1/accounts/" + a.ID
		for _, c := range []struct {
			path, code string
			status     int
		}{
			{"/balance?at=yesterday", "invalid_time", 400},
			{"/statement?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "invalid_time_range", 400},
			{"/statement?from=2026-01-01&to=2026-01-02T00:00:00Z", "invalid_time", 400},
			{"/statement?to=2026-01-02T00:00:00Z", "invalid_request", 400},
			{"/statement?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&format=xml", "unsupported_format", 400},
			{"/statement?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&format=pdf&x=1", "", 200},
		} {
			_, err := alice.Do(ctx, "GET", base+c.path, "", nil, nil)
			var e *client.Error
			if c.status == 200 {
				if err != nil {
					t.Errorf("%s: %v", c.path, err)
				}
				continue
			}
			if !errors.As(err, &e) || e.Status != c.status || e.Code != c.code {
				t.Errorf("%s: %v, want %d %s", c.path, err, c.status, c.code)
			}
		}
		if _, err := alice.Balance(ctx, "no-such-account", time.Time{}); status(t, err) != 404 {
			t.Errorf("unknown account: %v", err)
		}
	})
	b.verify()
}

// euros formats minor units of EUR as the PDF does.
func euros(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s%d.%02d", sign, n/100, n%100)
}

// pdfText extracts the text of a PDF with pdftotext (Debian package
// poppler-utils), keeping the layout of each line.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
			t.Fatalf("pdftotext is required (BANK_REQUIRE_TOOLS is set): apt-get install -y poppler-utils")
		}
		t.Skip("pdftotext not installed (apt-get install -y poppler-utils)")
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.40q", pdf)
	}
	cmd := exec.Command("pdftotext", "-layout", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, stderr.String())
	}
	return out.String()
}
