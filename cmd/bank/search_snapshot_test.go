package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search/opensearchnode"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestSearchSnapshotRestore runs the runbook's 7.3 against a real OpenSearch
// node, with an "fs" repository standing in for s3: index everything,
// register the repository, snapshot, post more transactions, close the index
// and restore the snapshot over it (the index is now behind the database),
// then bank search reindex
// --since the snapshot's time, and bank search status counts match.
func TestSearchSnapshotRestore(t *testing.T) {
	node := opensearchnode.Start(t)
	ctx := context.Background()
	dbURL := storetest.MigratedURL(t, store.SQLite)
	env := map[string]string{"BANK_DATABASE_URL": dbURL, "BANK_SEARCH_URL": node.URL}
	getenv := func(k string) string { return env[k] }
	bankCmd := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append([]string{"bank"}, args...), getenv, nil, &out, io.Discard); err != nil {
			t.Fatalf("bank %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	status := func() searchStatusReport {
		t.Helper()
		var r searchStatusReport
		if err := json.Unmarshal([]byte(bankCmd("search", "status", "-o", "json")), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	es := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, node.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}

	db, err := store.Open(ctx, dbURL, store.Options{AppName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	now := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := ledger.New(db, slog.New(slog.DiscardHandler), clock, ledger.DefaultConfig())
	defer l.Close()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at)
		VALUES ('ann', 'ann@example.test', 'Ann', 'customer', 'x', $1)`, now); err != nil {
		t.Fatal(err)
	}
	a, err := l.OpenAccount(ctx, bank.Principal{UserID: "ann", Role: bank.RoleCustomer}, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking})
	if err != nil {
		t.Fatal(err)
	}
	post := func(n int, at time.Time) {
		t.Helper()
		for i := range n {
			mu.Lock()
			now = at.Add(time.Duration(i) * time.Second)
			mu.Unlock()
			key := fmt.Sprintf("d-%d-%d", at.Unix(), i)
			if _, err := l.Deposit(ctx, bank.Principal{UserID: "op", Role: bank.RoleOperator}, ledger.Idempotency{Key: key, Hash: "h"}, ledger.CashInput{AccountID: a.ID, Money: bank.Money{Amount: 100, Currency: "EUR"}, Description: "deposit " + key}); err != nil {
				t.Fatal(err)
			}
		}
	}

	post(30, now)
	bankCmd("search", "reindex")
	if r := status(); r.Transactions != 30 || r.Documents != 30 {
		t.Fatalf("after the first reindex: %+v, want 30 of 30", r)
	}
	// Register the snapshot repository and take the snapshot (runbook 7.3).
	es(http.MethodPut, "/_snapshot/fs_backup", fmt.Sprintf(`{"type": "fs", "settings": {"location": %q}}`, filepath.Join(node.Repo, "fs_backup")))
	snapshotAt := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	es(http.MethodPut, "/_snapshot/fs_backup/snapshot_20260115?wait_for_completion=true", `{"indices": "transactions"}`)

	post(20, snapshotAt.Add(time.Minute))
	bankCmd("search", "reindex", "--since", snapshotAt.Format(time.RFC3339))
	if r := status(); r.Documents != 50 {
		t.Fatalf("before the restore: %+v, want 50 documents", r)
	}
	// Restore over the closed index (runbook 7.3): it goes back to the
	// snapshot's 30 documents.
	es(http.MethodPost, "/transactions/_close", "")
	es(http.MethodPost, "/_snapshot/fs_backup/snapshot_20260115/_restore?wait_for_completion=true", `{"indices": "transactions"}`)
	if r := status(); r.Transactions != 50 || r.Documents != 30 || r.Missing != 20 {
		t.Fatalf("after the restore: %+v, want 30 of 50 documents, 20 missing", r)
	}
	out := bankCmd("search", "reindex", "--since", snapshotAt.Format(time.RFC3339))
	if !strings.Contains(out, "indexed 20 transactions") {
		t.Errorf("reindex --since said %q, want 20 indexed", out)
	}
	if r := status(); r.Transactions != 50 || r.Documents != 50 || r.Missing != 0 {
		t.Errorf("after reindex --since: %+v, want 50 of 50", r)
	}
}
