package ledger_test

import (
	"testing"

	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/search/searchtest"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestSearchContract runs the search contract against the ledger's own
// index: FTS5 on SQLite, tsvector and GIN on PostgreSQL.
func TestSearchContract(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		searchtest.Run(t, db, func(t *testing.T, db *store.DB, l *ledger.Ledger) (search.Index, func(t *testing.T)) {
			return l, nil
		})
	})
}
