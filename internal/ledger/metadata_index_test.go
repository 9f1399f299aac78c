package ledger

import (
	"context"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestMetadataFiltersUseAnIndex asks each database for its plan of the
// lists' metadata filters: the GIN indexes on PostgreSQL, the lookup index of
// metadata_entries on SQLite. Sequential scans are turned off on PostgreSQL,
// as on the ledger's own connection: the test's tables are too small for the
// planner to prefer any index otherwise. The transactions' filter is asked
// without an account: within one account's postings the planner may rightly
// start from postings_history and check each transaction by its key.
func TestMetadataFiltersUseAnIndex(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		explain := "EXPLAIN QUERY PLAN "
		if db.Dialect == store.Postgres {
			explain = "EXPLAIN "
			if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
		}
		f := bank.Metadata{"order": "A-1", "channel": "web"}
		for _, c := range []struct {
			kind, q, column string
			args            []any
			pg              string
		}{
			{kindAccount, `SELECT id FROM accounts WHERE owner_id IS NOT NULL`, "id", nil, "accounts_metadata"},
			{kindTransaction, `SELECT transaction_id FROM postings WHERE amount > 0`, "transaction_id", nil, "transactions_metadata"},
		} {
			q, args := matchMetadata(db.Dialect, c.q, c.args, c.kind, c.column, f)
			rows, err := conn.QueryContext(ctx, explain+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			var plan []string
			for rows.Next() {
				dest := make([]any, len(cols))
				var line string
				for i := range dest {
					dest[i] = new(any)
				}
				dest[len(dest)-1] = &line // the plan's text is the last column on both
				if err := rows.Scan(dest...); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			want := c.pg
			if db.Dialect == store.SQLite {
				want = "metadata_entries_lookup"
			}
			if text := strings.Join(plan, "\n"); !strings.Contains(text, want) {
				t.Errorf("%s filter: plan does not use %s:\n%s", c.kind, want, text)
			}
		}
	})
}
