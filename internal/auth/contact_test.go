package auth

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestDirectoryLookup creates users through the service and reads their
// contacts back through the Directory: every user asked for that exists,
// with the email and name as auth stored them, and no one else.
func TestDirectoryLookup(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, err := NewService(db, newTestKeyring(t, testKey1), testConfig(), time.Now, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		ann, err := s.CreateUser(ctx, " Ann@Example.com", "Ann Example", password, RoleCustomer)
		if err != nil {
			t.Fatal(err)
		}
		bob, err := s.CreateUser(ctx, "bob@example.com", "Bob", password, RoleOperator)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, "cy@example.com", "Cy", password, RoleCustomer); err != nil {
			t.Fatal(err)
		}
		d := Directory{DB: db}
		got, err := d.Lookup(ctx, []string{ann.ID, "no-such-user", bob.ID})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Contact{
			ann.ID: {Email: "ann@example.com", Name: "Ann Example"},
			bob.ID: {Email: "bob@example.com", Name: "Bob"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Lookup (-want +got):\n%s", diff)
		}
		if got, err := d.Lookup(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("Lookup of no one = %v, %v; want none", got, err)
		}
	})
}
