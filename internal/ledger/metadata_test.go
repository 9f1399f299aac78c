package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/event/eventtest"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestMetadata sets metadata on each object the ledger makes, reads it back
// through every read, amends it as staff (audited, with its event), and
// filters lists by it, with one key and with two.
func TestMetadata(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		gold := bank.Metadata{"tier": "gold", "crm.id": "c-1"}
		acct, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking, Metadata: gold})
		if err != nil {
			t.Fatal(err)
		}
		other, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeSavings,
			Metadata: bank.Metadata{"tier": "gold"}})
		if err != nil {
			t.Fatal(err)
		}
		plain := open(t, l, alice, "EUR", 0)
		if got, err := l.Account(ctx, alice, acct.ID); err != nil || !cmp.Equal(got.Metadata, gold) {
			t.Errorf("account metadata %v (%v), want %v", got.Metadata, err, gold)
		}
		if got, err := l.Account(ctx, alice, plain); err != nil || got.Metadata != nil {
			t.Errorf("account without metadata reads %v (%v), want none", got.Metadata, err)
		}

		dep, err := l.Deposit(ctx, operator, idem("dep"), ledger.CashInput{AccountID: acct.ID, Money: eur(1000),
			Metadata: bank.Metadata{"source": "branch-7"}})
		if err != nil {
			t.Fatal(err)
		}
		order := bank.Metadata{"order": "A-1", "channel": "web"}
		tr, err := l.Transfer(ctx, alice, idem("tr"), ledger.TransferInput{From: acct.ID, To: other.ID, Money: eur(10), Metadata: order})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Transfer(ctx, alice, idem("tr2"), ledger.TransferInput{From: acct.ID, To: other.ID, Money: eur(20),
			Metadata: bank.Metadata{"order": "A-1", "channel": "app"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Transfer(ctx, alice, idem("tr3"), ledger.TransferInput{From: acct.ID, To: other.ID, Money: eur(30)}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(tr.JSON(), []byte(`"metadata":{"channel":"web","order":"A-1"}`)) {
			t.Errorf("transfer answer %s lacks its metadata", tr.JSON())
		}
		got, err := l.Transaction(ctx, alice, tr.Transaction.ID)
		if err != nil || !cmp.Equal(got.Metadata, order) {
			t.Errorf("transaction metadata %v (%v), want %v", got.Metadata, err, order)
		}
		if got, _ := l.Transaction(ctx, operator, dep.Transaction.ID); got.Metadata["source"] != "branch-7" {
			t.Errorf("deposit metadata %v, want source branch-7", got.Metadata)
		}

		hold, err := l.CreateHold(ctx, alice, idem("hold"), ledger.HoldInput{AccountID: acct.ID, Money: eur(5),
			Metadata: bank.Metadata{"booking": "b-9"}})
		if err != nil {
			t.Fatal(err)
		}
		if h, err := l.Hold(ctx, alice, hold.Hold.ID); err != nil || h.Metadata["booking"] != "b-9" {
			t.Errorf("hold metadata %v (%v), want booking b-9", h.Metadata, err)
		}
		capt, err := l.CaptureHold(ctx, alice, idem("capture"), hold.Hold.ID, other.ID, 0)
		if err != nil || capt.Transaction.Metadata["booking"] != "b-9" {
			t.Fatalf("capture %+v (%v): want the hold's metadata", capt.Transaction, err)
		}

		// Staff amend; a customer may not.
		change := ledger.MetadataChange{Set: bank.Metadata{"tier": "platinum", "note": "vip"}, Unset: []string{"crm.id"}}
		if _, err := l.SetAccountMetadata(ctx, alice, acct.ID, change); bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("customer amending metadata: %v, want forbidden", err)
		}
		a, err := l.SetAccountMetadata(ctx, operator, acct.ID, change)
		if want := (bank.Metadata{"tier": "platinum", "note": "vip"}); err != nil || !cmp.Equal(a.Metadata, want) {
			t.Errorf("amended account metadata %v (%v), want %v", a.Metadata, err, want)
		}
		if a, err := l.Account(ctx, alice, acct.ID); err != nil || a.Metadata["tier"] != "platinum" || a.Balance.Posted != 935 {
			t.Errorf("account after amendment: %+v (%v)", a, err)
		}
		if _, err := l.SetTransactionMetadata(ctx, alice, tr.Transaction.ID, change); bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("customer amending a transaction's metadata: %v, want forbidden", err)
		}
		tx, err := l.SetTransactionMetadata(ctx, operator, tr.Transaction.ID, ledger.MetadataChange{Set: bank.Metadata{"checked": "yes"}})
		if err != nil || tx.Metadata["checked"] != "yes" || tx.Metadata["order"] != "A-1" || len(tx.Postings) != 2 {
			t.Errorf("amended transaction %+v (%v)", tx, err)
		}
		if _, err := l.SetTransactionMetadata(ctx, operator, "no-such-tx", change); bank.ErrorKind(err) != bank.KindNotFound {
			t.Errorf("amending a missing transaction: %v, want not found", err)
		}
		var actions []string
		for _, r := range auditRows(t, db) {
			if strings.HasSuffix(r.action, ".metadata_changed") {
				actions = append(actions, r.action+" "+r.target+" "+r.details)
			}
		}
		want := []string{
			ledger.AuditAccountMetadata + " " + acct.ID + ` {"set":"{\"note\":\"vip\",\"tier\":\"platinum\"}","unset":"[\"crm.id\"]"}`,
			ledger.AuditTransactionMetadata + " " + tr.Transaction.ID + ` {"set":"{\"checked\":\"yes\"}"}`,
		}
		if diff := cmp.Diff(actions, want); diff != "" {
			t.Errorf("audit records of metadata changes (-got +want):\n%s", diff)
		}
		evs := eventtest.Written(t, db, eventtest.OfType(event.AccountMetadataChanged))
		if len(evs) != 1 || evs[0].(*event.MetadataChanged).ObjectID != acct.ID || evs[0].(*event.MetadataChanged).Metadata["tier"] != "platinum" {
			t.Errorf("account.metadata_changed events %+v, want one for %s", evs, acct.ID)
		}
		if evs := eventtest.Written(t, db, eventtest.OfType(event.TransactionMetadataChanged)); len(evs) != 1 {
			t.Errorf("transaction.metadata_changed events %+v, want one", evs)
		}

		// Filters: each pair must hold.
		accounts := func(f bank.Metadata) []string {
			t.Helper()
			as, _, err := l.Accounts(ctx, alice, ledger.AccountFilter{Metadata: f, Page: ledger.Page{Limit: 50}})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range as {
				ids = append(ids, a.ID)
			}
			return ids
		}
		if got := accounts(bank.Metadata{"tier": "gold"}); !cmp.Equal(got, []string{other.ID}) {
			t.Errorf("accounts with tier gold: %v, want %v", got, []string{other.ID})
		}
		if got := accounts(bank.Metadata{"tier": "platinum", "note": "vip"}); !cmp.Equal(got, []string{acct.ID}) {
			t.Errorf("accounts with two keys: %v, want %v", got, []string{acct.ID})
		}
		if got := accounts(bank.Metadata{"tier": "platinum", "note": "other"}); got != nil {
			t.Errorf("accounts with a pair nobody has: %v, want none", got)
		}
		history := func(f bank.Metadata) int {
			t.Helper()
			txs, _, err := l.History(ctx, alice, acct.ID, ledger.HistoryFilter{Metadata: f, Page: ledger.Page{Limit: 50}})
			if err != nil {
				t.Fatal(err)
			}
			return len(txs)
		}
		for _, c := range []struct {
			f    bank.Metadata
			want int
		}{
			{nil, 5}, // deposit, three transfers, the capture
			{bank.Metadata{"order": "A-1"}, 2},
			{bank.Metadata{"order": "A-1", "channel": "web"}, 1},
			{bank.Metadata{"order": "A-1", "checked": "yes"}, 1}, // amended metadata is searched
			{bank.Metadata{"booking": "b-9"}, 1},
			{bank.Metadata{"order": "A-2"}, 0},
		} {
			if got := history(c.f); got != c.want {
				t.Errorf("history filtered by %v: %d transactions, want %d", c.f, got, c.want)
			}
		}
	})
}

