package web

import (
	"strings"
	"testing"

	"github.com/fintech-banking/bank/internal/bank"
)

// FuzzParseAmount: an amount a person typed is refused with words for the
// form, or is a positive amount within the bank's bound that, written back
// as the pages show it, reads again as the same amount.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "1,250.5", "0.01", "0", "-1", "1e3", ".5", "5.", " 7 ", "1.234", "10000000000000.00",
		"99999999999999999999", "١٢", "1,,2", "\x00", ""} {
		f.Add(s, "EUR")
		f.Add(s, "JPY")
	}
	f.Add("1.234", "KWD")
	f.Fuzz(func(t *testing.T, s, currency string) {
		if _, err := bank.ParseCurrency(currency); err != nil {
			return // the pages offer an account's own currency only
		}
		n, problem := parseAmount(s, currency)
		if problem != "" {
			if n != 0 {
				t.Fatalf("parseAmount(%q, %s) = %d with the problem %q", s, currency, n, problem)
			}
			return
		}
		if n <= 0 || n > bank.MaxAmount {
			t.Fatalf("parseAmount(%q, %s) = %d, outside (0, %d]", s, currency, n, int64(bank.MaxAmount))
		}
		shown, _, _ := strings.Cut(bank.Money{Amount: n, Currency: bank.Currency(currency)}.String(), " ")
		if back, problem := parseAmount(shown, currency); back != n {
			t.Fatalf("parseAmount(%q, %s) = %d, shown as %q, which reads as %d (%s)", s, currency, n, shown, back, problem)
		}
	})
}
