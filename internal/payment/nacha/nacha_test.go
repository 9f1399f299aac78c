package nacha

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample() *File {
	at := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	return &File{Destination: "011000015", Origin: "121000358", DestinationName: "FED", OriginName: "BANK",
		Created: at, IDModifier: 'A', Batches: []Batch{{ServiceClass: 220, CompanyName: "BANK", CompanyID: "1234567890",
			SEC: "PPD", EntryDescription: "PAYMENT", EffectiveDate: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), ODFI: "12100035", Number: 1,
			Entries: []Entry{
				{TransactionCode: CheckingCredit, RDFI: "011000015", Account: "123456789", Amount: 12_345, Name: "BOB", TraceNumber: "121000350000001"},
				{TransactionCode: CheckingCredit, RDFI: "121000358", Account: "987654321", Amount: 100, Name: "CAROL", TraceNumber: "121000350000002"},
			}}}}
}

func TestRoundTrip(t *testing.T) {
	b, err := Write(sample())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) != 10 {
		t.Errorf("%d records, want one block of 10", len(lines))
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatalf("parse what Write wrote: %v\n%s", err, b)
	}
	if diff := cmp.Diff(f, sample()); diff != "" {
		t.Errorf("round trip (-got +want):\n%s", diff)
	}
	// Batch control: 2 entries, hash 01100001+12100035, credits 12445.
	if got, want := lines[4][:44], "82200000020013200036000000000000000000012445"; got != want {
		t.Errorf("batch control %q, want %q", got, want)
	}
}

func TestParseRefuses(t *testing.T) {
	good, err := Write(sample())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(line int, at int, s string) []byte {
		lines := strings.Split(string(good), "\n")
		l := lines[line]
		lines[line] = l[:at] + s + l[at+len(s):]
		return []byte(strings.Join(lines, "\n"))
	}
	tests := map[string][]byte{
		"an amount changed":      edit(2, 29, "0000012346"),
		"a routing check digit":  edit(2, 11, "6"),
		"a short record":         []byte(strings.Replace(string(good), "PAYMENT", "PAYMEN", 1)),
		"a file control changed": edit(5, 13, "00000003"),
		"no file control":        []byte(strings.Join(strings.Split(string(good), "\n")[:5], "\n")),
	}
	for name, b := range tests {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestReturns(t *testing.T) {
	f := sample()
	f.Batches[0].Entries = f.Batches[0].Entries[:1]
	e := &f.Batches[0].Entries[0]
	e.TransactionCode, e.TraceNumber = CheckingReturnCredit, "011000010000009"
	e.Return = &Return{Code: "R01", OriginalTrace: "121000350000001", OriginalRDFI: "01100001", Info: "NSF"}
	b, err := Write(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Batches[0].Entries[0].Return, e.Return); diff != "" {
		t.Errorf("return (-got +want):\n%s", diff)
	}
}
