package opensearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/search"
)

// Indexer keeps the index in step with the ledger from its events. The
// ledger, with ledger.Config.SearchQueue, writes a copy of every
// transaction.posted event to the table queue event.SearchQueue in the
// transaction that posts the money, so no committed transaction is without
// its message and no message is without its committed transaction. The
// indexer receives a batch, puts its documents with one _bulk, and deletes
// the messages whose documents the cluster took. Anything else comes back
// after the queue's visibility timeout (and, after its max receive count,
// waits in the dead-letter queue, counted by the lag): events are not lost.
// A document is put under its transaction's id, so a message received
// twice indexes nothing twice.
type Indexer struct {
	q     queue.Queue
	idx   *Index
	log   *slog.Logger
	clock clock.Clock
	cfg   IndexerConfig
}

// IndexerConfig tunes an Indexer.
type IndexerConfig struct {
	// Batch is the most transactions one receive takes and one _bulk puts
	// (default 2,000, about 1 MB of documents, within the 5 to 15 MB a
	// _bulk is advised to stay under): a receive asks for Batch /
	// event.GroupMax messages, as a message holds the events of one
	// commit, up to GroupMax. A round costs the cluster about as
	// much for 20 documents as for 2,000 when its requests are slow (a
	// node just started, its code not yet compiled: a second a _bulk), so
	// the batch, not the number of requests, is what lets the indexer
	// catch up then; under a light load a receive takes what is there.
	Batch int
	Wait  time.Duration // long poll of a receive (default 1 s)
	// Workers is how many receive-and-_bulk loops run at once (default 4):
	// while one waits on the cluster, another receives, so the index keeps
	// up with the ledger rather than with one round trip at a time. Each
	// receives messages of its own; a document is the same whoever puts it.
	Workers int
	// Attempts is how many times a _bulk is sent before its messages are
	// left to come back (default 5), pausing Backoff, doubled each time,
	// between attempts (default 100 ms).
	Attempts int
	Backoff  time.Duration
	Clock    clock.Clock // what the indexer pauses on (nil: the real clock)
}

