package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/store"
)

// The load of the fault tests: workers make transfers among the accounts of
// a few customers, each with an Idempotency-Key of its own, until stopped,
// and record every attempt (when, how long, what status) and every key's
// decided answer. The amounts are small against the funds: every transfer
// is allowed, so that any answer but 201 is the fault's doing.
type load struct {
	t         *testing.T
	accounts  []loadAccount
	customers []loadCustomer
	funds     int64
	log       *serveLog // the server's, shown when the load stalls; nil for none
	// retry, when set, sends a request again with the same key after a 503
	// or a network error, until it gets another answer: a client doing what
	// the 503's message says. Without it every such answer is final.
	retry bool

	mu       sync.Mutex
	attempts []attempt
	outcomes map[string]outcome

	stop    chan struct{}
	done    sync.WaitGroup
	decided atomic.Int64 // keys answered 201
}

type loadAccount struct {
	c  *atomic.Pointer[client.Client] // swapped when its token is renewed
	id string
}

// loadCustomer is a customer of the load, with what logs it in again.
type loadCustomer struct {
	email string
	c     *atomic.Pointer[client.Client]
}

// attempt is one request of the load.
type attempt struct {
	key    string
	start  time.Time
	took   time.Duration
	status int    // 0: no answer (a network error or the client's timeout)
	err    string // the error of a non-201 attempt
}

// outcome is a key's last answer and what it asked for.
type outcome struct {
	body   client.Transfer
	status int
	txID   string
}

// newLoad opens perCustomer accounts for each of customers customers, each
// funded with funds, through the API at b (anyone that registers, logs in,
// opens accounts and deposits).
func newLoad(t *testing.T, b *testBank, customers, perCustomer int, funds int64) *load {
	t.Helper()
	l := &load{t: t, funds: funds, log: b.log, outcomes: map[string]outcome{}, stop: make(chan struct{})}
	for i := range customers {
		name := fmt.Sprintf("load%d", i)
		email := b.customerEmail(name)
		c := b.login(email, "password of "+name)
		p := new(atomic.Pointer[client.Client])
		p.Store(c)
		l.customers = append(l.customers, loadCustomer{email, p})
		for range perCustomer {
			l.accounts = append(l.accounts, loadAccount{p, b.account(c, "EUR", funds).ID})
		}
	}
	return l
}

// renewTokens logs every customer in again through anon, so that the
// workers go on with tokens of the key that signs now, and returns the last
// token.
func (l *load) renewTokens(ctx context.Context, anon *client.Client) (string, error) {
	var last string
	for i, c := range l.customers {
		tok, err := anon.Login(ctx, c.email, fmt.Sprintf("password of load%d", i))
		if err != nil {
			return "", fmt.Errorf("login %s: %w", c.email, err)
		}
		c.c.Store(c.c.Load().WithToken(tok.AccessToken))
		last = tok.AccessToken
	}
	return last, nil
}

// start runs workers until stopAndWait.
func (l *load) start(workers int) {
	for w := range workers {
		l.done.Go(func() { l.work(uint64(w)) })
	}
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load) work(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 24))
	for n := 0; !l.stopped(); n++ {
		from := l.accounts[r.IntN(len(l.accounts))]
		to := l.accounts[r.IntN(len(l.accounts))]
		for to.id == from.id {
			to = l.accounts[r.IntN(len(l.accounts))]
		}
		key := fmt.Sprintf("load-%d-%d-%s", seed, n, randomHex(4))
		body := client.Transfer{FromAccountID: from.id, ToAccountID: to.id, Amount: int64(1 + r.IntN(100)), Currency: "EUR"}
		for {
			status, txID, err := l.send(from.c.Load(), key, body)
			l.mu.Lock()
			l.outcomes[key] = outcome{body, status, txID}
			l.mu.Unlock()
			if status == http.StatusCreated {
				l.decided.Add(1)
			}
			if !l.retry || (status != 0 && status != http.StatusServiceUnavailable) || err == nil {
				break
			}
			// Retried until decided, even once stopped: a 503 leaves the
			// key's fate open and the checks need every key decided.
			_ = clock.Sleep(context.Background(), clock.Real(), 20*time.Millisecond)
		}
	}
}

// send makes one attempt and records it.
func (l *load) send(c *client.Client, key string, body client.Transfer) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	tx, err := c.Transfer(ctx, key, body)
	a := attempt{key: key, start: start, took: time.Since(start), status: http.StatusCreated}
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr):
		a.status, a.err = apiErr.Status, err.Error()
	case err != nil:
		a.status, a.err = 0, err.Error()
	}
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
	if err != nil {
		return a.status, "", err
	}
	return a.status, tx.ID, nil
}

// stopAndWait stops the workers and waits for their last requests.
func (l *load) stopAndWait() {
	close(l.stop)
	l.done.Wait()
}

