package ops

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/store"
)

// ManifestFile is the name of a backup's manifest in its folder.
const ManifestFile = "manifest.json"

// Manifest describes a backup: what it holds and how to check it. Rows
// counts the rows of each table of the database; manifests written before
// every table was counted hold eight.
type Manifest struct {
	Name          string           `json:"name"`
	CreatedAt     time.Time        `json:"created_at"`
	Dialect       store.Dialect    `json:"dialect"`
	SchemaVersion int              `json:"schema_version"`
	Files         []BackupFile     `json:"files"`
	Rows          map[string]int64 `json:"rows"`
	Ledger        []CurrencyTotal  `json:"ledger"`
}

// BackupFile is a file of a backup and its checksum.
type BackupFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// CurrencyTotal sums one currency's side of the ledger: its accounts, its
// postings, the money credited and debited, and the sum of the posted
// balances (zero in a consistent ledger).
type CurrencyTotal struct {
	Currency string `json:"currency"`
	Accounts int64  `json:"accounts"`
	Postings int64  `json:"postings"`
	Credits  int64  `json:"credits"`
	Debits   int64  `json:"debits"`
	Balance  int64  `json:"balance"`
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Contents reads what a manifest records of a database of dialect d: its
// schema version, the row count of each of its tables and the ledger's
// totals. Run it in one transaction for figures of one moment.
func Contents(ctx context.Context, q queryer, d store.Dialect) (version int, rows map[string]int64, totals []CurrencyTotal, err error) {
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return 0, nil, nil, fmt.Errorf("read the schema version: %w", err)
	}
	tables, err := Tables(ctx, q, d)
	if err != nil {
		return 0, nil, nil, err
	}
	rows = map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quoteIdent(t)).Scan(&n); err != nil {
			return 0, nil, nil, fmt.Errorf("count %s: %w", t, err)
		}
		rows[t] = n
	}
	r, err := q.QueryContext(ctx, `SELECT a.currency, COUNT(*), COALESCE(SUM(a.posted), 0),
			COALESCE(SUM(p.n), 0), COALESCE(SUM(p.credits), 0), COALESCE(SUM(p.debits), 0)
		FROM accounts a LEFT JOIN (SELECT account_id, COUNT(*) AS n,
				SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS credits,
				SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS debits
			FROM postings GROUP BY account_id) p ON p.account_id = a.id
		GROUP BY a.currency ORDER BY a.currency`)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("sum the ledger: %w", err)
	}
	defer r.Close()
	totals = []CurrencyTotal{}
	for r.Next() {
		var c CurrencyTotal
		if err := r.Scan(&c.Currency, &c.Accounts, &c.Balance, &c.Postings, &c.Credits, &c.Debits); err != nil {
			return 0, nil, nil, err
		}
		totals = append(totals, c)
	}
	return version, rows, totals, r.Err()
}

// Tables lists the tables of a database of dialect d, from its own
// catalogue, so that a table a migration adds is counted without a list to
// keep: on PostgreSQL the ordinary and partitioned tables of the schema in
// use (a partition's rows are its parent's), on SQLite every table but
// SQLite's own (sqlite_sequence, sqlite_stat1, …).
func Tables(ctx context.Context, q queryer, d store.Dialect) ([]string, error) {
	query := `SELECT c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY c.relname`
	if d == store.SQLite {
		query = `SELECT name FROM sqlite_master
			WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
			ORDER BY name`
	}
	r, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("list the tables: %w", err)
	}
	defer r.Close()
	var tables []string
	for r.Next() {
		var t string
		if err := r.Scan(&t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, r.Err()
}

// quoteIdent quotes a name from the catalogue for SQL, whatever it holds.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Progress is told how a long operation goes: each step as it starts and,
// while a step moves bytes, how many of how many (total -1 when it cannot be
// known ahead, as for a compressed dump).
type Progress interface {
	Step(name string)
	Bytes(done, total int64)
}

// meter is an io.Writer that counts what passes through it and tells p.
type meter struct {
	p           Progress
	done, total int64
}

func (m *meter) Write(b []byte) (int, error) {
	m.done += int64(len(b))
	m.p.Bytes(m.done, m.total)
	return len(b), nil
}

// watchFile tells p the size of path every interval until stop is closed:
// the progress of a program that writes a file we cannot see into.
func watchFile(p Progress, path string, total int64, stop <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if fi, err := os.Stat(path); err == nil {
				p.Bytes(fi.Size(), total)
			}
		}
	}
}

