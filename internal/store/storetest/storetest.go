// Package storetest opens fresh databases for tests: SQLite in a temporary
// folder and, when BANK_TEST_POSTGRES_URL names a server, PostgreSQL databases
// created for the test and dropped after it. A migrated database is a copy of
// a template migrated once (a file on SQLite, a template database on
// PostgreSQL), named by a hash of the migrations, so that a test pays for a
// copy instead of the whole schema. Store and ledger contract tests run once
// per database through ForEach.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for the admin connection

	"github.com/fintech-banking/bank/internal/store"
)

// PostgresEnv names the environment variable that points tests at a
// PostgreSQL server; its user must be allowed to create databases.
const PostgresEnv = "BANK_TEST_POSTGRES_URL"

// ForEach runs fn as a parallel subtest on a fresh migrated SQLite database
// and, when BANK_TEST_POSTGRES_URL is set, on a fresh migrated PostgreSQL
// database.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, d))
		})
	}
}

// URL returns the URL of a fresh, empty database of dialect d that is removed
// when the test ends. It skips the test when d is PostgreSQL and no server is
// configured.
func URL(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return "sqlite://" + filepath.Join(t.TempDir(), "bank.db")
	}
	return createPostgres(t, "")
}

// MigratedURL returns the URL of a fresh database of dialect d that holds
// every migration and no rows, removed when the test ends; see URL.
func MigratedURL(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.Postgres {
		adminURL(t) // skips the test when no server is configured
	}
	tmpl, err := template(d)
	if err != nil {
		t.Fatalf("migrated template (%s): %v", d, err)
	}
	if d == store.SQLite {
		path := filepath.Join(t.TempDir(), "bank.db")
		if err := copyFile(tmpl, path); err != nil {
			t.Fatalf("copy the migrated template: %v", err)
		}
		return "sqlite://" + path
	}
	return createPostgres(t, tmpl)
}

// Open returns a fresh, migrated database of dialect d, closed when the test ends.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, MigratedURL(t, d), store.Options{AppName: "test"})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	// The copy is up to date: this only checks it.
	if applied, err := db.Migrate(ctx); err != nil || len(applied) > 0 {
		t.Fatalf("migrate a copy of the template: applied %v, %v", applied, err)
	}
	return db
}

// MigratedTo returns a fresh database of dialect d, closed when the test
// ends, with the migrations up to version applied and recorded: a test of a
// later migration writes rows as an earlier release would, then calls
// db.Migrate.
func MigratedTo(t testing.TB, d store.Dialect, version int) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, URL(t, d), store.Options{AppName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := store.Migrations(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version > version {
			break
		}
		if _, err := db.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// Indexes returns the definitions of table's indexes, by name: PostgreSQL's
// pg_indexes.indexdef, SQLite's CREATE INDEX statement (the name of an
// index SQLite made itself for a constraint).
func Indexes(t testing.TB, db *store.DB, table string) []string {
	t.Helper()
	q := `SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`
	if db.Dialect == store.SQLite {
		q = `SELECT coalesce(sql, name) FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 ORDER BY name`
	}
	return Column[string](t, db, q, table)
}

// Column returns the values of the one column query reads, in order; any
// error fails t.
func Column[T any](t testing.TB, db *store.DB, query string, args ...any) []T {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func adminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL run", PostgresEnv)
	}
	return admin
}

// createPostgres creates a database, a copy of tmpl when it is not empty,
// dropped when the test ends, and returns its URL.
func createPostgres(t testing.TB, tmpl string) string {
	t.Helper()
	admin := adminURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bank_test_" + hex.EncodeToString(b[:])
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stmt := "CREATE DATABASE " + name
	if tmpl != "" {
		stmt += " TEMPLATE " + tmpl
	}
	// Two copies of one template at the same instant can collide ("source
	// database is being accessed by other users"): try again.
	for attempt := 0; ; attempt++ {
		_, err = adb.ExecContext(ctx, stmt)
		if err == nil || attempt == 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(time.Duration(10+attempt*10) * time.Millisecond)
	}
	if err == nil {
		// A commit need not wait for the disk: tests never crash the
		// server, and waiting for its flushes is most of their time.
		_, err = adb.ExecContext(ctx, "ALTER DATABASE "+name+" SET synchronous_commit = off")
	}
	if err != nil {
		adb.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		adb.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

var templates struct {
	mu   sync.Mutex
	made map[store.Dialect]string
}

// template returns the migrated template of dialect d, making it once per
// migration set: the path of a SQLite file, or a PostgreSQL database's name.
// Templates outlive the test run and are shared by every package's tests.
func template(d store.Dialect) (string, error) {
	templates.mu.Lock()
	defer templates.mu.Unlock()
	if name, ok := templates.made[d]; ok {
		return name, nil
	}
	ms, err := store.Migrations(d)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d %s %d\n%s", m.Version, m.Name, len(m.SQL), m.SQL)
	}
	id := hex.EncodeToString(h.Sum(nil))[:16]
	var name string
	if d == store.SQLite {
		name, err = sqliteTemplate(id)
	} else {
		name, err = postgresTemplate(id)
	}
	if err != nil {
		return "", err
	}
	if templates.made == nil {
		templates.made = map[store.Dialect]string{}
	}
	templates.made[d] = name
	return name, nil
}

// sqliteTemplate migrates a SQLite file once and renames it into place, so
// that concurrent test processes never see half of one.
func sqliteTemplate(id string) (string, error) {
	path := filepath.Join(os.TempDir(), "bank-test-template-"+id+".db")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	dir, err := os.MkdirTemp("", "bank-test-template-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "bank.db")
	if err := migrate("sqlite://" + tmp); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// postgresTemplate migrates a database once, under an advisory lock that
// concurrent test processes share, and renames it into place.
func postgresTemplate(id string) (string, error) {
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		return "", errors.New(PostgresEnv + " is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		return "", err
	}
	defer adb.Close()
	conn, err := adb.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727002)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(727002)`)
	name := "bank_template_" + id
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + building
	if err := migrate(u.String()); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func migrate(rawURL string) error {
	ctx := context.Background()
	db, err := store.Open(ctx, rawURL, store.Options{AppName: "test-template"})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	if db.Dialect == store.SQLite {
		// Everything into the main file: the copy takes that file alone.
		if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
