package queue

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
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

// ExplainKept is PostgreSQL's plan of a receive of up to max messages and
// of the deletion of those at seqs, as the consumer's transaction keeps them
// once prepared: the plans each connection makes once.
func (t *Table) ExplainKept(ctx context.Context, max int, seqs []int64) (receive, consume string, err error) {
	err = t.consumerTx(ctx, func(tx *sql.Tx) error {
		var err error
		if receive, err = explainPrepared(ctx, tx, receiveSQL+t.lockOf("m"), t.name, t.ms(), max, 0); err != nil {
			return err
		}
		query, args := t.consume(seqs, t.ms())
		consume, err = explainPrepared(ctx, tx, query, args...)
		return err
	})
	return receive, consume, err
}

// explainPrepared prepares query, runs it and then explains it with args,
// as a connection's statement cache does: five custom plans first, then
// the plan the connection keeps.
func explainPrepared(ctx context.Context, tx *sql.Tx, query string, args ...any) (string, error) {
	if _, err := tx.ExecContext(ctx, `PREPARE kept AS `+query); err != nil {
		return "", err
	}
	defer tx.ExecContext(ctx, `DEALLOCATE kept`)
	// EXECUTE takes no parameters of the protocol: args as literals.
	params := make([]string, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case string:
			params[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
		case []int64:
			seqs := make([]string, len(a))
			for j, seq := range a {
				seqs[j] = strconv.FormatInt(seq, 10)
			}
			params[i] = "'{" + strings.Join(seqs, ",") + "}'"
		default:
			params[i] = fmt.Sprint(a)
		}
	}
	execute := `EXECUTE kept(` + strings.Join(params, ", ") + `)`
	for range 6 {
		if _, err := tx.ExecContext(ctx, execute); err != nil {
			return "", err
		}
	}
	return explain(ctx, tx, execute)
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
