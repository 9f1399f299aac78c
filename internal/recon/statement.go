package recon

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/bank"
)

// Statement formats.
const (
	FormatCAMT053 = "camt053"
	FormatCSV     = "csv"
)

// MaxContent bounds a statement's content, in bytes: 10,000 CAMT.053 entries
// take about 6 MB.
const MaxContent = 16 << 20

// MaxLines bounds the lines of one statement.
const MaxLines = 100_000

// Line is one entry of a bank's statement.
type Line struct {
	Line        int           `json:"line"` // its place in the file, from 1
	References  []string      `json:"references,omitempty"`
	Amount      int64         `json:"amount"` // signed, minor units: negative is a debit
	Currency    bank.Currency `json:"currency"`
	BookingDate string        `json:"booking_date"` // YYYY-MM-DD

	day int // days since the Unix epoch of BookingDate
}

// CSVColumns names the header of each column a CSV statement's lines are
// read from. Amount is signed (a dot for the decimal point) unless Direction
// names a column of "C"/"CRDT"/"credit" or "D"/"DBIT"/"debit"; Currency
// defaults to the account's; Date is YYYY-MM-DD unless DateFormat (a Go
// layout such as 02.01.2006) says otherwise.
type CSVColumns struct {
	Date       string `json:"date"`
	Amount     string `json:"amount"`
	Reference  string `json:"reference"`
	Currency   string `json:"currency,omitempty"`
	Direction  string `json:"direction,omitempty"`
	DateFormat string `json:"date_format,omitempty"`
}

// invalid is the error of content that cannot be read.
func invalid(line int, msg string) error {
	where := "content"
	if line > 0 {
		where = "content line " + strconv.Itoa(line)
	}
	return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_statement", Message: where + ": " + msg,
		Details: map[string]string{"content": msg}}
}

// checkContent refuses content that is empty, too large, not UTF-8 or
// holds a NUL: what PostgreSQL cannot store must not reach it.
func checkContent(content string) error {
	switch {
	case content == "":
		return bank.Invalid("content", "is required")
	case len(content) > MaxContent:
		return bank.Invalid("content", "must be at most "+strconv.Itoa(MaxContent)+" bytes")
	case !utf8.ValidString(content) || strings.ContainsRune(content, 0):
		return bank.Invalid("content", "must be UTF-8 text without NUL characters")
	}
	return nil
}

// Parse reads the lines of a statement of an account in currency c.
// KindInvalid for content it cannot read.
func Parse(format, content string, cols *CSVColumns, c bank.Currency) ([]Line, error) {
	if err := checkContent(content); err != nil {
		return nil, err
	}
	switch format {
	case FormatCAMT053:
		if cols != nil {
			return nil, bank.Invalid("csv_columns", "is for the csv format only")
		}
		return parseCAMT053(content)
	case FormatCSV:
		if cols == nil {
			return nil, bank.Invalid("csv_columns", "is required for the csv format")
		}
		return parseCSV(content, *cols, c)
	}
	return nil, bank.Invalid("format", `must be "camt053" or "csv"`)
}

// The parts of a CAMT.053 document (any version: elements are matched by
// local name) that reconciliation reads.
type camtDocument struct {
	Stmts []struct {
		Ntries []camtEntry `xml:"Ntry"`
	} `xml:"BkToCstmrStmt>Stmt"`
}

type camtEntry struct {
	NtryRef string `xml:"NtryRef"`
	Amt     struct {
		Value string `xml:",chardata"`
		Ccy   string `xml:"Ccy,attr"`
	} `xml:"Amt"`
	CdtDbtInd   string `xml:"CdtDbtInd"`
	BookgDt     string `xml:"BookgDt>Dt"`
	BookgDtTm   string `xml:"BookgDt>DtTm"`
	AcctSvcrRef string `xml:"AcctSvcrRef"`
	TxDtls      []struct {
		EndToEndID string   `xml:"Refs>EndToEndId"`
		InstrID    string   `xml:"Refs>InstrId"`
		Ustrd      []string `xml:"RmtInf>Ustrd"`
		CdtrRef    string   `xml:"RmtInf>Strd>CdtrRefInf>Ref"`
	} `xml:"NtryDtls>TxDtls"`
}

