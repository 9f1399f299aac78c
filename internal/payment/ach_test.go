package payment

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moov-io/ach"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestACHRail: the rail writes a NACHA file that moov-io/ach parses and
// validates with the right entries and totals; a return file turns the
// right payments into returned, with the money back.
func TestACHRail(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		dir := t.TempDir()
		rail, err := NewACHRail(db, ACHConfig{OutDir: filepath.Join(dir, "out"), ReturnDir: filepath.Join(dir, "returns"),
			Origin: "121000358", CompanyName: "Fintech Bank", CompanyID: "1234567890"}, e.clock.Now)
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
		// A name NACHA cannot hold (only zeros) fails its own payment, not
		// the file of the others.
		zero := e.order(7)
		zero.Money.Currency = "USD"
		zero.Beneficiary = Beneficiary{Name: "0", AccountNumber: "2000", RoutingNumber: "011000015"}
		zeroID := e.create("ach-zero", zero).ID
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
		f, err := ach.NewReader(bytes.NewReader(b)).Read()
		if err == nil {
			err = f.Validate()
		}
		if err != nil {
			t.Fatalf("the rail's file does not validate: %v\n%s", err, b)
		}
		if len(f.Batches) != 1 {
			t.Fatalf("%d batches, want 1", len(f.Batches))
		}
		bh := f.Batches[0].GetHeader()
		if bh.ServiceClassCode != ach.CreditsOnly || bh.StandardEntryClassCode != ach.PPD || bh.ODFIIdentification != "12100035" {
			t.Errorf("batch header %d %s %s, want 220 PPD 12100035", bh.ServiceClassCode, bh.StandardEntryClassCode, bh.ODFIIdentification)
		}
		var traces, entries []string
		for _, en := range f.Batches[0].GetEntries() {
			traces = append(traces, en.TraceNumber)
			entries = append(entries, fmt.Sprint(en.TransactionCode, " ", en.RDFIIdentification+en.CheckDigit, " ",
				strings.TrimSpace(en.DFIAccountNumber), " ", en.Amount, " ", strings.TrimSpace(en.IdentificationNumber), " ",
				strings.TrimSpace(en.IndividualName)))
		}
		var want []string
		for i, a := range amounts {
			want = append(want, fmt.Sprint("22 011000015 ", 1000+i, " ", a, " ", lastN(ids[i], 15), " PAYEE ", i))
		}
		if diff := cmp.Diff(entries, want); diff != "" {
			t.Errorf("entries (-got +want):\n%s", diff)
		}
		if got := []string{traces[0][:8], traces[1][:8], traces[2][:8]}; !slices.Equal(got, []string{"12100035", "12100035", "12100035"}) ||
			!(traces[0] < traces[1] && traces[1] < traces[2]) {
			t.Errorf("trace numbers %v, want ascending after the ODFI 12100035", traces)
		}
		fc := f.Control
		if fc.BatchCount != 1 || fc.EntryAddendaCount != 3 || fc.TotalCreditEntryDollarAmountInFile != 3_540 ||
			fc.TotalDebitEntryDollarAmountInFile != 0 || fc.EntryHash != 3*1100001 {
			t.Errorf("file control: %d batches, %d entries, credits %d, debits %d, hash %d; want 1, 3, 3540, 0, 3300003",
				fc.BatchCount, fc.EntryAddendaCount, fc.TotalCreditEntryDollarAmountInFile, fc.TotalDebitEntryDollarAmountInFile, fc.EntryHash)
		}
		if got := e.get(eur.ID); got.Status != StatusFailed {
			t.Errorf("an EUR payment on ACH: %s, want failed", got.Status)
		}
		if got := e.get(zeroID); got.Status != StatusFailed {
			t.Errorf("a payment to the name %q on ACH: %s, want failed", "0", got.Status)
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
		// The receiving bank returns the second entry (R01) and the third (R03).
		rb := returnFile(t, e.clock.Now(), map[string]string{traces[1]: "R01", traces[2]: "R03"}, f.Batches[0].GetEntries())
		if err := os.WriteFile(filepath.Join(dir, "returns", "ret1.ach"), rb, 0o600); err != nil {
			t.Fatal(err)
		}
		e.run()
		var got []string
		for _, id := range ids {
			p := e.get(id)
			got = append(got, p.Status+" "+p.FailureReason)
		}
		want = []string{"settled ", "returned R01: insufficient funds", "returned R03: no account/unable to locate account"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("after the return file (-got +want):\n%s", diff)
		}
		if bal := e.balance(e.acct); bal.Posted != 100_000-1_000 || bal.Pending != 0 {
			t.Errorf("balance %+v, want 1000 paid and 2540 back", bal)
		}
		if _, err := os.Stat(filepath.Join(dir, "returns", "processed", "ret1.ach")); err != nil {
			t.Errorf("the return file was not moved to processed/: %v", err)
		}
		e.clock.Advance(time.Minute)
		e.run()
		if p, q := e.get(ids[1]), e.get(ids[2]); p.Status != StatusReturned || q.Status != StatusReturned {
			t.Errorf("again: %s, %s", p.Status, q.Status)
		}
		e.verify()
	})
}

// returnFile is the file a receiving bank (RDFI 011000015) sends back to
// return the entries among sent whose trace numbers codes names, each with
// its addenda 99, written with moov-io/ach.
func returnFile(t testing.TB, now time.Time, codes map[string]string, sent []*ach.EntryDetail) []byte {
	t.Helper()
	bh := ach.NewBatchHeader()
	bh.ServiceClassCode = ach.CreditsOnly
	bh.CompanyName = "FINTECH BANK"
	bh.CompanyIdentification = "1234567890"
	bh.StandardEntryClassCode = ach.PPD
	bh.CompanyEntryDescription = "RETURN"
	bh.EffectiveEntryDate = now.Format("060102")
	bh.ODFIIdentification = "01100001"
	batch := ach.NewBatchPPD(bh)
	seq := 0
	for _, s := range sent {
		code, ok := codes[s.TraceNumber]
		if !ok {
			continue
		}
		seq++
		en := ach.NewEntryDetail()
		en.TransactionCode = ach.CheckingReturnNOCCredit
		en.SetRDFI("121000358")
		en.DFIAccountNumber = s.DFIAccountNumber
		en.Amount = s.Amount
		en.IdentificationNumber = s.IdentificationNumber
		en.IndividualName = s.IndividualName
		en.SetTraceNumber(bh.ODFIIdentification, seq)
		en.Category = ach.CategoryReturn
		en.AddendaRecordIndicator = 1
		en.Addenda99 = ach.NewAddenda99()
		en.Addenda99.ReturnCode = code
		en.Addenda99.OriginalTrace = s.TraceNumber
		en.Addenda99.OriginalDFI = s.RDFIIdentification
		en.Addenda99.TraceNumber = en.TraceNumber
		batch.AddEntry(en)
	}
	if err := batch.Create(); err != nil {
		t.Fatal(err)
	}
	f := ach.NewFile()
	f.Header = ach.NewFileHeader()
	f.Header.ImmediateDestination = "121000358"
	f.Header.ImmediateOrigin = "011000015"
	f.Header.ImmediateDestinationName = "FINTECH BANK"
	f.Header.ImmediateOriginName = "RECEIVING BANK"
	f.Header.FileCreationDate = now.Format("060102")
	f.Header.FileCreationTime = now.Format("1504")
	f.AddBatch(batch)
	if err := f.Create(); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ach.NewWriter(&b).Write(f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// newEUR opens and funds another EUR account of alice's.
func (e *env) newEUR() string { return e.account(e.alice, "EUR", 1_000) }