// CreateBackup writes a backup of db, whose URL is dbURL, into a new folder
// under dir and returns its manifest. PostgreSQL is dumped with pg_dump in
// its custom format, from the same snapshot the manifest's figures are read
// in; SQLite is copied online with VACUUM INTO.
func CreateBackup(ctx context.Context, db *store.DB, dbURL, dir string, now time.Time, progress Progress) (Manifest, error) {
	m := Manifest{Name: "bank-" + now.UTC().Format("20060102T150405Z"), CreatedAt: now.UTC(), Dialect: db.Dialect}
	folder := filepath.Join(dir, m.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return m, err
	}
	if err := os.Mkdir(folder, 0o750); err != nil {
		return m, fmt.Errorf("create the backup folder: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(folder)
		}
	}()
	var file string
	var err error
	if db.Dialect == store.Postgres {
		file, err = dumpPostgres(ctx, db, dbURL, folder, &m, progress)
	} else {
		file, err = copySQLite(ctx, db, folder, &m, progress)
	}
	if err != nil {
		return m, err
	}
	progress.Step("checksumming " + file)
	f, err := checksum(filepath.Join(folder, file), progress)
	if err != nil {
		return m, err
	}
	m.Files = []BackupFile{f}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if err := os.WriteFile(filepath.Join(folder, ManifestFile), append(b, '\n'), 0o640); err != nil {
		return m, err
	}
	ok = true
	return m, nil
}

func dumpPostgres(ctx context.Context, db *store.DB, dbURL, folder string, m *Manifest, progress Progress) (string, error) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		return "", errors.New("pg_dump is not installed: install PostgreSQL's client programs (Debian: apt-get install postgresql-client)")
	}
	// The manifest's figures and the dump come from one exported snapshot,
	// so they agree even while the services keep writing.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var snapshot string
	if err := tx.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return "", fmt.Errorf("export a snapshot: %w", err)
	}
	progress.Step("counting rows and ledger totals")
	if m.SchemaVersion, m.Rows, m.Ledger, err = Contents(ctx, tx, store.Postgres); err != nil {
		return "", err
	}
	const file = "database.pgdump"
	progress.Step("pg_dump --format=custom")
	path := filepath.Join(folder, file)
	cmd := exec.CommandContext(ctx, "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
		"--snapshot="+snapshot, "--file="+path, "--dbname="+libpqURL(dbURL))
	stop := make(chan struct{})
	go watchFile(progress, path, -1, stop)
	out, err := cmd.CombinedOutput()
	close(stop)
	if err != nil {
		return "", fmt.Errorf("pg_dump: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return file, nil
}

func copySQLite(ctx context.Context, db *store.DB, folder string, m *Manifest, progress Progress) (string, error) {
	const file = "bank.db"
	path := filepath.Join(folder, file)
	progress.Step("VACUUM INTO " + path)
	var size int64
	if err := db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&size); err != nil {
		size = -1
	}
	stop := make(chan struct{})
	go watchFile(progress, path, size, stop)
	_, err := db.ExecContext(ctx, `VACUUM INTO $1`, path)
	close(stop)
	if err != nil {
		return "", fmt.Errorf("copy the database: %w", err)
	}
	// The figures are read from the copy: they are the copy's by construction.
	cp, err := store.Open(ctx, "sqlite://"+path, store.Options{MaxConns: 1})
	if err != nil {
		return "", err
	}
	defer cp.Close()
	progress.Step("counting rows and ledger totals")
	m.SchemaVersion, m.Rows, m.Ledger, err = Contents(ctx, cp, cp.Dialect)
	if err != nil {
		return "", err
	}
	// The copy is a single file: leave no WAL beside it.
	if _, err := cp.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return "", err
	}
	if _, err := cp.ExecContext(ctx, `PRAGMA journal_mode=DELETE`); err != nil {
		return "", err
	}
	return file, nil
}

