// Package searchtest is the contract of search.Index: one suite that every
// implementation (the ledger's own tables on SQLite and PostgreSQL,
// OpenSearch) passes over the same transactions, written through the ledger.
package searchtest

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/store"
)

// Implementation is an index under test.
type Implementation struct {
	// SearchQueue: the index is fed from the events the ledger copies to
	// event.SearchQueue (ledger.Config.SearchQueue).
	SearchQueue bool
	// Open returns the index over what l writes to db, and sync, which
	// makes everything l committed so far searchable (nil when that is at
	// once, as in the database's own index).
	Open func(t *testing.T, db *store.DB, l *ledger.Ledger) (idx search.Index, sync func(t *testing.T))
}

// Start is the time of the first transaction of the fixture.
var Start = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

var (
	operator = bank.Principal{UserID: "searchtest-operator", Role: bank.RoleOperator}
	alice    = bank.Principal{UserID: "searchtest-alice", Role: bank.RoleCustomer}
	bob      = bank.Principal{UserID: "searchtest-bob", Role: bank.RoleCustomer}
)

// fixture is the ledger the suite searches: two customers, three accounts
// and transactions named by what they are, with their ids and times.
type fixture struct {
	l     *ledger.Ledger
	idx   search.Index
	sync  func(t *testing.T)
	clock *stepClock
	// accounts: alice's a1 and a2, bob's b1.
	a1, a2, b1 string
	txs        map[string]search.Hit // by name
}

// stepClock is the ledger's clock: it stands still until set.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Run runs the contract against impl on db, a fresh migrated database.
func Run(t *testing.T, db *store.DB, impl Implementation) {
	f := newFixture(t, db, impl)
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"Filters", testFilters},
		{"CustomerSeesOnlyOwn", testCustomerSeesOnlyOwn},
		{"Pages", testPages},
		{"Count", testCount},
		{"HostileText", testHostileText},
		{"Invalid", testInvalid},
		// Last: it adds a transaction the others do not expect.
		{"KeptInStep", testKeptInStep},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, f) })
	}
}

func newFixture(t *testing.T, db *store.DB, impl Implementation) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := &stepClock{now: Start}
	cfg := ledger.DefaultConfig()
	cfg.SearchQueue = impl.SearchQueue
	l := ledger.New(db, slog.New(slog.DiscardHandler), clock.Now, cfg)
	t.Cleanup(l.Close)
	for _, p := range []bank.Principal{alice, bob} {
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at)
			VALUES ($1, $2, $1, 'customer', 'x', $3)`, p.UserID, p.UserID+"@example.test", Start); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{l: l, clock: clock, txs: map[string]search.Hit{}}
	f.idx, f.sync = impl.Open(t, db, l)
	open := func(p bank.Principal, name string) string {
		a, err := l.OpenAccount(ctx, p, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	f.a1, f.a2, f.b1 = open(alice, "Alice main"), open(alice, "Alice savings"), open(bob, "Bob main")
	eur := func(n int64) bank.Money { return bank.Money{Amount: n, Currency: "EUR"} }
	// Each transaction at its own minute, but for split and atm: same
	// time, so that their order is the id's.
	steps := []struct {
		name   string
		minute int
		post   func(idem ledger.Idempotency) (ledger.Result, error)
	}{
		{"salary", 0, func(i ledger.Idempotency) (ledger.Result, error) {
			return l.Deposit(ctx, operator, i, ledger.CashInput{AccountID: f.a1, Money: eur(5000), Description: "Salary March ACME Corp"})
		}},
		{"rent", 1, func(i ledger.Idempotency) (ledger.Result, error) {
			return l.Deposit(ctx, operator, i, ledger.CashInput{AccountID: f.b1, Money: eur(3000), Description: "Invoice INV2026 rent",
				Metadata: bank.Metadata{"order_id": "A-1042", "channel": "web"}})
		}},
		{"dinner", 2, func(i ledger.Idempotency) (ledger.Result, error) {
			return l.Transfer(ctx, alice, i, ledger.TransferInput{From: f.a1, To: f.b1, Money: eur(1250), Description: "Café dinner",
				Metadata: bank.Metadata{"channel": "web"}})
		}},
		{"split", 3, func(i ledger.Idempotency) (ledger.Result, error) {
			return l.Transfer(ctx, bob, i, ledger.TransferInput{From: f.b1, To: f.a2, Money: eur(700), Description: "invoice 42 split"})
		}},
		{"atm", 3, func(i ledger.Idempotency) (ledger.Result, error) {
			return l.Withdraw(ctx, alice, i, ledger.CashInput{AccountID: f.a2, Money: eur(100), Description: "ATM cash"})
		}},
		{"bonus", 4, func(i ledger.Idempotency) (ledger.Result, error) {
			return l.Deposit(ctx, operator, i, ledger.CashInput{AccountID: f.b1, Money: eur(999), Description: "Secret bonus for bob"})
		}},
		{"hostile", 5, func(i ledger.Idempotency) (ledger.Result, error) {
			return l.Deposit(ctx, operator, i, ledger.CashInput{AccountID: f.b1, Money: eur(1), Description: `quote " star * NEAR(a b) col:umn & | ! ( ) 'x' \ -- ;`})
		}},
	}
	for _, s := range steps {
		at := Start.Add(time.Duration(s.minute) * time.Minute)
		clock.Set(at)
		res, err := s.post(ledger.Idempotency{Key: "searchtest-" + s.name, Hash: "h"})
		if err != nil || res.Transaction == nil {
			t.Fatalf("%s: %v %+v", s.name, err, res)
		}
		f.txs[s.name] = search.Hit{ID: res.Transaction.ID, At: res.Transaction.CreatedAt.UTC()}
	}
	if f.sync != nil {
		f.sync(t)
	}
	return f
}

