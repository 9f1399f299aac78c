package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/event/eventtest"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

func newLedger(t testing.TB, db *store.DB) *ledger.Ledger {
	t.Helper()
	l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
	t.Cleanup(l.Close)
	return l
}

// customer inserts a user row for an account owner.
func customer(t testing.TB, db *store.DB, id string) bank.Principal {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO users (id, email, name, role, password_hash, created_at)
		VALUES ($1, $2, $1, 'customer', 'x', $3)`, id, id+"@example.test", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	return bank.Principal{UserID: id, Role: bank.RoleCustomer}
}

var operator = bank.Principal{UserID: "operator", Role: bank.RoleOperator}

func open(t testing.TB, l *ledger.Ledger, p bank.Principal, cur bank.Currency, funds int64) string {
	t.Helper()
	ctx := context.Background()
	a, err := l.OpenAccount(ctx, p, ledger.OpenAccountInput{Currency: cur, Type: ledger.TypeChecking})
	if err != nil {
		t.Fatal(err)
	}
	if funds > 0 {
		res, err := l.Deposit(ctx, operator, ledger.Idempotency{Key: "fund-" + a.ID, Hash: "h"}, ledger.CashInput{AccountID: a.ID, Money: bank.Money{Amount: funds, Currency: cur}})
		if err != nil || !res.Created {
			t.Fatalf("fund: %v %+v", err, res)
		}
	}
	return a.ID
}

// TestBatcherAnswersEachRequest sends good and failing transfers at once, so
// that the write path posts them in shared batches, and checks that each gets
// its own right answer: a failing transfer fails alone, its neighbours post.
func TestBatcherAnswersEachRequest(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice, bob := customer(t, db, "alice"), customer(t, db, "bob")
		rich := open(t, l, alice, "EUR", 1_000_000_000)
		empty := open(t, l, alice, "EUR", 0)
		dollars := open(t, l, alice, "USD", 1_000_000)
		dest := open(t, l, bob, "EUR", 0)
		frozen := open(t, l, bob, "EUR", 0)
		if _, err := l.SetStatus(ctx, operator, frozen, ledger.ActionFreeze); err != nil {
			t.Fatal(err)
		}
		eur := func(n int64) bank.Money { return bank.Money{Amount: n, Currency: "EUR"} }
		kinds := []struct {
			name     string
			p        bank.Principal
			in       ledger.TransferInput
			wantCode string // "" means 201
		}{
			{"good", alice, ledger.TransferInput{From: rich, To: dest, Money: eur(7)}, ""},
			{"insufficient", alice, ledger.TransferInput{From: empty, To: dest, Money: eur(1)}, "insufficient_funds"},
			{"frozen destination", alice, ledger.TransferInput{From: rich, To: frozen, Money: eur(1)}, "account_frozen"},
			{"currency", alice, ledger.TransferInput{From: dollars, To: dest, Money: eur(1)}, "currency_mismatch"},
			{"unknown destination", alice, ledger.TransferInput{From: rich, To: "nope", Money: eur(1)}, "account_not_found"},
			{"not the owner", bob, ledger.TransferInput{From: rich, To: dest, Money: eur(1)}, "account_not_found"},
		}
		const perKind = 60
		var wg sync.WaitGroup
		errs := make(chan string, len(kinds)*perKind)
		for k, kind := range kinds {
			for i := range perKind {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := ledger.Idempotency{Key: fmt.Sprintf("%d-%d", k, i), Hash: "h"}
					resp, err := l.Transfer(ctx, kind.p, key, kind.in)
					switch {
					case kind.wantCode == "" && (err != nil || !resp.Created):
						errs <- fmt.Sprintf("%s: %v %+v, want a transaction", kind.name, err, resp)
					case kind.wantCode != "" && bank.ErrorCode(err) != kind.wantCode:
						errs <- fmt.Sprintf("%s: %v, want %s", kind.name, err, kind.wantCode)
					case kind.wantCode == "":
						var tx ledger.Transaction
						if json.Unmarshal(resp.JSON(), &tx) != nil || tx.Amount != 7 || tx.Postings[0].AccountID != rich {
							errs <- fmt.Sprintf("%s: answered with another request's transaction %s", kind.name, resp.JSON())
						}
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		got := posted(t, l, bob, dest)
		if want := int64(7 * perKind); got != want {
			t.Errorf("destination holds %d, want %d from the good transfers only", got, want)
		}

		// One batch request mixing good and failing items.
		items := []ledger.TransferInput{kinds[0].in, kinds[1].in, kinds[0].in, kinds[3].in,
			{From: rich, To: dest, Money: eur(-1)}, {From: rich, To: rich, Money: eur(1)},
			{From: rich, To: dest, Money: eur(1), Description: "a\x00b"}}
		resp, err := l.TransferBatch(ctx, alice, ledger.Idempotency{Key: "batch", Hash: "h"}, items)
		if err != nil || !resp.Created {
			t.Fatalf("batch: %v %+v", err, resp)
		}
		var out struct {
			Data []struct {
				ID    string
				Error *struct{ Code string }
			}
		}
		if err := json.Unmarshal(resp.JSON(), &out); err != nil {
			t.Fatal(err)
		}
		wantCodes := []string{"", "insufficient_funds", "", "currency_mismatch", "invalid_request", "invalid_request", "invalid_request"}
		if len(out.Data) != len(wantCodes) {
			t.Fatalf("batch answered %d items, want %d", len(out.Data), len(wantCodes))
		}
		for i, it := range out.Data {
			code := ""
			if it.Error != nil {
				code = it.Error.Code
			}
			if code != wantCodes[i] || (code == "" && it.ID == "") {
				t.Errorf("batch item %d: %+v, want code %q", i, it, wantCodes[i])
			}
		}
		verify(t, l)
	})
}

func verify(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	r, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("ledger verify: %v", r.Violations)
	}
}

// BenchmarkTransfer posts transfers from many goroutines at once through the
// ledger's write path, without HTTP: what group commit achieves on each
// database. Run with -cpu and -benchtime to taste; PostgreSQL needs
// BANK_TEST_POSTGRES_URL.
func BenchmarkTransfer(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.Open(b, d)
			reg := prometheus.NewRegistry()
			cfg := ledger.DefaultConfig()
			cfg.Metrics = ledger.NewMetrics(reg)
			l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, cfg)
			b.Cleanup(l.Close)
			alice := customer(b, db, "alice")
			accounts := make([]string, 100)
			for i := range accounts {
				accounts[i] = open(b, l, alice, "EUR", 1_000_000_000_000)
			}
			var seq sync.Mutex
			n := 0
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					seq.Lock()
					n++
					i := n
					seq.Unlock()
					in := ledger.TransferInput{From: accounts[i%len(accounts)], To: accounts[(i*7+1)%len(accounts)],
						Money: bank.Money{Amount: 1, Currency: "EUR"}}
					if in.From == in.To {
						in.To = accounts[(i+1)%len(accounts)]
					}
					if _, err := l.Transfer(context.Background(), alice, ledger.Idempotency{Key: fmt.Sprint("k", i), Hash: "h"}, in); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportBatches(b, reg)
		})
	}
}

// reportBatches reports the mean requests per batch and time per batch.
func reportBatches(b *testing.B, reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			if h == nil || h.GetSampleCount() == 0 {
				continue
			}
			switch mf.GetName() {
			case "ledger_batch_requests":
				b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "req/batch")
			case "ledger_batch_seconds":
				b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1e3, "ms/batch")
			}
		}
	}
}

// TestOutboxAndPurge checks that every posted transaction leaves its event
// in the outbox, and that idempotency keys outlive the retention only.
func TestOutboxAndPurge(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		l := ledger.New(db, slog.New(slog.DiscardHandler), func() time.Time { return now }, ledger.DefaultConfig())
		t.Cleanup(l.Close)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 1000)
		b := open(t, l, alice, "EUR", 0)
		if _, err := l.Transfer(ctx, alice, ledger.Idempotency{Key: "t1", Hash: "h"}, ledger.TransferInput{From: a, To: b, Money: bank.Money{Amount: 5, Currency: "EUR"}}); err != nil {
			t.Fatal(err)
		}
		var txs, events int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM transactions`).Scan(&txs); err != nil {
			t.Fatal(err)
		}
		events = len(eventtest.Written(t, db, eventtest.OfType(event.TransactionPosted)))
		if txs != 2 || events != txs {
			t.Errorf("%d transactions and %d transaction.posted events, want 2 and 2", txs, events)
		}

		// Keys are kept for the retention (48 h), then purged.
		now = now.Add(47 * time.Hour)
		if n, err := l.PurgeIdempotencyKeys(ctx); err != nil || n != 0 {
			t.Errorf("purge after 47h = %d, %v; want nothing purged", n, err)
		}
		now = now.Add(2 * time.Hour)
		if n, err := l.PurgeIdempotencyKeys(ctx); err != nil || n != 2 {
			t.Errorf("purge after 49h = %d, %v; want the 2 keys purged", n, err)
		}
	})
}

