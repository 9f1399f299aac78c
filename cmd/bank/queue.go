package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// platformQueue is the platform's queue and the name its metrics carry.
type platformQueue struct {
	queue.Queue
	Name string
}

// openQueue opens the queue BANK_QUEUE_URL names: "db", the table queue in
// db (the platform's database), or an SQS queue URL, used as given. metrics
// may be nil. The notification consumer receives from what it returns.
func openQueue(ctx context.Context, cfg *Config, db *store.DB, log *slog.Logger, metrics *queue.Metrics) (platformQueue, error) {
	if cfg.QueueURL == "db" {
		if db == nil {
			return platformQueue{}, errors.New("the table queue (BANK_QUEUE_URL=db) needs the database")
		}
		tc := queue.DefaultTableConfig()
		tc.Metrics = metrics
		t, err := queue.OpenTable(ctx, db, tc)
		if err != nil {
			return platformQueue{}, err
		}
		log.Debug("queue", "kind", "table", "name", t.Name())
		return platformQueue{queue.Instrument(t, t.Name(), metrics), t.Name()}, nil
	}
	q, err := queue.OpenSQS(ctx, cfg.QueueURL)
	if err != nil {
		return platformQueue{}, fmt.Errorf("BANK_QUEUE_URL %s: %w", cfg.QueueURL, err)
	}
	log.Debug("queue", "kind", "sqs", "name", q.Name(), "max_receive_count", q.MaxReceiveCount())
	return platformQueue{queue.Instrument(q, q.Name(), metrics), q.Name()}, nil
}

// queueStats adapts a queue's Stats to the collector of deploy/monitoring's
// series.
func queueStats(name string, stats func(context.Context) (queue.Stats, error)) func(context.Context) ([]observe.QueueStat, error) {
	return func(ctx context.Context) ([]observe.QueueStat, error) {
		s, err := stats(ctx)
		if err != nil {
			return nil, err
		}
		return []observe.QueueStat{{
			Queue: name, Visible: s.Main.Visible, InFlight: s.Main.InFlight, Delayed: s.Main.Delayed,
			DeadLetter: s.DLQ.Visible + s.DLQ.InFlight + s.DLQ.Delayed, OldestAge: s.Main.OldestAge,
		}}, nil
	}
}

// queueSettings are the settings of the queue commands.
var queueSettings = append([]string{"queue-url"}, databaseOnly...)

func queueCmd(ctx context.Context, sub string, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("queue "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	output := outputFlag(fs)
	which := new(string)
	yes := new(bool)
	maxMoved := new(int)
	seconds := new(int)
	switch sub {
	case "purge":
		fs.StringVar(which, "queue", "", "the queue to purge: main or dlq (required)")
		fs.BoolVar(yes, "yes", false, "purge it; without it, the command refuses")
	case "redrive":
		fs.IntVar(maxMoved, "max", 0, "move at most this many messages (0: all)")
	case "set-visibility":
		fs.IntVar(seconds, "seconds", -1, "the new visibility timeout in seconds, 0 to 43200 (required)")
	}
	if err := cfg.load(fs, args, getenv, queueSettings...); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	switch sub {
	case "purge":
		if *which != string(queue.Main) && *which != string(queue.DLQ) {
			return usagef("--queue must be main or dlq, not %q", *which)
		}
		if !*yes {
			return usagef("purge deletes every message of the %s queue for good: add --yes to do it", *which)
		}
	case "redrive":
		if *maxMoved < 0 {
			return usagef("--max must be 0 (all) or more, not %d", *maxMoved)
		}
	case "set-visibility":
		if *seconds < 0 || *seconds > 43200 {
			return usagef("--seconds is required, from 0 to 43200 (12h), not %d", *seconds)
		}
	}
	var db *store.DB
	if cfg.QueueURL == "db" {
		var err error
		if db, err = openExisting(ctx, &cfg, "bank-cli"); err != nil {
			return err
		}
		defer db.Close()
	}
	q, err := openQueue(ctx, &cfg, db, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	switch sub {
	case "stats":
		s, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		type row struct {
			Queue     string  `json:"queue"`
			Visible   int64   `json:"visible"`
			InFlight  int64   `json:"in_flight"`
			Delayed   int64   `json:"delayed"`
			OldestAge float64 `json:"oldest_age_seconds"`
		}
		rows := []row{
			{q.Name, s.Main.Visible, s.Main.InFlight, s.Main.Delayed, s.Main.OldestAge.Seconds()},
			{q.Name + " (dlq)", s.DLQ.Visible, s.DLQ.InFlight, s.DLQ.Delayed, s.DLQ.OldestAge.Seconds()},
		}
		return printOutput(stdout, *output, rows, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "QUEUE\tVISIBLE\tIN FLIGHT\tDELAYED\tOLDEST")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", r.Queue, r.Visible, r.InFlight, r.Delayed,
					time.Duration(r.OldestAge*float64(time.Second)).Round(time.Second))
			}
			tw.Flush()
		})
	case "purge":
		if err := q.Purge(ctx, queue.Which(*which)); err != nil {
			return err
		}
		result := map[string]string{"purged": *which, "queue": q.Name}
		return printOutput(stdout, *output, result, func(w io.Writer) {
			fmt.Fprintf(w, "purged the %s queue of %s", *which, q.Name)
			if strings.HasPrefix(cfg.QueueURL, "http") {
				fmt.Fprint(w, " (SQS finishes a purge within 60 s)")
			}
			fmt.Fprintln(w)
		})
	case "redrive":
		n, err := q.Redrive(ctx, *maxMoved)
		if err != nil {
			return fmt.Errorf("%w (%d moved before the error)", err, n)
		}
		result := map[string]any{"moved": n, "queue": q.Name}
		return printOutput(stdout, *output, result, func(w io.Writer) {
			fmt.Fprintf(w, "moved %d messages from the dead-letter queue back to %s\n", n, q.Name)
		})
	case "set-visibility":
		d := time.Duration(*seconds) * time.Second
		if err := q.SetVisibilityTimeout(ctx, d); err != nil {
			return err
		}
		result := map[string]any{"visibility_timeout_seconds": *seconds, "queue": q.Name}
		return printOutput(stdout, *output, result, func(w io.Writer) {
			fmt.Fprintf(w, "visibility timeout of %s set to %s; every consumer's next receive uses it\n", q.Name, d)
		})
	}
	return usagef("unknown command \"queue %s\"", sub)
}
