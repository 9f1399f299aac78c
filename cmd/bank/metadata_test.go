package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/client"
)

// TestMetadataThroughServeAll sets metadata on each of the four objects
// through the API, reads it back, amends it as staff (a customer may not),
// finds the audit records, and filters both lists with one key and two.
// TestBadInput sends the metadata that must be refused.
func TestMetadataThroughServeAll(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			alice, _ := b.customer("alice")
			op := b.staff["operator"]
			var gold, plain client.Account
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/accounts", "", map[string]any{"currency": "EUR", "type": "checking",
				"metadata": client.Metadata{"tier": "gold", "crm.id": "c-1"}}, &gold); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/accounts", "", map[string]any{"currency": "EUR", "type": "savings",
				"metadata": client.Metadata{"tier": "gold"}}, &plain); err != nil {
				t.Fatal(err)
			}
			if got, err := alice.Account(ctx, gold.ID); err != nil || !cmp.Equal(got.Metadata, client.Metadata{"tier": "gold", "crm.id": "c-1"}) {
				t.Errorf("account metadata %v (%v)", got.Metadata, err)
			}
			var dep client.Transaction
			if _, err := op.Do(ctx, http.MethodPost, "/api/v1/deposits", "dep", map[string]any{"account_id": gold.ID, "amount": 1000,
				"currency": "EUR", "metadata": client.Metadata{"source": "branch"}}, &dep); err != nil || dep.Metadata["source"] != "branch" {
				t.Fatalf("deposit %+v: %v", dep, err)
			}
			order := client.Metadata{"order": "A-1", "channel": "web"}
			tr, err := alice.Transfer(ctx, "tr", client.Transfer{FromAccountID: gold.ID, ToAccountID: plain.ID, Amount: 5, Currency: "EUR", Metadata: order})
			if err != nil || !cmp.Equal(tr.Metadata, order) {
				t.Fatalf("transfer %+v: %v", tr, err)
			}
			res, err := alice.Do(ctx, http.MethodPost, "/api/v1/transfers", "tr", client.Transfer{FromAccountID: gold.ID, ToAccountID: plain.ID,
				Amount: 5, Currency: "EUR", Metadata: client.Metadata{"channel": "web", "order": "A-1"}}, nil)
			if err != nil || !res.Replayed() || !strings.Contains(string(res.Body), `"metadata":{"channel":"web","order":"A-1"}`) {
				t.Errorf("replay %s: %v", res.Body, err)
			}
			if _, err := alice.Transfer(ctx, "tr2", client.Transfer{FromAccountID: gold.ID, ToAccountID: plain.ID, Amount: 7, Currency: "EUR",
				Metadata: client.Metadata{"order": "A-1", "channel": "app"}}); err != nil {
				t.Fatal(err)
			}
			var h client.Hold
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/holds", "hold", map[string]any{"account_id": gold.ID, "amount": 3,
				"currency": "EUR", "metadata": client.Metadata{"booking": "b-9"}}, &h); err != nil {
				t.Fatal(err)
			}
			if got, err := alice.Hold(ctx, h.ID); err != nil || got.Metadata["booking"] != "b-9" {
				t.Errorf("hold metadata %v (%v)", got.Metadata, err)
			}
			var pay struct {
				ID       string          `json:"id"`
				Metadata client.Metadata `json:"metadata"`
			}
			order7 := paymentOrder(gold.ID, 10)
			order7["metadata"] = client.Metadata{"invoice": "7"}
			if _, err := alice.Do(ctx, http.MethodPost, "/api/v1/payments", "pay", order7, &pay); err != nil || pay.Metadata["invoice"] != "7" {
				t.Fatalf("payment %+v: %v", pay, err)
			}
			if _, err := alice.Do(ctx, http.MethodGet, "/api/v1/payments/"+pay.ID, "", nil, &pay); err != nil || pay.Metadata["invoice"] != "7" {
				t.Errorf("payment read back %+v: %v", pay, err)
			}

			// Staff amend; a customer is refused.
			change := client.MetadataChange{Set: client.Metadata{"tier": "platinum"}, Unset: []string{"crm.id"}}
			if _, err := alice.SetAccountMetadata(ctx, gold.ID, change); status(t, err) != http.StatusForbidden {
				t.Errorf("customer amending an account's metadata: %v, want 403", err)
			}
			if _, err := alice.SetTransactionMetadata(ctx, tr.ID, change); status(t, err) != http.StatusForbidden {
				t.Errorf("customer amending a transaction's metadata: %v, want 403", err)
			}
			a, err := op.SetAccountMetadata(ctx, gold.ID, change)
			if err != nil || !cmp.Equal(a.Metadata, client.Metadata{"tier": "platinum"}) {
				t.Errorf("amended account %+v: %v", a.Metadata, err)
			}
			tx, err := op.SetTransactionMetadata(ctx, tr.ID, client.MetadataChange{Set: client.Metadata{"checked": "yes"}})
			if err != nil || tx.Metadata["checked"] != "yes" || tx.Metadata["order"] != "A-1" {
				t.Errorf("amended transaction %+v: %v", tx.Metadata, err)
			}
			var trail struct {
				Data []struct {
					Action   string `json:"action"`
					TargetID string `json:"target_id"`
				} `json:"data"`
			}
			if _, err := b.staff["admin"].Do(ctx, http.MethodGet, "/api/v1/audit?action=account.metadata_changed", "", nil, &trail); err != nil ||
				len(trail.Data) != 1 || trail.Data[0].TargetID != gold.ID {
				t.Errorf("audit trail of account metadata changes %+v: %v", trail, err)
			}

			// Filters: every pair must hold.
			ids := func(l *client.List[client.Account], err error) []string {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, a := range l.Data {
					out = append(out, a.ID)
				}
				return out
			}
			if got := ids(alice.Accounts(ctx, client.Metadata{"tier": "gold"}, "")); !cmp.Equal(got, []string{plain.ID}) {
				t.Errorf("accounts with tier gold: %v, want %v", got, []string{plain.ID})
			}
			if got := ids(op.Accounts(ctx, client.Metadata{"tier": "platinum", "crm.id": "c-1"}, "")); got != nil {
				t.Errorf("accounts with an unset key: %v, want none", got)
			}
			for _, c := range []struct {
				f    client.Metadata
				want int
			}{{client.Metadata{"order": "A-1"}, 2}, {client.Metadata{"order": "A-1", "channel": "app"}, 1},
				{client.Metadata{"order": "A-1", "checked": "yes"}, 1}, {client.Metadata{"order": "B"}, 0}} {
				l, err := alice.History(ctx, gold.ID, c.f, "")
				if err != nil || len(l.Data) != c.want {
					body, _ := json.Marshal(l)
					t.Errorf("history filtered by %v: %s (%v), want %d transactions", c.f, body, err, c.want)
				}
			}
			b.verify()
		})
	}
}
