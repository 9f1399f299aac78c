package recon_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/recon"
)

// FuzzParse: any statement is refused as invalid input naming what is wrong,
// or read into lines numbered from 1, each in a known currency, on a real
// day, with references of valid text and an amount within the bank's bounds.
func FuzzParse(f *testing.F) {
	f.Add("camt053", camt053([]stmtLine{{"tx-1", 12_345, "2026-01-02"}, {"tx-2", -500, "2026-01-03"}}), "", "", "", "", "")
	f.Add("camt053", strings.Replace(camt053([]stmtLine{{"tx-1", 1, "2026-01-02"}}), "0.01", "1e3", 1), "", "", "", "", "")
	f.Add("camt053", "<Document><BkToCstmrStmt><Stmt><Ntry><Amt Ccy=\"XXX\">-0.5</Amt></Ntry></Stmt></BkToCstmrStmt></Document>", "", "", "", "", "")
	f.Add("csv", "date,amount,reference\n2026-01-02,-1.5,x\n", "date", "amount", "reference", "", "")
	f.Add("csv", "\ufeffBooked,Value,Ref,Dir\n02.01.2026,123.45,\"tx,1\",C\n03.01.2026,5,tx-2,DBIT\n", "Booked", "Value", "Ref", "Dir", "02.01.2006")
	f.Add("csv", "date,amount,reference\n2026-02-30,99999999999999999999,x\n", "date", "amount", "reference", "", "")
	f.Add("csv", "d,a,r\n\"unterminated", "d", "a", "r", "", "")
	f.Add("csv", "d,a,r\n2026-01-02,1.5\x00,r\n", "d", "a", "r", "", "")
	f.Fuzz(func(t *testing.T, format, content, date, amount, reference, direction, layout string) {
		var cols *recon.CSVColumns
		if format == recon.FormatCSV {
			cols = &recon.CSVColumns{Date: date, Amount: amount, Reference: reference, Direction: direction, DateFormat: layout}
		}
		lines, err := recon.Parse(format, content, cols, "EUR")
		if err != nil {
			var e *bank.Error
			if !errors.As(err, &e) || e.Kind != bank.KindInvalid || len(e.Details) == 0 {
				t.Fatalf("Parse: %#v, want a KindInvalid *bank.Error naming what is wrong", err)
			}
			return
		}
		for i, ln := range lines {
			_, cerr := bank.ParseCurrency(string(ln.Currency))
			if _, derr := time.Parse(time.DateOnly, ln.BookingDate); ln.Line != i+1 || cerr != nil || derr != nil ||
				ln.Amount == 0 || ln.Amount > bank.MaxAmount || ln.Amount < -bank.MaxAmount {
				t.Fatalf("line %d read as %+v", i+1, ln)
			}
			for _, ref := range ln.References {
				if ref == "" || !bank.ValidText(ref) {
					t.Fatalf("line %d: the reference %q", i+1, ref)
				}
			}
		}
	})
}

// FuzzCAMT053: a CAMT.053 statement as a bank writes it reads back as the
// lines it holds.
func FuzzCAMT053(f *testing.F) {
	f.Add("tx-1", int64(12_345), 20_455, "", int64(-500), 20_456)
	f.Add("0123456789012345678901234567890123456789", int64(1), 0, "x", int64(bank.MaxAmount), 2_932_896)
	f.Fuzz(func(t *testing.T, ref1 string, amount1 int64, day1 int, ref2 string, amount2 int64, day2 int) {
		var in []stmtLine
		var want []recon.Line
		for i, ln := range []struct {
			ref    string
			amount int64
			day    int
		}{{ref1, amount1, day1}, {ref2, amount2, day2}} {
			date := time.Unix(int64(ln.day)*86400, 0).UTC()
			if ln.amount == 0 || ln.amount > bank.MaxAmount || ln.amount < -bank.MaxAmount || date.Year() < 1 || date.Year() > 9999 ||
				len(ln.ref) > 140 || strings.Trim(ln.ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
				return
			}
			in = append(in, stmtLine{ln.ref, ln.amount, date.Format(time.DateOnly)})
			w := recon.Line{Line: i + 1, Amount: ln.amount, Currency: "EUR", BookingDate: date.Format(time.DateOnly)}
			if ln.ref != "" {
				w.References = []string{ln.ref}
			}
			want = append(want, w)
		}
		got, err := recon.Parse(recon.FormatCAMT053, camt053(in), nil, "EUR")
		if err != nil {
			t.Fatalf("Parse of %+v: %v", in, err)
		}
		if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(recon.Line{})); diff != "" {
			t.Fatalf("lines of %+v (-got +want):\n%s", in, diff)
		}
	})
}
