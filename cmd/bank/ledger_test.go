package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
)

var dialects = []store.Dialect{store.SQLite, store.Postgres}

// TestTransfersConcurrently hammers the ledger with random transfers among
// accounts of several customers, some of them hot, repeating earlier
// Idempotency-Keys and attempting overdrafts, then checks that every answer
// was right and the ledger is intact.
func TestTransfersConcurrently(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			testTransfersConcurrently(t, b)
		})
	}
}

type owned struct {
	c       *client.Client
	account *client.Account
}

type sent struct {
	key  string
	body client.Transfer
}

func testTransfersConcurrently(t *testing.T, b *testBank) {
	const (
		customers   = 4
		perCustomer = 6
		workers     = 32
		requests    = 1000
		funds       = 100_000
	)
	ctx := context.Background()
	var accounts []owned
	for i := range customers {
		c, _ := b.customer(fmt.Sprintf("customer%d", i))
		for range perCustomer {
			accounts = append(accounts, owned{c, b.account(c, "EUR", funds)})
		}
	}
	// A third of the requests debit or credit one of the first three accounts.
	pick := func(r *rand.Rand) owned {
		if r.IntN(3) == 0 {
			return accounts[r.IntN(3)]
		}
		return accounts[r.IntN(len(accounts))]
	}

	var (
		mu        sync.Mutex
		firstOK   = map[string][]byte{}          // key → body of its first decided answer: 201, or 422 by a money rule
		okBody    = map[string]client.Transfer{} // key → the request that got it
		created   = map[string]client.Transaction{}
		history   []sent
		counts    = map[int]int{}
		failures  []string
		remaining = requests
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for {
				mu.Lock()
				if remaining == 0 {
					mu.Unlock()
					return
				}
				remaining--
				var s sent
				var from owned
				repeat := r.IntN(10) == 0 && len(history) > 0
				if repeat {
					s = history[r.IntN(len(history))]
					for _, a := range accounts {
						if a.account.ID == s.body.FromAccountID {
							from = a
						}
					}
					if r.IntN(2) == 0 {
						s.body.Amount++ // the same key with another body
					}
				}
				mu.Unlock()
				if !repeat {
					from = pick(r)
					to := pick(r)
					for to.account.ID == from.account.ID {
						to = pick(r)
					}
					amount := int64(1 + r.IntN(3000))
					if r.IntN(20) == 0 {
						amount = funds * 3 // an overdraft attempt
					}
					s = sent{key: fmt.Sprintf("w%d-%d", w, r.Uint64()), body: client.Transfer{
						FromAccountID: from.account.ID, ToAccountID: to.account.ID, Amount: amount, Currency: "EUR"}}
				}
				var tx client.Transaction
				res, err := from.c.Do(ctx, http.MethodPost, "/api/v1/transfers", s.key, s.body, &tx)
				if res == nil {
					fail("transfer: %v", err)
					continue
				}
				mu.Lock()
				counts[res.Status]++
				first, seen := firstOK[s.key]
				switch {
				case res.Status == http.StatusCreated && seen:
					if !reflect.DeepEqual(okBody[s.key], s.body) {
						failures = append(failures, fmt.Sprintf("key %s: another body got 201", s.key))
					} else if string(res.Body) != string(first) || !res.Replayed() {
						failures = append(failures, fmt.Sprintf("key %s: replay differs: %s vs %s", s.key, res.Body, first))
					}
				case res.Status == http.StatusCreated:
					if res.Replayed() {
						failures = append(failures, fmt.Sprintf("key %s: first 201 marked as replayed", s.key))
					}
					firstOK[s.key], okBody[s.key], created[tx.ID] = res.Body, s.body, tx
				case res.Status == http.StatusUnprocessableEntity && code(err) == "idempotency_key_reused":
					if !seen || reflect.DeepEqual(okBody[s.key], s.body) {
						failures = append(failures, fmt.Sprintf("key %s: idempotency_key_reused without a stored different request", s.key))
					}
				case res.Status == http.StatusConflict && code(err) == "request_in_progress" && repeat:
					// Another worker is repeating the same key at this moment.
				case res.Status == http.StatusUnprocessableEntity && code(err) == "insufficient_funds" && seen:
					// A refusal by a money rule is kept and replayed like a success.
					if !reflect.DeepEqual(okBody[s.key], s.body) {
						failures = append(failures, fmt.Sprintf("key %s: another body was refused", s.key))
					} else if string(res.Body) != string(first) || !res.Replayed() {
						failures = append(failures, fmt.Sprintf("key %s: replayed refusal differs: %s vs %s", s.key, res.Body, first))
					}
				case res.Status == http.StatusUnprocessableEntity && code(err) == "insufficient_funds":
					if res.Replayed() {
						failures = append(failures, fmt.Sprintf("key %s: first refusal marked as replayed", s.key))
					}
					firstOK[s.key], okBody[s.key] = res.Body, s.body
				default:
					failures = append(failures, fmt.Sprintf("key %s: unexpected %d %s", s.key, res.Status, res.Body))
				}
				if !repeat {
					history = append(history, s)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("statuses: %v; %d transfers posted", counts, len(created))
	if counts[http.StatusCreated] == 0 || counts[http.StatusUnprocessableEntity] == 0 {
		t.Errorf("statuses %v: want both successes and refusals", counts)
	}

	b.verify()

	// Every 201 is in the ledger exactly once, and nothing else is: each
	// account's history lists exactly its funding deposit and the acknowledged
	// transfers that touched it, and its balance is their sum.
	want := map[string]int64{}
	wantTxs := map[string]map[string]bool{}
	for _, a := range accounts {
		want[a.account.ID] = funds
		wantTxs[a.account.ID] = map[string]bool{}
	}
	for id, tx := range created {
		for _, p := range tx.Postings {
			want[p.AccountID] += p.Amount
			wantTxs[p.AccountID][id] = true
		}
	}
	for _, a := range accounts {
		got, err := a.c.Account(ctx, a.account.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Balance.Posted != want[a.account.ID] {
			t.Errorf("account %s: posted %d, want %d from the acknowledged transfers", a.account.ID, got.Balance.Posted, want[a.account.ID])
		}
		if got.Balance.Available < 0 {
			t.Errorf("account %s: available %d below its floor", a.account.ID, got.Balance.Available)
		}
		seen, deposits := map[string]bool{}, 0
		for cursor := ""; ; {
			var page client.List[client.Transaction]
			if _, err := a.c.Do(ctx, http.MethodGet, "/api/v1/accounts/"+a.account.ID+"/transactions?limit=97&cursor="+cursor, "", nil, &page); err != nil {
				t.Fatalf("history: %v", err)
			}
			for _, tx := range page.Data {
				switch {
				case seen[tx.ID]:
					t.Errorf("account %s: transaction %s listed twice", a.account.ID, tx.ID)
				case tx.Type == "deposit":
					deposits++
				case !wantTxs[a.account.ID][tx.ID]:
					t.Errorf("account %s: history lists %s, which was never acknowledged", a.account.ID, tx.ID)
				}
				seen[tx.ID] = true
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != len(wantTxs[a.account.ID])+1 || deposits != 1 {
			t.Errorf("account %s: history has %d transactions (%d deposits), want %d and 1", a.account.ID, len(seen), deposits, len(wantTxs[a.account.ID])+1)
		}
	}
}

// TestHolds covers a hold's life: partial capture, void of the remainder,
// capture after void, expiry; and a reversal that cannot happen twice.
func TestHolds(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			alice, _ := b.customer("alice")
			bob, _ := b.customer("bob")
			a := b.account(alice, "EUR", 10_000)
			shop := b.account(bob, "EUR", 0)

			var h client.Hold
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/holds", "h1", map[string]any{
				"account_id": a.ID, "amount": 3000, "currency": "EUR"}, &h); err != nil {
				t.Fatalf("create hold: %v", err)
			}
			wantBalance(t, alice, a.ID, client.Balance{Posted: 10_000, Pending: 3000, Available: 7000})
			var capt client.Transaction
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/holds/"+h.ID+"/capture", "c1", map[string]any{
				"to_account_id": shop.ID, "amount": 1200}, &capt); err != nil {
				t.Fatalf("capture: %v", err)
			}
			if capt.Type != "capture" || capt.Amount != 1200 || capt.HoldID != h.ID {
				t.Errorf("capture = %+v, want a capture of 1200 of hold %s", capt, h.ID)
			}
			wantBalance(t, alice, a.ID, client.Balance{Posted: 8800, Pending: 1800, Available: 7000})
			wantBalance(t, bob, shop.ID, client.Balance{Posted: 1200, Available: 1200})
			_, err := alice.Do(ctx, http.MethodPost, "/api/v1/holds/"+h.ID+"/capture", "c2", map[string]any{
				"to_account_id": shop.ID, "amount": 1801}, nil)
			if status(t, err) != http.StatusUnprocessableEntity || code(err) != "amount_exceeds_hold" {
				t.Errorf("capture over the remainder: %v, want 422 amount_exceeds_hold", err)
			}
			var voided client.Hold
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/holds/"+h.ID+"/void", "v1", nil, &voided); err != nil {
				t.Fatalf("void: %v", err)
			}
			if voided.Status != "voided" || voided.CapturedAmount != 1200 {
				t.Errorf("voided hold = %+v, want status voided with 1200 captured", voided)
			}
			wantBalance(t, alice, a.ID, client.Balance{Posted: 8800, Available: 8800})
			_, err = alice.Do(ctx, http.MethodPost, "/api/v1/holds/"+h.ID+"/capture", "c3", map[string]any{"to_account_id": shop.ID}, nil)
			if status(t, err) != http.StatusUnprocessableEntity || code(err) != "hold_not_pending" {
				t.Errorf("capture after void: %v, want 422 hold_not_pending", err)
			}
			_, err = bob.Do(ctx, http.MethodPost, "/api/v1/holds/"+h.ID+"/void", "v2", nil, nil)
			if status(t, err) != http.StatusNotFound {
				t.Errorf("void of another customer's hold: %v, want 404", err)
			}

			// Expiry releases the hold by itself.
			exp := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/holds", "h2", map[string]any{
				"account_id": a.ID, "amount": 800, "currency": "EUR", "expires_at": exp}, &h); err != nil {
				t.Fatalf("create expiring hold: %v", err)
			}
			wantBalance(t, alice, a.ID, client.Balance{Posted: 8800, Pending: 800, Available: 8000})
			poll.Until(t, 30*time.Second, "the expired hold to be released", func() bool {
				got, err := alice.Account(ctx, a.ID)
				if err != nil {
					t.Fatal(err)
				}
				return got.Balance.Pending == 0
			})
			_, err = alice.Do(ctx, http.MethodPost, "/api/v1/holds/"+h.ID+"/capture", "c4", map[string]any{"to_account_id": shop.ID}, nil)
			if status(t, err) != http.StatusUnprocessableEntity {
				t.Errorf("capture of an expired hold: %v, want 422", err)
			}

			// A reversal undoes the capture, once.
			op := b.staff["operator"]
			var rev client.Transaction
			if _, err := op.Do(ctx, http.MethodPost, "/api/v1/transactions/"+capt.ID+"/reverse", "r1", nil, &rev); err != nil {
				t.Fatalf("reverse: %v", err)
			}
			if rev.Type != "reversal" || rev.ReversesID != capt.ID {
				t.Errorf("reversal = %+v, want a reversal of %s", rev, capt.ID)
			}
			wantBalance(t, alice, a.ID, client.Balance{Posted: 10_000, Available: 10_000})
			wantBalance(t, bob, shop.ID, client.Balance{})
			_, err = op.Do(ctx, http.MethodPost, "/api/v1/transactions/"+capt.ID+"/reverse", "r2", nil, nil)
			if status(t, err) != http.StatusUnprocessableEntity || code(err) != "already_reversed" {
				t.Errorf("second reversal: %v, want 422 already_reversed", err)
			}
			_, err = op.Do(ctx, http.MethodPost, "/api/v1/transactions/"+rev.ID+"/reverse", "r3", nil, nil)
			if status(t, err) != http.StatusUnprocessableEntity {
				t.Errorf("reversal of a reversal: %v, want 422", err)
			}
			b.verify()
		})
	}
}

func wantBalance(t *testing.T, c *client.Client, id string, want client.Balance) {
	t.Helper()
	a, err := c.Account(context.Background(), id)
	if err != nil {
		t.Fatalf("account %s: %v", id, err)
	}
	if a.Balance != want {
		t.Errorf("account %s balance = %+v, want %+v", id, a.Balance, want)
	}
}
