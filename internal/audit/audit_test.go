package audit_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

func TestSafe(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"req-1", "req-1"},
		{"Zoë 日本", "Zoë 日本"},
		{"a\x00b", "a\uFFFDb"},
		{"line\nforged: admin", "line\uFFFDforged: admin"},
		{"\t\r\x1b[2J\x7f", "\uFFFD\uFFFD\uFFFD[2J\uFFFD"},
		{"\u0085next", "\uFFFDnext"}, // a C1 control
		{"bad \xff\xfe utf-8", "bad \uFFFD\uFFFD utf-8"},
		{"cut \xe6\x97", "cut \uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		if got := audit.Safe(tt.in); got != tt.want {
			t.Errorf("Safe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWriteHostile writes a record whose every string holds NUL, invalid
// UTF-8 and control characters, in a transaction, and reads back the same
// safe record on both databases: PostgreSQL would refuse the NUL, SQLite
// would keep it.
func TestWriteHostile(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const hostile = "x\x00\xff\n"
		r := audit.New("actor"+hostile, "act"+hostile, "target"+hostile,
			bank.Origin{RequestID: "req" + hostile, ClientIP: "ip" + hostile}, map[string]string{"k" + hostile: "v" + hostile})
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return audit.Write(ctx, tx, at, r) }); err != nil {
			t.Fatal(err)
		}
		var got [6]string
		if err := db.QueryRowContext(ctx, `SELECT actor_id, action, target_id, client_ip, request_id, details
			FROM audit_log WHERE id = $1`, r.ID).Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5]); err != nil {
			t.Fatal(err)
		}
		const safe = "x\uFFFD\uFFFD\uFFFD"
		want := [6]string{"actor" + safe, "act" + safe, "target" + safe, "ip" + safe, "req" + safe, `{"k` + safe + `":"v` + safe + `"}`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stored record (-want +got):\n%s", diff)
		}
	})
}
