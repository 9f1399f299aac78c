package queue_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/queue/sqsserver"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// BenchmarkQueue measures events a second through each queue: one producer
// sends batches of 100, four consumers receive up to 10 at a time and
// delete each message, until all b.N are deleted.
//
//	go test -run '^$' -bench Queue -benchtime 5000x ./internal/queue/
func BenchmarkQueue(b *testing.B) {
	b.Run("table-sqlite", func(b *testing.B) { benchQueue(b, benchTable(b, store.SQLite)) })
	b.Run("table-postgres", func(b *testing.B) { benchQueue(b, benchTable(b, store.Postgres)) })
	b.Run("sqs-local", func(b *testing.B) {
		client := sqsserver.Client(sqsserver.Start(b))
		q, err := queue.NewSQS(context.Background(), client, sqsserver.NewQueues(b, client, 60*time.Second, 5))
		if err != nil {
			b.Fatal(err)
		}
		benchQueue(b, q)
	})
}

func benchTable(b *testing.B, d store.Dialect) queue.Queue {
	db := storetest.Open(b, d)
	q, err := queue.OpenTable(context.Background(), db, queue.TableConfig{Name: "bench", VisibilityTimeout: time.Minute, Poll: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return q
}

func benchQueue(b *testing.B, q queue.Queue) {
	const consumers, batch = 4, 100
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	body := []byte(`{"event_id":"0190f7a2-7c1e-7d3a-9f00-000000000000","type":"transfer.posted","occurred_at":"2026-12-01T06:00:00Z","account_id":"acc-1","amount":1250,"currency":"EUR"}`)
	var deleted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, consumers+1)
	b.ResetTimer()
	for range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for deleted.Load() < int64(b.N) && ctx.Err() == nil {
				ms, err := q.Receive(ctx, 10, time.Second)
				if err != nil {
					errs <- err
					return
				}
				for _, m := range ms {
					if err := q.Delete(ctx, m.Receipt); err != nil {
						errs <- err
						return
					}
					deleted.Add(1)
				}
			}
		}()
	}
	for sent := 0; sent < b.N; sent += batch {
		n := min(batch, b.N-sent)
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = body
		}
		if err := q.Send(ctx, bodies...); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	if got := deleted.Load(); got != int64(b.N) {
		b.Fatalf("deleted %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
