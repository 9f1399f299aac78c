package queue

import (
	"context"
	"database/sql"
	"strings"

	"github.com/fintech-banking/bank/internal/store"
)

// Step runs one step of r: take or renew the lease and, holding it, publish
// one batch.
func (r *Relay) Step(ctx context.Context) (int, bool, error) { return r.step(ctx) }

// ExplainReceive is PostgreSQL's plan of a receive of up to max messages
// from seq on, in the transaction a receive runs in.
func (t *Table) ExplainReceive(ctx context.Context, max int, from int64) (string, error) {
	var plan string
	err := t.consumerTx(ctx, func(tx *sql.Tx) error {
		var err error
		plan, err = explain(ctx, tx, receiveSQL+t.lockOf("m"), t.name, t.ms(), max, from)
		return err
	})
	return plan, err
}

// ExplainRelayRead is PostgreSQL's plan of the relay's read of up to max
// events, in order as the relay reads them.
func ExplainRelayRead(ctx context.Context, db *store.DB, max int) (string, error) {
	var plan string
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if err := readInOrder(ctx, db, tx); err != nil {
			return err
		}
		var err error
		plan, err = explain(ctx, tx, eventSource.read, max)
		return err
	})
	return plan, err
}

func explain(ctx context.Context, tx *sql.Tx, query string, args ...any) (string, error) {
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan = append(plan, line)
	}
	return strings.Join(plan, "\n"), rows.Err()
}
