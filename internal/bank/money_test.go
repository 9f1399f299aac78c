package bank

import (
	"encoding/json"
	"testing"
)

func TestAmountDecodesOnlyIntegers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Amount
		wantErr bool
	}{
		{in: `1250`, want: 1250},
		{in: `-5`, want: -5},
		{in: `0`, want: 0},
		{in: `12.5`, wantErr: true},
		{in: `1e3`, wantErr: true},
		{in: `"1250"`, wantErr: true},
		{in: `null`, wantErr: true},
		{in: `99999999999999999999`, wantErr: true},
	}
	for _, tt := range tests {
		var got Amount
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("Unmarshal(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount   Amount
		currency string
		wantErr  bool
	}{
		{1250, "EUR", false},
		{1, "JPY", false},
		{0, "EUR", true},
		{-1, "EUR", true},
		{10, "EURO", true},
		{10, "eur", true},
		{10, "", true},
		{MaxAmount, "EUR", false},
		{MaxAmount + 1, "EUR", true},
	}
	for _, tt := range tests {
		_, err := ParseMoney("amount", tt.amount, tt.currency)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMoney(%d, %q) error = %v, want error %v", tt.amount, tt.currency, err, tt.wantErr)
		}
		if err != nil && ErrorKind(err) != KindInvalid {
			t.Errorf("ParseMoney(%d, %q) kind = %v, want invalid", tt.amount, tt.currency, ErrorKind(err))
		}
	}
}

func TestMoneyString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    Money
		want string
	}{
		{Money{1250, "EUR"}, "12.50 EUR"},
		{Money{-5, "EUR"}, "-0.05 EUR"},
		{Money{1250, "JPY"}, "1250 JPY"},
		{Money{1250, "KWD"}, "1.250 KWD"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestNewIDIsUUIDv7(t *testing.T) {
	t.Parallel()
	id := NewID()
	if len(id) != 36 || id[14] != '7' {
		t.Fatalf("NewID() = %q, want a UUIDv7", id)
	}
	if NewID() == id {
		t.Fatal("NewID returned the same identifier twice")
	}
}
