package ledger_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// replayed is one posting as the write path answered it.
type replayed struct {
	at     time.Time
	amount int64
}

// replay is every posting per account, from the transactions' answers.
type replay map[string][]replayed

func (r replay) add(t *ledger.Transaction) {
	for _, p := range t.Postings {
		r[p.AccountID] = append(r[p.AccountID], replayed{t.CreatedAt, p.Amount})
	}
}

// sum returns the sum of account's postings at or before at (before, when
// strict), and how many there were.
func (r replay) sum(account string, at time.Time, strict bool) (sum int64, n int) {
	for _, p := range r[account] {
		if p.at.Before(at) || (!strict && p.at.Equal(at)) {
			sum, n = sum+p.amount, n+1
		}
	}
	return sum, n
}

// history posts a few hundred transfers between alice's accounts, single and
// batched, while its clock moves on by random steps, some of them zero; it
// returns the ledger, its clock, the accounts, and the replay of every
// posting.
func history(t *testing.T, db *store.DB, every int) (*ledger.Ledger, *testClock, []string, replay) {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	cfg := ledger.DefaultConfig()
	cfg.CheckpointEvery = every
	l := ledger.New(db, slog.New(slog.DiscardHandler), clock.Now, cfg)
	t.Cleanup(l.Close)
	alice := customer(t, db, "alice")
	r := replay{}
	var accounts []string
	for range 4 {
		a, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking})
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Deposit(ctx, operator, idem("fund-"+a.ID), ledger.CashInput{AccountID: a.ID, Money: eur(1_000_000)})
		if err != nil {
			t.Fatal(err)
		}
		r.add(res.Transaction)
		accounts = append(accounts, a.ID)
	}
	accounts = append(accounts, ledger.SystemAccountID(ledger.TypeCash, "EUR"))
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		clock.Add(time.Duration(rnd.IntN(3)) * time.Duration(rnd.IntN(5_000_000)) * time.Microsecond)
		from, to := accounts[rnd.IntN(4)], accounts[rnd.IntN(4)]
		if from == to {
			res, err := l.Withdraw(ctx, alice, idem(fmt.Sprint("w", i)), ledger.CashInput{AccountID: from, Money: eur(int64(1 + rnd.IntN(500))), Description: "cash"})
			if err != nil {
				t.Fatal(err)
			}
			r.add(res.Transaction)
			continue
		}
		if i%10 == 0 { // a batch: its transactions share one created_at
			var items []ledger.TransferInput
			for j := range 5 {
				items = append(items, ledger.TransferInput{From: from, To: to, Money: eur(int64(1 + rnd.IntN(1000))), Description: fmt.Sprint("batch ", i, j)})
			}
			res, err := l.TransferBatch(ctx, alice, idem(fmt.Sprint("b", i)), items)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range res.Items {
				if it.Err != nil {
					t.Fatal(it.Err)
				}
				r.add(it.Transaction)
			}
			continue
		}
		res, err := l.Transfer(ctx, alice, idem(fmt.Sprint("t", i)), ledger.TransferInput{From: from, To: to, Money: eur(int64(1 + rnd.IntN(1000))), Description: fmt.Sprint("transfer ", i)})
		if err != nil {
			t.Fatal(err)
		}
		r.add(res.Transaction)
	}
	return l, clock, accounts, r
}

// randomTime returns a time around the postings of r: often one of their
// own created_at, give or take a microsecond, so that the edges are tried.
func randomTime(rnd *rand.Rand, r replay, accounts []string) time.Time {
	ps := r[accounts[0]]
	first, last := ps[0].at, ps[len(ps)-1].at
	span := last.Sub(first) + 2*time.Second
	switch rnd.IntN(3) {
	case 0:
		return first.Add(-time.Second + time.Duration(rnd.Int64N(int64(span))))
	default:
		all := r[accounts[rnd.IntN(len(accounts))]]
		return all[rnd.IntN(len(all))].at.Add(time.Duration(rnd.IntN(3)-1) * time.Microsecond)
	}
}

