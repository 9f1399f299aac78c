package queue_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestMigrationKeepsTheOutbox upgrades a database whose outbox holds rows
// written before migration 0006: they keep their content, get seq numbers
// in their insert order, and new rows number after them.
func TestMigrationKeepsTheOutbox(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MigratedTo(t, d, 5)
			at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			// Ids out of insert order: the order kept must be the insert order.
			for i, id := range []string{"c", "a", "b"} {
				if _, err := db.ExecContext(ctx, `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ($1, 't', 'agg', $2, $3)`,
					id, fmt.Sprintf(`{"n":%d}`, i), at); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ('d', 't', 'agg', '{"n":3}', $1)`, at); err != nil {
				t.Fatal(err)
			}
			rows, err := db.QueryContext(ctx, `SELECT id, payload, created_at FROM outbox ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id, payload string
				var created time.Time
				if err := rows.Scan(&id, &payload, &created); err != nil {
					t.Fatal(err)
				}
				if !created.Equal(at) {
					t.Errorf("row %s: created_at %s, want %s", id, created, at)
				}
				got = append(got, id+payload)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if want := `[c{"n":0} a{"n":1} b{"n":2} d{"n":3}]`; fmt.Sprint(got) != want {
				t.Fatalf("outbox after the migration: %v, want %s", got, want)
			}
		})
	}
}

// TestMigrationDropsIDIndexes upgrades a database with messages waiting and
// deliveries recorded through migration 0023: every row and its order stay,
// a message sent afterwards numbers after every seq used before (even one
// deleted), and a delivery's unique key still holds.
func TestMigrationDropsIDIndexes(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MigratedTo(t, d, 22)
			at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			for i, id := range []string{"m3", "m1", "m2", "gone"} {
				if _, err := db.ExecContext(ctx, `INSERT INTO queue_messages (id, queue, body, sent_at, visible_at, receive_count) VALUES ($1, 'notifications', $2, 1, 1, $3)`,
					id, []byte(fmt.Sprintf(`{"n":%d}`, i)), i); err != nil {
					t.Fatal(err)
				}
			}
			var before int64
			if err := db.QueryRowContext(ctx, `SELECT seq FROM queue_messages WHERE id = 'gone'`).Scan(&before); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM queue_messages WHERE id = 'gone'`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO notifications (id, event_id, event_type, user_id, channel, status, subject, attempts, created_at, updated_at)
				VALUES ('n1', 'e1', 'transaction.posted', 'u1', 'email', 'logged', 'Paid', 1, $1, $1)`, at); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO queue_messages (id, queue, body, sent_at, visible_at) VALUES ('m4', 'notifications', $1, 2, 2)`, []byte(`{"n":4}`)); err != nil {
				t.Fatal(err)
			}
			rows, err := db.QueryContext(ctx, `SELECT seq, id, body, receive_count FROM queue_messages ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			var last int64
			for rows.Next() {
				var (
					seq   int64
					id    string
					body  []byte
					count int
				)
				if err := rows.Scan(&seq, &id, &body, &count); err != nil {
					t.Fatal(err)
				}
				got, last = append(got, fmt.Sprintf("%s%s%d", id, body, count)), seq
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if want := `[m3{"n":0}0 m1{"n":1}1 m2{"n":2}2 m4{"n":4}0]`; fmt.Sprint(got) != want {
				t.Fatalf("messages after the migration: %v, want %s", got, want)
			}
			if last <= before {
				t.Errorf("a message sent after the migration has seq %d, not after %d, used before it", last, before)
			}
			var subject string
			var created time.Time
			if err := db.QueryRowContext(ctx, `SELECT subject, created_at FROM notifications WHERE event_id = 'e1' AND user_id = 'u1' AND channel = 'email'`).Scan(&subject, &created); err != nil {
				t.Fatal(err)
			}
			if subject != "Paid" || !created.Equal(at) {
				t.Errorf("delivery after the migration: %q at %s", subject, created)
			}
			_, err = db.ExecContext(ctx, `INSERT INTO notifications (id, event_id, event_type, user_id, channel, status, subject, attempts, created_at, updated_at)
				VALUES ('n2', 'e1', 'transaction.posted', 'u1', 'email', 'logged', 'Paid', 1, $1, $1)`, at)
			if !store.IsUniqueViolation(err) {
				t.Errorf("a second delivery of one event to one user on one channel: %v, want a unique violation", err)
			}
		})
	}
}

