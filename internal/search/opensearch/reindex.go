package opensearch

import (
	"context"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/search"
)

// Source is where a reindex reads transactions: the ledger.
type Source interface {
	// Count says how many transactions q finds (From: since).
	Count(ctx context.Context, q search.Query) (int64, error)
	// Documents returns up to limit transactions created at or after since
	// and after the keyset after, oldest first.
	Documents(ctx context.Context, since time.Time, after *bank.Cursor, limit int) ([]search.Document, error)
}

// reindexPage is the documents of one _bulk of a reindex.
const reindexPage = 500

// Reindex puts every transaction of src created at or after since into idx,
// oldest first, telling progress how many of how many are done. Putting a
// document is idempotent, so a reindex over time the index already holds
// (the overlap after a snapshot restore) changes nothing there, and one
// interrupted is simply run again. The indexer may run meanwhile.
func Reindex(ctx context.Context, src Source, idx *Index, since time.Time, progress func(done, total int64)) (int64, error) {
	total, err := src.Count(ctx, search.Query{From: &since})
	if err != nil {
		return 0, err
	}
	x := NewIndexer(nil, idx, nil, IndexerConfig{}) // for its retrying put
	var done int64
	var after *bank.Cursor
	progress(0, total)
	for {
		docs, err := src.Documents(ctx, since, after, reindexPage)
		if err != nil {
			return done, err
		}
		if len(docs) == 0 {
			return done, nil
		}
		refused, err := x.put(ctx, docs)
		if err != nil {
			return done, err
		}
		if len(refused) > 0 {
			return done, fmt.Errorf("reindex: %d documents refused, the first %v", len(refused), refused[0])
		}
		done += int64(len(docs))
		progress(done, max(total, done))
		last := docs[len(docs)-1]
		after = &bank.Cursor{At: last.CreatedAt, ID: last.ID}
	}
}