// TestMetadataRefused sends metadata that breaks the rules, on every way in,
// and expects KindInvalid on both databases: never a failed statement.
func TestMetadataRefused(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 1000)
		b := open(t, l, alice, "EUR", 0)
		many := bank.Metadata{}
		for i := range 51 {
			many["k"+itoa(int64(i))] = "v"
		}
		fifty := bank.Metadata{}
		for i := range 50 {
			fifty["k"+itoa(int64(i))] = "v"
		}
		bad := map[string]bank.Metadata{
			"51 keys":          many,
			"41-char key":      {strings.Repeat("k", 41): "v"},
			"empty key":        {"": "v"},
			"upper-case key":   {"Tier": "gold"},
			"space in key":     {"a b": "v"},
			"NUL in key":       {"a\x00": "v"},
			"501-char value":   {"k": strings.Repeat("é", 501)},
			"NUL value":        {"k": "a\x00b"},
			"invalid UTF-8":    {"k": "\xff\xfe"},
			"control value":    {"k": "line\nbreak"},
			"C1 control value": {"k": "a\u0085b"},
		}
		for name, md := range bad {
			_, err := l.Transfer(ctx, alice, idem("t-"+name), ledger.TransferInput{From: a, To: b, Money: eur(1), Metadata: md})
			if bank.ErrorKind(err) != bank.KindInvalid {
				t.Errorf("transfer with %s: %v, want invalid", name, err)
			}
			if _, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking, Metadata: md}); bank.ErrorKind(err) != bank.KindInvalid {
				t.Errorf("account with %s: %v, want invalid", name, err)
			}
			if _, err := l.SetAccountMetadata(ctx, operator, a, ledger.MetadataChange{Set: md}); bank.ErrorKind(err) != bank.KindInvalid {
				t.Errorf("amendment with %s: %v, want invalid", name, err)
			}
			if _, _, err := l.Accounts(ctx, operator, ledger.AccountFilter{Metadata: md}); bank.ErrorKind(err) != bank.KindInvalid {
				t.Errorf("filter with %s: %v, want invalid", name, err)
			}
		}
		// At the bounds: accepted.
		ok := bank.Metadata{strings.Repeat("k", 40): strings.Repeat("é", 500)}
		if _, err := l.Transfer(ctx, alice, idem("bounds"), ledger.TransferInput{From: a, To: b, Money: eur(1), Metadata: ok}); err != nil {
			t.Errorf("transfer with a 40-char key and a 500-char value: %v", err)
		}
		if _, err := l.SetAccountMetadata(ctx, operator, a, ledger.MetadataChange{Set: fifty}); err != nil {
			t.Fatalf("50 keys: %v", err)
		}
		// The result of an amendment must keep the rules too.
		if _, err := l.SetAccountMetadata(ctx, operator, a, ledger.MetadataChange{Set: bank.Metadata{"one.more": "v"}}); bank.ErrorKind(err) != bank.KindInvalid {
			t.Errorf("a 51st key by amendment: %v, want invalid", err)
		}
		if _, err := l.SetAccountMetadata(ctx, operator, a, ledger.MetadataChange{Set: bank.Metadata{"k1": "x"}, Unset: []string{"k1"}}); bank.ErrorKind(err) != bank.KindInvalid {
			t.Errorf("a key both set and unset: %v, want invalid", err)
		}
		if _, err := l.SetAccountMetadata(ctx, operator, a, ledger.MetadataChange{Unset: []string{"BAD"}}); bank.ErrorKind(err) != bank.KindInvalid {
			t.Errorf("unsetting a malformed key: %v, want invalid", err)
		}
	})
}

