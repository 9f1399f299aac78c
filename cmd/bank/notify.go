package main

import (
	"context"
	"log/slog"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// notificationQueue returns the queue notification-service consumes, or nil
// when there is none to consume.
//
// WIRING SPOT: the queue's constructor (the table queue for BANK_QUEUE_URL=db,
// SQS for a queue URL) arrives with the queue work. Until it is merged this
// returns nil: the notification API is served and the consumer is off.
// After the merge: return that constructor's queue.Queue here.
func notificationQueue(_ context.Context, cfg *Config, _ *store.DB, log *slog.Logger) (queue.Queue, error) {
	log.Warn("notification consumer is off: no queue implementation is built in yet", "queue_url", cfg.QueueURL)
	return nil, nil
}
