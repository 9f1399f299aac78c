package bank

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
)

// Currency is an ISO 4217 alphabetic code.
type Currency string

// currencies maps the ISO 4217 codes the platform accepts to their minor-unit
// exponent (EUR has cents: 2; JPY has none: 0; KWD has fils: 3).
var currencies = map[Currency]int{
	"AED": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0,
	"CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2,
	"ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2,
	"NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "RON": 2, "SAR": 2, "SEK": 2,
	"SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UGX": 0, "USD": 2, "VND": 0,
	"XOF": 0, "ZAR": 2,
}

// ParseCurrency returns c as a Currency if it is a known ISO 4217 code.
func ParseCurrency(c string) (Currency, error) {
	if _, ok := currencies[Currency(c)]; !ok {
		return "", Invalid("currency", "must be a supported ISO 4217 code such as EUR, USD or JPY")
	}
	return Currency(c), nil
}

// Exponent is the number of minor-unit digits of c (2 for EUR).
func (c Currency) Exponent() int { return currencies[c] }

// Amount is an amount of minor units as it arrives in JSON. It decodes only from a
// JSON integer: a float, an exponent, a string or null is an error, because money
// must never pass through a float.
type Amount int64

// UnmarshalJSON implements json.Unmarshaler.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || bytes.ContainsAny(b, ".eE") || bytes.Equal(b, []byte("null")) {
		return amountTypeError(b)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return amountTypeError(b)
	}
	*a = Amount(n)
	return nil
}

// amountTypeError is a json.UnmarshalTypeError so that the decoder adds the
// name of the field at fault.
func amountTypeError(b []byte) error {
	return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[int64]()}
}

// MaxAmount is the largest amount one request may move: 10^15 minor units
// (ten trillion euros in cents). Balances are int64; the cap keeps every sum
// of a request's amounts far from overflowing.
const MaxAmount = 1_000_000_000_000_000

// Money is a positive or negative integer amount of minor units of a currency.
type Money struct {
	Amount   int64
	Currency Currency
}

// ParseMoney validates an amount and currency from a request: the amount must be
// positive and the currency known. field names the amount in error details.
func ParseMoney(field string, amount Amount, currency string) (Money, error) {
	c, err := ParseCurrency(currency)
	if err != nil {
		return Money{}, err
	}
	if amount <= 0 {
		return Money{}, Invalid(field, "must be a positive integer number of minor units")
	}
	if amount > MaxAmount {
		return Money{}, Invalid(field, "must be at most 1000000000000000 minor units")
	}
	return Money{Amount: int64(amount), Currency: c}, nil
}

// String formats m with its currency's exponent, for people: "12.50 EUR".
func (m Money) String() string {
	exp := m.Currency.Exponent()
	sign, n := "", m.Amount
	if n < 0 {
		sign, n = "-", -n
	}
	if exp == 0 {
		return fmt.Sprintf("%s%d %s", sign, n, m.Currency)
	}
	div := int64(1)
	for range exp {
		div *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, n/div, exp, n%div, m.Currency)
}