// NewIndexer returns an indexer from q (the event.SearchQueue table queue)
// into idx.
func NewIndexer(q queue.Queue, idx *Index, log *slog.Logger, cfg IndexerConfig) *Indexer {
	if cfg.Batch <= 0 {
		cfg.Batch = 2000
	}
	if cfg.Wait <= 0 {
		cfg.Wait = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 100 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	return &Indexer{q: q, idx: idx, log: log, clock: cfg.Clock, cfg: cfg}
}

// Run makes sure the index exists, then indexes with cfg.Workers loops
// until ctx ends. A failed round is logged and its loop tries again after a
// pause that doubles up to 5 s: while the cluster is away, events wait in
// the queue and the lag grows.
func (x *Indexer) Run(ctx context.Context) error {
	pause := x.cfg.Backoff
	for ctx.Err() == nil {
		err := x.idx.Ensure(ctx)
		if err == nil {
			break
		}
		x.log.Warn("search indexer: index not ready", "err", err, "retry_in", pause.String())
		if clock.Sleep(ctx, x.clock, pause) != nil {
			return nil
		}
		pause = min(2*pause, 5*time.Second)
	}
	var wg sync.WaitGroup
	for range x.cfg.Workers {
		wg.Go(func() { x.work(ctx) })
	}
	wg.Wait()
	return nil
}

// work indexes a batch after another until ctx ends, pausing after a failed
// round as Run says.
func (x *Indexer) work(ctx context.Context) {
	pause := x.cfg.Backoff
	for ctx.Err() == nil {
		if _, err := x.Once(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			x.log.Warn("search indexer: round failed", "err", err, "retry_in", pause.String())
			if clock.Sleep(ctx, x.clock, pause) != nil {
				return
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = x.cfg.Backoff
	}
}

// Once receives one batch and indexes it; it returns how many messages it
// received.
func (x *Indexer) Once(ctx context.Context) (int, error) {
	msgs, err := x.q.Receive(ctx, max(1, x.cfg.Batch/event.GroupMax), x.cfg.Wait)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	// part is one event of a message: its body, and the transaction it
	// waits for ("" for none) or that it cannot be read.
	type part struct {
		body       []byte
		id         string
		unreadable bool
	}
	var (
		docs    []search.Document
		indexed = map[string]bool{}
		parts   = make([][]part, len(msgs))
	)
	for i, m := range msgs {
		events, err := event.Split(m.Body) // a group holds a commit's events
		if err != nil {
			x.log.Error("search indexer: unreadable message", "message_id", m.ID, "err", err)
			parts[i] = []part{{body: m.Body, unreadable: true}}
			continue
		}
		for _, body := range events {
			p, err := event.Decode(body)
			switch {
			case errors.Is(err, event.ErrUnknownType):
				parts[i] = append(parts[i], part{body: body}) // a newer producer's: not ours to index
			case err != nil:
				// Left undeleted: it ends in the dead-letter queue, where
				// the lag counts it and an operator reads it.
				x.log.Error("search indexer: unreadable message", "message_id", m.ID, "err", err)
				parts[i] = append(parts[i], part{body: body, unreadable: true})
			default:
				t, ok := p.(*event.Transaction)
				if !ok {
					parts[i] = append(parts[i], part{body: body})
					continue
				}
				if _, seen := indexed[t.TransactionID]; !seen {
					docs = append(docs, Document(t))
					indexed[t.TransactionID] = true
				}
				parts[i] = append(parts[i], part{body: body, id: t.TransactionID})
			}
		}
	}
	refused, err := x.put(ctx, docs)
	if err != nil {
		clear(indexed) // nothing is known to be indexed
	}
	for _, r := range refused {
		indexed[r.ID] = false
		x.log.Error("search indexer: document refused", "transaction_id", r.ID, "status", r.Status, "reason", r.Reason)
	}
	// A message is done when every transaction it holds is indexed. A group
	// with events not done keeps those alone (on a queue that can rewrite a
	// message), so that only they come back and go to the dead-letter queue.
	var done []string // receipts to delete
	rq, rewrites := x.q.(queue.Rewriter)
	for i, m := range msgs {
		var rest [][]byte
		for _, p := range parts[i] {
			if p.unreadable || p.id != "" && !indexed[p.id] {
				rest = append(rest, p.body)
			}
		}
		switch {
		case len(rest) == 0:
			done = append(done, m.Receipt)
		case err == nil && rewrites && len(rest) < len(parts[i]):
			if werr := rq.Rewrite(ctx, m.Receipt, event.Join(rest...)); werr != nil {
				x.log.Warn("search indexer: a group's events not indexed not kept alone; the whole group comes back", "message_id", m.ID, "err", werr)
			}
		}
	}
	return len(msgs), x.delete(ctx, done, err)
}

// put sends docs with _bulk, again with those refused, up to Attempts times
// with a doubling pause, and returns those still refused.
func (x *Indexer) put(ctx context.Context, docs []search.Document) ([]ItemError, error) {
	pause := x.cfg.Backoff
	var err error
	var refused []ItemError
	for attempt := 1; ; attempt++ {
		refused, err = x.idx.Put(ctx, docs)
		if err == nil && len(refused) == 0 {
			return nil, nil
		}
		if attempt == x.cfg.Attempts {
			return refused, err
		}
		if err == nil {
			again := map[string]bool{}
			for _, r := range refused {
				again[r.ID] = true
			}
			var left []search.Document
			for _, d := range docs {
				if again[d.ID] {
					left = append(left, d)
				}
			}
			docs = left
		}
		if serr := clock.Sleep(ctx, x.clock, pause); serr != nil {
			return refused, errors.Join(err, serr)
		}
		pause *= 2
	}
}

func (x *Indexer) delete(ctx context.Context, receipts []string, cause error) error {
	if len(receipts) == 0 {
		return cause
	}
	if err := x.q.Delete(ctx, receipts...); err != nil {
		return errors.Join(cause, fmt.Errorf("delete %d indexed messages: %w", len(receipts), err))
	}
	return cause
}

// Document is the search document of a transaction.posted event.
func Document(t *event.Transaction) search.Document {
	d := search.Document{ID: t.TransactionID, Type: t.TransactionType, Amount: t.Amount, Currency: string(t.Currency),
		Description: t.Description, CreatedAt: t.OccurredAt.UTC(), AccountIDs: []string{}, OwnerIDs: []string{}, Metadata: t.Metadata}
	for _, p := range t.Postings {
		d.AccountIDs = append(d.AccountIDs, p.AccountID)
		if p.OwnerID != "" {
			d.OwnerIDs = append(d.OwnerIDs, p.OwnerID)
		}
	}
	return d
}

// Lag is how far the index is behind the ledger: the age of the oldest
// event not yet indexed, dead-lettered ones included (they will not be
// indexed until an operator redrives them).
func Lag(s queue.Stats) time.Duration { return max(s.Main.OldestAge, s.DLQ.OldestAge) }

// NewLagMetric registers bank_search_lag_seconds, read from stats (a cached
// reading of the search queue) at each scrape; with stats nil (search is
// the database's own index, or this process runs no indexer) it is 0.
func NewLagMetric(reg prometheus.Registerer, stats func(context.Context) (queue.Stats, error)) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bank_search_lag_seconds",
		Help: "Age of the oldest transaction event not yet in the search index (OpenSearch), dead-lettered ones included.",
	}, func() float64 {
		if stats == nil {
			return 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := stats(ctx)
		if err != nil {
			return math.NaN() // unknown; the queue's own health says why
		}
		return Lag(s).Seconds()
	}))
}
