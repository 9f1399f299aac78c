package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/search/opensearchnode"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestSearch searches through the API of "bank serve all" on each database,
// and on OpenSearch fed by the served indexer: customers find their own
// transactions only, hits carry their accounts' names, pages join up, and
// bad input is a 400 with a code, never a 500, while hostile text is just
// words.
func TestSearch(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			testSearch(t, startBank(t, d))
		})
	}
	t.Run("opensearch", func(t *testing.T) {
		t.Parallel()
		node := opensearchnode.Start(t)
		testSearch(t, startBankWith(t, storetest.MigratedURL(t, store.SQLite), map[string]string{
			"BANK_SEARCH_URL": node.URL, "BANK_SEARCH_INDEX": "e2e-" + strings.ToLower(randomHex(4))}))
	})
}

func testSearch(t *testing.T, b *testBank) {
	ctx := context.Background()
	alice, _ := b.customer("alice")
	bob, _ := b.customer("bob")
	carol, carolID := b.customer("carol")
	a := b.account(alice, "EUR", 10_000)
	bb := b.account(bob, "EUR", 0)
	b.account(carol, "EUR", 0)
	var rent []string
	for i, desc := range []string{"Rent March", "Rent April", "Groceries", "Rent May"} {
		tx, err := alice.Transfer(ctx, "search-"+desc, client.Transfer{FromAccountID: a.ID, ToAccountID: bb.ID,
			Amount: int64(100 + i), Currency: "EUR", Description: desc})
		if err != nil {
			t.Fatal(err)
		}
		if desc != "Groceries" {
			rent = append(rent, tx.ID)
		}
	}
	slices.Reverse(rent) // newest first
	// An index outside the database catches up within its lag.
	poll.Until(t, 30*time.Second, "the transfers to be searchable", func() bool {
		page, err := alice.SearchTransactions(ctx, client.Search{Text: "rent"})
		return err == nil && len(page.Data) == len(rent)
	})
	ids := func(c *client.Client, s client.Search) []string {
		t.Helper()
		var got []string
		for {
			page, err := c.SearchTransactions(ctx, s)
			if err != nil {
				t.Fatalf("search %+v: %v", s, err)
			}
			for _, f := range page.Data {
				got = append(got, f.ID)
			}
			if page.NextCursor == "" {
				return got
			}
			s.Cursor = page.NextCursor
		}
	}
	for _, c := range []struct {
		name string
		c    *client.Client
		s    client.Search
		want []string
	}{
		{"alice", alice, client.Search{Text: "ren", Limit: 1}, rent},
		{"bob, the other side", bob, client.Search{Text: "rent"}, rent},
		{"carol", carol, client.Search{Text: "rent"}, nil},
		{"carol names alice's account", carol, client.Search{AccountID: a.ID}, nil},
		{"staff", b.staff["operator"], client.Search{Text: "rent", AccountID: bb.ID, Limit: 2}, rent},
		{"staff for carol", b.staff["operator"], client.Search{Text: "rent", OwnerID: carolID}, nil},
	} {
		if got := ids(c.c, c.s); !slices.Equal(got, c.want) {
			t.Errorf("%s: found %v, want %v", c.name, got, c.want)
		}
	}
	page, err := alice.SearchTransactions(ctx, client.Search{Text: "groceries"})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("groceries: %+v, %v", page, err)
	}
	if names := page.Data[0].AccountNames; len(names) != 2 || names[a.ID] != a.Name || names[bb.ID] != bb.Name {
		t.Errorf("account names %v, want %s: %q and %s: %q", names, a.ID, a.Name, bb.ID, bb.Name)
	}
	// Hits carry their score with words, in its order, and none without.
	page, err = alice.SearchTransactions(ctx, client.Search{Text: "rent"})
	if err != nil || len(page.Data) != len(rent) {
		t.Fatalf("rent: %+v, %v", page, err)
	}
	for i, f := range page.Data {
		if f.Score == nil || *f.Score <= 0 || i > 0 && *page.Data[i-1].Score < *f.Score {
			t.Errorf("hit %d of rent: score %v, want a positive score, not above the one before", i, f.Score)
		}
	}
	page, err = alice.SearchTransactions(ctx, client.Search{AccountID: a.ID})
	if err != nil || len(page.Data) == 0 {
		t.Fatalf("alice's account: %+v, %v", page, err)
	}
	for _, f := range page.Data {
		if f.Score != nil {
			t.Errorf("a search without words: %s has score %v, want none", f.ID, *f.Score)
		}
	}

	get := func(query string) (int, string) {
		var out map[string]any
		_, err := alice.Do(ctx, http.MethodGet, "/api/v1/transactions/search?"+query, "", nil, &out)
		return status(t, err), code(err)
	}
	// A ranked search's cursor pages that search only.
	ranked, err := alice.SearchTransactions(ctx, client.Search{Text: "rent", Limit: 1})
	if err != nil || ranked.NextCursor == "" {
		t.Fatalf("a page of rent: %+v, %v", ranked, err)
	}
	for _, query := range []string{"cursor=" + ranked.NextCursor, "limit=0", "limit=x", "from=yesterday", "min_amount=-1", "min_amount=5&max_amount=4",
		"type=gift", "metadata%5BBad%5D=v", "metadata%5Bk%5D=%00", "colour=red", "colour%5D=red", "metadata%5B%5D=v", "cursor=nonsense", "q=a%00b", "q=%ff", "q=a&q=b", "type=", "account_id=", "limit=", "account_id=" + strings.Repeat("a", 65)} {
		if st, c := get(query); st != http.StatusBadRequest || c == "" {
			t.Errorf("?%s: %d %q, want 400 with a code", query, st, c)
		}
	}
	for _, text := range []string{`"`, `*`, `NEAR(rent`, `rent:*`, `a & b | !c`, `'`, `\`, `(rent)`, `-rent`} {
		if st, c := get("q=" + url.QueryEscape(text)); st != 0 {
			t.Errorf("q=%s: %d %s, want 200", text, st, c)
		}
	}
}
