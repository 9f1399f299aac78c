package queue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/queue/queuetest"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// tableFactory makes fresh table queues in db: a new queue name per test.
func tableFactory(db *store.DB) queuetest.Factory {
	return func(t *testing.T, cfg queuetest.Config) (queue.Queue, queuetest.Later) {
		t.Helper()
		var b [4]byte
		_, _ = rand.Read(b[:])
		clk := clock.NewFake(time.Now())
		q, err := queue.OpenTable(context.Background(), db, queue.TableConfig{
			Name: "test-" + hex.EncodeToString(b[:]), VisibilityTimeout: cfg.VisibilityTimeout,
			MaxReceiveCount: cfg.MaxReceiveCount, Poll: 20 * time.Millisecond, Now: clk.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return q, clk.Advance
	}
}

func TestTableQueueContract(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		queuetest.Run(t, tableFactory(db), queuetest.Gaps{})
	})
}

func TestTableQueueSettingsReachEveryReplica(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "shared", VisibilityTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// A second replica configured otherwise finds the queue as it is.
		b, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "shared", VisibilityTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if d, err := b.VisibilityTimeout(ctx); err != nil || d != 30*time.Second {
			t.Fatalf("second replica sees %s, %v; want the stored 30s", d, err)
		}
		if err := a.SetVisibilityTimeout(ctx, 300*time.Second); err != nil {
			t.Fatal(err)
		}
		if d, err := b.VisibilityTimeout(ctx); err != nil || d != 300*time.Second {
			t.Fatalf("after set-visibility on one replica, the other sees %s, %v; want 5m0s", d, err)
		}
		if _, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "bad", MaxReceiveCount: 1001}); err == nil {
			t.Error("max receive count 1001 accepted")
		}
	})
}
