package main

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/fintech-banking/bank/internal/store"
)

// databaseCheck is the readiness check of the database: it answers whether a
// request could get a working connection now. After the runbook's
// pg_terminate_backend the pool holds connections the server has closed; a
// ping on one fails and discards it, so the check pings again, at most once
// per pooled connection, and reports DOWN only when a fresh connection fails
// too, or on any other error.
func databaseCheck(db *store.DB) func(context.Context) error {
	return func(ctx context.Context) error {
		pooled := db.Stats().MaxOpenConnections
		if db.Pool != nil {
			pooled = int(db.Pool.Stat().MaxConns())
		}
		err := db.PingContext(ctx)
		for i := 0; i < pooled && errors.Is(err, driver.ErrBadConn) && ctx.Err() == nil; i++ {
			err = db.PingContext(ctx)
		}
		return err
	}
}
