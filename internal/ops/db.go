package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/store"
)

// ErrPostgresOnly is returned by the commands that read PostgreSQL's
// statistics when the database is SQLite.
var ErrPostgresOnly = errors.New("this command needs a PostgreSQL database; the embedded SQLite database has one process and no connection statistics")

// ErrNoStatStatements says pg_stat_statements is not enabled, and how to.
var ErrNoStatStatements = errors.New(`pg_stat_statements is not enabled in this database. Enable it with shared_preload_libraries = 'pg_stat_statements' in postgresql.conf (on RDS: in the DB parameter group) and a restart, then run CREATE EXTENSION pg_stat_statements; in the database`)

// ConnGroup is a count of the database's connections by application and state.
type ConnGroup struct {
	Application string `json:"application"`
	State       string `json:"state"`
	Count       int    `json:"count"`
}

// Connections groups the current database's connections by
// application_name (every service sets its own) and state.
func Connections(ctx context.Context, db *store.DB) ([]ConnGroup, error) {
	if db.Dialect != store.Postgres {
		return nil, ErrPostgresOnly
	}
	rows, err := db.QueryContext(ctx, `SELECT COALESCE(NULLIF(application_name, ''), '(none)'), COALESCE(state, '(none)'), COUNT(*)
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
		GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	defer rows.Close()
	out := []ConnGroup{}
	for rows.Next() {
		var g ConnGroup
		if err := rows.Scan(&g.Application, &g.State, &g.Count); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// PoolUse is the server's connections against its max_connections.
type PoolUse struct {
	Used int `json:"used"`
	Max  int `json:"max"`
}

// Percent is Used as a percentage of Max.
func (p PoolUse) Percent() float64 {
	if p.Max == 0 {
		return 0
	}
	return 100 * float64(p.Used) / float64(p.Max)
}

// ServerConnections counts every connection to the server (all databases
// share max_connections).
func ServerConnections(ctx context.Context, db *store.DB) (PoolUse, error) {
	var p PoolUse
	err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
		current_setting('max_connections')::int`).Scan(&p.Used, &p.Max)
	return p, err
}

// Query is a statement running on the server.
type Query struct {
	PID         int     `json:"pid"`
	Application string  `json:"application"`
	State       string  `json:"state"`
	Seconds     float64 `json:"seconds"`
	Query       string  `json:"query"`
}

// LongQueries returns the current database's statements that have been
// active for longer than olderThan, longest first, this session's excluded.
func LongQueries(ctx context.Context, db *store.DB, olderThan time.Duration) ([]Query, error) {
	if db.Dialect != store.Postgres {
		return nil, ErrPostgresOnly
	}
	rows, err := db.QueryContext(ctx, `SELECT pid, COALESCE(application_name, ''), COALESCE(state, ''),
			EXTRACT(EPOCH FROM now() - query_start)::float8, COALESCE(query, '')
		FROM pg_stat_activity
		WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
			AND query_start < now() - make_interval(secs => $1)
		ORDER BY query_start`, olderThan.Seconds())
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	defer rows.Close()
	out := []Query{}
	for rows.Next() {
		var q Query
		if err := rows.Scan(&q.PID, &q.Application, &q.State, &q.Seconds, &q.Query); err != nil {
			return nil, err
		}
		q.Query = oneLine(q.Query, 200)
		out = append(out, q)
	}
	return out, rows.Err()
}

// Terminate ends the backends of qs with pg_terminate_backend and returns the
// pids it terminated (a query that ended meanwhile is not one).
func Terminate(ctx context.Context, db *store.DB, qs []Query) ([]int, error) {
	done := []int{}
	for _, q := range qs {
		var ok bool
		if err := db.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, q.PID).Scan(&ok); err != nil {
			return done, fmt.Errorf("terminate pid %d: %w", q.PID, err)
		}
		if ok {
			done = append(done, q.PID)
		}
	}
	return done, nil
}

// Statement is a row of pg_stat_statements.
type Statement struct {
	Query   string  `json:"query"`
	Calls   int64   `json:"calls"`
	MeanMs  float64 `json:"mean_ms"`
	TotalMs float64 `json:"total_ms"`
}

