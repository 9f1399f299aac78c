package payment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/payment/nacha"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestACHRail: the rail writes a NACHA file that parses and validates with
// the right entries and totals; a return file turns the right payments into
// returned, with the money back.
func TestACHRail(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		dir := t.TempDir()
		rail, err := NewACHRail(db, ACHConfig{OutDir: filepath.Join(dir, "out"), ReturnDir: filepath.Join(dir, "returns"),
			Origin: "121000358", CompanyName: "Fintech Bank", CompanyID: "1234567890"}, e.clock.now)
		if err != nil {
			t.Fatal(err)
		}
		e.svc = e.service(rail)
		e.acct = e.account(e.alice, "USD", 100_000)
		amounts := []int64{1_000, 2_500, 40}
		var ids []string
		for i, a := range amounts {
			in := e.order(a)
			in.Money.Currency = "USD"
			in.Beneficiary = Beneficiary{Name: fmt.Sprint("Payee ", i), AccountNumber: fmt.Sprint(1000 + i), RoutingNumber: "011000015"}
			ids = append(ids, e.create(fmt.Sprint("ach", i), in).ID)
		}
		eur := e.create("eur", CreateInput{FromAccountID: e.newEUR(), Money: bank.Money{Amount: 5, Currency: "EUR"}, Beneficiary: iban})
		if _, err := e.svc.SubmitOnce(ctx); err != nil {
			t.Fatal(err)
		}
		files, err := rail.Files()
		if err != nil || len(files) != 1 {
			t.Fatalf("files %v (%v), want one", files, err)
		}
		b, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		f, err := nacha.Parse(b)
		if err != nil {
			t.Fatalf("the rail's file does not validate: %v\n%s", err, b)
		}
		var total int64
		var traces []string
		for _, en := range f.Batches[0].Entries {
			total += en.Amount
			traces = append(traces, en.TraceNumber)
		}
		if len(f.Batches) != 1 || len(traces) != 3 || total != 3_540 {
			t.Errorf("file: %d batches, %d entries, %d in total; want 1, 3, 3540", len(f.Batches), len(traces), total)
		}
		if got := e.get(eur.ID); got.Status != StatusFailed {
			t.Errorf("an EUR payment on ACH: %s, want failed", got.Status)
		}
		// A file lost before it reached the disk (a crash after the commit)
		// is written again from the database, and only once.
		if err := os.Remove(files[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE payment_ach_files SET written = FALSE`); err != nil {
			t.Fatal(err)
		}
		if _, err := rail.Poll(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if again, err := os.ReadFile(files[0]); err != nil || string(again) != string(b) {
			t.Errorf("the lost file was not written again as it was: %v", err)
		}
		// A second submission sends nothing again.
		if _, err := rail.Submit(ctx, []Instruction{{PaymentID: ids[0], Amount: 1_000, Currency: "USD",
			Beneficiary: Beneficiary{Name: "x", AccountNumber: "1000", RoutingNumber: "011000015"}}}); err != nil {
			t.Fatal(err)
		}
		if files, _ := rail.Files(); len(files) != 1 {
			t.Errorf("a repeated submission wrote a file: %v", files)
		}
		e.run()
		for _, id := range ids {
			if got := e.get(id).Status; got != StatusSettled {
				t.Fatalf("%s: %s, want settled", id, got)
			}
		}
		// The receiving bank returns the second entry: R01.
		ret := &nacha.File{Destination: "121000358", Origin: "011000015", Created: e.clock.now(), IDModifier: 'A',
			Batches: []nacha.Batch{{ServiceClass: 220, CompanyName: "Fintech Bank", CompanyID: "1234567890", SEC: "PPD",
				EntryDescription: "RETURN", EffectiveDate: e.clock.now(), ODFI: "01100001", Number: 1,
				Entries: []nacha.Entry{{TransactionCode: nacha.CheckingReturnCredit, RDFI: "121000358", Account: "1001",
					Amount: 2_500, Name: "Payee 1", TraceNumber: "011000010000001",
					Return: &nacha.Return{Code: "R01", OriginalTrace: traces[1], OriginalRDFI: "01100001"}}}}}}
		rb, err := nacha.Write(ret)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "returns", "ret1.ach"), rb, 0o600); err != nil {
			t.Fatal(err)
		}
		e.run()
		var got []string
		for _, id := range ids {
			p := e.get(id)
			got = append(got, p.Status+" "+p.FailureReason)
		}
		if diff := cmp.Diff(got, []string{"settled ", "returned R01: insufficient funds", "settled "}); diff != "" {
			t.Errorf("after the return file (-got +want):\n%s", diff)
		}
		if bal := e.balance(e.acct); bal.Posted != 100_000-1_040 || bal.Pending != 0 {
			t.Errorf("balance %+v, want 1040 paid and 2500 back", bal)
		}
		if _, err := os.Stat(filepath.Join(dir, "returns", "processed", "ret1.ach")); err != nil {
			t.Errorf("the return file was not moved to processed/: %v", err)
		}
		e.clock.add(time.Minute)
		e.run()
		if p := e.get(ids[1]); p.Status != StatusReturned {
			t.Errorf("again: %s", p.Status)
		}
		e.verify()
	})
}

// newEUR opens and funds another EUR account of alice's.
func (e *env) newEUR() string { return e.account(e.alice, "EUR", 1_000) }
