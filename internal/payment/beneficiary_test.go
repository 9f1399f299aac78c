package payment

import (
	"testing"

	"github.com/fintech-banking/bank/internal/bank"
)

func TestBeneficiaryCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    Beneficiary
		code string // "" valid
	}{
		{"German IBAN", Beneficiary{Name: "A", IBAN: "DE89370400440532013000"}, ""},
		{"IBAN with spaces, lower case", Beneficiary{Name: "A", IBAN: "gb82 west 1234 5698 7654 32"}, ""},
		{"Norwegian IBAN, shortest", Beneficiary{Name: "A", IBAN: "NO9386011117947"}, ""},
		{"IBAN check digits wrong", Beneficiary{Name: "A", IBAN: "DE89370400440532013001"}, "invalid_beneficiary"},
		{"IBAN too long for DE", Beneficiary{Name: "A", IBAN: "DE893704004405320130000"}, "invalid_beneficiary"},
		{"IBAN unknown country", Beneficiary{Name: "A", IBAN: "ZZ89370400440532013000"}, "invalid_beneficiary"},
		{"IBAN punctuation", Beneficiary{Name: "A", IBAN: "DE89-70400440532013000"}, "invalid_beneficiary"},
		{"ABA valid", Beneficiary{Name: "A", AccountNumber: "123456789", RoutingNumber: "011000015"}, ""},
		{"ABA valid 2", Beneficiary{Name: "A", AccountNumber: "00012345", RoutingNumber: "121000358"}, ""},
		{"ABA checksum wrong", Beneficiary{Name: "A", AccountNumber: "123456789", RoutingNumber: "011000016"}, "invalid_beneficiary"},
		{"ABA 8 digits", Beneficiary{Name: "A", AccountNumber: "123456789", RoutingNumber: "01100001"}, "invalid_beneficiary"},
		{"account letters", Beneficiary{Name: "A", AccountNumber: "12a45678", RoutingNumber: "011000015"}, "invalid_beneficiary"},
		{"account too long", Beneficiary{Name: "A", AccountNumber: "123456789012345678", RoutingNumber: "011000015"}, "invalid_beneficiary"},
		{"both", Beneficiary{Name: "A", IBAN: "DE89370400440532013000", AccountNumber: "1234", RoutingNumber: "011000015"}, "invalid_request"},
		{"neither", Beneficiary{Name: "A"}, "invalid_request"},
		{"account without routing", Beneficiary{Name: "A", AccountNumber: "1234"}, "invalid_request"},
		{"no name", Beneficiary{IBAN: "DE89370400440532013000"}, "invalid_request"},
		{"NUL in name", Beneficiary{Name: "A\x00", IBAN: "DE89370400440532013000"}, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.check()
			got := ""
			if err != nil {
				got = bank.ErrorCode(err)
			}
			if got != tt.code {
				t.Errorf("check(%+v) = %v, want code %q", tt.b, err, tt.code)
			}
		})
	}
}
