// Package store opens the platform's database — PostgreSQL in production,
// SQLite embedded — runs its migrations and its transactions.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL dialect of a database.
type Dialect string

// The dialects the platform runs on.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is an open database. SQL written for both dialects uses $n placeholders,
// which both understand.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Pool is the pgx pool under DB on PostgreSQL, for statistics and fast
	// paths; nil on SQLite.
	Pool *pgxpool.Pool
	// Name is the pool's name in metrics ("HikariPool-1" style: "<app>-pool").
	Name string

	// writes queues this process's write transactions on SQLite, which
	// takes one writer at a time: a writer that finds the lock taken
	// inside SQLite sleeps in its busy handler, 1, 2, 5, 10 ms and longer,
	// and wakes well after the lock is free; here it waits its turn and
	// starts the moment it comes. Other processes still meet the busy
	// handler. nil on PostgreSQL.
	writes chan struct{}
}

// Options tune Open.
type Options struct {
	// AppName is PostgreSQL's application_name, so pg_stat_activity shows which
	// service holds a connection ("transaction-service").
	AppName string
	// MaxConns caps the pool; 0 means the default (16 on PostgreSQL, 8 on SQLite).
	MaxConns int
	// SQLiteSynchronous is SQLite's synchronous pragma: NORMAL (the embedded
	// default: a power loss may lose the last commits, never corrupt) or FULL.
	SQLiteSynchronous string
}

// Open connects to the database that rawURL names: postgres://… or
// sqlite:///abs/path or sqlite://./rel/path. A SQLite database's folder is
// created if it is missing.
func Open(ctx context.Context, rawURL string, opt Options) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL, opt)
	case strings.HasPrefix(rawURL, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(rawURL, "sqlite://"), opt)
	default:
		return nil, fmt.Errorf("database URL must start with postgres:// or sqlite://, got %q", redact(rawURL))
	}
}

func openPostgres(ctx context.Context, rawURL string, opt Options) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", "5")
	}
	u.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	cfg.MaxConns = 16
	if opt.MaxConns > 0 {
		cfg.MaxConns = int32(opt.MaxConns)
	}
	// Session limits: PostgreSQL leaves them off, and a stuck statement or an
	// abandoned transaction would otherwise hold locks on balances for ever.
	rp := cfg.ConnConfig.RuntimeParams
	for k, v := range map[string]string{
		"statement_timeout":                   "30s",
		"lock_timeout":                        "10s",
		"idle_in_transaction_session_timeout": "60s",
		// pgx prepares and caches statements; a generic plan chosen while a
		// table was small (or empty, right after migration) would keep
		// scanning it whole as it grows.
		"plan_cache_mode": "force_custom_plan",
	} {
		if rp[k] == "" {
			rp[k] = v
		}
	}
	if opt.AppName != "" {
		rp["application_name"] = opt.AppName
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{DB: stdlib.OpenDBFromPool(pool), Dialect: Postgres, Pool: pool, Name: poolName(opt.AppName)}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", redact(rawURL), err)
	}
	return db, nil
}

// sqliteBusy is how long a writer waits for SQLite's write lock.
const sqliteBusy = 10 * time.Second

