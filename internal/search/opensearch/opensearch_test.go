package opensearch_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/search/opensearch"
	"github.com/fintech-banking/bank/internal/search/opensearchnode"
	"github.com/fintech-banking/bank/internal/search/searchtest"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// newIndex returns an index of its own on the test node, for this test alone.
func newIndex(t *testing.T) *opensearch.Index {
	t.Helper()
	node := opensearchnode.Start(t)
	name := "t-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + strings.ToLower(bank.NewID()[:8])
	idx, err := opensearch.New(node.URL, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := idx.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Delete(context.Background()) })
	return idx
}

// newIndexer returns the indexer from db's search queue into idx.
func newIndexer(t *testing.T, db *store.DB, idx *opensearch.Index) (*opensearch.Indexer, *queue.Table) {
	t.Helper()
	q, err := queue.OpenTable(context.Background(), db, queue.TableConfig{Name: event.SearchQueue})
	if err != nil {
		t.Fatal(err)
	}
	return opensearch.NewIndexer(q, idx, slog.New(slog.DiscardHandler), opensearch.IndexerConfig{Wait: time.Millisecond}), q
}

// drain indexes until the search queue is empty, then refreshes the index.
func drain(t *testing.T, x *opensearch.Indexer, idx *opensearch.Index) {
	t.Helper()
	ctx := context.Background()
	for {
		n, err := x.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if err := idx.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestContract runs the search contract against a real OpenSearch node, fed
// by the indexer from the events the ledger writes, on both databases.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		searchtest.Run(t, db, searchtest.Implementation{
			SearchQueue: true,
			Open: func(t *testing.T, db *store.DB, l *ledger.Ledger) (search.Index, func(t *testing.T)) {
				idx := newIndex(t)
				x, _ := newIndexer(t, db, idx)
				return idx, func(t *testing.T) { drain(t, x, idx) }
			},
		})
	})
}

// posted returns a transaction.posted event body for transaction id.
func posted(t *testing.T, id, owner string, at time.Time) []byte {
	t.Helper()
	r, err := event.Encode(&event.Transaction{Header: event.NewHeader(event.TransactionPosted, at), TransactionID: id,
		TransactionType: "deposit", Amount: 5, Currency: "EUR", Description: "indexer test " + id,
		Postings: []event.Posting{{AccountID: "cash", Amount: -5}, {AccountID: "acc-" + owner, OwnerID: owner, Amount: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	return r.Payload
}

// TestIndexer: a message delivered twice indexes its transaction once; a
// document the cluster refuses leaves its message in the queue, to be
// indexed once the cluster takes it; a body that is not an event stays for
// the dead-letter queue; an event of another type is consumed.
func TestIndexer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	idx := newIndex(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: event.SearchQueue, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	x := opensearch.NewIndexer(q, idx, slog.New(slog.DiscardHandler), opensearch.IndexerConfig{Wait: time.Millisecond, Attempts: 1})
	count := func() int64 {
		t.Helper()
		if err := idx.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := idx.Docs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	stats := func() queue.Stats {
		t.Helper()
		s, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other, _ := event.Encode(&event.Frozen{Header: event.NewHeader(event.AccountFrozen, now), AccountID: "a", OwnerID: "u", FrozenBy: "op"})
	if err := q.Send(ctx, posted(t, "tx-1", "ann", now), posted(t, "tx-1", "ann", now), other.Payload, []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("a transaction delivered twice: %d documents, want 1", n)
	}
	if s := stats(); s.Main.InFlight != 1 || s.Main.Visible != 0 {
		t.Errorf("after the round: %+v, want only the unreadable message left, in flight", s.Main)
	}

	// The index refuses writes: the message stays.
	block := func(on bool) {
		t.Helper()
		if _, err := idx.Client().Indices.Settings.Put(ctx, opensearchapi.SettingsPutReq{Indices: []string{idx.Name()},
			Body: strings.NewReader(fmt.Sprintf(`{"index.blocks.write": %t}`, on))}); err != nil {
			t.Fatal(err)
		}
	}
	block(true)
	if err := q.Send(ctx, posted(t, "tx-2", "bob", now)); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if s := stats(); s.Main.InFlight != 2 {
		t.Errorf("a refused document's message: %+v, want it left in flight beside the unreadable one", s.Main)
	}
	block(false)
	now = now.Add(time.Hour) // past the visibility timeout: both come back
	if _, err := x.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("once the index takes writes: %d documents, want 2", n)
	}
	page, err := idx.Search(ctx, search.Query{OwnerID: "bob", Limit: 10})
	if err != nil || len(page.Hits) != 1 || page.Hits[0].ID != "tx-2" {
		t.Errorf("bob's search: %+v, %v; want tx-2", page, err)
	}
	if s := stats(); s.Main.InFlight != 1 {
		t.Errorf("at the end: %+v, want only the unreadable message", s.Main)
	}

	const unreadable = `{"event_id":"e","type":"transaction.posted","amount":"x"}`
	// Groups (a commit's events, event.Group): each transaction indexed; a
	// group is deleted when all it holds is done, and a group with an
	// unreadable event keeps it alone.
	if err := q.Send(ctx, event.Join(posted(t, "tx-3", "carl", now), other.Payload, posted(t, "tx-4", "carl", now)),
		event.Join(posted(t, "tx-5", "dora", now), []byte(unreadable))); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 5 {
		t.Errorf("after two groups: %d documents, want 5", n)
	}
	if s := stats(); s.Main.InFlight != 2 || s.Main.Visible != 0 {
		t.Errorf("after two groups: %+v, want the group with an unreadable event in flight beside the unreadable message", s.Main)
	}
	bodies := storetest.Column[string](t, db, `SELECT body FROM queue_messages WHERE queue = $1 ORDER BY seq`, event.SearchQueue)
	if want := []string{"not an event", unreadable}; !slices.Equal(bodies, want) {
		t.Errorf("left in the queue: %q, want %q (the group's unreadable event alone)", bodies, want)
	}
}
