// Package searchtest is the contract of search.Index: one suite that every
// implementation (the ledger's own tables on SQLite and PostgreSQL,
// OpenSearch) passes over the same transactions, written through the ledger.
package searchtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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
		// Last: they add transactions the others do not expect.
		{"KeptInStep", testKeptInStep},
		{"Relevance", testRelevance},
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
// descending: the order every search without text answers in, and every
// search with text whose hits score alike (the fixture's descriptions that
// share a word are alike in length and in how often they hold it). Their
// scores are not compared (sameHits).
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
		if q.After, err = search.DecodeCursor(page.Next); err != nil {
			t.Fatal(err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// sameHits compares hits by id and time, not by score: what want knows.
var sameHits = cmpopts.IgnoreFields(search.Hit{}, "Score")

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
		{"accents folded", search.Query{Text: "cafe"}, []string{"dinner"}},
		{"accented capitals", search.Query{Text: "CAFÉ DîN"}, []string{"dinner"}},
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
			if diff := gocmp.Diff(got, f.want(c.want...), sameHits); diff != "" {
				t.Errorf("%+v found (-got +want):\n%s", c.q, diff)
			}
			checkScores(t, c.q, got)
		})
	}
}

// checkScores: the hits of a search with text carry a positive score, in
// the order of the page (Query.Compare), and those of a search without
// carry none (0).
func checkScores(t *testing.T, q search.Query, hits []search.Hit) {
	t.Helper()
	for i, h := range hits {
		switch {
		case q.Ranked() && h.Score <= 0:
			t.Errorf("%+v: hit %s scores %v, want a positive score", q, h.ID, h.Score)
		case !q.Ranked() && h.Score != 0:
			t.Errorf("%+v: hit %s scores %v without text, want none", q, h.ID, h.Score)
		case i > 0 && hits[i-1].Score < h.Score:
			t.Errorf("%+v: hit %s scores %v, above %v of the hit before it", q, h.ID, h.Score, hits[i-1].Score)
		}
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
			if diff := gocmp.Diff(got, f.want(c.want...), sameHits); diff != "" {
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
		if diff := gocmp.Diff(f.all(t, search.Query{}, limit), whole, sameHits); diff != "" {
			t.Errorf("pages of %d (-got +want):\n%s", limit, diff)
		}
	}
	// A customer's pages too, which an index may read account by account.
	hers := f.want("salary", "dinner", "split", "atm")
	for _, limit := range []int{1, 2, 3} {
		if diff := gocmp.Diff(f.all(t, search.Scope(search.Query{}, alice), limit), hers, sameHits); diff != "" {
			t.Errorf("alice's pages of %d (-got +want):\n%s", limit, diff)
		}
		// Ranked: the pages join into the one page, scores and all.
		text := search.Scope(search.Query{Text: "a"}, alice)
		if diff := gocmp.Diff(f.all(t, text, limit), f.all(t, text, search.MaxLimit)); diff != "" {
			t.Errorf("alice's pages of %d of text (-got +want):\n%s", limit, diff)
		}
	}
	if diff := gocmp.Diff(ids(f.all(t, search.Scope(search.Query{Text: "a"}, alice), search.MaxLimit)), ids(f.want("salary", "atm"))); diff != "" {
		t.Errorf("alice's text (-got +want):\n%s", diff)
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
			if diff := gocmp.Diff(got, f.want(c.want...), sameHits); diff != "" {
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
	if diff := gocmp.Diff(got, want, sameHits); diff != "" {
		t.Errorf("the new transaction (-got +want):\n%s", diff)
	}
	// It moved money between two of alice's accounts: found once.
	f.txs["zebra"] = want[0]
	if diff := gocmp.Diff(f.all(t, search.Scope(search.Query{}, alice), 1), f.want("salary", "dinner", "split", "atm", "zebra"), sameHits); diff != "" {
		t.Errorf("alice's pages of 1 with a transfer between her accounts (-got +want):\n%s", diff)
	}
}

// ids returns the hits' ids, sorted: what was found, whatever the order.
func ids(hits []search.Hit) []string {
	s := []string{}
	for _, h := range hits {
		s = append(s, h.ID)
	}
	slices.Sort(s)
	return s
}

// testRelevance: a search with text comes most relevant first, on each
// implementation's own score: more of the word in a description as long
// ranks higher, as does the word in a shorter description. Alike
// descriptions score alike and come newest first, then by id. The pages of
// a ranked search join into the whole, even when the index grows between
// two pages and every score moves (bm25 weighs a word by how rare it is).
func testRelevance(t *testing.T, f *fixture) {
	ctx := context.Background()
	post := func(name string, minute int, description string) {
		t.Helper()
		f.clock.Set(Start.Add(2*time.Hour + time.Duration(minute)*time.Minute))
		res, err := f.l.Transfer(ctx, alice, ledger.Idempotency{Key: "searchtest-" + name, Hash: "h"},
			ledger.TransferInput{From: f.a1, To: f.a2, Money: bank.Money{Amount: 1, Currency: "EUR"}, Description: description})
		if err != nil {
			t.Fatal(err)
		}
		f.txs[name] = search.Hit{ID: res.Transaction.ID, At: res.Transaction.CreatedAt.UTC()}
	}
	post("thrice", 0, "quokka quokka quokka")
	post("once", 1, "quokka walk today")
	post("short", 2, "quokka tour")
	post("long", 3, "quokka tour of the harbour bridge")
	post("twin1", 4, "quokka walk today")
	post("twin2", 4, "quokka walk today")
	if f.sync != nil {
		f.sync(t)
	}
	q := search.Query{Text: "quokka"}
	whole := f.all(t, q, search.MaxLimit)
	pos := map[string]int{}
	for name, h := range f.txs {
		pos[name] = slices.IndexFunc(whole, func(w search.Hit) bool { return w.ID == h.ID })
	}
	if diff := gocmp.Diff(ids(whole), ids(f.want("thrice", "once", "short", "long", "twin1", "twin2"))); diff != "" {
		t.Fatalf("found (-got +want):\n%s", diff)
	}
	checkScores(t, q, whole)
	for i := 1; i < len(whole); i++ {
		if q.Compare(whole[i-1], whole[i]) >= 0 {
			t.Errorf("hit %d %+v comes before %+v: not in order of score, time, id", i, whole[i-1], whole[i])
		}
	}
	if pos["thrice"] > pos["once"] {
		t.Errorf("three of the word ranks below one in a description as long: %+v", whole)
	}
	if pos["short"] > pos["long"] {
		t.Errorf("the word in a short description ranks below a long one: %+v", whole)
	}
	// Alike: one score, newest first, then by id.
	alike := f.want("once", "twin1", "twin2")
	if pos["once"] < 2 {
		t.Fatalf("the older of three alike descriptions is at %d of %+v", pos["once"], whole)
	}
	if diff := gocmp.Diff(whole[pos["once"]-2:pos["once"]+1], alike, sameHits); diff != "" {
		t.Errorf("alike descriptions (-got +want):\n%s", diff)
	}
	if s := whole[pos["once"]].Score; whole[pos["twin1"]].Score != s || whole[pos["twin2"]].Score != s || s <= 0 {
		t.Errorf("alike descriptions score %v, %v, %v: want one positive score", whole[pos["twin1"]].Score, whole[pos["twin2"]].Score, s)
	}
	for _, limit := range []int{1, 2, 4} {
		if diff := gocmp.Diff(f.all(t, q, limit), whole); diff != "" {
			t.Errorf("pages of %d (-got +want):\n%s", limit, diff)
		}
	}
	// Hers, not his; and in an account. (In the order of the whole: the
	// word's weight may differ in a customer's own transactions, but not
	// how one transaction compares with another.)
	if diff := gocmp.Diff(f.all(t, search.Scope(q, alice), 2), whole, sameHits); diff != "" {
		t.Errorf("alice's pages (-got +want):\n%s", diff)
	}
	if got := f.all(t, search.Scope(q, bob), 2); len(got) != 0 {
		t.Errorf("bob found alice's %+v", got)
	}
	if diff := gocmp.Diff(f.all(t, search.Query{Text: "quokka", AccountID: f.a2}, 3), whole, sameHits); diff != "" {
		t.Errorf("account's pages (-got +want):\n%s", diff)
	}

	// The index grows between pages: a page after each, staff's and
	// alice's own.
	for n, q := range []search.Query{{Text: "quokka"}, search.Scope(search.Query{Text: "quokka"}, alice)} {
		q.Limit = 1
		var got []search.Hit
		for i := 0; ; i++ {
			if i > 20 {
				t.Fatal("more than 20 pages")
			}
			page, err := f.idx.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.Hits...)
			if page.Next == "" {
				break
			}
			if q.After, err = search.DecodeCursor(page.Next); err != nil {
				t.Fatal(err)
			}
			for j := range 3 {
				post(fmt.Sprintf("other%d-%d-%d", n, i, j), 10+i, "wombat")
			}
			if f.sync != nil {
				f.sync(t)
			}
		}
		if diff := gocmp.Diff(ids(got), ids(whole)); diff != "" || len(got) != len(whole) {
			t.Errorf("%+v: pages read while the index grew found (-got +want):\n%s", q, diff)
		}
		q.After, q.Limit = nil, search.MaxLimit
		if diff := gocmp.Diff(got, f.all(t, q, search.MaxLimit), sameHits); diff != "" {
			t.Errorf("%+v: pages read while the index grew (-got +now):\n%s", q, diff)
		}
	}

	// A ranked search's cursor does not page a search without text, nor
	// the other way.
	page, err := f.idx.Search(ctx, search.Query{Text: "quokka", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	ranked, err := search.DecodeCursor(page.Next)
	if err != nil || ranked.Score == nil {
		t.Fatalf("ranked cursor %+v, %v: want a score", ranked, err)
	}
	page, err = f.idx.Search(ctx, search.Query{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	newest, err := search.DecodeCursor(page.Next)
	if err != nil || newest.Score != nil {
		t.Fatalf("newest-first cursor %+v, %v: want no score", newest, err)
	}
	for _, bad := range []search.Query{{Limit: 1, After: ranked}, {Text: "quokka", Limit: 1, After: newest}} {
		var be *bank.Error
		if _, err := f.idx.Search(ctx, bad); !errors.As(err, &be) || be.Kind != bank.KindInvalid {
			t.Errorf("search %+v: %v; want a KindInvalid error", bad, err)
		}
	}
}
