package bank

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// The fuzz targets of the package's decoders. Each runs its seeds (below,
// and any crash kept under testdata/fuzz) as a plain test; .ci/run also runs
// each with -fuzz for a few seconds.

// wantInvalid fails t unless err is a *Error of KindInvalid: what every
// decoder here answers to input it refuses.
func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid || e.Code == "" || len(e.Details) == 0 {
		t.Fatalf("%s: refused with %#v, want a KindInvalid *Error naming its field", what, err)
	}
}

// FuzzAmount: an Amount decodes from a JSON integer and nothing else, and
// what it decodes to encodes back to the same integer.
func FuzzAmount(f *testing.F) {
	for _, s := range []string{`1250`, `-5`, `0`, `12.5`, `1e3`, `"1250"`, `null`, `9223372036854775807`,
		`9223372036854775808`, `-0`, `01`, `+1`, ` 1`, `0x10`, `1_000`, `true`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Amount
		err := a.UnmarshalJSON(b)
		n, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				t.Fatalf("UnmarshalJSON(%q): %v, want a *json.UnmarshalTypeError", b, err)
			}
			return
		}
		if perr != nil || int64(a) != n {
			t.Fatalf("UnmarshalJSON(%q) = %d, but it is not that integer (%v)", b, a, perr)
		}
		var back Amount
		if err := json.Unmarshal([]byte(strconv.FormatInt(int64(a), 10)), &back); err != nil || back != a {
			t.Fatalf("%d encodes to something that decodes to %d (%v)", a, back, err)
		}
	})
}

// FuzzParseMoney: money is a known currency and an amount in (0,
// MaxAmount]; anything else is refused as invalid, naming the field.
func FuzzParseMoney(f *testing.F) {
	f.Add(int64(1250), "EUR")
	f.Add(int64(0), "EUR")
	f.Add(int64(-1), "USD")
	f.Add(int64(MaxAmount), "JPY")
	f.Add(int64(MaxAmount+1), "KWD")
	f.Add(int64(1), "eur")
	f.Add(int64(1), "EUR\x00")
	f.Add(int64(1), "")
	f.Fuzz(func(t *testing.T, amount int64, currency string) {
		m, err := ParseMoney("amount", Amount(amount), currency)
		if err != nil {
			wantInvalid(t, "ParseMoney", err)
			if _, cerr := ParseCurrency(currency); cerr == nil && amount > 0 && amount <= MaxAmount {
				t.Fatalf("ParseMoney(%d, %q) refused good money: %v", amount, currency, err)
			}
			return
		}
		if m.Amount != amount || string(m.Currency) != currency || amount <= 0 || amount > MaxAmount {
			t.Fatalf("ParseMoney(%d, %q) = %+v", amount, currency, m)
		}
		// String writes the amount with its currency's minor units; read
		// back digit by digit, it is the same number.
		s := m.String()
		num, cur, ok := strings.Cut(s, " ")
		if !ok || cur != currency {
			t.Fatalf("%+v.String() = %q", m, s)
		}
		whole, frac, _ := strings.Cut(num, ".")
		if len(frac) != m.Currency.Exponent() {
			t.Fatalf("%+v.String() = %q: %d decimals, want %d", m, s, len(frac), m.Currency.Exponent())
		}
		if back, err := strconv.ParseInt(whole+frac, 10, 64); err != nil || back != amount {
			t.Fatalf("%+v.String() = %q reads back as %d (%v)", m, s, back, err)
		}
	})
}

// FuzzDecodeCursor: a cursor is refused as invalid or decodes to one that
// encodes and decodes to itself; a cursor the API makes decodes to itself.
func FuzzDecodeCursor(f *testing.F) {
	at := time.Date(2026, 12, 6, 19, 48, 40, 123456789, time.UTC)
	f.Add(Cursor{At: at, ID: NewID()}.Encode(), int64(0), "")
	f.Add("", at.UnixNano(), "01JE0000000000000000000000")
	f.Add("eyJ0IjoiMDAwMS0wMS0wMVQwMDowMDowMFoiLCJpIjoieCJ9", int64(-62135596800), "x")
	f.Add("not a cursor", int64(1)<<62, "\x00")
	f.Add("eyJ0IjoiMjAyNi0xMi0wNlQxOTo0ODo0MCswMjowMCIsImkiOiJhIn0", int64(0), "a")
	f.Fuzz(func(t *testing.T, s string, nanos int64, id string) {
		c, err := DecodeCursor(s)
		switch {
		case err != nil:
			wantInvalid(t, "DecodeCursor", err)
		case s == "" && c != nil, s != "" && c == nil:
			t.Fatalf("DecodeCursor(%q) = %v, want nil for the empty cursor only", s, c)
		case c != nil:
			back, err := DecodeCursor(c.Encode())
			if err != nil || !back.At.Equal(c.At) || back.ID != c.ID {
				t.Fatalf("DecodeCursor(%q) = %+v, which encodes to %q and decodes to %+v (%v)", s, c, c.Encode(), back, err)
			}
		}
		made := Cursor{At: time.Unix(0, nanos).UTC(), ID: id}
		if made.At.IsZero() || CheckID("id", id) != nil {
			return
		}
		back, err := DecodeCursor(made.Encode())
		if err != nil || !back.At.Equal(made.At) || back.ID != made.ID {
			t.Fatalf("the cursor %+v encodes to %q and decodes to %+v (%v)", made, made.Encode(), back, err)
		}
	})
}

// FuzzCheckText: text accepted is valid UTF-8 without control or invisible
// formatting characters, within its length; what is refused is invalid.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"Rent", "", "a\x00b", "\xff", "\u202eevil", "caf\u00e9", "\u200d", "\x7f", "\u0085",
		"\ufeff", "\U000e0041", strings.Repeat("é", 141)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckText("description", s, 140)
		bad := !utf8.ValidString(s) || utf8.RuneCountInString(s) > 140 || strings.IndexFunc(s, func(r rune) bool {
			return unicode.IsControl(r) || r != '\u200c' && r != '\u200d' && unicode.Is(unicode.Cf, r)
		}) >= 0
		if err != nil {
			wantInvalid(t, "CheckText", err)
		}
		if (err != nil) != bad {
			t.Fatalf("CheckText(%q) = %v, want refused: %v", s, err, bad)
		}
	})
}

// FuzzParseMetadata: metadata as stored reads back to what Stored writes.
func FuzzParseMetadata(f *testing.F) {
	f.Add(`{"order":"42"}`)
	f.Add(`{}`)
	f.Add(`null`)
	f.Add(`{"a":"\u0000"}`)
	f.Add(`{"a":1}`)
	f.Add(`{"a":"x","a":"y"}`)
	f.Fuzz(func(t *testing.T, stored string) {
		m, err := ParseMetadata(&stored)
		if err != nil {
			return // a stored value is written by Stored only; this is the reader not crashing
		}
		if len(m) == 0 {
			if m != nil {
				t.Fatalf("ParseMetadata(%q) = empty non-nil %v, want nil", stored, m)
			}
			return
		}
		back, err := ParseMetadata(m.Stored())
		if err != nil || len(back) != len(m) {
			t.Fatalf("ParseMetadata(%q) = %v, which stores as %q and reads back as %v (%v)", stored, m, *m.Stored(), back, err)
		}
		for k, v := range m {
			if back[k] != v {
				t.Fatalf("key %q: %q, read back as %q", k, v, back[k])
			}
		}
	})
}
