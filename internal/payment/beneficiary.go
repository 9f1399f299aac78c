package payment

import (
	"strings"

	"github.com/fintech-banking/bank/internal/bank"
)

// Beneficiary is who a payment pays: a name and either an IBAN or a US
// account number with its ABA routing number.
type Beneficiary struct {
	Name          string `json:"name"`
	IBAN          string `json:"iban,omitempty"`
	AccountNumber string `json:"account_number,omitempty"`
	RoutingNumber string `json:"routing_number,omitempty"`
}

func invalidBeneficiary(field, problem string) error {
	return &bank.Error{Kind: bank.KindRejected, Code: "invalid_beneficiary",
		Message: "beneficiary." + field + ": " + problem, Details: map[string]string{"beneficiary." + field: problem}}
}

// check normalises b (an IBAN loses its spaces and is upper-cased) and
// refuses one that cannot be paid. Text that is not text is invalid input
// (400); a well-formed request whose account cannot exist — a bad check
// digit, a wrong length for its country — is invalid_beneficiary (422).
func (b *Beneficiary) check() error {
	if err := bank.CheckText("beneficiary.name", b.Name, 140); err != nil {
		return err
	}
	for field, s := range map[string]string{"iban": b.IBAN, "account_number": b.AccountNumber, "routing_number": b.RoutingNumber} {
		if err := bank.CheckText("beneficiary."+field, s, 64); err != nil {
			return err
		}
	}
	if strings.TrimSpace(b.Name) == "" {
		return bank.Invalid("beneficiary.name", "is required")
	}
	switch {
	case b.IBAN != "" && (b.AccountNumber != "" || b.RoutingNumber != ""):
		return bank.Invalid("beneficiary", "give an iban, or an account_number with a routing_number, not both")
	case b.IBAN != "":
		b.IBAN = strings.ToUpper(strings.ReplaceAll(b.IBAN, " ", ""))
		return checkIBAN(b.IBAN)
	case b.AccountNumber != "" && b.RoutingNumber != "":
		if err := checkRouting(b.RoutingNumber); err != nil {
			return err
		}
		return checkUSAccount(b.AccountNumber)
	}
	return bank.Invalid("beneficiary", "needs an iban, or an account_number and a routing_number")
}

// ibanLengths is the length of an IBAN per country (the SWIFT IBAN registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
	"JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
	"MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
	"NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
	"SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// checkIBAN checks an upper-cased IBAN without spaces: a known country, its
// length, alphanumerics only, and the ISO 7064 mod-97 check digits.
func checkIBAN(iban string) error {
	if len(iban) < 5 {
		return invalidBeneficiary("iban", "is too short to be an IBAN")
	}
	want, ok := ibanLengths[iban[:2]]
	if !ok {
		return invalidBeneficiary("iban", "has an unknown country code")
	}
	if len(iban) != want {
		return invalidBeneficiary("iban", "has the wrong length for its country")
	}
	if iban[2] < '0' || iban[2] > '9' || iban[3] < '0' || iban[3] > '9' {
		return invalidBeneficiary("iban", "must have two check digits after the country code")
	}
	// Move the first four characters to the end, letters become 10…35, and
	// the number must be 1 modulo 97; computed digit by digit to stay small.
	rem := 0
	for _, c := range iban[4:] + iban[:4] {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return invalidBeneficiary("iban", "may hold only letters and digits")
		}
	}
	if rem != 1 {
		return invalidBeneficiary("iban", "has wrong check digits")
	}
	return nil
}

// checkRouting checks a 9-digit ABA routing number and its checksum:
// 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
func checkRouting(rn string) error {
	if len(rn) != 9 || !digits(rn) {
		return invalidBeneficiary("routing_number", "must be 9 digits")
	}
	w := [3]int{3, 7, 1}
	sum := 0
	for i := range 9 {
		sum += w[i%3] * int(rn[i]-'0')
	}
	if sum%10 != 0 || rn == "000000000" {
		return invalidBeneficiary("routing_number", "has a wrong check digit")
	}
	return nil
}

// checkUSAccount checks a US account number: 4 to 17 digits (the NACHA
// field is 17 characters).
func checkUSAccount(n string) error {
	if len(n) < 4 || len(n) > 17 || !digits(n) {
		return invalidBeneficiary("account_number", "must be 4 to 17 digits")
	}
	return nil
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