// libpqURL drops the settings only pgx understands from a PostgreSQL URL,
// for the client programs.
func libpqURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func checksum(path string, progress Progress) (BackupFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupFile{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return BackupFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, &meter{p: progress, total: fi.Size()}), f)
	if err != nil {
		return BackupFile{}, err
	}
	return BackupFile{Name: filepath.Base(path), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ReadManifest reads the manifest of the backup in folder and checks its
// files against their checksums, telling progress how the reading goes.
func ReadManifest(folder string, progress Progress) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(folder, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("no backup in %s: %w", folder, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("the manifest of %s is damaged: %w", folder, err)
	}
	if len(m.Files) != 1 {
		return m, fmt.Errorf("the manifest of %s lists %d files, want 1", folder, len(m.Files))
	}
	for _, want := range m.Files {
		got, err := checksum(filepath.Join(folder, filepath.Base(want.Name)), progress)
		if err != nil {
			return m, err
		}
		if got != want {
			return m, fmt.Errorf("%s does not match its checksum in the manifest: the backup is damaged", want.Name)
		}
	}
	return m, nil
}

// ListBackups returns the backups under dir, oldest first. Folders without
// a readable manifest are skipped.
func ListBackups(dir string) ([]Manifest, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return []Manifest{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Manifest{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), ManifestFile))
		if err != nil {
			continue
		}
		var m Manifest
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Manifest) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// ErrWouldOverwrite says a restore's target already holds the platform's
// tables.
var ErrWouldOverwrite = errors.New("the target database already holds data; restore into a new database, or pass --force to replace it")

// Restore restores the backup in folder into the database targetURL. A
// PostgreSQL database that does not exist is created; a target that holds
// the platform's tables is refused unless force is set.
func Restore(ctx context.Context, folder, targetURL string, force bool, progress Progress) (Manifest, error) {
	progress.Step("checking the backup's checksums")
	m, err := ReadManifest(folder, progress)
	if err != nil {
		return m, err
	}
	file := filepath.Join(folder, m.Files[0].Name)
	switch {
	case m.Dialect == store.Postgres && (strings.HasPrefix(targetURL, "postgres://") || strings.HasPrefix(targetURL, "postgresql://")):
		return m, restorePostgres(ctx, file, targetURL, force, progress)
	case m.Dialect == store.SQLite && strings.HasPrefix(targetURL, "sqlite://"):
		return m, restoreSQLite(file, strings.TrimPrefix(targetURL, "sqlite://"), force, progress)
	}
	return m, fmt.Errorf("a %s backup restores into a %s database, not %s", m.Dialect, m.Dialect, redactURL(targetURL))
}

