package queue_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

func TestWrite(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		h := queue.NewHeader("thing.happened", at)
		type event struct {
			queue.Header
			Thing string `json:"thing"`
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return queue.Write(ctx, tx, h, "thing-1", event{h, "x"})
		}); err != nil {
			t.Fatal(err)
		}
		var id, typ, aggregate, payload string
		if err := db.QueryRowContext(ctx, `SELECT id, type, aggregate_id, payload FROM outbox`).Scan(&id, &typ, &aggregate, &payload); err != nil {
			t.Fatal(err)
		}
		var got event
		if err := json.Unmarshal([]byte(payload), &got); err != nil {
			t.Fatal(err)
		}
		if id != h.EventID || typ != "thing.happened" || aggregate != "thing-1" ||
			got.EventID != h.EventID || got.Type != typ || !got.OccurredAt.Equal(at) || got.Thing != "x" {
			t.Errorf("outbox row %s %s %s %s, want event %+v about thing-1", id, typ, aggregate, payload, h)
		}
	})
}
