// Package nacha writes and reads ACH files in the NACHA format: 94-character
// records (file header 1, batch header 5, entry detail 6, addenda 7, batch
// control 8, file control 9), padded with 9s to blocks of ten, with the
// counts, entry hashes and totals that a receiving bank checks.
//
// It covers what payment-service sends and receives: PPD/CCD credit batches
// and the return entries (addenda type 99) that come back.
package nacha

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Transaction codes used here.
const (
	CheckingCredit       = 22
	CheckingReturnCredit = 21 // the return of a checking credit
	SavingsCredit        = 32
)

// File is an ACH file.
type File struct {
	Destination     string // the receiving point's 9-digit routing number
	Origin          string // the sending bank's 9-digit routing number
	DestinationName string
	OriginName      string
	Created         time.Time
	IDModifier      byte // 'A'–'Z' or '0'–'9': tells files of one day apart
	Batches         []Batch
}

// Batch is a batch of entries of one company.
type Batch struct {
	ServiceClass     int // 220 credits only, 225 debits only, 200 mixed
	CompanyName      string
	CompanyID        string
	SEC              string // "PPD", "CCD"
	EntryDescription string
	EffectiveDate    time.Time
	ODFI             string // the first 8 digits of the originating bank's routing number
	Number           int
	Entries          []Entry
}

// Entry is one entry detail record, with its return addenda if it has one.
type Entry struct {
	TransactionCode int
	RDFI            string // the receiving bank's 9-digit routing number
	Account         string
	Amount          int64 // cents
	IndividualID    string
	Name            string
	TraceNumber     string // 15 digits
	Return          *Return
}

// Return is the addenda 99 of a returned entry.
type Return struct {
	Code          string // "R01" …
	OriginalTrace string
	OriginalRDFI  string // 8 digits
	Info          string
}

// Credit reports whether e moves money to the receiver.
func (e Entry) Credit() bool { return e.TransactionCode%10 <= 4 && e.TransactionCode%10 >= 1 }

func alpha(s string, n int) string {
	s = strings.ToUpper(s)
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	s = b.String()
	if len(s) > n {
		return s[:n]
	}
	return s + strings.Repeat(" ", n-len(s))
}

func num(v int64, n int) string {
	s := strconv.FormatInt(v, 10)
	if len(s) > n {
		return s[len(s)-n:]
	}
	return strings.Repeat("0", n-len(s)) + s
}