// SlowQueries returns the limit statements with the highest mean time. It
// returns ErrNoStatStatements when the extension is not there.
func SlowQueries(ctx context.Context, db *store.DB, limit int) ([]Statement, error) {
	if db.Dialect != store.Postgres {
		return nil, ErrPostgresOnly
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_extension WHERE extname = 'pg_stat_statements'`).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrNoStatStatements
	}
	rows, err := db.QueryContext(ctx, `SELECT query, calls, mean_exec_time, total_exec_time
		FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT $1`, limit)
	if err != nil {
		// Created but not preloaded: the view exists and refuses to answer.
		if strings.Contains(err.Error(), "shared_preload_libraries") {
			return nil, ErrNoStatStatements
		}
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	defer rows.Close()
	out := []Statement{}
	for rows.Next() {
		var s Statement
		if err := rows.Scan(&s.Query, &s.Calls, &s.MeanMs, &s.TotalMs); err != nil {
			return nil, err
		}
		s.Query = oneLine(s.Query, 200)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Replica is one standby's lag behind the primary.
type Replica struct {
	Name       string  `json:"name"`
	LagSeconds float64 `json:"lag_seconds"`
}

// ReplicationLag returns the lag of each standby when db is a primary, or
// this server's own replay lag when it is a standby; none when there is no
// replication.
func ReplicationLag(ctx context.Context, db *store.DB) ([]Replica, error) {
	var standby bool
	if err := db.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby); err != nil {
		return nil, err
	}
	if standby {
		r := Replica{Name: "this server (standby)"}
		err := db.QueryRowContext(ctx, `SELECT COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8`).Scan(&r.LagSeconds)
		return []Replica{r}, err
	}
	rows, err := db.QueryContext(ctx, `SELECT COALESCE(NULLIF(application_name, ''), COALESCE(host(client_addr), 'standby')),
		COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8 FROM pg_stat_replication`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Replica{}
	for rows.Next() {
		var r Replica
		if err := rows.Scan(&r.Name, &r.LagSeconds); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MaintenanceTables are the tables the runbook's maintenance (4.2) is about:
// the ledger's, which grow and churn.
var MaintenanceTables = []string{"accounts", "transactions", "postings", "holds", "idempotency_keys", "outbox"}

// Maintain runs op ("analyze", "vacuum" or "reindex") on each table, calling
// done after each. VACUUM runs with ANALYZE. On PostgreSQL a reindex with
// concurrently is REINDEX TABLE CONCURRENTLY: it builds each index anew
// beside the old one and swaps them, so writes go on (it takes longer and
// twice the index's space while it runs); without it REINDEX TABLE blocks
// writes to the table while it runs. SQLite has only the latter: its
// REINDEX holds the database's write lock, which writers wait for.
func Maintain(ctx context.Context, db *store.DB, op string, tables []string, concurrently bool, done func(table string, took time.Duration)) error {
	var stmt string
	switch op {
	case "analyze":
		stmt = "ANALYZE %s"
	case "vacuum":
		stmt = "VACUUM (ANALYZE) %s"
		if db.Dialect == store.SQLite {
			// SQLite vacuums the whole file; ANALYZE then refreshes the table's statistics.
			stmt = "VACUUM; ANALYZE %s"
		}
	case "reindex":
		switch {
		case db.Dialect == store.SQLite:
			stmt = "REINDEX %s"
		case concurrently:
			stmt = "REINDEX TABLE CONCURRENTLY %s"
		default:
			stmt = "REINDEX TABLE %s"
		}
	default:
		return fmt.Errorf("maintenance must be analyze, vacuum or reindex, not %q", op)
	}
	for _, t := range tables {
		if !isIdent(t) {
			return fmt.Errorf("%q is not a table name", t)
		}
		start := time.Now()
		for _, s := range strings.Split(fmt.Sprintf(stmt, t), "; ") {
			exec := func() error { _, err := db.ExecContext(ctx, s); return err }
			var err error
			if strings.Contains(s, "CONCURRENTLY") {
				err = exec() // a failed one leaves its new index behind: not run again
			} else {
				// A plain REINDEX holds the table's SHARE lock while it
				// waits for each index, and a transaction that read the
				// table (holding its indexes) and then writes it waits
				// for the table: PostgreSQL fails one of the two. It is
				// run again, as the ledger runs its transactions again.
				err = store.Retry(ctx, store.Retryable, exec)
			}
			if err != nil {
				if strings.Contains(s, "CONCURRENTLY") {
					// The index being built is left behind, invalid,
					// named …_ccnew; PostgreSQL never drops it itself.
					return fmt.Errorf("%s: %w (drop any index of %s whose name ends in _ccnew before running it again)", s, err, t)
				}
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if done != nil {
			done(t, time.Since(start))
		}
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// HasSchema reports whether the platform's migrations have run on db.
func HasSchema(ctx context.Context, db *store.DB) (bool, error) {
	q := `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	if db.Dialect == store.SQLite {
		q = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	}
	var n int
	err := db.QueryRowContext(ctx, q).Scan(&n)
	return n > 0, err
}