// waitDecided waits until n more keys than now are answered 201, or fails
// the test after within.
func (l *load) waitDecided(n int64, within time.Duration, what string) {
	l.t.Helper()
	want := l.decided.Load() + n
	deadline := time.Now().Add(within)
	for l.decided.Load() < want {
		if time.Now().After(deadline) {
			l.mu.Lock()
			var last []string
			for _, a := range l.attempts[max(0, len(l.attempts)-5):] {
				last = append(last, fmt.Sprintf("%d %s", a.status, a.err))
			}
			l.mu.Unlock()
			var log string
			if l.log != nil {
				log = "\nthe server's warnings and errors:\n" + l.log.String()
			}
			l.t.Fatalf("%s: %d transfers answered 201 in %s, want %d; the last answers:\n%s%s",
				what, l.decided.Load()-want+n, within, n, strings.Join(last, "\n"), log)
		}
		_ = clock.Sleep(context.Background(), clock.Real(), 10*time.Millisecond)
	}
}

// during returns the attempts that started in [from, to).
func (l *load) during(from, to time.Time) []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []attempt
	for _, a := range l.attempts {
		if !a.start.Before(from) && a.start.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// failed returns the attempts not answered 201.
func failed(as []attempt) []attempt {
	var out []attempt
	for _, a := range as {
		if a.status != http.StatusCreated {
			out = append(out, a)
		}
	}
	return out
}

// statusCounts counts attempts by status (0: no answer).
func statusCounts(as []attempt) map[int]int {
	m := map[int]int{}
	for _, a := range as {
		m[a.status]++
	}
	return m
}

// percentile returns the p-th percentile (0 < p ≤ 100) of the attempts'
// durations, nearest rank.
func percentile(as []attempt, p float64) time.Duration {
	if len(as) == 0 {
		return 0
	}
	d := make([]time.Duration, len(as))
	for i, a := range as {
		d[i] = a.took
	}
	slices.Sort(d)
	i := int(float64(len(d))*p/100+0.999999) - 1
	return d[max(0, min(i, len(d)-1))]
}

// settle sends each key left without a decided answer (a 503 or none) again
// until it gets one, as a client would: the same key is safe to repeat.
func (l *load) settle() {
	l.t.Helper()
	l.mu.Lock()
	open := map[string]client.Transfer{}
	for key, o := range l.outcomes {
		if o.status == 0 || o.status == http.StatusServiceUnavailable {
			open[key] = o.body
		}
	}
	l.mu.Unlock()
	for key, body := range open {
		var c *client.Client
		for _, a := range l.accounts {
			if a.id == body.FromAccountID {
				c = a.c.Load()
			}
		}
		for i := 0; ; i++ {
			status, txID, _ := l.send(c, key, body)
			l.mu.Lock()
			l.outcomes[key] = outcome{body, status, txID}
			l.mu.Unlock()
			if status != 0 && status != http.StatusServiceUnavailable {
				break
			}
			if i == 100 {
				l.t.Fatalf("key %s: no decided answer after %d attempts", key, i)
			}
			_ = clock.Sleep(context.Background(), clock.Real(), 50*time.Millisecond)
		}
	}
}

// openTestDB opens the database at url until the test ends.
func openTestDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, store.Options{AppName: "bank-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// check compares the database with the answers: every key answered 201
// is stored once, and its transaction is there with two postings; every
// transfer in the ledger is one of those; and each account's balance is its
// funds moved by exactly the transfers answered 201. A retry that posted
// twice, a transfer acknowledged and lost, or one refused and posted all
// fail it.
func (l *load) check(ctx context.Context, db *store.DB) {
	l.t.Helper()
	l.settle()
	keys := l.counts(ctx, db, `SELECT key, COUNT(*) FROM idempotency_keys GROUP BY key`)
	transfers := l.counts(ctx, db, `SELECT t.id, COUNT(p.account_id) FROM transactions t
		LEFT JOIN postings p ON p.transaction_id = t.id WHERE t.type = 'transfer' GROUP BY t.id`)
	balances := l.counts(ctx, db, `SELECT account_id, SUM(amount) FROM postings GROUP BY account_id`)

	l.mu.Lock()
	defer l.mu.Unlock()
	want := map[string]int64{}
	for _, a := range l.accounts {
		want[a.id] = l.funds
	}
	acknowledged := map[string]bool{}
	for key, o := range l.outcomes {
		if o.status != http.StatusCreated {
			continue
		}
		acknowledged[o.txID] = true
		want[o.body.FromAccountID] -= o.body.Amount
		want[o.body.ToAccountID] += o.body.Amount
		if keys[key] != 1 || transfers[o.txID] != 2 {
			l.t.Errorf("key %s answered 201 with transaction %s: the key is stored %d times, the transaction has %d postings",
				key, o.txID, keys[key], transfers[o.txID])
		}
	}
	for id := range transfers {
		if !acknowledged[id] {
			l.t.Errorf("transfer %s is in the ledger but no key was answered 201 with it: a retry posted twice, or a refused transfer posted", id)
		}
	}
	for id, w := range want {
		if balances[id] != w {
			l.t.Errorf("account %s holds %d, want %d from its funds and the transfers answered 201", id, balances[id], w)
		}
	}
}

// counts runs query, whose rows are a name and a number, and returns them.
func (l *load) counts(ctx context.Context, db *store.DB, query string) map[string]int64 {
	l.t.Helper()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		l.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			l.t.Fatal(err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		l.t.Fatal(err)
	}
	return out
}
