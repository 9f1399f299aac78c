package recon_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/recon"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

var (
	alice = bank.Principal{UserID: "alice", Role: bank.RoleCustomer}
	op1   = bank.Principal{UserID: "op1", Role: bank.RoleOperator}
	op2   = bank.Principal{UserID: "op2", Role: bank.RoleOperator}
)

type fixture struct {
	db       *store.DB
	l        *ledger.Ledger
	clk      *clock.Fake
	gate     *approval.Service
	s        *recon.Service
	from, to string // alice's accounts: to is the one reconciled
}

var start = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, db *store.DB, rules string) *fixture {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at)
		VALUES ('alice', 'alice@example.test', 'Alice', 'customer', 'x', $1)`, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(start)
	log := slog.New(slog.DiscardHandler)
	l := ledger.New(db, log, clk.Now, ledger.DefaultConfig())
	t.Cleanup(l.Close)
	rs, err := approval.ParseRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	gate := approval.New(db, l, log, clk, approval.Config{Rules: rs, TTL: time.Hour})
	f := &fixture{db: db, l: l, clk: clk, gate: gate, s: recon.New(db, l, gate, log, clk.Now)}
	for _, id := range []*string{&f.from, &f.to} {
		a, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking})
		if err != nil {
			t.Fatal(err)
		}
		*id = a.ID
	}
	if _, err := l.Deposit(ctx, op1, ledger.Idempotency{Key: "fund", Hash: "fund"},
		ledger.CashInput{AccountID: f.from, Money: bank.Money{Amount: 1 << 40, Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// post makes n transfers into f.to, amounts 1000+i, spread over days
// (batches of 1,000 a day), and returns them as the statement would show them.
func (f *fixture) post(t *testing.T, n int) []stmtLine {
	t.Helper()
	var lines []stmtLine
	for done := 0; done < n; done += ledger.MaxBatchTransfers {
		items := make([]ledger.TransferInput, min(ledger.MaxBatchTransfers, n-done))
		for i := range items {
			items[i] = ledger.TransferInput{From: f.from, To: f.to, Money: bank.Money{Amount: int64(1000 + done + i), Currency: "EUR"}}
		}
		res, err := f.l.TransferBatch(context.Background(), alice, ledger.Idempotency{Key: "batch" + strconv.Itoa(done), Hash: "h"}, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			if it.Err != nil {
				t.Fatal(it.Err)
			}
			lines = append(lines, stmtLine{ref: it.Transaction.ID, amount: it.Transaction.Amount, date: f.clk.Now().Format(time.DateOnly)})
		}
		f.clk.Advance(24 * time.Hour)
	}
	return lines
}

func (f *fixture) items(t *testing.T, id, status string) []recon.Item {
	t.Helper()
	items, err := f.s.Items(context.Background(), op1, id, recon.ItemFilter{Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestPlantedDifferences: a statement of 10,000 lines made from the
// account's postings, with differences planted (lines missing, lines
// extra, amounts off, dates beyond the tolerance, and references dropped,
// which amount and date still match), is reconciled to exactly those.
func TestPlantedDifferences(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "")
		lines := f.post(t, 10_000)
		var missing, extra, amountOff, dateOff []string
		var stmt []stmtLine
		for i, ln := range lines {
			switch {
			case i%1000 == 7: // missing from the statement
				missing = append(missing, ln.ref)
				continue
			case i%1000 == 11:
				ln.amount++
				amountOff = append(amountOff, ln.ref)
			case i%1000 == 13:
				d, _ := time.Parse(time.DateOnly, ln.date)
				ln.date = d.AddDate(0, 0, 3).Format(time.DateOnly)
				dateOff = append(dateOff, ln.ref)
			case i%1000 == 17:
				ln.ref = "" // matched by amount and date alone
			case i%1000 == 19:
				d, _ := time.Parse(time.DateOnly, ln.date)
				ln.date = d.AddDate(0, 0, -2).Format(time.DateOnly) // within the tolerance: matched
			}
			stmt = append(stmt, ln)
		}
		for i := range 10 {
			ref := "EXTRA-" + strconv.Itoa(i)
			extra = append(extra, ref)
			stmt = append(stmt, stmtLine{ref: ref, amount: 500_000 + int64(i), date: "2026-01-06"})
		}
		doc := camt053(stmt)
		checkSchema(t, doc)
		began := time.Now()
		r, err := f.s.Import(context.Background(), op1, recon.ImportInput{AccountID: f.to, Format: recon.FormatCAMT053, Content: recon.Content(doc)})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("reconciled %d lines (%d KiB of CAMT.053) against %d postings in %v", len(stmt), len(doc)>>10, len(lines), time.Since(began))
		got := [4]int{r.Matched, r.Mismatched, r.UnmatchedOurs, r.UnmatchedTheirs}
		if want := [4]int{9970, 20, 10, 10}; got != want {
			t.Errorf("matched, mismatched, unmatched ours, unmatched theirs = %v, want %v", got, want)
		}
		refs := func(items []recon.Item, ours bool) []string {
			var rs []string
			for _, it := range items {
				if ours {
					rs = append(rs, it.Ours.TransactionID)
				} else {
					rs = append(rs, it.Theirs.References[0])
				}
			}
			sort.Strings(rs)
			return rs
		}
		sorted := func(s ...[]string) []string {
			var all []string
			for _, x := range s {
				all = append(all, x...)
			}
			sort.Strings(all)
			return all
		}
		if diff := cmp.Diff(refs(f.items(t, r.ID, recon.StatusUnmatchedOurs), true), sorted(missing)); diff != "" {
			t.Errorf("unmatched ours (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(refs(f.items(t, r.ID, recon.StatusUnmatchedTheirs), false), sorted(extra)); diff != "" {
			t.Errorf("unmatched theirs (-got +want):\n%s", diff)
		}
		mism := f.items(t, r.ID, recon.StatusMismatched)
		if diff := cmp.Diff(refs(mism, true), sorted(amountOff, dateOff)); diff != "" {
			t.Errorf("mismatched (-got +want):\n%s", diff)
		}
		for _, it := range mism {
			if d := *it.Difference; d != (recon.Difference{Amount: 1}) && d != (recon.Difference{Days: 3}) {
				t.Errorf("item %d: difference %+v, want 1 cent or 3 days", it.ID, d)
			}
		}
	})
}

// TestResolveOnce: twenty staff resolves of one line the statement alone
// has, racing, post it to the account from suspense once; a matched item
// has nothing to resolve, a customer may not import.
func TestResolveOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "")
		lines := f.post(t, 3)
		stmt := append(lines[1:], stmtLine{ref: "FEE-1", amount: -250, date: lines[0].date})
		csv := "date,amount,reference\n"
		for _, ln := range stmt {
			csv += fmt.Sprintf("%s,%d.%02d,%s\n", ln.date, ln.amount/100, abs(ln.amount)%100, ln.ref)
		}
		in := recon.ImportInput{AccountID: f.to, Format: recon.FormatCSV, Content: recon.Content(csv),
			CSVColumns: &recon.CSVColumns{Date: "date", Amount: "amount", Reference: "reference"}}
		if _, err := f.s.Import(ctx, alice, in); bank.ErrorKind(err) != bank.KindForbidden {
			t.Fatalf("a customer's import: %v, want forbidden", err)
		}
		r, err := f.s.Import(ctx, op1, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := [4]int{r.Matched, r.Mismatched, r.UnmatchedOurs, r.UnmatchedTheirs}; got != [4]int{2, 0, 1, 1} {
			t.Fatalf("counts %v, want 2 matched, 1 unmatched on each side", got)
		}
		fee := f.items(t, r.ID, recon.StatusUnmatchedTheirs)[0]
		before, _ := f.l.Account(ctx, op1, f.to)
		var wg sync.WaitGroup
		txs := make([]string, 20)
		for i := range txs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := op1
				if i%2 == 1 {
					p = op2
				}
				res, err := f.s.Resolve(ctx, p, r.ID, fee.ID)
				if bank.ErrorCode(err) == "request_in_progress" {
					return // a racing resolve holds the item's key
				}
				if err != nil {
					t.Errorf("resolve %d: %v", i, err)
					return
				}
				txs[i] = res.Result.Transaction.ID
			}()
		}
		wg.Wait()
		res, err := f.s.Resolve(ctx, op2, r.ID, fee.ID)
		if err != nil || !res.Result.Replayed {
			t.Fatalf("a resolve after the race: %+v, %v; want a replay", res, err)
		}
		for _, tx := range txs {
			if tx != "" && tx != res.Result.Transaction.ID {
				t.Errorf("resolves answered transactions %v, want one", txs)
				break
			}
		}
		after, _ := f.l.Account(ctx, op1, f.to)
		if got := after.Balance.Posted - before.Balance.Posted; got != -250 {
			t.Errorf("the account moved by %d, want -250 once", got)
		}
		suspense, err := f.l.Account(ctx, op1, ledger.SystemAccountID(ledger.TypeSuspense, "EUR"))
		if err != nil || suspense.Balance.Posted != 250 {
			t.Errorf("suspense: %+v, %v; want 250 posted", suspense, err)
		}
		if got := f.items(t, r.ID, recon.StatusUnmatchedTheirs)[0].TransactionID; got != res.Result.Transaction.ID {
			t.Errorf("the item's transaction is %q, want %q", got, res.Result.Transaction.ID)
		}
		var audits int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = $1 AND target_id = $2`,
			ledger.AuditSuspense, f.to).Scan(&audits); err != nil || audits != 1 {
			t.Errorf("audit records of the posting: %d, %v; want 1", audits, err)
		}
		matched := f.items(t, r.ID, recon.StatusMatched)[0]
		if _, err := f.s.Resolve(ctx, op1, r.ID, matched.ID); bank.ErrorCode(err) != "nothing_to_resolve" {
			t.Errorf("resolving a matched item: %v, want nothing_to_resolve", err)
		}
		ours := f.items(t, r.ID, recon.StatusUnmatchedOurs)[0]
		if _, err := f.s.Resolve(ctx, alice, r.ID, ours.ID); bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("a customer's resolve: %v, want forbidden", err)
		}
	})
}