// TestBalanceAtReplaysPostings checks the balance as of a time against a
// replay of the postings for 1,000 random (account, time) pairs: first with
// no checkpoint, then once the history is old enough for checkpoints, which
// the reads record on the way and must then agree with.
func TestBalanceAtReplaysPostings(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, clock, accounts, r := history(t, db, 7)
		rnd := rand.New(rand.NewPCG(3, 4))
		check := func(pass string) {
			t.Helper()
			for range 500 {
				id, at := accounts[rnd.IntN(len(accounts))], randomTime(rnd, r, accounts)
				p := bank.Principal{UserID: "alice", Role: bank.RoleCustomer}
				if id == accounts[len(accounts)-1] {
					p = operator
				}
				got, err := l.Balance(ctx, p, id, at)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := r.sum(id, at, false)
				if got.Posted != want || got.AccountID != id || got.Currency != "EUR" || !got.At.Equal(at.Truncate(time.Microsecond)) {
					t.Fatalf("%s: balance of %s at %s = %+v, the postings replay to %d", pass, id, at.Format(time.RFC3339Nano), got, want)
				}
			}
		}
		check("before any checkpoint")
		if n := checkpoints(t, db); n != 0 {
			t.Fatalf("%d checkpoints recorded at moments younger than %s", n, ledger.CheckpointSettle)
		}
		clock.Add(ledger.CheckpointSettle + time.Hour)
		check("with checkpoints")
		if n := checkpoints(t, db); n < 20 {
			t.Fatalf("only %d checkpoints recorded over %d postings, one every 7 wanted", n, len(r[accounts[0]]))
		}
		now, err := l.Balance(ctx, operator, accounts[0], time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := r.sum(accounts[0], clock.Now(), false); now.Posted != want || !now.At.Equal(clock.Now()) {
			t.Fatalf("balance now = %+v, want %d at %s", now, want, clock.Now())
		}
		rep, err := l.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("verify: %v", rep.Violations)
		}
		// A wrong checkpoint is a violation.
		if _, err := db.ExecContext(ctx, `UPDATE balance_checkpoints SET posted = posted + 1
			WHERE at = (SELECT min(at) FROM balance_checkpoints)`); err != nil {
			t.Fatal(err)
		}
		if rep, err = l.Verify(ctx); err != nil || rep.OK() {
			t.Fatalf("verify after a checkpoint was changed: %v %+v", err, rep)
		}
	})
}

func checkpoints(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM balance_checkpoints`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lines collects a statement.
type lines struct {
	head  *ledger.Statement
	lines []ledger.StatementLine
}

func (c *lines) Head(s *ledger.Statement) error     { c.head = s; return nil }
func (c *lines) Line(ln ledger.StatementLine) error { c.lines = append(c.lines, ln); return nil }

// TestStatementTiesOut checks statements over random ranges: the opening
// balance is the replay before from, the closing balance the balance at to,
// the lines are the postings in between, oldest first, and each line's
// balance runs from the opening to the closing balance.
func TestStatementTiesOut(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, clock, accounts, r := history(t, db, 5)
		clock.Add(time.Hour) // checkpoints on the way too
		alice := bank.Principal{UserID: "alice", Role: bank.RoleCustomer}
		rnd := rand.New(rand.NewPCG(5, 6))
		for range 60 {
			id := accounts[rnd.IntN(len(accounts)-1)]
			from, to := randomTime(rnd, r, accounts), randomTime(rnd, r, accounts)
			if from.After(to) {
				from, to = to, from
			}
			var got lines
			if err := l.Statement(ctx, alice, id, from, to, &got); err != nil {
				t.Fatal(err)
			}
			opening, before := r.sum(id, from, true)
			closing, through := r.sum(id, to, false)
			at, err := l.Balance(ctx, alice, id, to)
			if err != nil {
				t.Fatal(err)
			}
			if got.head.OpeningBalance != opening || got.head.ClosingBalance != closing || at.Posted != closing {
				t.Fatalf("statement %s..%s: opening %d closing %d (balance at to %d), the replay says %d and %d",
					from, to, got.head.OpeningBalance, got.head.ClosingBalance, at.Posted, opening, closing)
			}
			if len(got.lines) != through-before {
				t.Fatalf("statement %s..%s has %d lines, %d postings in the range", from, to, len(got.lines), through-before)
			}
			balance := got.head.OpeningBalance
			for i, ln := range got.lines {
				balance += ln.Amount
				if ln.Balance != balance || ln.CreatedAt.Before(from) || ln.CreatedAt.After(to) ||
					(i > 0 && ln.CreatedAt.Before(got.lines[i-1].CreatedAt)) || ln.Type == "" {
					t.Fatalf("line %d: %+v, running balance %d", i, ln, balance)
				}
			}
			if balance != got.head.ClosingBalance {
				t.Fatalf("opening %d plus the lines = %d, closing %d", got.head.OpeningBalance, balance, got.head.ClosingBalance)
			}
		}
	})
}

// TestStatementRefuses checks the refusals: another customer's account is
// not found, a range that ends before it starts is invalid.
func TestStatementRefuses(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice, bob := customer(t, db, "alice"), customer(t, db, "bob")
		id := open(t, l, alice, "EUR", 100)
		now := time.Now()
		if _, err := l.Balance(ctx, bob, id, now); bank.ErrorKind(err) != bank.KindNotFound {
			t.Fatalf("bob's balance of alice's account: %v, want not found", err)
		}
		if err := l.Statement(ctx, bob, id, now.Add(-time.Hour), now, &lines{}); bank.ErrorKind(err) != bank.KindNotFound {
			t.Fatalf("bob's statement of alice's account: %v, want not found", err)
		}
		err := l.Statement(ctx, alice, id, now, now.Add(-time.Second), &lines{})
		if e, ok := err.(*bank.Error); !ok || e.Code != "invalid_time_range" {
			t.Fatalf("from after to: %v", err)
		}
		var got lines
		if err := l.Statement(ctx, operator, id, now.Add(-time.Hour), now, &got); err != nil || len(got.lines) != 1 || got.head.ClosingBalance != 100 {
			t.Fatalf("staff's statement: %v %+v", err, got)
		}
	})
}
