package main

import (
	"context"
	"log/slog"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// notificationQueue returns the queue notification-service consumes:
// BANK_QUEUE_URL=db is the table queue in the platform's database,
// anything else an SQS queue URL, used as it is (its RedrivePolicy names
// the DLQ; nothing about the queue is changed at start-up).
//
// WIRING SPOT: when the queue work brings its own constructor for
// BANK_QUEUE_URL to cmd/bank, use it here instead.
func notificationQueue(ctx context.Context, cfg *Config, db *store.DB, log *slog.Logger) (queue.Queue, error) {
	if cfg.QueueURL == "db" {
		return queue.OpenTable(ctx, db, queue.DefaultTableConfig())
	}
	log.Info("notification consumer reads SQS", "queue_url", cfg.QueueURL)
	return queue.OpenSQS(ctx, cfg.QueueURL)
}
