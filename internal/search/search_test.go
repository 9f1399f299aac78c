package search_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/search"
)

func TestTerms(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes: cut at a rune boundary
	for _, c := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"Invoice INV-2026/01", []string{"invoice", "inv", "2026", "01"}},
		{`"a" * NEAR(b c) d:e f&g|h!i 'j' k\l`, []string{"a", "near", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}},
		{"rent Rent RENT", []string{"rent"}},
		{"cafe\u0301 Zürich 東京", []string{"cafe\u0301", "zürich", "東京"}},
		{"!!! -- ::", nil},
		{long, []string{strings.Repeat("é", 32)}},
	} {
		got := search.Terms(c.text)
		if diff := cmp.Diff(got, c.want); diff != "" {
			t.Errorf("Terms(%q) (-got +want):\n%s", c.text, diff)
		}
		for _, term := range got {
			if !utf8.ValidString(term) || len(term) > search.MaxTermBytes {
				t.Errorf("Terms(%q): term %q is not valid UTF-8 of at most %d bytes", c.text, term, search.MaxTermBytes)
			}
		}
	}
}

// TestWords: every word, repeats and order kept, read as Terms reads them.
func TestWords(t *testing.T) {
	got := search.Words("Rent rent, RENT-2026 Café " + strings.Repeat("x", 70))
	want := []string{"rent", "rent", "rent", "2026", "café", strings.Repeat("x", search.MaxTermBytes)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Words (-got +want):\n%s", diff)
	}
	if got := search.Words("!!"); len(got) != 0 {
		t.Errorf("Words of punctuation: %q", got)
	}
}