// CheckDigit is the ABA check digit of the first 8 digits of a routing number.
func CheckDigit(first8 string) int {
	w := [8]int{3, 7, 1, 3, 7, 1, 3, 7}
	sum := 0
	for i := range 8 {
		sum += w[i] * int(first8[i]-'0')
	}
	return (10 - sum%10) % 10
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Write renders f, computing its controls. It refuses an entry whose routing
// number, amount or trace number cannot be written.
func Write(f *File) ([]byte, error) {
	if !digits(f.Destination, 9) || !digits(f.Origin, 9) {
		return nil, errors.New("nacha: destination and origin must be 9-digit routing numbers")
	}
	var lines []string
	lines = append(lines, "101"+" "+f.Destination+" "+f.Origin+f.Created.Format("060102")+f.Created.Format("1504")+
		string(f.IDModifier)+"094101"+alpha(f.DestinationName, 23)+alpha(f.OriginName, 23)+alpha("", 8))
	var fileEntries, fileHash, fileDebit, fileCredit int64
	for _, b := range f.Batches {
		if !digits(b.ODFI, 8) {
			return nil, errors.New("nacha: ODFI must be 8 digits")
		}
		lines = append(lines, "5"+num(int64(b.ServiceClass), 3)+alpha(b.CompanyName, 16)+alpha("", 20)+alpha(b.CompanyID, 10)+
			alpha(b.SEC, 3)+alpha(b.EntryDescription, 10)+alpha("", 6)+b.EffectiveDate.Format("060102")+"   "+"1"+b.ODFI+num(int64(b.Number), 7))
		var count, hash, debit, credit int64
		for _, e := range b.Entries {
			if !digits(e.RDFI, 9) || e.Amount < 0 || e.Amount > 99_999_999_99 || !digits(e.TraceNumber, 15) {
				return nil, fmt.Errorf("nacha: entry %s cannot be written", e.TraceNumber)
			}
			addenda := "0"
			if e.Return != nil {
				addenda = "1"
			}
			lines = append(lines, "6"+num(int64(e.TransactionCode), 2)+e.RDFI+alpha(e.Account, 17)+num(e.Amount, 10)+
				alpha(e.IndividualID, 15)+alpha(e.Name, 22)+"  "+addenda+e.TraceNumber)
			count++
			r8, _ := strconv.ParseInt(e.RDFI[:8], 10, 64)
			hash += r8
			if e.Credit() {
				credit += e.Amount
			} else {
				debit += e.Amount
			}
			if r := e.Return; r != nil {
				lines = append(lines, "799"+alpha(r.Code, 3)+num(0, 15-len(r.OriginalTrace))+r.OriginalTrace+alpha("", 6)+
					alpha(r.OriginalRDFI, 8)+alpha(r.Info, 44)+e.TraceNumber)
				count++
			}
		}
		lines = append(lines, "8"+num(int64(b.ServiceClass), 3)+num(count, 6)+num(hash, 10)+num(debit, 12)+num(credit, 12)+
			alpha(b.CompanyID, 10)+alpha("", 19)+alpha("", 6)+b.ODFI+num(int64(b.Number), 7))
		fileEntries, fileHash, fileDebit, fileCredit = fileEntries+count, fileHash+hash, fileDebit+debit, fileCredit+credit
	}
	records := int64(len(lines) + 1)
	blocks := (records + 9) / 10
	lines = append(lines, "9"+num(int64(len(f.Batches)), 6)+num(blocks, 6)+num(fileEntries, 8)+num(fileHash, 10)+
		num(fileDebit, 12)+num(fileCredit, 12)+alpha("", 39))
	for int64(len(lines)) < blocks*10 {
		lines = append(lines, strings.Repeat("9", 94))
	}
	for i, l := range lines {
		if len(l) != 94 {
			return nil, fmt.Errorf("nacha: record %d is %d characters", i+1, len(l))
		}
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// Parse reads and validates an ACH file: record lengths and order, each
// batch's entry count, entry hash and totals against its control, the file
// control against the batches, the block count, and every routing number's
// check digit.
func Parse(b []byte) (*File, error) {
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	f := &File{}
	var batch *Batch
	var count, hash, debit, credit int64
	var fileEntries, fileHash, fileDebit, fileCredit int64
	sawControl := false
	bad := func(i int, format string, args ...any) error {
		return fmt.Errorf("nacha: record %d: %s", i+1, fmt.Sprintf(format, args...))
	}
	n := func(s string) int64 { v, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64); return v }
	for i, l := range lines {
		if len(l) != 94 {
			return nil, bad(i, "is %d characters, want 94", len(l))
		}
		if sawControl {
			if l != strings.Repeat("9", 94) {
				return nil, bad(i, "follows the file control but is not padding")
			}
			continue
		}
		switch l[0] {
		case '1':
			if i != 0 || l[34:37] != "094" || l[37:39] != "10" {
				return nil, bad(i, "not a valid file header")
			}
			f.Destination, f.Origin = strings.TrimSpace(l[3:13]), strings.TrimSpace(l[13:23])
			f.Created, _ = time.Parse("0601021504", l[23:33])
			f.IDModifier = l[33]
			f.DestinationName, f.OriginName = strings.TrimSpace(l[40:63]), strings.TrimSpace(l[63:86])
		case '5':
			if i == 0 || batch != nil {
				return nil, bad(i, "a batch header inside a batch")
			}
			eff, _ := time.Parse("060102", l[69:75])
			f.Batches = append(f.Batches, Batch{ServiceClass: int(n(l[1:4])), CompanyName: strings.TrimSpace(l[4:20]),
				CompanyID: strings.TrimSpace(l[40:50]), SEC: l[50:53], EntryDescription: strings.TrimSpace(l[53:63]),
				EffectiveDate: eff, ODFI: l[79:87], Number: int(n(l[87:94]))})
			batch = &f.Batches[len(f.Batches)-1]
			count, hash, debit, credit = 0, 0, 0, 0
		case '6':
			if batch == nil {
				return nil, bad(i, "an entry outside a batch")
			}
			rdfi := l[3:12]
			if !digits(rdfi, 9) || CheckDigit(rdfi[:8]) != int(rdfi[8]-'0') {
				return nil, bad(i, "routing number %s has a wrong check digit", rdfi)
			}
			if !digits(l[29:39], 10) || !digits(l[79:94], 15) {
				return nil, bad(i, "amount or trace number is not numeric")
			}
			e := Entry{TransactionCode: int(n(l[1:3])), RDFI: rdfi, Account: strings.TrimSpace(l[12:29]), Amount: n(l[29:39]),
				IndividualID: strings.TrimSpace(l[39:54]), Name: strings.TrimSpace(l[54:76]), TraceNumber: l[79:94]}
			batch.Entries = append(batch.Entries, e)
			count++
			hash += n(rdfi[:8])
			if e.Credit() {
				credit += e.Amount
			} else {
				debit += e.Amount
			}
		case '7':
			if batch == nil || len(batch.Entries) == 0 || lines[i-1][0] != '6' || lines[i-1][78] != '1' {
				return nil, bad(i, "an addenda without its entry")
			}
			count++
			if l[1:3] == "99" {
				batch.Entries[len(batch.Entries)-1].Return = &Return{Code: l[3:6], OriginalTrace: l[6:21],
					OriginalRDFI: l[27:35], Info: strings.TrimSpace(l[35:79])}
			}
		case '8':
			if batch == nil {
				return nil, bad(i, "a batch control outside a batch")
			}
			if n(l[4:10]) != count || n(l[10:20]) != hash%10_000_000_000 || n(l[20:32]) != debit || n(l[32:44]) != credit {
				return nil, bad(i, "batch control says %d entries, hash %d, debits %d, credits %d; the batch has %d, %d, %d, %d",
					n(l[4:10]), n(l[10:20]), n(l[20:32]), n(l[32:44]), count, hash%10_000_000_000, debit, credit)
			}
			fileEntries, fileHash, fileDebit, fileCredit = fileEntries+count, fileHash+hash, fileDebit+debit, fileCredit+credit
			batch = nil
		case '9':
			if batch != nil {
				return nil, bad(i, "the file control inside a batch")
			}
			if n(l[1:7]) != int64(len(f.Batches)) || n(l[13:21]) != fileEntries || n(l[21:31]) != fileHash%10_000_000_000 ||
				n(l[31:43]) != fileDebit || n(l[43:55]) != fileCredit {
				return nil, bad(i, "file control does not match the batches")
			}
			if n(l[7:13]) != int64(len(lines)/10) || len(lines)%10 != 0 {
				return nil, bad(i, "block count %d does not match %d records", n(l[7:13]), len(lines))
			}
			sawControl = true
		default:
			return nil, bad(i, "unknown record type %q", l[0])
		}
	}
	if !sawControl {
		return nil, errors.New("nacha: no file control record")
	}
	return f, nil
}