// TestHistoryFilters checks the time bounds and the pages of an account's history.
func TestHistoryFilters(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		l := ledger.New(db, slog.New(slog.DiscardHandler), func() time.Time { return now }, ledger.DefaultConfig())
		t.Cleanup(l.Close)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 1000) // a deposit at 12:00
		b := open(t, l, alice, "EUR", 0)
		for i := range 5 { // transfers at 12:01 … 12:05
			now = now.Add(time.Minute)
			if _, err := l.Transfer(ctx, alice, ledger.Idempotency{Key: fmt.Sprint(i), Hash: "h"},
				ledger.TransferInput{From: a, To: b, Money: bank.Money{Amount: 1, Currency: "EUR"}}); err != nil {
				t.Fatal(err)
			}
		}
		at := func(m int) *time.Time { t := time.Date(2026, 1, 1, 12, m, 0, 0, time.UTC); return &t }
		tests := []struct {
			name     string
			from, to *time.Time
			want     int
		}{
			{"all", nil, nil, 6},
			{"from 12:02", at(2), nil, 4},
			{"before 12:02", nil, at(2), 2},
			{"12:02 to 12:04", at(2), at(4), 2},
			{"empty range", at(30), nil, 0},
		}
		for _, tt := range tests {
			txs, _, err := l.History(ctx, alice, a, ledger.HistoryFilter{From: tt.from, To: tt.to, Page: ledger.Page{Limit: 50}})
			if err != nil {
				t.Fatal(err)
			}
			if len(txs) != tt.want {
				t.Errorf("%s: %d transactions, want %d", tt.name, len(txs), tt.want)
			}
			for i := 1; i < len(txs); i++ {
				if txs[i].CreatedAt.After(txs[i-1].CreatedAt) {
					t.Errorf("%s: not newest first", tt.name)
				}
			}
		}
		// Pages of two: 2 + 2 + 2, then no cursor.
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			txs, next, err := l.History(ctx, alice, a, ledger.HistoryFilter{Page: ledger.Page{Limit: 2, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range txs {
				seen = append(seen, tx.ID)
			}
			if next == "" {
				break
			}
			if page > 5 {
				t.Fatal("pages never end")
			}
			cursor = next
		}
		if len(seen) != 6 {
			t.Errorf("paged through %d transactions, want 6", len(seen))
		}
		if _, _, err := l.History(ctx, bank.Principal{UserID: "mallory", Role: bank.RoleCustomer}, a, ledger.HistoryFilter{Page: ledger.Page{Limit: 2}}); bank.ErrorKind(err) != bank.KindNotFound {
			t.Errorf("another customer's history: %v, want not found", err)
		}
	})
}

