package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// poison makes the database itself refuse any transaction whose description
// is "poison", as it would refuse a string it cannot store: the statement
// that carries it fails, and with it the database transaction.
func poison(t *testing.T, db *store.DB) {
	t.Helper()
	qs := []string{`CREATE TRIGGER poison BEFORE INSERT ON transactions
		WHEN NEW.description = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`}
	if db.Dialect == store.Postgres {
		qs = []string{`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.description = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER poison BEFORE INSERT ON transactions FOR EACH ROW EXECUTE FUNCTION poison()`}
	}
	for _, q := range qs {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOneRequestNeverFailsAnother sends good transfers together with ones
// that fail the database transaction they share, and with ones the ledger
// refuses before they reach it (NUL, invalid UTF-8, a self-transfer): every
// good transfer posts, each bad one fails alone.
func TestOneRequestNeverFailsAnother(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		poison(t, db)
		alice, mallory := customer(t, db, "alice"), customer(t, db, "mallory")
		src, dst := open(t, l, alice, "EUR", 1_000_000), open(t, l, alice, "EUR", 0)
		bad := open(t, l, mallory, "EUR", 1000)
		badDst := open(t, l, mallory, "EUR", 0)
		kinds := []struct {
			name     string
			p        bank.Principal
			in       ledger.TransferInput
			wantKind bank.Kind // KindInternal with wantErr false means success
			wantErr  bool
		}{
			{"good", alice, ledger.TransferInput{From: src, To: dst, Money: eur(3)}, 0, false},
			{"fails in the database", mallory, ledger.TransferInput{From: bad, To: badDst, Money: eur(1), Description: "poison"}, bank.KindInternal, true},
			{"NUL", mallory, ledger.TransferInput{From: bad, To: badDst, Money: eur(1), Description: "a\x00b"}, bank.KindInvalid, true},
			{"invalid UTF-8", mallory, ledger.TransferInput{From: bad, To: badDst, Money: eur(1), Description: "\xff"}, bank.KindInvalid, true},
			{"self-transfer", mallory, ledger.TransferInput{From: bad, To: bad, Money: eur(1)}, bank.KindInvalid, true},
		}
		var wg sync.WaitGroup
		var good atomic.Int64
		for i := range 80 {
			k := kinds[0]
			if i%10 == 0 {
				k = kinds[1+i/10%4]
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := l.Transfer(ctx, k.p, idem(fmt.Sprint("k", i)), k.in)
				switch {
				case !k.wantErr && err != nil:
					t.Errorf("%s transfer %d: %v", k.name, i, err)
				case !k.wantErr:
					good.Add(1)
				case err == nil || bank.ErrorKind(err) != k.wantKind:
					t.Errorf("%s transfer %d: %v, want kind %v", k.name, i, err, k.wantKind)
				}
			}()
		}
		wg.Wait()
		a := posted(t, l, alice, dst)
		if want := 3 * good.Load(); a != want || good.Load() != 72 {
			t.Errorf("destination holds %d after %d good transfers of 3 (want 72)", a, good.Load())
		}
		// A poisoned item of a batch request fails the request alone: the
		// batch is one request, decided or not as a whole.
		_, err := l.TransferBatch(ctx, mallory, idem("b"), []ledger.TransferInput{
			{From: bad, To: badDst, Money: eur(1)}, {From: bad, To: badDst, Money: eur(1), Description: "poison"}})
		if bank.ErrorKind(err) != bank.KindInternal {
			t.Errorf("batch with a poisoned item: %v, want an internal error", err)
		}
		verify(t, l)
	})
}

// TestPanicInCommit panics inside a commit: the requests of other users in
// that batch still post, the one that panicked fails with an internal error,
// and the write path goes on serving.
func TestPanicInCommit(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		src, dst := open(t, l, alice, "EUR", 1000), open(t, l, alice, "EUR", 0)
		ledger.SetBeforeApply(l, func(key string) {
			if key == "boom" {
				panic("boom")
			}
		})
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			key := fmt.Sprint("k", i)
			if i == 7 {
				key = "boom"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = l.Transfer(ctx, alice, idem(key), ledger.TransferInput{From: src, To: dst, Money: eur(1)})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			switch {
			case i == 7 && bank.ErrorKind(err) != bank.KindInternal:
				t.Errorf("the request that panicked: %v, want an internal error", err)
			case i != 7 && err != nil:
				t.Errorf("transfer %d beside a panic: %v", i, err)
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := l.Transfer(ctx, alice, idem("after"), ledger.TransferInput{From: src, To: dst, Money: eur(1)})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("transfer after the panic: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the write path is stuck after a panic")
		}
		a := posted(t, l, alice, dst)
		if a != 20 {
			t.Errorf("destination holds %d, want 20: 19 transfers beside the panic and 1 after", a)
		}
		verify(t, l)
	})
}

