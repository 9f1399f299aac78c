package account

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"

	"codeberg.org/go-pdf/fpdf"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
)

// pdfStatement makes a statement's PDF: on every page a header with the
// bank's and the customer's details and the column titles, and a footer with
// the page number; after the lines, the totals. The document is made in
// memory and sent whole, hence maxPDFLines.
type pdfStatement struct {
	ctx    context.Context
	w      http.ResponseWriter
	users  Directory
	issuer Issuer

	st      *ledger.Statement
	doc     *fpdf.Fpdf
	tr      func(string) string // UTF-8 to the core fonts' code page
	n       int
	credits int64
	debits  int64
	sent    bool
}

// Column widths in millimetres, on an A4 page with 15 mm margins.
var pdfColumns = []struct {
	title string
	width float64
	align string
}{{"Date (UTC)", 34, "L"}, {"Type", 20, "L"}, {"Description", 62, "L"}, {"Amount", 32, "R"}, {"Balance", 32, "R"}}

func (p *pdfStatement) started() bool { return p.sent }

// money formats n minor units of the statement's currency, without the code.
func (p *pdfStatement) money(n int64) string {
	s := bank.Money{Amount: n, Currency: p.st.Currency}.String()
	return s[:len(s)-len(p.st.Currency)-1]
}

func (p *pdfStatement) Head(st *ledger.Statement) error {
	p.st = st
	customer := "Bank account"
	if st.Account.OwnerID != "" {
		contacts, err := p.users.Lookup(p.ctx, []string{st.Account.OwnerID})
		if err != nil {
			return err
		}
		c := contacts[st.Account.OwnerID]
		customer = c.Name + " <" + c.Email + ">"
	}
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetMargins(15, 15, 15)
	doc.SetAutoPageBreak(true, 18)
	doc.AliasNbPages("{nb}")
	doc.SetTitle("Statement "+st.Account.Number, true)
	doc.SetCreator(p.issuer.Name, true)
	tr := doc.UnicodeTranslatorFromDescriptor("")
	p.doc, p.tr = doc, tr
	doc.SetHeaderFunc(func() {
		doc.SetFont("Helvetica", "B", 13)
		doc.CellFormat(90, 6, tr(p.issuer.Name), "", 0, "L", false, 0, "")
		doc.CellFormat(0, 6, tr("Statement of account"), "", 1, "R", false, 0, "")
		doc.SetFont("Helvetica", "", 9)
		doc.CellFormat(90, 5, tr(p.issuer.Address), "", 0, "L", false, 0, "")
		doc.CellFormat(0, 5, tr(customer), "", 1, "R", false, 0, "")
		doc.CellFormat(90, 5, "", "", 0, "L", false, 0, "")
		doc.CellFormat(0, 5, tr(fmt.Sprintf("Account %s, %s (%s)", st.Account.Number, st.Account.Name, st.Currency)), "", 1, "R", false, 0, "")
		doc.CellFormat(0, 5, tr(fmt.Sprintf("From %s to %s", st.From.Format("2006-01-02 15:04:05"), st.To.Format("2006-01-02 15:04:05 UTC"))), "", 1, "R", false, 0, "")
		doc.Ln(3)
		doc.SetFont("Helvetica", "B", 9)
		for _, c := range pdfColumns {
			doc.CellFormat(c.width, 6, c.title, "B", 0, c.align, false, 0, "")
		}
		doc.Ln(-1)
		doc.SetFont("Helvetica", "", 8)
	})
	doc.SetFooterFunc(func() {
		doc.SetY(-14)
		doc.SetFont("Helvetica", "", 8)
		doc.CellFormat(0, 6, fmt.Sprintf("Page %d of {nb}", doc.PageNo()), "", 0, "C", false, 0, "")
	})
	doc.AddPage()
	doc.CellFormat(pdfColumns[0].width+pdfColumns[1].width+pdfColumns[2].width+pdfColumns[3].width, 5,
		"Opening balance", "", 0, "L", false, 0, "")
	doc.CellFormat(pdfColumns[4].width, 5, p.money(st.OpeningBalance), "", 1, "R", false, 0, "")
	return nil
}

func (p *pdfStatement) Line(ln ledger.StatementLine) error {
	if p.n++; p.n > maxPDFLines {
		return bank.Errorf(bank.KindInvalid, "statement_too_long",
			"a PDF statement holds at most %d lines: ask for a shorter range, or for format=csv", maxPDFLines)
	}
	if ln.Amount > 0 {
		p.credits += ln.Amount
	} else {
		p.debits -= ln.Amount
	}
	desc := ln.Description
	if r := []rune(desc); len(r) > 40 {
		desc = string(r[:39]) + "…"
	}
	cells := []string{ln.CreatedAt.Format("2006-01-02 15:04:05"), ln.Type, desc, p.money(ln.Amount), p.money(ln.Balance)}
	for i, c := range pdfColumns {
		p.doc.CellFormat(c.width, 5, p.tr(cells[i]), "", 0, c.align, false, 0, "")
	}
	p.doc.Ln(-1)
	return nil
}

func (p *pdfStatement) end() error {
	d := p.doc
	d.SetFont("Helvetica", "B", 9)
	d.Ln(2)
	label := pdfColumns[0].width + pdfColumns[1].width + pdfColumns[2].width
	for _, t := range []struct {
		name   string
		amount int64
	}{{"Opening balance", p.st.OpeningBalance}, {"Total credits", p.credits}, {"Total debits", -p.debits},
		{"Closing balance", p.st.ClosingBalance}} {
		d.CellFormat(label, 5, "", "", 0, "L", false, 0, "")
		d.CellFormat(pdfColumns[3].width, 5, t.name, "T", 0, "L", false, 0, "")
		d.CellFormat(pdfColumns[4].width, 5, p.money(t.amount)+" "+string(p.st.Currency), "T", 1, "R", false, 0, "")
	}
	d.SetFont("Helvetica", "", 8)
	d.CellFormat(0, 5, strconv.Itoa(p.n)+" lines", "", 1, "L", false, 0, "")
	var buf bytes.Buffer
	if err := d.Output(&buf); err != nil {
		return fmt.Errorf("make the statement's PDF: %w", err)
	}
	p.w.Header().Set("Content-Type", "application/pdf")
	p.w.Header().Set("Content-Disposition", `attachment; filename="statement-`+p.st.AccountID+`.pdf"`)
	p.w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	p.w.WriteHeader(http.StatusOK)
	p.sent = true
	_, err := p.w.Write(buf.Bytes())
	return err
}
