// Package queue carries events from the services that make them to those
// that consume them. Events start in the outbox table, written in the same
// database transaction as the change they announce; a relay publishes them
// after commit.
package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// Header opens every event's payload. Consumers deduplicate on EventID: a
// message redriven from a dead-letter queue comes back with a new message id
// but the same body.
type Header struct {
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
}

// NewHeader returns the header of a new event of type typ that happened at.
func NewHeader(typ string, at time.Time) Header {
	return Header{EventID: bank.NewID(), Type: typ, OccurredAt: at}
}

// Write writes one event to the outbox in tx, so that it commits with the
// change it announces. payload is the event's
// whole body and must embed h; aggregateID names what the event is about.
func Write(ctx context.Context, tx *sql.Tx, h Header, aggregateID string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", h.Type, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		h.EventID, h.Type, aggregateID, string(body), h.OccurredAt); err != nil {
		return fmt.Errorf("write %s event: %w", h.Type, err)
	}
	return nil
}
