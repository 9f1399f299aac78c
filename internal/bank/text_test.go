package bank

import "testing"

func TestValidText(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    string
		ok   bool
	}{
		{"plain", "Rent for March", true},
		{"accents and CJK", "Loyer é 日本", true},
		{"persian with ZWNJ", "می\u200cخواهم", true},
		{"emoji with ZWJ", "👩\u200d💻 refund", true},
		{"NUL", "a\x00b", false},
		{"newline", "a\nb", false},
		{"DEL", "a\x7fb", false},
		{"C1", "a\u0085b", false},
		{"invalid UTF-8", "a\xffb", false},
		{"right-to-left override", "refund \u202e0001 RUE", false},
		{"left-to-right embedding", "a\u202ab", false},
		{"isolate", "a\u2066b\u2069", false},
		{"right-to-left mark", "a\u200fb", false},
		{"arabic letter mark", "a\u061cb", false},
		{"zero-width space", "Ann\u200bLee", false},
		{"word joiner", "a\u2060b", false},
		{"byte order mark", "\ufeffname", false},
		{"soft hyphen", "pay\u00admentfor", false},
		{"tag", "a\U000E0041b", false},
	} {
		if got := ValidText(tt.s); got != tt.ok {
			t.Errorf("%s: ValidText(%q) = %v, want %v", tt.name, tt.s, got, tt.ok)
		}
	}
}