// TestAccountLifecycle covers freezing, overdrafts and closing.
func TestAccountLifecycle(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 1000)
		eur := func(n int64) bank.Money { return bank.Money{Amount: n, Currency: "EUR"} }
		key := 0
		withdraw := func(n int64) error {
			key++
			_, err := l.Withdraw(ctx, alice, ledger.Idempotency{Key: fmt.Sprint("w", key), Hash: "h"}, ledger.CashInput{AccountID: a, Money: eur(n)})
			return err
		}
		if _, err := l.SetStatus(ctx, alice, a, ledger.ActionFreeze); bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("a customer freezing: %v, want forbidden", err)
		}
		if _, err := l.SetStatus(ctx, operator, a, ledger.ActionFreeze); err != nil {
			t.Fatal(err)
		}
		if err := withdraw(1); bank.ErrorCode(err) != "account_frozen" {
			t.Errorf("withdrawal from a frozen account: %v, want account_frozen", err)
		}
		frozen := eventtest.Written(t, db, func(p event.Payload) bool { f, ok := p.(*event.Frozen); return ok && f.AccountID == a })
		if len(frozen) != 1 {
			t.Errorf("account.frozen events = %d; want 1", len(frozen))
		}
		if _, err := l.SetStatus(ctx, operator, a, ledger.ActionUnfreeze); err != nil {
			t.Fatal(err)
		}

		// An overdraft of 500 lets the balance go to -500, and no further.
		acct, err := l.SetOverdraftLimit(ctx, operator, a, 500)
		if err != nil || acct.Balance.Available != 1500 {
			t.Fatalf("SetOverdraftLimit = %+v, %v; want 1500 available", acct, err)
		}
		if err := withdraw(1501); bank.ErrorCode(err) != "insufficient_funds" {
			t.Errorf("withdrawal beyond the overdraft: %v, want insufficient_funds", err)
		}
		if err := withdraw(1300); err != nil {
			t.Fatal(err)
		}
		if _, err := l.SetOverdraftLimit(ctx, operator, a, 100); bank.ErrorCode(err) != "overdraft_in_use" {
			t.Errorf("limit below what is used: %v, want overdraft_in_use", err)
		}
		if _, err := l.SetStatus(ctx, operator, a, ledger.ActionClose); bank.ErrorCode(err) != "balance_not_zero" {
			t.Errorf("closing at -300: %v, want balance_not_zero", err)
		}
		if _, err := l.Deposit(ctx, operator, ledger.Idempotency{Key: "back", Hash: "h"}, ledger.CashInput{AccountID: a, Money: eur(300)}); err != nil {
			t.Fatal(err)
		}
		closed, err := l.SetStatus(ctx, operator, a, ledger.ActionClose)
		if err != nil || closed.Status != ledger.StatusClosed {
			t.Fatalf("close at zero = %+v, %v", closed, err)
		}
		if _, err := l.Deposit(ctx, operator, ledger.Idempotency{Key: "after", Hash: "h"}, ledger.CashInput{AccountID: a, Money: eur(1)}); bank.ErrorCode(err) != "account_closed" {
			t.Errorf("deposit to a closed account: %v, want account_closed", err)
		}
		if _, err := l.SetStatus(ctx, operator, a, ledger.ActionUnfreeze); bank.ErrorCode(err) != "account_closed" {
			t.Errorf("unfreezing a closed account: %v, want account_closed", err)
		}
		if _, err := l.SetStatus(ctx, operator, ledger.SystemAccountID(ledger.TypeCash, "EUR"), ledger.ActionFreeze); bank.ErrorKind(err) != bank.KindNotFound {
			t.Errorf("freezing the cash account: %v, want not found", err)
		}
		verify(t, l)
	})
}

