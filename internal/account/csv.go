package account

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// appendCSVField appends field to dst as encoding/csv's Writer writes it
// (comma ',', UseCRLF off): as it is, or quoted with its quotes doubled
// when it holds a comma, a quote, a line break, is `\.` or starts with a
// space. A statement's rows are made with it into one buffer, without a
// string per number and date (TestAppendCSVFieldIsEncodingCSV).
func appendCSVField(dst []byte, field string) []byte {
	if !csvNeedsQuotes(field) {
		return append(dst, field...)
	}
	dst = append(dst, '"')
	for {
		i := strings.IndexByte(field, '"')
		if i < 0 {
			break
		}
		dst = append(append(dst, field[:i+1]...), '"')
		field = field[i+1:]
	}
	return append(append(dst, field...), '"')
}

// csvNeedsQuotes is encoding/csv's fieldNeedsQuotes for the comma.
func csvNeedsQuotes(field string) bool {
	if field == "" {
		return false
	}
	if field == `\.` || strings.ContainsAny(field, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(field)
	return unicode.IsSpace(r)
}
