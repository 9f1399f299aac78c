package notification

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// BenchmarkHandle measures one transaction.posted event handled end to end:
// two recipients, an email each through a loopback SMTP server, the
// delivery rows claimed and recorded, the message deleted.
//
//	BANK_TEST_POSTGRES_URL=… go test -run '^$' -bench Handle ./internal/notification
func BenchmarkHandle(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.Open(b, d)
			mail := startSMTPB(b)
			s, err := New(db, discard(), time.Now, testConfig(mail), nil)
			if err != nil {
				b.Fatal(err)
			}
			addUser(b, db, "alice", "alice@example.test", "Alice")
			addUser(b, db, "bob", "bob@example.test", "Bob")
			q := newMemQueue(time.Minute, 5)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if err := q.Send(ctx, transferEvent(fmt.Sprintf("ev%d", i), "alice", "bob", 1)); err != nil {
					b.Fatal(err)
				}
				ms, _ := q.Receive(ctx, 1, time.Second)
				if got := s.Handle(ctx, q, ms[0]); got != "delivered" {
					b.Fatalf("outcome %s", got)
				}
			}
		})
	}
}

// BenchmarkConsume measures the consumer's throughput with its default
// workers and batch (one receive loop on SQLite, as serve runs it): 1,000
// events of two recipients each on the table queue, reported as events/s;
// emails log-only, as the platform ships, or through a loopback SMTP server;
// an event a message, or in groups of 25 as a busy ledger commits them
// (event.Group).
//
//	BANK_TEST_POSTGRES_URL=… go test -run '^$' -bench Consume ./internal/notification
func BenchmarkConsume(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		for _, channel := range []string{"log-only", "log-only-groups", "smtp"} {
			b.Run(string(d)+"/"+channel, func(b *testing.B) {
				db := storetest.Open(b, d)
				cfg := testConfig("")
				if channel == "smtp" {
					cfg = testConfig(startSMTPB(b))
				}
				cfg.Workers, cfg.Batch = DefaultConfig().Workers, DefaultConfig().Batch
				if d == store.SQLite {
					cfg.Workers = 1
				}
				s, err := New(db, discard(), time.Now, cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				addUser(b, db, "alice", "alice@example.test", "Alice")
				addUser(b, db, "bob", "bob@example.test", "Bob")
				ctx := context.Background()
				const events = 1000
				var total time.Duration
				for n := range b.N {
					q, _ := newTestQueue(b, db, time.Minute, 5)
					group := 1
					if channel == "log-only-groups" {
						group = 25
					}
					for i := 0; i < events; i += group {
						var bodies [][]byte
						for j := i; j < i+group; j++ {
							bodies = append(bodies, transferEvent(fmt.Sprintf("r%d-ev%d", n, j), "alice", "bob", 1))
						}
						if err := q.Send(ctx, event.Join(bodies...)); err != nil {
							b.Fatal(err)
						}
					}
					start := time.Now()
					rctx, cancel := context.WithCancel(ctx)
					done := make(chan struct{})
					go func() { _ = s.Run(rctx, q); close(done) }()
					if !poll.Wait(time.Minute, func() bool {
						st, _ := q.Stats(ctx)
						return st.Main.Visible+st.Main.InFlight == 0
					}) {
						b.Fatal("the consumer did not drain the queue within a minute")
					}
					total += time.Since(start)
					cancel()
					<-done
				}
				b.ReportMetric(float64(events*b.N)/total.Seconds(), "events/s")
			})
		}
	}
}