// TestContextEnds checks the rule of the write path: a request whose context
// has ended before it is in a batch is not posted.
func TestContextEnds(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		src, dst := open(t, l, alice, "EUR", 1000), open(t, l, alice, "EUR", 0)
		in := ledger.TransferInput{From: src, To: dst, Money: eur(1)}

		gone, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Transfer(gone, alice, idem("gone"), in); bank.ErrorCode(err) != "request_cancelled" {
			t.Errorf("transfer with an ended context: %v, want request_cancelled", err)
		}

		// Stall a commit, queue a request behind it, end that request's
		// context while it waits: it is withdrawn and never posted.
		stalled, release := make(chan struct{}), make(chan struct{})
		ledger.SetBeforeApply(l, func(key string) {
			if key == "first" {
				close(stalled)
				<-release
			}
		})
		first := make(chan error, 1)
		go func() {
			_, err := l.Transfer(ctx, alice, idem("first"), in)
			first <- err
		}()
		<-stalled
		waiting, cancel := context.WithCancel(ctx)
		second := make(chan error, 1)
		go func() {
			_, err := l.Transfer(waiting, alice, idem("second"), in)
			second <- err
		}()
		poll.Until(t, 30*time.Second, "the second transfer to queue", func() bool { return l.Waiting() == 1 })
		cancel()
		if err := <-second; bank.ErrorCode(err) != "request_cancelled" {
			t.Errorf("transfer cancelled while waiting: %v, want request_cancelled", err)
		}
		close(release)
		if err := <-first; err != nil {
			t.Errorf("the stalled transfer: %v", err)
		}
		a := posted(t, l, alice, dst)
		if a != 1 {
			t.Errorf("destination holds %d, want 1: only the transfer whose client stayed", a)
		}
		// The cancelled requests stored nothing: their keys are free.
		for _, k := range []string{"gone", "second"} {
			if _, err := l.Transfer(ctx, alice, idem(k), in); err != nil {
				t.Errorf("retrying %s with its key: %v", k, err)
			}
		}
	})
}

// TestRefusalsAreKept checks that a request refused by a money rule keeps
// its answer under its key, as a success does, while one that never began
// (invalid, not found) keeps nothing.
func TestRefusalsAreKept(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		src, dst := open(t, l, alice, "EUR", 10), open(t, l, alice, "EUR", 0)
		big := ledger.TransferInput{From: src, To: dst, Money: eur(50)}
		_, err := l.Transfer(ctx, alice, idem("big"), big)
		if bank.ErrorCode(err) != "insufficient_funds" {
			t.Fatalf("first: %v, want insufficient_funds", err)
		}
		if _, err := l.Deposit(ctx, operator, idem("more"), ledger.CashInput{AccountID: src, Money: eur(100)}); err != nil {
			t.Fatal(err)
		}
		res, again := l.Transfer(ctx, alice, idem("big"), big)
		if !res.Replayed || again == nil || again.Error() != err.Error() {
			t.Errorf("replay of a refusal = %+v, %v; want the refusal %v again, replayed", res, again, err)
		}
		// Not found stores nothing: the same key works once the account exists.
		if _, err := l.Transfer(ctx, alice, idem("nf"), ledger.TransferInput{From: src, To: "nope", Money: eur(1)}); bank.ErrorKind(err) != bank.KindNotFound {
			t.Fatalf("unknown destination: %v", err)
		}
		if _, err := l.Transfer(ctx, alice, ledger.Idempotency{Key: "nf", Hash: "other"}, ledger.TransferInput{From: src, To: dst, Money: eur(1)}); err != nil {
			t.Errorf("key of a request that never began, reused: %v", err)
		}
		// Every money write needs a key.
		if _, err := l.Transfer(ctx, alice, ledger.Idempotency{}, ledger.TransferInput{From: src, To: dst, Money: eur(1)}); bank.ErrorCode(err) != "idempotency_key_required" {
			t.Errorf("transfer without a key: %v, want idempotency_key_required", err)
		}
		verify(t, l)
	})
}

// TestKillDuringCommit cuts the writer's connection after its COMMIT reached
// the database and before the answer came back: the transfer is answered as
// posted, exactly once, after a retry on a new connection finds its key.
func TestKillDuringCommit(t *testing.T) {
	t.Parallel()
	db, p := storetest.ThroughProxy(t)
	ctx := context.Background()
	l := newLedger(t, db)
	alice := customer(t, db, "alice")
	src, dst := open(t, l, alice, "EUR", 1000), open(t, l, alice, "EUR", 0)
	p.KillCommit.Store(true)
	res, err := l.Transfer(ctx, alice, idem("t"), ledger.TransferInput{From: src, To: dst, Money: eur(5)})
	if err != nil {
		t.Fatalf("transfer whose COMMIT answer was lost: %v", err)
	}
	if p.Killed.Load() != 1 {
		t.Fatalf("the proxy cut %d connections during a COMMIT, want 1", p.Killed.Load())
	}
	if !res.Created || txID(t, res) == "" {
		t.Errorf("answer %+v, want the posted transfer", res)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM transactions WHERE type = 'transfer'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d transfers posted (%v), want exactly 1", n, err)
	}
	verify(t, l)
}

// TestDatabaseUnreachable stops every connection to the database: a money
// write answers unavailable (the outcome unknown, retry with the key), and
// posts once the database is back.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	db, p := storetest.ThroughProxy(t)
	ctx := context.Background()
	l := newLedger(t, db)
	alice := customer(t, db, "alice")
	src, dst := open(t, l, alice, "EUR", 1000), open(t, l, alice, "EUR", 0)
	in := ledger.TransferInput{From: src, To: dst, Money: eur(5)}
	p.Down.Store(true)
	p.CutAll()
	_, err := l.Transfer(ctx, alice, idem("t"), in)
	var e *bank.Error
	if !errors.As(err, &e) || e.Kind != bank.KindUnavailable || !strings.Contains(e.Message, "Idempotency-Key") {
		t.Fatalf("transfer with the database gone: %v, want unavailable naming the Idempotency-Key", err)
	}
	if _, err := l.Account(ctx, alice, src); !store.Unreachable(err) {
		t.Errorf("read with the database gone: %v, want an unreachable error", err)
	}
	p.Down.Store(false)
	if _, err := l.Transfer(ctx, alice, idem("t"), in); err != nil {
		t.Fatalf("retry with the same key once the database is back: %v", err)
	}
	verify(t, l)
}
