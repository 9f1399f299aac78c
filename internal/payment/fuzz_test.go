package payment

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/ach"

	"github.com/fintech-banking/bank/internal/bank"
)

// The fuzz targets of the payment decoders: beneficiaries (IBAN, ABA
// routing and US account numbers), the NACHA files the ACH rail writes and
// the return files it reads. .ci/run runs each with -fuzz for a few seconds.

// ibanOK is the IBAN rule computed another way, with big integers: a
// known country's length, letters and digits only, and mod 97 == 1.
func ibanOK(s string) bool {
	if len(s) < 5 || len(s) != ibanLengths[s[:2]] || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return false
	}
	var digits strings.Builder
	for _, c := range s[4:] + s[:4] {
		switch {
		case c >= '0' && c <= '9':
			digits.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			digits.WriteString(big.NewInt(int64(c - 'A' + 10)).String())
		default:
			return false
		}
	}
	n, _ := new(big.Int).SetString(digits.String(), 10)
	return new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// FuzzBeneficiary: a beneficiary is refused with invalid input (400) or
// invalid_beneficiary (422), or accepted only when its IBAN, or its routing
// and account numbers, are valid; checking an accepted one again changes
// nothing.
func FuzzBeneficiary(f *testing.F) {
	f.Add("Bob", "DE89 3704 0044 0532 0130 00", "", "")
	f.Add("Bob", "de89370400440532013000", "", "")
	f.Add("Bob", "DE89370400440532013001", "", "")
	f.Add("Bob", "GB82WEST12345698765432", "", "")
	f.Add("Bob", "", "12345678", "011000015")
	f.Add("Bob", "", "12345678", "011000016")
	f.Add("Bob", "", "123", "000000000")
	f.Add("", "", "", "")
	f.Add("\u202eboB", "XX00", "1234\x00", "01100001\xff")
	f.Add("Bob", "DE89370400440532013000", "12345678", "011000015")
	f.Fuzz(func(t *testing.T, name, ibanIn, account, routing string) {
		b := Beneficiary{Name: name, IBAN: ibanIn, AccountNumber: account, RoutingNumber: routing}
		err := b.check()
		if err != nil {
			var e *bank.Error
			if !errors.As(err, &e) || !(e.Kind == bank.KindInvalid || e.Kind == bank.KindRejected && e.Code == "invalid_beneficiary") {
				t.Fatalf("check(%+v): %#v, want invalid input or invalid_beneficiary", b, err)
			}
			if e.Kind == bank.KindRejected && ibanIn != "" && ibanOK(b.IBAN) {
				t.Fatalf("check(%+v) refused a valid IBAN: %v", b, err)
			}
			return
		}
		if !bank.ValidText(name) || strings.TrimSpace(name) == "" {
			t.Fatalf("check accepted the name %q", name)
		}
		if b.IBAN != "" {
			if b.IBAN != strings.ToUpper(strings.ReplaceAll(ibanIn, " ", "")) || !ibanOK(b.IBAN) || b.AccountNumber != "" || b.RoutingNumber != "" {
				t.Fatalf("check accepted %+v from the IBAN %q", b, ibanIn)
			}
		} else {
			sum := 0
			for i, w := range []int{3, 7, 1, 3, 7, 1, 3, 7, 1} {
				sum += w * int(routing[i]-'0')
			}
			if len(routing) != 9 || sum%10 != 0 || routing == "000000000" || len(account) < 4 || len(account) > 17 ||
				strings.Trim(routing+account, "0123456789") != "" {
				t.Fatalf("check accepted the routing number %q and account %q", routing, account)
			}
		}
		again := b
		if err := again.check(); err != nil || again != b {
			t.Fatalf("checking %+v again: %+v, %v", b, again, err)
		}
	})
}

