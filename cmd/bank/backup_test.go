package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// contents reads the figures a manifest records from the database at url.
func contents(t *testing.T, url string) (int, map[string]int64, []ops.CurrencyTotal) {
	t.Helper()
	db, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, rows, totals, err := ops.Contents(context.Background(), db, db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	return v, rows, totals
}

// TestBackupRestore fills a database through the API, backs it up, drops
// it, restores it and verifies the backup: the restored ledger has the
// totals, rows and schema the manifest recorded, and passes the ledger check.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, d)
			backups := t.TempDir()
			env := map[string]string{
				"BANK_DATABASE_URL":  url,
				"BANK_HTTP_ADDR":     "127.0.0.1:0",
				"BANK_DATA_DIR":      t.TempDir(),
				"BANK_JWT_SECRET":    randomHex(32),
				"BANK_LOG_LEVEL":     "info",
				"BANK_BACKUP_DIR":    backups,
				"BANK_USER_PASSWORD": "operator password",
			}
			base, stop := startServe(t, "all", env)
			if out, err := runArgs(t, env, "users", "create", "--role", "operator", "--email", "op@bank.test"); err != nil {
				t.Fatalf("users create: %v\n%s", err, out)
			}
			b := &testBank{t: t, url: base, env: env, anon: client.New(base, checkedHTTP(t, time.Minute, nil))}
			b.staff = map[string]*client.Client{"operator": b.login("op@bank.test", "operator password")}
			c, _ := b.customer("bea")
			eur := b.account(c, "EUR", 10_000)
			b.account(c, "USD", 700) // a second currency in the totals
			savings := b.account(c, "EUR", 0)
			for i, amount := range []int64{100, 250, 3_000} {
				if _, err := c.Transfer(context.Background(), "t"+string(rune('a'+i)), client.Transfer{FromAccountID: eur.ID, ToAccountID: savings.ID, Amount: amount, Currency: "EUR"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			wantV, wantRows, wantTotals := contents(t, url)

			out, err := runArgs(t, env, "backup", "create", "-o", "json")
			if err != nil {
				t.Fatalf("backup create: %v\n%s", err, out)
			}
			var m ops.Manifest
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantTotals, m.Ledger); diff != "" || m.SchemaVersion != wantV || m.Rows["transactions"] != wantRows["transactions"] {
				t.Errorf("manifest %+v; ledger totals (-database +manifest):\n%s", m, diff)
			}
			if out, err := runArgs(t, env, "backup", "list"); err != nil || !strings.Contains(out, m.Name) {
				t.Errorf("backup list: %v\n%s", err, out)
			}

			// The database is lost.
			if d == store.Postgres {
				if err := ops.DropDatabase(context.Background(), url); err != nil {
					t.Fatal(err)
				}
			} else {
				path := strings.TrimPrefix(url, "sqlite://")
				for _, f := range []string{path, path + "-wal", path + "-shm"} {
					if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
				}
			}
			if out, err := runArgs(t, env, "backup", "restore", m.Name, "--to", url); err != nil {
				t.Fatalf("backup restore: %v\n%s", err, out)
			}
			v, rows, totals := contents(t, url)
			if diff := cmp.Diff(wantTotals, totals); diff != "" || v != wantV || !cmp.Equal(rows, wantRows) {
				t.Errorf("restored: schema %d rows %v, want %d %v; ledger totals (-before +restored):\n%s", v, rows, wantV, wantRows, diff)
			}
			if out, err := runArgs(t, env, "ledger", "verify"); err != nil {
				t.Errorf("ledger verify of the restored database: %v\n%s", err, out)
			}

			// A second restore over it is refused, unless forced.
			if _, err := runArgs(t, env, "backup", "restore", m.Name, "--to", url); err == nil || !strings.Contains(err.Error(), "--force") {
				t.Errorf("restore over a database with data: %v, want a refusal naming --force", err)
			}
			if out, err := runArgs(t, env, "backup", "restore", m.Name, "--to", url, "--force"); err != nil {
				t.Errorf("restore --force: %v\n%s", err, out)
			}
			if _, _, totals := contents(t, url); !cmp.Equal(totals, wantTotals) {
				t.Errorf("after restore --force: ledger totals %v, want %v", totals, wantTotals)
			}

			// Without --to, into a new database beside the configured one.
			out, err = runArgs(t, env, "backup", "restore", m.Name)
			if err != nil || !strings.Contains(out, "restored_") {
				t.Errorf("restore into a new database: %v\n%s", err, out)
			} else if d == store.Postgres {
				name := out[strings.LastIndex(out, "/")+1:]
				target := strings.Replace(url, url[strings.LastIndex(url, "/"):strings.Index(url, "?")], "/"+strings.TrimSpace(name), 1)
				t.Cleanup(func() { _ = ops.DropDatabase(context.Background(), target) })
			}

			out, err = runArgs(t, env, "backup", "verify", m.Name, "-o", "json")
			var r report
			if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || exitCode(err) != 0 || r.Level != "OK" {
				t.Errorf("backup verify: exit %d, %v\n%s", exitCode(err), jerr, out)
			}

			// A manifest of the eight tables an older release counted still
			// verifies; one whose payments the restored copy lacks does not.
			if _, ok := m.Rows["payments"]; !ok || len(m.Rows) <= 8 {
				t.Errorf("manifest rows %v, want every table, payments among them", m.Rows)
			}
			old := m
			old.Rows = map[string]int64{}
			for _, table := range []string{"users", "refresh_tokens", "accounts", "transactions", "postings", "holds", "idempotency_keys", "outbox"} {
				old.Rows[table] = m.Rows[table]
			}
			writeManifest(t, filepath.Join(backups, m.Name), old)
			if out, err := runArgs(t, env, "backup", "verify", m.Name); exitCode(err) != 0 {
				t.Errorf("backup verify of an eight-table manifest: exit %d\n%s", exitCode(err), out)
			}
			more := m
			more.Rows = maps.Clone(m.Rows)
			more.Rows["payments"]++
			writeManifest(t, filepath.Join(backups, m.Name), more)
			if out, err := runArgs(t, env, "backup", "verify", m.Name); exitCode(err) != 2 || !strings.Contains(out, "payments has 0 rows, the manifest says 1") {
				t.Errorf("backup verify of a copy that lacks a payment: exit %d\n%s", exitCode(err), out)
			}
			writeManifest(t, filepath.Join(backups, m.Name), m)

			if _, err := runArgs(t, env, "backup", "verify", "bank-19990101T000000Z"); err == nil || !strings.Contains(err.Error(), `no backup named "bank-19990101T000000Z"`) {
				t.Errorf("verify of a backup that does not exist: %v, want an error naming it", err)
			}

			// A damaged backup fails verification.
			dump := filepath.Join(backups, m.Name, m.Files[0].Name)
			data, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(dump, data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err = runArgs(t, env, "backup", "verify", m.Name)
			if exitCode(err) != 2 || !strings.Contains(out, "does not match its checksum") {
				t.Errorf("verify of a damaged backup: exit %d\n%s", exitCode(err), out)
			}
		})
	}
}