// TestResolveFourEyes: with recon_resolve in the rules a resolve waits for
// a second staff user; a second staff user's resolve finds the same
// approval, which the first resolver cannot approve, and the money moves once.
func TestResolveFourEyes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "recon_resolve")
		f.post(t, 1)
		_, err := f.s.Import(ctx, op1, recon.ImportInput{AccountID: f.to, Format: recon.FormatCAMT053, Content: recon.Content(camt053(nil))})
		if bank.ErrorKind(err) != bank.KindInvalid {
			t.Fatalf("an empty statement: %v, want invalid", err)
		}
		r, err := f.s.Import(ctx, op1, recon.ImportInput{AccountID: f.to, Format: recon.FormatCAMT053,
			Content: recon.Content(camt053([]stmtLine{{"X", 4200, start.Format(time.DateOnly)}}))})
		if err != nil {
			t.Fatal(err)
		}
		extra := f.items(t, r.ID, recon.StatusUnmatchedTheirs)[0]
		var approvals []string
		for _, p := range []bank.Principal{op1, op2} {
			res, err := f.s.Resolve(ctx, p, r.ID, extra.ID)
			if err != nil || res.Approval == nil {
				t.Fatalf("resolve by %s: %+v, %v; want an approval", p.UserID, res, err)
			}
			approvals = append(approvals, res.Approval.ID)
		}
		if approvals[0] != approvals[1] {
			t.Fatalf("two staff users' resolves of one item made approvals %v, want one", approvals)
		}
		before, _ := f.l.Account(ctx, op1, f.to)
		if _, err := f.gate.Approve(ctx, op1, approvals[0]); bank.ErrorCode(err) != "four_eyes_required" {
			t.Errorf("the resolver approving: %v, want four_eyes_required", err)
		}
		if _, err := f.gate.Approve(ctx, op2, approvals[0]); err != nil {
			t.Fatal(err)
		}
		after, _ := f.l.Account(ctx, op1, f.to)
		if got := after.Balance.Posted - before.Balance.Posted; got != 4200 {
			t.Errorf("the account moved by %d after two approvals, want 4200 once", got)
		}
	})
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