// TestBalancesNeverWrap pushes an account towards the int64 limit: money is
// refused before a balance can wrap around.
func TestBalancesNeverWrap(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 0)
		// The cash account is where the wrap would come first: it holds minus
		// everything deposited. Start it near the bottom.
		cash := ledger.SystemAccountID(ledger.TypeCash, "EUR")
		if _, err := db.ExecContext(ctx, `UPDATE accounts SET posted = $1 WHERE id = $2`, int64(math.MinInt64)+bank.MaxAmount/2, cash); err != nil {
			t.Fatal(err)
		}
		_, err := l.Deposit(ctx, operator, ledger.Idempotency{Key: "big", Hash: "h"}, ledger.CashInput{AccountID: a, Money: bank.Money{Amount: bank.MaxAmount, Currency: "EUR"}})
		if bank.ErrorCode(err) != "balance_limit_exceeded" {
			t.Errorf("deposit that would wrap the cash account: %v, want balance_limit_exceeded", err)
		}
		if _, err := l.Deposit(ctx, operator, ledger.Idempotency{Key: "small", Hash: "h"}, ledger.CashInput{AccountID: a, Money: bank.Money{Amount: 10, Currency: "EUR"}}); err != nil {
			t.Errorf("deposit that fits: %v", err)
		}
	})
}