func openSQLite(ctx context.Context, path string, opt Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite URL has no path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	sync := opt.SQLiteSynchronous
	if sync == "" {
		sync = "NORMAL"
	}
	// Write transactions start with BEGIN IMMEDIATE: with deferred ones,
	// concurrent read-then-write transactions fail with "database is locked"
	// instead of waiting for the busy timeout. Each connection caches up to
	// 16 MB of pages (SQLite's default is 2 MB): a statement of 10,000 lines
	// then reads its postings and transactions from memory, not the file.
	dsn := "file:" + path + "?_txlock=immediate&_time_format=sqlite" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(sqliteBusy.Milliseconds(), 10) + ")&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(" + sync + ")&_pragma=cache_size(-16000)"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := 8
	if opt.MaxConns > 0 {
		n = opt.MaxConns
	}
	sdb.SetMaxOpenConns(n)
	sdb.SetMaxIdleConns(n)
	db := &DB{DB: sdb, Dialect: SQLite, Name: poolName(opt.AppName), writes: make(chan struct{}, 1)}
	// Processes opening a new file at once race to switch it to WAL, and
	// SQLite answers the losers "busy" at once, without its busy timeout:
	// they try again.
	if err := Retry(ctx, Retryable, func() error { return db.PingContext(ctx) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite at %s: %w", path, err)
	}
	return db, nil
}

func poolName(app string) string {
	if app == "" {
		return "bank-pool"
	}
	return app + "-pool"
}

// In is the condition that column is one of values, its parameters
// numbered after the leading args, and the leading args followed by its
// own. On PostgreSQL it is "column = ANY($n)", one array whatever the
// count, so that one prepared statement serves every call (a list of
// parameters is a new statement, parsed and prepared on each connection,
// for each length); on SQLite "column IN ($n, $n+1, …)".
func In[T any](db *DB, column string, values []T, leading ...any) (string, []any) {
	if db.Dialect == Postgres {
		return column + " = ANY($" + strconv.Itoa(len(leading)+1) + ")", append(leading, values)
	}
	var b strings.Builder
	b.WriteString(column + " IN (")
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		leading = append(leading, v)
		b.WriteString("$" + strconv.Itoa(len(leading)))
	}
	b.WriteByte(')')
	return b.String(), leading
}

// Close closes the database and, on PostgreSQL, its pool.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.Pool != nil {
		db.Pool.Close()
	}
	return err
}

// maxAttempts bounds the attempts of a transaction that lost a serialization
// conflict, a deadlock or its connection; more attempts only add load to a
// database that is already contended or down.
const maxAttempts = 5

// Retry runs fn until it returns nil or an error that transient does not
// accept, at most maxAttempts times, sleeping a little longer before each new
// attempt. It stops early when ctx ends. This is the platform's one retry
// policy: callers say what is transient for them, never how often to retry.
func Retry(ctx context.Context, transient func(error) bool, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || !transient(err) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", maxAttempts, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d attempts: %w)", ctx.Err(), attempt, err)
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
}

// InTx runs fn in a transaction and commits it. A serialization failure or a
// deadlock (PostgreSQL 40001, 40P01) or a busy SQLite database rolls back and
// runs fn again (see Retry); fn must therefore have no effects outside the
// transaction.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return Retry(ctx, Retryable, func() error { return db.Tx(ctx, fn) })
}

// Tx runs fn in one transaction and commits it, once: the caller that needs
// retries wraps it in Retry.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.writes != nil {
		// As long as SQLite's busy timeout, and no longer than ctx.
		wait := time.NewTimer(sqliteBusy)
		select {
		case db.writes <- struct{}{}:
			wait.Stop()
		case <-wait.C:
			return errors.New("database is locked: this process's other writers held it for " + sqliteBusy.String())
		case <-ctx.Done():
			wait.Stop()
			return ctx.Err()
		}
		defer func() { <-db.writes }()
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// Rolled back on an error and on a panic alike: an open SQLite
	// transaction holds the database's one write lock. After Commit the
	// rollback is a no-op.
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// ErrConnLost says a connection broke while it was in use: whatever it was
// doing may or may not have happened. Wrap it with %w.
var ErrConnLost = errors.New("database connection lost")

// Unreachable reports whether err says the database could not be reached or
// the connection broke: the answer is "try again later", not "this request is
// wrong". A lost connection is one; so are a refused or timed-out connect,
// PostgreSQL's connection exceptions (class 08) and its shutdown codes.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var (
		pgErr      *pgconn.PgError
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	switch {
	case errors.Is(err, ErrConnLost), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	// pgx reports a connection it has already closed with a plain error.
	return strings.Contains(err.Error(), "conn closed")
}

// Retryable reports whether err is a transient conflict worth a retry: a
// serialization failure or a deadlock on PostgreSQL, a busy database on SQLite.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		code := sqErr.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// redact hides the password of a database URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
