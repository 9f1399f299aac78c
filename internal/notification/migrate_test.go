package notification

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestMigrationOneDeliveryIndex upgrades, through migration 0025, a database
// holding deliveries an earlier release recorded: they stay, under one
// unique index over (user, event, channel), which still refuses a second
// delivery, still serves the earlier release's ON CONFLICT and lists a
// user's deliveries newest event first.
func TestMigrationOneDeliveryIndex(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.MigratedTo(t, d, 24)
			at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			insert := `INSERT INTO notifications (id, event_id, event_type, user_id, channel, status, subject, attempts, created_at, updated_at)
				VALUES ($1, $2, 'transaction.posted', $3, $4, 'logged', $5, 1, $6, $6)`
			for i, r := range [][4]string{{"n1", "e1", "u1", "email"}, {"n2", "e1", "u2", "email"}, {"n3", "e2", "u1", "sms"}, {"n4", "e2", "u1", "email"}} {
				if _, err := db.ExecContext(ctx, insert, r[0], r[1], r[2], r[3], "subject "+r[0], at.Add(time.Duration(i)*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}

			want := "CREATE UNIQUE INDEX notifications_user_event ON public.notifications USING btree (user_id, event_id, channel)"
			if d == store.SQLite {
				want = "CREATE UNIQUE INDEX notifications_user_event ON notifications (user_id, event_id, channel)"
			}
			indexes := storetest.Indexes(t, db, "notifications")
			if strings.Join(indexes, "\n") != want {
				t.Errorf("indexes of notifications after the migration:\n%s\nwant only\n%s", strings.Join(indexes, "\n"), want)
			}

			if _, err := db.ExecContext(ctx, insert, "n5", "e1", "u1", "email", "again", at); !store.IsUniqueViolation(err) {
				t.Errorf("a second delivery of one event to one user on one channel: %v, want a unique violation", err)
			}
			// The earlier release's conflict target names the same columns
			// in another order: during a rolling upgrade it still works.
			res, err := db.ExecContext(ctx, insert+` ON CONFLICT (event_id, user_id, channel) DO NOTHING`, "n6", "e1", "u1", "email", "again", at)
			if err != nil {
				t.Fatalf("the earlier release's insert: %v", err)
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("the earlier release's insert of a recorded delivery wrote %d rows", n)
			}

			s, err := New(db, discard(), time.Now, testConfig(""), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for cursor := ""; ; {
				ns, next, err := s.List(ctx, "u1", 1, cursor)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range ns {
					got = append(got, fmt.Sprintf("%s:%s:%s:%s", n.ID, n.EventID, n.Channel, n.Subject))
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if want := "n3:e2:sms:subject n3 n4:e2:email:subject n4 n1:e1:email:subject n1"; strings.Join(got, " ") != want {
				t.Errorf("u1's deliveries after the migration, a page of one at a time: %s, want %s", strings.Join(got, " "), want)
			}
		})
	}
}