func restorePostgres(ctx context.Context, file, targetURL string, force bool, progress Progress) error {
	if _, err := exec.LookPath("pg_restore"); err != nil {
		return errors.New("pg_restore is not installed: install PostgreSQL's client programs (Debian: apt-get install postgresql-client)")
	}
	u, err := url.Parse(targetURL)
	if err != nil {
		return fmt.Errorf("target database URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !isIdent(name) {
		return fmt.Errorf("target database name %q: use lower-case letters, digits and _", name)
	}
	created, err := ensureDatabase(ctx, u, name)
	if err != nil {
		return err
	}
	args := []string{"--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname=" + libpqURL(targetURL)}
	if !created {
		db, err := store.Open(ctx, targetURL, store.Options{AppName: "bank-restore", MaxConns: 1})
		if err != nil {
			return err
		}
		has, err := HasSchema(ctx, db)
		db.Close()
		if err != nil {
			return err
		}
		if has && !force {
			return ErrWouldOverwrite
		}
		if has {
			args = append(args, "--clean", "--if-exists")
		}
	}
	progress.Step("pg_restore into " + name)
	// pg_restore reads the dump from its standard input, through a meter:
	// how much it has read is how far it has got.
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "pg_restore", args...)
	cmd.Stdin = io.TeeReader(f, &meter{p: progress, total: fi.Size()})
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_restore: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureDatabase creates database name on the server of u if it is missing
// and reports whether it did.
func ensureDatabase(ctx context.Context, u *url.URL, name string) (bool, error) {
	admin := *u
	admin.Path = "/postgres"
	db, err := store.Open(ctx, admin.String(), store.Options{AppName: "bank-restore", MaxConns: 1})
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	return true, nil
}

// DropDatabase drops the PostgreSQL database dbURL names: verify's scratch
// database.
func DropDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !isIdent(name) {
		return fmt.Errorf("database name %q", name)
	}
	u.Path = "/postgres"
	db, err := store.Open(ctx, u.String(), store.Options{AppName: "bank-restore", MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	return err
}

func restoreSQLite(file, path string, force bool, progress Progress) error {
	if _, err := os.Stat(path); err == nil && !force {
		return ErrWouldOverwrite
	}
	progress.Step("copying into " + path)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	src, err := os.Open(file)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".restore-*")
	if err != nil {
		return err
	}
	var size int64 = -1
	if fi, err := src.Stat(); err == nil {
		size = fi.Size()
	}
	_, err = io.Copy(io.MultiWriter(tmp, &meter{p: progress, total: size}), src)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// A WAL left by the database being replaced would be replayed
		// over the restored file.
		for _, suffix := range []string{"-wal", "-shm"} {
			if rerr := os.Remove(path + suffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = rerr
			}
		}
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("restore into %s: %w", path, err)
	}
	return nil
}

// ScratchURL returns the URL of a database next to dbURL that nothing uses:
// on the same PostgreSQL server, or a file in tmpDir for SQLite.
func ScratchURL(dbURL, prefix, tmpDir string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := prefix + "_" + hex.EncodeToString(b[:])
	if strings.HasPrefix(dbURL, "sqlite://") {
		return "sqlite://" + filepath.Join(tmpDir, suffix+".db")
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL
	}
	u.Path = "/" + strings.TrimPrefix(u.Path, "/") + "_" + suffix
	if u.Path == "/_"+suffix {
		u.Path = "/bank_" + suffix
	}
	return u.String()
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// CompareContents lists how the figures of a restored database differ from
// a manifest's; none when they agree. Every table the manifest counts is
// compared: all of them, or the eight an older release counted.
func CompareContents(m Manifest, version int, rows map[string]int64, totals []CurrencyTotal) []string {
	var diffs []string
	if version != m.SchemaVersion {
		diffs = append(diffs, fmt.Sprintf("schema version %d, the manifest says %d", version, m.SchemaVersion))
	}
	for _, t := range slices.Sorted(maps.Keys(m.Rows)) {
		got, ok := rows[t]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s is missing, the manifest says %d rows", t, m.Rows[t]))
		case got != m.Rows[t]:
			diffs = append(diffs, fmt.Sprintf("%s has %d rows, the manifest says %d", t, got, m.Rows[t]))
		}
	}
	if !slices.Equal(totals, m.Ledger) {
		diffs = append(diffs, fmt.Sprintf("ledger totals %+v, the manifest says %+v", totals, m.Ledger))
	}
	return diffs
}

// Quiet is a Progress that tells no one.
type Quiet struct{}

// Step implements Progress.
func (Quiet) Step(string) {}

// Bytes implements Progress.
func (Quiet) Bytes(int64, int64) {}