// TestWriterReconnects kills the write path's connection between two
// transfers: the second still posts, once, on a new connection.
func TestWriterReconnects(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	l := newLedger(t, db)
	alice := customer(t, db, "alice")
	a := open(t, l, alice, "EUR", 1000)
	b := open(t, l, alice, "EUR", 0)
	move := func(key string) error {
		_, err := l.Transfer(ctx, alice, ledger.Idempotency{Key: key, Hash: "h"},
			ledger.TransferInput{From: a, To: b, Money: bank.Money{Amount: 1, Currency: "EUR"}})
		return err
	}
	if err := move("t1"); err != nil {
		t.Fatal(err)
	}
	// The writer's last statement is its pipeline's upper-case COMMIT; the
	// pool's transactions end with database/sql's "commit".
	var killed int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'COMMIT' AND pid <> pg_backend_pid()`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d writer connections, %v; want 1", killed, err)
	}
	if err := move("t2"); err != nil {
		t.Fatalf("transfer after the writer's connection was killed: %v", err)
	}
	got := posted(t, l, alice, b)
	if got != 2 {
		t.Errorf("destination holds %d, want 2", got)
	}
	verify(t, l)
}

// TestConcurrentDuplicates sends one request many times at once with the same
// Idempotency-Key: one posting, every other answer a 409 or a replay of it.
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 1000)
		b := open(t, l, alice, "EUR", 0)
		in := ledger.TransferInput{From: a, To: b, Money: bank.Money{Amount: 10, Currency: "EUR"}}
		const n = 20
		resps := make([]ledger.Result, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resps[i], errs[i] = l.Transfer(ctx, alice, ledger.Idempotency{Key: "same", Hash: "h"}, in)
			}()
		}
		wg.Wait()
		var first []byte
		for i := range n {
			switch {
			case errs[i] != nil && bank.ErrorCode(errs[i]) != "request_in_progress":
				t.Errorf("duplicate %d: %v, want 201, a replay or request_in_progress", i, errs[i])
			case errs[i] == nil && !resps[i].Replayed:
				if first != nil {
					t.Errorf("two first answers for one key")
				}
				first = resps[i].JSON()
			}
		}
		for i := range n {
			if errs[i] == nil && resps[i].Replayed && string(resps[i].JSON()) != string(first) {
				t.Errorf("replay %d differs from the first answer", i)
			}
		}
		got := posted(t, l, alice, b)
		if first == nil || got != 10 {
			t.Errorf("destination holds %d after %d duplicates, want exactly one transfer of 10", got, n)
		}
	})
}

// TestBatchEventsInOneMessage: a batch's events commit in one message, which
// counts them all (queue_messages.events: a queue's depth is in events), on
// both databases. eventtest.Written checks each message's count too.
func TestBatchEventsInOneMessage(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 100)
		b := open(t, l, alice, "EUR", 0)
		count := func() (messages, events int) {
			t.Helper()
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(events), 0) FROM queue_messages WHERE queue = $1`,
				event.Queue).Scan(&messages, &events); err != nil {
				t.Fatal(err)
			}
			return messages, events
		}
		m0, e0 := count()
		transfer := ledger.TransferInput{From: a, To: b, Money: eur(5)}
		if _, err := l.TransferBatch(ctx, alice, idem("batch"), []ledger.TransferInput{transfer, transfer, transfer}); err != nil {
			t.Fatal(err)
		}
		if m, e := count(); m-m0 != 1 || e-e0 != 3 {
			t.Errorf("the batch of 3 wrote %d messages of %d events, want 1 of 3", m-m0, e-e0)
		}
		if n := len(eventtest.Written(t, db, eventtest.OfType(event.TransactionPosted))); n < 3 {
			t.Errorf("%d transaction.posted events written, want at least 3", n)
		}
	})
}