// TestMetadataReplays replays, byte for byte, the answers of requests with
// and without metadata after staff amended the transactions' metadata:
// through a ledger that keeps answers whole and one that keeps them as the
// transaction's id, which would otherwise rebuild the amended metadata.
func TestMetadataReplays(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cfg := ledger.DefaultConfig()
		cfg.CompactKeys = true
		compact := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, cfg)
		t.Cleanup(compact.Close)
		full := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, full, alice, "EUR", 10_000)
		b := open(t, full, alice, "EUR", 0)
		for _, c := range []struct {
			name string
			l    *ledger.Ledger
			md   bank.Metadata
		}{
			{"compact, none", compact, nil},
			{"compact, some", compact, bank.Metadata{"order": "<A&1>"}},
			{"full, none", full, nil},
			{"full, some", full, bank.Metadata{"order": "B-2"}},
		} {
			in := ledger.TransferInput{From: a, To: b, Money: eur(3), Metadata: c.md}
			first, err := c.l.Transfer(ctx, alice, idem(c.name), in)
			if err != nil {
				t.Fatal(err)
			}
			id := first.Transaction.ID
			if _, err := full.SetTransactionMetadata(ctx, operator, id, ledger.MetadataChange{
				Set: bank.Metadata{"added": "later"}, Unset: []string{"order"}}); err != nil {
				t.Fatal(err)
			}
			for _, l := range []*ledger.Ledger{compact, full} {
				again, err := l.Transfer(ctx, alice, idem(c.name), in)
				if err != nil || !again.Replayed || !bytes.Equal(again.JSON(), first.JSON()) {
					t.Errorf("%s: replay %s (%v, replayed %v), want %s", c.name, again.JSON(), err, again.Replayed, first.JSON())
				}
				var typed ledger.Transaction
				if err := json.Unmarshal(first.JSON(), &typed); err != nil || !cmp.Equal(again.Transaction.Metadata, typed.Metadata) {
					t.Errorf("%s: replay's typed metadata %v, want %v", c.name, again.Transaction.Metadata, typed.Metadata)
				}
			}
		}
	})
}