// writeManifest replaces the manifest of the backup in folder with m.
func writeManifest(t *testing.T, folder string, m ops.Manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, ops.ManifestFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		done, total int64
		want        string
	}{
		{0, 1 << 20, "  [>                             ]   0%  0 B of 1.0 MB   "},
		{1 << 19, 1 << 20, "  [===============>              ]  50%  512.0 kB of 1.0 MB   "},
		{1 << 20, 1 << 20, "  [==============================] 100%  1.0 MB of 1.0 MB   "},
		{3 << 30, -1, "  3.0 GB   "},
	}
	for _, tt := range tests {
		if got := progressBar(tt.done, tt.total); got != tt.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
}

// TestBackupDirDefault: with no BANK_BACKUP_DIR, a backup (the whole
// database, password hashes included) goes under the data folder, which
// .gitignore covers, and never into the working directory.
func TestBackupDirDefault(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := map[string]string{"BANK_DATABASE_URL": storetest.URL(t, store.SQLite), "BANK_DATA_DIR": data}
	if out, err := runArgs(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := runArgs(t, env, "backup", "create", "-o", "json")
	if err != nil {
		t.Fatalf("backup create: %v\n%s", err, out)
	}
	var m ops.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "backups", m.Name)); err != nil {
		t.Errorf("backup %s not under the data folder: %v", m.Name, err)
	}
	check := exec.Command("git", "check-ignore", "-q", "--no-index", "data/backups/"+m.Name+"/manifest.json")
	check.Dir = "../.." // the repository's root, where the README runs serve all
	if ignored, err := check.CombinedOutput(); err != nil {
		t.Errorf("git check-ignore data/backups/…: %v %s; the default folder must be ignored", err, ignored)
	}
}
