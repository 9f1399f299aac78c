package account

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"testing"
)

// TestAppendCSVFieldIsEncodingCSV: a row made with appendCSVField is the
// row encoding/csv writes, byte for byte, for fields of every kind.
func TestAppendCSVFieldIsEncodingCSV(t *testing.T) {
	t.Parallel()
	fields := []string{"", "plain", `\.`, `\.x`, "a,b", `say "hi"`, `"`, `""`, "line\nbreak", "cr\rlf\r\n", " lead", "\tlead",
		"\u00a0nbsp", "\u2003em", "trail ", "'=1+2", "naïve, café", "日本語", "\x00nul", "\xff\xfe", "a\"b,c\nd\re"}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune{'a', ',', '"', '\n', '\r', ' ', '\t', '\\', '.', 'é', '\u00a0', '='}
	for range 2000 {
		n := r.IntN(8)
		s := make([]rune, n)
		for i := range s {
			s[i] = alphabet[r.IntN(len(alphabet))]
		}
		fields = append(fields, string(s))
	}
	for i := 0; i+3 <= len(fields); i++ {
		record := fields[i : i+3]
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		if err := w.Write(record); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		var got []byte
		for j, f := range record {
			if j > 0 {
				got = append(got, ',')
			}
			got = appendCSVField(got, f)
		}
		got = append(got, '\n')
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%q: got %q, want %q", record, got, want.Bytes())
		}
	}
}