// TestMigrationQueueMessageKey upgrades a database with messages waiting in
// a queue and its dead-letter queue through migration 0026: on PostgreSQL
// (queue, seq) is then the primary key and the only index; every message
// stays, is received in order, deleted and redriven as before.
func TestMigrationQueueMessageKey(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.MigratedTo(t, d, 25)
			for i, q := range []string{"q", "q-dlq", "q", "q-dlq", "q"} {
				if _, err := db.ExecContext(ctx, `INSERT INTO queue_messages (id, queue, body, sent_at, visible_at) VALUES ($1, $2, $3, 1, 0)`,
					fmt.Sprint("m", i), q, []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}

			want := "CREATE UNIQUE INDEX queue_messages_pkey ON public.queue_messages USING btree (queue, seq)"
			if d == store.SQLite {
				want = "CREATE INDEX queue_messages_order ON queue_messages (queue, seq)"
			}
			indexes := storetest.Indexes(t, db, "queue_messages")
			if strings.Join(indexes, "\n") != want {
				t.Errorf("indexes of queue_messages after the migration:\n%s\nwant only\n%s", strings.Join(indexes, "\n"), want)
			}

			tq, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "q"})
			if err != nil {
				t.Fatal(err)
			}
			if err := tq.Send(ctx, []byte("5")); err != nil {
				t.Fatal(err)
			}
			ms, err := tq.Receive(ctx, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, string(m.Body))
				if err := tq.Delete(ctx, m.Receipt); err != nil {
					t.Fatalf("delete %s: %v", m.Receipt, err)
				}
			}
			if fmt.Sprint(got) != "[0 2 4 5]" {
				t.Errorf("received %v after the migration, want [0 2 4 5]", got)
			}
			if n, err := tq.Redrive(ctx, 10); err != nil || n != 2 {
				t.Fatalf("redrive: %d, %v; want 2 moved", n, err)
			}
			ms, err = tq.Receive(ctx, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, m := range ms {
				got = append(got, string(m.Body))
			}
			if fmt.Sprint(got) != "[1 3]" {
				t.Errorf("received %v after the redrive, want [1 3]", got)
			}
		})
	}
}

// TestMigrationQueueBodyLZ4: on PostgreSQL, migration 0027 makes lz4 the
// compression of a message's body, and a group written after it reads back
// whole.
func TestMigrationQueueBodyLZ4(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if db.Dialect == store.Postgres {
			got := storetest.Column[string](t, db, `SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'queue_messages'::regclass AND attname = 'body'`)
			if len(got) != 1 || got[0] != "l" {
				t.Errorf("compression of queue_messages.body: %q, want l (lz4)", got)
			}
		}
		var recs []event.Record
		for i := range 30 {
			r, err := event.Encode(&event.Locked{Header: event.NewHeader(event.UserLocked, time.Now()), UserID: fmt.Sprint("u", i), Email: "a@b.test", LockedBy: "op"})
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Write(ctx, tx, recs...) }); err != nil {
			t.Fatal(err)
		}
		bodies := storetest.Column[[]byte](t, db, `SELECT body FROM queue_messages`)
		if want := event.Group(recs); len(bodies) != 1 || string(bodies[0]) != string(want[0].Payload) {
			t.Errorf("read back %d messages, want the group of 30 as written", len(bodies))
		}
	})
}

// TestMigrationQueueMessageEvents: migration 0028 keeps the messages waiting
// (each counts one event, as a release before it wrote them), and from then
// on a message counts the events it holds, sent, rewritten or redriven.
func TestMigrationQueueMessageEvents(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.MigratedTo(t, d, 27)
			group := `[{"event_id":"e1","type":"t"},{"event_id":"e2","type":"t"}]`
			for i, body := range []string{group, `{"event_id":"e3","type":"t"}`} {
				if _, err := db.ExecContext(ctx, `INSERT INTO queue_messages (id, queue, body, sent_at, visible_at) VALUES ($1, 'q', $2, 1, 0)`,
					fmt.Sprint("m", i), []byte(body)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			tq, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "q"})
			if err != nil {
				t.Fatal(err)
			}
			visible := func(when string, want int64) {
				t.Helper()
				s, err := tq.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Main.Visible; got != want {
					t.Errorf("%s: %d events counted (%+v), want %d", when, got, s, want)
				}
			}
			visible("after the migration", 2)
			if err := tq.Send(ctx, []byte(group)); err != nil {
				t.Fatal(err)
			}
			visible("a group of two sent", 4)
			if _, err := db.ExecContext(ctx, `DELETE FROM queue_messages WHERE id IN ('m0', 'm1')`); err != nil {
				t.Fatal(err)
			}
			visible("the old messages gone", 2)
		})
	}
}
