package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestFindByName: staff find users whose name holds the words given, with
// case folded and LIKE's wildcards taken as themselves, locked users shown
// as locked; customers are refused and bad names are invalid.
func TestFindByName(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, err := NewService(db, newTestKeyring(t, testKey1), testConfig(), time.Now, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		op, err := s.CreateUser(ctx, "op@example.com", "Operator Olga", password, RoleOperator)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for i, n := range []string{"Ann Smith", "Bob Smithers", "Carl Jones", "100% Sure_Thing"} {
			u, err := s.CreateUser(ctx, fmt.Sprintf("user%d@example.com", i), n, password, RoleCustomer)
			if err != nil {
				t.Fatal(err)
			}
			ids[n] = u.ID
		}
		staff := Principal{UserID: op.ID, Role: RoleOperator}
		if _, err := s.Lock(ctx, staff, ids["Bob Smithers"]); err != nil {
			t.Fatal(err)
		}
		names := func(q string) ([]string, []bool) {
			t.Helper()
			us, err := s.FindByName(ctx, staff, q)
			if err != nil {
				t.Fatalf("FindByName(%q): %v", q, err)
			}
			var n []string
			var locked []bool
			for _, u := range us {
				n, locked = append(n, u.Name), append(locked, u.Locked)
			}
			return n, locked
		}
		if got, locked := names(" SMITH "); !slices.Equal(got, []string{"Ann Smith", "Bob Smithers"}) || !slices.Equal(locked, []bool{false, true}) {
			t.Errorf("smith: %q locked %v", got, locked)
		}
		if got, _ := names("0%"); !slices.Equal(got, []string{"100% Sure_Thing"}) {
			t.Errorf("0%%: %q", got)
		}
		if got, _ := names("e_T"); !slices.Equal(got, []string{"100% Sure_Thing"}) {
			t.Errorf("e_T: %q", got)
		}
		if got, _ := names("nobody"); len(got) != 0 {
			t.Errorf("nobody: %q", got)
		}
		var be *bank.Error
		if _, err := s.FindByName(ctx, Principal{UserID: ids["Ann Smith"], Role: RoleCustomer}, "Smith"); !errors.As(err, &be) || be.Kind != bank.KindForbidden {
			t.Errorf("a customer's search: %v", err)
		}
		for _, bad := range []string{"", " a ", "ab\x00", "\xff\xfe"} {
			if _, err := s.FindByName(ctx, staff, bad); !errors.As(err, &be) || be.Kind != bank.KindInvalid {
				t.Errorf("FindByName(%q): %v, want invalid", bad, err)
			}
		}
	})
}
