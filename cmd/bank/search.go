package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/search/opensearch"
	"github.com/fintech-banking/bank/internal/store"
)

// searchSettings are the settings of the search commands.
var searchSettings = append([]string{"search-url", "search-index"}, databaseOnly...)

// openSearchIndex returns the OpenSearch index BANK_SEARCH_URL names, or nil
// when search is the database's own.
func openSearchIndex(cfg *Config) (*opensearch.Index, error) {
	if cfg.SearchURL == "" {
		return nil, nil
	}
	return opensearch.New(cfg.SearchURL, cfg.SearchIndex)
}

// openSearchQueue opens the table queue the ledger copies transaction
// events to for the indexer (event.SearchQueue).
func openSearchQueue(ctx context.Context, db *store.DB) (*queue.Table, error) {
	return queue.OpenTable(ctx, db, queue.TableConfig{Name: event.SearchQueue})
}

func searchCmd(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("search "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	output := outputFlag(fs)
	since := new(string)
	if sub == "reindex" {
		fs.StringVar(since, "since", "", "index only transactions created at or after this RFC 3339 time (default: all)")
	}
	if err := cfg.load(fs, args, getenv, searchSettings...); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	var from time.Time
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return usagef("--since must be an RFC 3339 time such as 2026-01-15T00:00:00Z, not %q", *since)
		}
		from = t
	}
	idx, err := openSearchIndex(&cfg)
	if err != nil {
		return err
	}
	if idx == nil && sub == "reindex" {
		return errors.New("search is the database's own index (no BANK_SEARCH_URL), which is always in step: there is nothing to reindex")
	}
	db, err := openExisting(ctx, &cfg, "bank-cli")
	if err != nil {
		return err
	}
	defer db.Close()
	l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
	defer l.Close()
	switch sub {
	case "reindex":
		return searchReindex(ctx, l, idx, from, *output, stdout, stderr)
	default:
		return searchStatus(ctx, db, l, idx, *output, stdout)
	}
}

func searchReindex(ctx context.Context, l *ledger.Ledger, idx *opensearch.Index, since time.Time, output string, stdout, stderr io.Writer) error {
	if err := idx.Ensure(ctx); err != nil {
		return err
	}
	progress := progressTo(stderr)
	defer progress.Close()
	progress.Step("indexing transactions since " + sinceText(since))
	n, err := opensearch.Reindex(ctx, l, idx, since, progress.Count)
	if err != nil {
		return fmt.Errorf("reindex (%d indexed before the error; run it again): %w", n, err)
	}
	if err := idx.Refresh(ctx); err != nil {
		return err
	}
	progress.Close()
	result := map[string]any{"index": idx.Name(), "indexed": n, "since": since.UTC()}
	return printOutput(stdout, output, result, func(w io.Writer) {
		fmt.Fprintf(w, "indexed %d transactions since %s into %s\n", n, sinceText(since), idx.Name())
	})
}

func sinceText(t time.Time) string {
	if t.IsZero() {
		return "the first"
	}
	return t.UTC().Format(time.RFC3339)
}

// searchStatusReport is what bank search status shows.
type searchStatusReport struct {
	Index        string  `json:"index"`
	Transactions int64   `json:"database_transactions"`
	Documents    int64   `json:"documents"`
	Missing      int64   `json:"missing"`
	LagSeconds   float64 `json:"lag_seconds"`
	Waiting      int64   `json:"waiting_events"`
	DeadLettered int64   `json:"dead_lettered_events"`
}

func searchStatus(ctx context.Context, db *store.DB, l *ledger.Ledger, idx *opensearch.Index, output string, stdout io.Writer) error {
	r := searchStatusReport{Index: "database"}
	var err error
	if r.Transactions, err = l.Count(ctx, search.Query{}); err != nil {
		return err
	}
	r.Documents = r.Transactions
	if idx != nil {
		r.Index = idx.Name()
		if r.Documents, err = idx.Docs(ctx); err != nil {
			return err
		}
		q, err := openSearchQueue(ctx, db)
		if err != nil {
			return err
		}
		s, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		r.LagSeconds = opensearch.Lag(s).Seconds()
		r.Waiting = s.Main.Visible + s.Main.InFlight + s.Main.Delayed
		r.DeadLettered = s.DLQ.Visible + s.DLQ.InFlight + s.DLQ.Delayed
	}
	r.Missing = max(r.Transactions-r.Documents, 0)
	return printOutput(stdout, output, r, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INDEX\tTRANSACTIONS\tDOCUMENTS\tMISSING\tLAG\tWAITING\tDEAD-LETTERED")
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\n", r.Index, r.Transactions, r.Documents, r.Missing,
			time.Duration(r.LagSeconds*float64(time.Second)).Round(time.Second), r.Waiting, r.DeadLettered)
		tw.Flush()
	})
}
