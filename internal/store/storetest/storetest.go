// Package storetest opens fresh, migrated databases for tests: one SQLite
// database in a temporary folder and, when BANK_TEST_POSTGRES_URL names a
// server, one PostgreSQL database created for the test and dropped after it.
// Store and ledger contract tests run once per database through ForEach.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for the admin connection

	"github.com/fintech-banking/bank/internal/store"
)

// PostgresEnv names the environment variable that points tests at a
// PostgreSQL server; its user must be allowed to create databases.
const PostgresEnv = "BANK_TEST_POSTGRES_URL"

// ForEach runs fn as a subtest on a fresh migrated SQLite database and, when
// BANK_TEST_POSTGRES_URL is set, on a fresh migrated PostgreSQL database.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
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
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL run", PostgresEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bank_test_" + hex.EncodeToString(b[:])
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
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

// Open returns a fresh, migrated database of dialect d, closed when the test ends.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, URL(t, d), store.Options{AppName: "test"})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}