// want returns the hits of the named transactions, newest first, ties by id
// descending: the order every search answers in.
func (f *fixture) want(names ...string) []search.Hit {
	hits := []search.Hit{}
	for _, n := range names {
		hits = append(hits, f.txs[n])
	}
	slices.SortFunc(hits, func(a, b search.Hit) int {
		return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.ID, a.ID))
	})
	return hits
}

// all returns every hit of q, page after page of limit.
func (f *fixture) all(t *testing.T, q search.Query, limit int) []search.Hit {
	t.Helper()
	q.Limit = limit
	hits := []search.Hit{}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		page, err := f.idx.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		hits = append(hits, page.Hits...)
		if page.Next == "" {
			return hits
		}
		if len(page.Hits) != limit {
			t.Fatalf("a page of %d hits (limit %d) has a next page", len(page.Hits), limit)
		}
		if q.After, err = bank.DecodeCursor(page.Next); err != nil {
			t.Fatal(err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func testFilters(t *testing.T, f *fixture) {
	minute := func(n int) *time.Time { return ptr(Start.Add(time.Duration(n) * time.Minute)) }
	for _, c := range []struct {
		name string
		q    search.Query
		want []string
	}{
		{"everything", search.Query{}, []string{"salary", "rent", "dinner", "split", "atm", "bonus", "hostile"}},
		{"word", search.Query{Text: "invoice"}, []string{"rent", "split"}},
		{"prefix", search.Query{Text: "invo"}, []string{"rent", "split"}},
		{"case", search.Query{Text: "SALARY"}, []string{"salary"}},
		{"every term", search.Query{Text: "invoice rent"}, []string{"rent"}},
		{"reference", search.Query{Text: "INV2026"}, []string{"rent"}},
		{"accented", search.Query{Text: "café"}, []string{"dinner"}},
		{"number", search.Query{Text: "42"}, []string{"split"}},
		{"no match", search.Query{Text: "mortgage"}, nil},
		{"not inside a word", search.Query{Text: "voice"}, nil},
		{"account", search.Query{AccountID: f.a2}, []string{"split", "atm"}},
		{"owner", search.Query{OwnerID: bob.UserID}, []string{"rent", "dinner", "split", "bonus", "hostile"}},
		{"amount range", search.Query{MinAmount: ptr[int64](700), MaxAmount: ptr[int64](1250)}, []string{"dinner", "split", "bonus"}},
		{"min amount", search.Query{MinAmount: ptr[int64](3000)}, []string{"salary", "rent"}},
		{"max amount", search.Query{MaxAmount: ptr[int64](100)}, []string{"atm", "hostile"}},
		{"time range", search.Query{From: minute(1), To: minute(3)}, []string{"rent", "dinner"}},
		{"from", search.Query{From: minute(4)}, []string{"bonus", "hostile"}},
		{"type", search.Query{Type: "withdrawal"}, []string{"atm"}},
		{"metadata", search.Query{Metadata: map[string]string{"channel": "web"}}, []string{"rent", "dinner"}},
		{"every metadata pair", search.Query{Metadata: map[string]string{"channel": "web", "order_id": "A-1042"}}, []string{"rent"}},
		{"metadata value", search.Query{Metadata: map[string]string{"order_id": "A-1043"}}, nil},
		{"all at once", search.Query{Text: "inv", AccountID: f.b1, MinAmount: ptr[int64](500), From: minute(2), Type: "transfer"}, []string{"split"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := f.all(t, c.q, search.MaxLimit)
			if diff := gocmp.Diff(got, f.want(c.want...)); diff != "" {
				t.Errorf("%+v found (-got +want):\n%s", c.q, diff)
			}
		})
	}
}

// testCustomerSeesOnlyOwn: a scoped query finds only the customer's
// transactions, whatever else it asks for, on every implementation.
func testCustomerSeesOnlyOwn(t *testing.T, f *fixture) {
	for _, c := range []struct {
		name string
		p    bank.Principal
		q    search.Query
		want []string
	}{
		{"alice", alice, search.Query{}, []string{"salary", "dinner", "split", "atm"}},
		{"bob", bob, search.Query{}, []string{"rent", "dinner", "split", "bonus", "hostile"}},
		{"another's text", alice, search.Query{Text: "secret bonus"}, nil},
		{"another's owner id", alice, search.Query{OwnerID: bob.UserID}, []string{"salary", "dinner", "split", "atm"}},
		{"another's account", alice, search.Query{AccountID: f.b1}, []string{"dinner", "split"}},
		{"shared text", alice, search.Query{Text: "invoice"}, []string{"split"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := f.all(t, search.Scope(c.q, c.p), search.MaxLimit)
			if diff := gocmp.Diff(got, f.want(c.want...)); diff != "" {
				t.Errorf("%s's %+v found (-got +want):\n%s", c.p.UserID, c.q, diff)
			}
		})
	}
}

// testPages reads everything a page at a time: the pages join into the
// whole list, in order, each transaction once, ties broken by id.
func testPages(t *testing.T, f *fixture) {
	whole := f.want("salary", "rent", "dinner", "split", "atm", "bonus", "hostile")
	for _, limit := range []int{1, 2, 3, 7} {
		if diff := gocmp.Diff(f.all(t, search.Query{}, limit), whole); diff != "" {
			t.Errorf("pages of %d (-got +want):\n%s", limit, diff)
		}
	}
	// A customer's pages too, which an index may read account by account.
	hers := f.want("salary", "dinner", "split", "atm")
	for _, limit := range []int{1, 2, 3} {
		if diff := gocmp.Diff(f.all(t, search.Scope(search.Query{}, alice), limit), hers); diff != "" {
			t.Errorf("alice's pages of %d (-got +want):\n%s", limit, diff)
		}
		if diff := gocmp.Diff(f.all(t, search.Scope(search.Query{Text: "a"}, alice), limit), f.want("salary", "atm")); diff != "" {
			t.Errorf("alice's pages of %d of text (-got +want):\n%s", limit, diff)
		}
	}
	page, err := f.idx.Search(context.Background(), search.Query{Limit: 7})
	if err != nil || page.Next != "" {
		t.Errorf("a page holding the last hit: next %q, %v; want none", page.Next, err)
	}
}

func testCount(t *testing.T, f *fixture) {
	for _, c := range []struct {
		q    search.Query
		want int64
	}{
		{search.Query{}, 7},
		{search.Query{Text: "invoice"}, 2},
		{search.Scope(search.Query{}, alice), 4},
		{search.Query{Type: "deposit", MinAmount: ptr[int64](1000)}, 2},
	} {
		got, err := f.idx.Count(context.Background(), c.q)
		if err != nil || got != c.want {
			t.Errorf("count %+v: %d, %v; want %d", c.q, got, err, c.want)
		}
	}
}

// testHostileText: text is words to find, never syntax of the index's own
// query language; nothing of it makes a search fail.
func testHostileText(t *testing.T, f *fixture) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{`"`, nil}, {`*`, nil}, {`"invoice`, []string{"rent", "split"}}, {`invoice*`, []string{"rent", "split"}},
		{`NEAR(invoice rent)`, nil}, {`near`, []string{"hostile"}}, {`description:rent`, nil}, {`col:umn`, []string{"hostile"}},
		{`invoice & !rent`, []string{"rent"}}, {`invoice | salary`, nil}, {`!`, nil}, {`(`, nil}, {`'x'`, []string{"hostile"}},
		{`\`, nil}, {`--`, nil}, {`invoice AND rent`, nil}, {`invoice OR salary`, nil}, {`NOT rent`, nil}, {`-rent`, []string{"rent"}},
		{`^rent`, []string{"rent"}}, {`rent:*`, []string{"rent"}}, {`{rent}`, []string{"rent"}}, {`rent~2`, nil}, {`r?nt`, nil},
		{`[rent TO salary]`, nil}, {`rent/salary`, nil}, {`%_`, nil}, {`:*`, nil}, {`&&`, nil}, {`'`, nil}, {`invoice'`, []string{"rent", "split"}},
	} {
		t.Run(c.text, func(t *testing.T) {
			got := f.all(t, search.Query{Text: c.text}, search.MaxLimit)
			if diff := gocmp.Diff(got, f.want(c.want...)); diff != "" {
				t.Errorf("%q found (-got +want):\n%s", c.text, diff)
			}
		})
	}
}

// testInvalid: what a query may not be is refused as invalid, by every
// implementation, before it reaches the index.
func testInvalid(t *testing.T, f *fixture) {
	for _, c := range []struct {
		name string
		q    search.Query
	}{
		{"limit 0", search.Query{Limit: 0}},
		{"limit too big", search.Query{Limit: search.MaxLimit + 1}},
		{"NUL", search.Query{Text: "a\x00b", Limit: 1}},
		{"invalid UTF-8", search.Query{Text: "a\xffb", Limit: 1}},
		{"too many words", search.Query{Text: "a b c d e f g h i", Limit: 1}},
		{"min above max", search.Query{MinAmount: ptr[int64](2), MaxAmount: ptr[int64](1), Limit: 1}},
		{"negative amount", search.Query{MinAmount: ptr[int64](-1), Limit: 1}},
		{"unknown type", search.Query{Type: "gift", Limit: 1}},
		{"metadata key", search.Query{Metadata: map[string]string{"Bad Key": "v"}, Limit: 1}},
		{"metadata value", search.Query{Metadata: map[string]string{"k": "a\x00b"}, Limit: 1}},
		{"bad account id", search.Query{AccountID: strings.Repeat("a", 65), Limit: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.idx.Search(context.Background(), c.q)
			var be *bank.Error
			if !errors.As(err, &be) || be.Kind != bank.KindInvalid {
				t.Errorf("search %+v: %v; want a KindInvalid error", c.q, err)
			}
		})
	}
}

// testKeptInStep: a transaction committed now is found once the index is in
// step (at once in the database's own index).
func testKeptInStep(t *testing.T, f *fixture) {
	f.clock.Set(Start.Add(time.Hour))
	res, err := f.l.Transfer(context.Background(), alice, ledger.Idempotency{Key: "searchtest-late", Hash: "h"},
		ledger.TransferInput{From: f.a1, To: f.a2, Money: bank.Money{Amount: 5, Currency: "EUR"}, Description: "Late zebra"})
	if err != nil {
		t.Fatal(err)
	}
	if f.sync != nil {
		f.sync(t)
	}
	got := f.all(t, search.Scope(search.Query{Text: "zebra"}, alice), 10)
	want := []search.Hit{{ID: res.Transaction.ID, At: res.Transaction.CreatedAt.UTC()}}
	if diff := gocmp.Diff(got, want); diff != "" {
		t.Errorf("the new transaction (-got +want):\n%s", diff)
	}
	// It moved money between two of alice's accounts: found once.
	f.txs["zebra"] = want[0]
	if diff := gocmp.Diff(f.all(t, search.Scope(search.Query{}, alice), 1), f.want("salary", "dinner", "split", "atm", "zebra")); diff != "" {
		t.Errorf("alice's pages of 1 with a transfer between her accounts (-got +want):\n%s", diff)
	}
}
