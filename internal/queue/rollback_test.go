package queue_test

import (
	"context"
	"database/sql"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// rollbackSQL returns the statements docs/operations.md gives to split the
// groups before a rollback, for each dialect: the two SQL blocks after the
// paragraph that begins with "Rolling back: roll back the services that
// write events first".
func rollbackSQL(t *testing.T) map[store.Dialect][]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "Rolling back: roll back the services that write events first")
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(after, 2)
	if !ok || len(blocks) < 2 {
		t.Fatal("docs/operations.md: no rollback statements for groups")
	}
	out := map[store.Dialect][]string{}
	for i, d := range []store.Dialect{store.Postgres, store.SQLite} {
		for _, stmt := range strings.Split(blocks[i][1], ";\n") {
			if stmt = strings.TrimSpace(stmt); stmt != "" {
				out[d] = append(out[d], stmt)
			}
		}
	}
	return out
}

// TestRollbackSplitsGroups: the statements docs/operations.md gives for a
// rollback leave a message per event, each an event alone as an earlier
// release reads it, in order, in its queue, hostile text included; the
// events alone stay as they were.
func TestRollbackSplitsGroups(t *testing.T) {
	t.Parallel()
	stmts := rollbackSQL(t)
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var want []string
		write := func(texts ...string) {
			var recs []event.Record
			for _, text := range texts {
				p := &event.Locked{Header: event.NewHeader(event.UserLocked, time.Now()), UserID: "u", Email: text, LockedBy: "op"}
				r, err := event.Encode(p)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
				want = append(want, p.EventID)
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Write(ctx, tx, recs...) }); err != nil {
				t.Fatal(err)
			}
		}
		write("a@x.test", "caf\u00e9 \u2028 \"[{}]\" \\ <b>", "c@x.test")
		write("alone@x.test")
		write("d@x.test", "e@x.test")
		if n := storetest.Column[int](t, db, `SELECT count(*) FROM queue_messages`); n[0] != 3 {
			t.Fatalf("%d messages before, want 3 (two groups and an event alone)", n[0])
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, s := range stmts[db.Dialect] {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		var got []string
		for _, body := range storetest.Column[[]byte](t, db, `SELECT body FROM queue_messages WHERE queue = 'notifications' ORDER BY seq`) {
			p, err := event.Decode(body) // as an earlier release reads it
			if err != nil {
				t.Fatalf("after the split, %s: %v", body, err)
			}
			got = append(got, p.Head().EventID)
			if l := p.(*event.Locked); l.Email == "" {
				t.Errorf("%s lost its fields", body)
			}
		}
		// The event alone first: the split events go to the end.
		if wantOrder := append([]string{want[3]}, append(want[:3:3], want[4:]...)...); !slices.Equal(got, wantOrder) {
			t.Errorf("events after the split %v, want %v", got, wantOrder)
		}
		var hostile int
		for _, body := range storetest.Column[[]byte](t, db, `SELECT body FROM queue_messages`) {
			if p, _ := event.Decode(body); p.(*event.Locked).Email == "caf\u00e9 \u2028 \"[{}]\" \\ <b>" {
				hostile++
			}
		}
		if hostile != 1 {
			t.Errorf("the event with hostile text is there %d times after the split, want once, as written", hostile)
		}
	})
}
