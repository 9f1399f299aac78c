package queue

import (
	"context"
	"database/sql"
	"strings"
)

// Step runs one step of r: take or renew the lease and, holding it, publish
// one batch.
func (r *Relay) Step(ctx context.Context) (int, bool, error) { return r.step(ctx) }

// ExplainReceive is PostgreSQL's plan of a receive of up to max messages
// from seq on, in the transaction a receive runs in.
func (t *Table) ExplainReceive(ctx context.Context, max int, from int64) (string, error) {
	var plan []string
	err := t.consumerTx(ctx, func(tx *sql.Tx) error {
		plan = plan[:0]
		rows, err := tx.QueryContext(ctx, "EXPLAIN "+receiveSQL+t.lockOf("m"), t.name, t.ms(), max, from)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan = append(plan, line)
		}
		return rows.Err()
	})
	return strings.Join(plan, "\n"), err
}
