package recon_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/recon"
)

func TestParseCAMT053(t *testing.T) {
	t.Parallel()
	doc := camt053([]stmtLine{{"tx-1", 12_345, "2026-01-02"}, {"tx-2", -500, "2026-01-03"}, {"", 7, "2026-01-04"}})
	checkSchema(t, doc)
	got, err := recon.Parse(recon.FormatCAMT053, doc, nil, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	want := []recon.Line{
		{Line: 1, References: []string{"tx-1"}, Amount: 12_345, Currency: "EUR", BookingDate: "2026-01-02"},
		{Line: 2, References: []string{"tx-2"}, Amount: -500, Currency: "EUR", BookingDate: "2026-01-03"},
		{Line: 3, Amount: 7, Currency: "EUR", BookingDate: "2026-01-04"},
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(recon.Line{})); diff != "" {
		t.Errorf("lines (-got +want):\n%s", diff)
	}
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	content := "\ufeffBooked;Value;Ref;Dir;Ccy\n" +
		"02.01.2026;123.45;tx-1;C;EUR\n" +
		"03.01.2026;5;\"tx;2\";D;EUR\n"
	cols := &recon.CSVColumns{Date: "Booked", Amount: "Value", Reference: "Ref", Direction: "Dir", Currency: "Ccy", DateFormat: "02.01.2006"}
	// Semicolons: a mapping cannot name the separator, so the test's file
	// is read with the default comma first and must fail on the header.
	if _, err := recon.Parse(recon.FormatCSV, content, cols, "EUR"); bank.ErrorKind(err) != bank.KindInvalid {
		t.Fatalf("semicolon-separated file: %v, want invalid", err)
	}
	content = strings.ReplaceAll(content, ";", ",")
	content = strings.Replace(content, `"tx,2"`, `"tx,2"`, 1)
	got, err := recon.Parse(recon.FormatCSV, content, cols, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	want := []recon.Line{
		{Line: 1, References: []string{"tx-1"}, Amount: 12_345, Currency: "EUR", BookingDate: "2026-01-02"},
		{Line: 2, References: []string{"tx,2"}, Amount: -500, Currency: "EUR", BookingDate: "2026-01-03"},
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(recon.Line{})); diff != "" {
		t.Errorf("lines (-got +want):\n%s", diff)
	}
	signed, err := recon.Parse(recon.FormatCSV, "date,amount,reference\n2026-01-02,-1.5,x\n", &recon.CSVColumns{Date: "date", Amount: "amount", Reference: "reference"}, "EUR")
	if err != nil || len(signed) != 1 || signed[0].Amount != -150 {
		t.Errorf("signed amount: %+v, %v; want -150", signed, err)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	cols := &recon.CSVColumns{Date: "date", Amount: "amount", Reference: "ref"}
	good := camt053([]stmtLine{{"a", 100, "2026-01-02"}})
	for name, tc := range map[string]struct {
		format, content string
		cols            *recon.CSVColumns
	}{
		"empty":               {recon.FormatCAMT053, "", nil},
		"invalid UTF-8":       {recon.FormatCSV, "date,amount,ref\n2026-01-02,1,\xff\n", cols},
		"NUL":                 {recon.FormatCAMT053, strings.Replace(good, "<NtryRef>a", "<NtryRef>a\x00", 1), nil},
		"not XML":             {recon.FormatCAMT053, "date,amount\n", nil},
		"truncated XML":       {recon.FormatCAMT053, good[:len(good)/2], nil},
		"no entries":          {recon.FormatCAMT053, camt053(nil), nil},
		"three decimals":      {recon.FormatCAMT053, strings.Replace(good, ">1.00<", ">1.005<", 1), nil},
		"exponent":            {recon.FormatCAMT053, strings.Replace(good, ">1.00<", ">1e3<", 1), nil},
		"bad indicator":       {recon.FormatCAMT053, strings.Replace(good, "CRDT</CdtDbtInd><Sts>", "XXXX</CdtDbtInd><Sts>", 1), nil},
		"bad date":            {recon.FormatCAMT053, strings.Replace(good, "2026-01-02", "2026-13-02", 1), nil},
		"unknown currency":    {recon.FormatCAMT053, strings.Replace(good, `<Amt Ccy="EUR">1.00`, `<Amt Ccy="XXX">1.00`, 1), nil},
		"csv without columns": {recon.FormatCSV, "date,amount,ref\n2026-01-02,1,a\n", nil},
		"csv missing column":  {recon.FormatCSV, "date,value,ref\n2026-01-02,1,a\n", cols},
		"csv bad amount":      {recon.FormatCSV, "date,amount,ref\n2026-01-02,1.2.3,a\n", cols},
		"csv huge amount":     {recon.FormatCSV, "date,amount,ref\n2026-01-02,99999999999999999,a\n", cols},
		"csv header only":     {recon.FormatCSV, "date,amount,ref\n", cols},
		"unknown format":      {"mt940", good, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if lines, err := recon.Parse(tc.format, tc.content, tc.cols, "EUR"); bank.ErrorKind(err) != bank.KindInvalid {
				t.Errorf("got %v, %v; want a KindInvalid error", lines, err)
			}
		})
	}
}