func parseCAMT053(content string) ([]Line, error) {
	var doc camtDocument
	d := xml.NewDecoder(strings.NewReader(content))
	if err := d.Decode(&doc); err != nil {
		return nil, invalid(0, "not a CAMT.053 document: "+err.Error())
	}
	var lines []Line
	for _, s := range doc.Stmts {
		for _, e := range s.Ntries {
			n := len(lines) + 1
			if n > MaxLines {
				return nil, invalid(0, "holds more than "+strconv.Itoa(MaxLines)+" entries")
			}
			c, err := bank.ParseCurrency(e.Amt.Ccy)
			if err != nil {
				return nil, invalid(n, "Amt: unknown currency "+strconv.Quote(e.Amt.Ccy))
			}
			ln := Line{Line: n, Currency: c}
			if ln.Amount, err = parseAmount(e.Amt.Value, c); err != nil {
				return nil, invalid(n, "Amt: "+err.Error())
			}
			switch e.CdtDbtInd {
			case "CRDT":
			case "DBIT":
				ln.Amount = -ln.Amount
			default:
				return nil, invalid(n, "CdtDbtInd must be CRDT or DBIT")
			}
			date := e.BookgDt
			if date == "" && len(e.BookgDtTm) >= 10 {
				date = e.BookgDtTm[:10]
			}
			if err := ln.setDate(date, time.DateOnly); err != nil {
				return nil, invalid(n, "BookgDt: "+err.Error())
			}
			refs := []string{e.NtryRef, e.AcctSvcrRef}
			for _, t := range e.TxDtls {
				refs = append(refs, t.EndToEndID, t.InstrID, t.CdtrRef)
				refs = append(refs, t.Ustrd...)
			}
			ln.addReferences(refs...)
			lines = append(lines, ln)
		}
	}
	if len(lines) == 0 {
		return nil, invalid(0, "holds no Ntry")
	}
	return lines, nil
}

func parseCSV(content string, cols CSVColumns, c bank.Currency) ([]Line, error) {
	if cols.Date == "" || cols.Amount == "" || cols.Reference == "" {
		return nil, bank.Invalid("csv_columns", "must name the date, amount and reference columns")
	}
	layout := time.DateOnly
	if cols.DateFormat != "" {
		layout = cols.DateFormat
	}
	r := csv.NewReader(bytes.NewReader([]byte(content)))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, invalid(1, "no header: "+err.Error())
	}
	at := map[string]int{}
	for i, h := range head {
		at[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	index := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := at[name]
		if !ok {
			return 0, bank.Invalid("csv_columns", "the header has no column "+strconv.Quote(name))
		}
		return i, nil
	}
	var idx [5]int
	for i, name := range []string{cols.Date, cols.Amount, cols.Reference, cols.Currency, cols.Direction} {
		if idx[i], err = index(name); err != nil {
			return nil, err
		}
	}
	field := func(rec []string, i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var lines []Line
	for n := 2; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid(n, err.Error())
		}
		if len(lines) == MaxLines {
			return nil, invalid(0, "holds more than "+strconv.Itoa(MaxLines)+" lines")
		}
		ln := Line{Line: n - 1, Currency: c}
		if s := field(rec, idx[3]); s != "" {
			if ln.Currency, err = bank.ParseCurrency(s); err != nil {
				return nil, invalid(n, "unknown currency "+strconv.Quote(s))
			}
		}
		if ln.Amount, err = parseAmount(field(rec, idx[1]), ln.Currency); err != nil {
			return nil, invalid(n, "amount: "+err.Error())
		}
		if idx[4] >= 0 {
			switch strings.ToUpper(field(rec, idx[4])) {
			case "C", "CR", "CRDT", "CREDIT":
			case "D", "DR", "DBIT", "DEBIT":
				ln.Amount = -ln.Amount
			default:
				return nil, invalid(n, "direction must be C or D")
			}
		}
		if err := ln.setDate(field(rec, idx[0]), layout); err != nil {
			return nil, invalid(n, "date: "+err.Error())
		}
		ln.addReferences(field(rec, idx[2]))
		lines = append(lines, ln)
	}
	if len(lines) == 0 {
		return nil, invalid(0, "holds no lines")
	}
	return lines, nil
}

func (ln *Line) setDate(s, layout string) error {
	t, err := time.Parse(layout, s)
	if err != nil {
		return errors.New("not a date as " + layout)
	}
	ln.BookingDate, ln.day = t.Format(time.DateOnly), dayOf(t)
	return nil
}

// maxReference bounds a reference's length, in characters.
const maxReference = 140

func (ln *Line) addReferences(refs ...string) {
	for _, r := range refs {
		r = strings.TrimSpace(r)
		if r == "" || utf8.RuneCountInString(r) > maxReference {
			continue
		}
		dup := false
		for _, have := range ln.References {
			dup = dup || have == r
		}
		if !dup {
			ln.References = append(ln.References, r)
		}
	}
}

// dayOf is t's date (in UTC) as days since the Unix epoch.
func dayOf(t time.Time) int {
	return int(t.UTC().Truncate(24*time.Hour).Unix() / 86400)
}

// parseAmount reads a decimal such as "1234.50" or "-3" as minor units of c,
// refusing more decimals than c has.
func parseAmount(s string, c bank.Currency) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, _ := strings.Cut(s, ".")
	exp := c.Exponent()
	if whole == "" || len(frac) > exp || len(whole) > 16 || !digits(whole) || !digits(frac) {
		return 0, errors.New("not an amount of " + string(c) + " such as 12." + strings.Repeat("5", exp))
	}
	n, _ := strconv.ParseInt(whole+frac+strings.Repeat("0", exp-len(frac)), 10, 64)
	if n > bank.MaxAmount {
		return 0, errors.New("too large")
	}
	if neg {
		n = -n
	}
	return n, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
