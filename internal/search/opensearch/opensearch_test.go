package opensearch_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

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
