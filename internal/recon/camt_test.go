package recon_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stmtLine is a line of a generated statement: amount signed in minor
// units (EUR), date YYYY-MM-DD.
type stmtLine struct {
	ref    string
	amount int64
	date   string
}

// camt053 writes lines as an ISO 20022 camt.053.001.08 document. The
// reference goes where a bank puts it: NtryRef and EndToEndId when it fits
// their 35 characters, and always the unstructured remittance information
// (140), which is where a 36-character transaction id fits.
func camt053(lines []stmtLine) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
<BkToCstmrStmt>
<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-01-31T18:00:00</CreDtTm></GrpHdr>
<Stmt>
<Id>STMT-1</Id>
<CreDtTm>2026-01-31T18:00:00</CreDtTm>
<Acct><Id><Othr><Id>SETTLEMENT-EUR</Id></Othr></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-01</Dt></Dt></Bal>
`)
	for _, ln := range lines {
		ind, n := "CRDT", ln.amount
		if n < 0 {
			ind, n = "DBIT", -n
		}
		amt := fmt.Sprintf("%d.%02d", n/100, n%100)
		b.WriteString("<Ntry>")
		short := len(ln.ref) <= 35
		if ln.ref != "" && short {
			fmt.Fprintf(&b, "<NtryRef>%s</NtryRef>", ln.ref)
		}
		fmt.Fprintf(&b, `<Amt Ccy="EUR">%s</Amt><CdtDbtInd>%s</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>%s</Dt></BookgDt>`, amt, ind, ln.date)
		b.WriteString("<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>")
		switch {
		case ln.ref != "" && short:
			fmt.Fprintf(&b, "<NtryDtls><TxDtls><Refs><EndToEndId>%s</EndToEndId></Refs><RmtInf><Ustrd>%s</Ustrd></RmtInf></TxDtls></NtryDtls>", ln.ref, ln.ref)
		case ln.ref != "":
			fmt.Fprintf(&b, "<NtryDtls><TxDtls><RmtInf><Ustrd>%s</Ustrd></RmtInf></TxDtls></NtryDtls>", ln.ref)
		}
		b.WriteString("</Ntry>\n")
	}
	b.WriteString("</Stmt>\n</BkToCstmrStmt>\n</Document>\n")
	return b.String()
}

// checkSchema validates doc against the ISO 20022 camt.053.001.08 schema
// (testdata, as ISO 20022 publishes it) with xmllint. Without xmllint the
// test is skipped, unless BANK_REQUIRE_TOOLS is set.
func checkSchema(t *testing.T, doc string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
			t.Fatal("xmllint (Debian libxml2-utils) is required: BANK_REQUIRE_TOOLS is set")
		}
		t.Skip("xmllint (Debian libxml2-utils) is not installed")
	}
	path := filepath.Join(t.TempDir(), "statement.xml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/camt.053.001.08.xsd", path).CombinedOutput()
	if err != nil {
		t.Fatalf("the generated statement is not valid camt.053.001.08: %v\n%.2000s", err, out)
	}
}

// TestSchemaCheckCanFail: the check refuses a document the schema does not
// allow (an entry without its mandatory BkTxCd), so a pass means something.
func TestSchemaCheckCanFail(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(camt053([]stmtLine{{"r1", 100, "2026-01-02"}}),
		"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>", "", 1)
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed")
	}
	path := filepath.Join(t.TempDir(), "bad.xml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/camt.053.001.08.xsd", path).CombinedOutput(); err == nil {
		t.Fatalf("xmllint accepted an entry without BkTxCd:\n%s", out)
	}
}