// FuzzACHFile: what the rail writes, moov-io/ach reads back the same: the
// amount, the account, the routing and trace numbers and the name as NACHA
// can hold it. An amount the file's 10-digit field cannot hold is refused,
// never cut.
func FuzzACHFile(f *testing.F) {
	f.Add("Payee 1", "1000", int64(1_000), "01JE5XK9TSTP0000000000000A")
	f.Add("Zoë \u202e Ünïcode", "12345678901234567", int64(9_999_999_999), "x")
	f.Add("a", "0000", int64(10_000_000_000), "01JE5XK9TSTP0000000000000B")
	f.Add("a very long name that NACHA cannot hold whole", "4321", int64(1), "")
	r := &ACHRail{cfg: ACHConfig{Origin: "121000358", CompanyName: "Fintech Bank", CompanyID: "1234567890"}}
	now := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, account string, amount int64, paymentID string) {
		b := Beneficiary{Name: name, AccountNumber: account, RoutingNumber: "011000015"}
		if b.check() != nil || amount <= 0 || amount > bank.MaxAmount || bank.CheckID("payment_id", paymentID) != nil {
			return // the service never hands the rail such a payment
		}
		in := Instruction{PaymentID: paymentID, Amount: amount, Currency: "USD", Beneficiary: b}
		refusal := r.refusal(in, now)
		content, traces, err := r.file([]Instruction{in}, 41, 2, now)
		switch {
		case amount > 9_999_999_999 && (err == nil || refusal == ""):
			t.Fatalf("an amount of %d minor units (over NACHA's 10 digits) was written (%q) or not refused (%q)", amount, content, refusal)
		case err != nil && refusal == "":
			// Submit would fail the file of every payment submitted with
			// this one, again at every attempt.
			t.Fatalf("file(%+v): %v, but the rail does not refuse the payment", in, err)
		case err != nil:
			return
		}
		file, err := ach.NewReader(strings.NewReader(content)).Read()
		if err == nil {
			err = file.Validate()
		}
		if err != nil {
			t.Fatalf("moov-io/ach cannot read what the rail wrote for %+v: %v\n%s", in, err, content)
		}
		if len(file.Batches) != 1 || len(file.Batches[0].GetEntries()) != 1 {
			t.Fatalf("the file of one payment holds %d batches", len(file.Batches))
		}
		e := file.Batches[0].GetEntries()[0]
		wantName := strings.TrimSpace(achText(name))
		if len(wantName) > 22 {
			wantName = strings.TrimSpace(wantName[:22])
		}
		if int64(e.Amount) != amount || strings.TrimSpace(e.DFIAccountNumber) != account || e.RDFIIdentification+e.CheckDigit != "011000015" ||
			e.TraceNumber != traces[0] || strings.TrimSpace(e.IndividualName) != wantName ||
			strings.TrimSpace(e.IdentificationNumber) != strings.TrimSpace(lastN(paymentID, 15)) {
			t.Fatalf("wrote %+v, read back amount %d account %q RDFI %s%s trace %s name %q id %q", in, e.Amount, e.DFIAccountNumber,
				e.RDFIIdentification, e.CheckDigit, e.TraceNumber, e.IndividualName, e.IdentificationNumber)
		}
	})
}

// FuzzACHReturnFile: any bytes in the return folder are read or refused,
// never a crash; a return file as a receiving bank writes it reads back as
// the returns it holds.
func FuzzACHReturnFile(f *testing.F) {
	now := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
	sent := []*ach.EntryDetail{
		{DFIAccountNumber: "1000", Amount: 1000, IdentificationNumber: "000000000000001", IndividualName: "PAYEE 0",
			RDFIIdentification: "01100001", TraceNumber: "121000350000001"},
		{DFIAccountNumber: "1001", Amount: 2500, IdentificationNumber: "000000000000002", IndividualName: "PAYEE 1",
			RDFIIdentification: "01100001", TraceNumber: "121000350000002"},
	}
	good := returnFile(f, now, map[string]string{"121000350000001": "R01", "121000350000002": "R03"}, sent)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.ReplaceAll(good, []byte("R01"), []byte("R9\x00")))
	f.Add([]byte("101 121000358 0110000152612021504A094101FINTECH BANK           RECEIVING BANK\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		returns, err := readReturnFile(b)
		if err != nil {
			return
		}
		for _, ret := range returns {
			if ret.originalTrace == "" || ret.code == "" {
				t.Fatalf("a return without its trace number or code: %+v", ret)
			}
		}
		if bytes.Equal(b, good) && (len(returns) != 2 || returns[0] != achReturn{"121000350000001", "R01"} ||
			returns[1] != achReturn{"121000350000002", "R03"}) {
			t.Fatalf("the return file of two entries read as %+v", returns)
		}
	})
}
