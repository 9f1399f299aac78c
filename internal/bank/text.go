package bank

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// ValidText reports whether s is text every layer can store and show: valid
// UTF-8 without control characters (NUL, the C0 and C1 ranges, DEL) and
// without invisible formatting (see invisible), which would let a name or
// description shown to another customer read other than it is.
// PostgreSQL refuses NUL and invalid UTF-8 in a text column, so a string that
// reached it unchecked would fail the statement, and with it every request
// sharing its transaction; SQLite would store it as it came.
func ValidText(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || unicode.IsControl(r) || invisible(r) {
			return false
		}
		i += n
	}
	return true
}

// invisible reports whether r is a formatting character (Unicode's Cf) that
// changes how text around it reads while showing nothing itself: the bidi
// overrides, embeddings, isolates and marks ("Trojan Source", an amount or
// an account number shown reversed), zero-width spaces, the byte order mark,
// soft hyphens, tags. The zero-width joiner and non-joiner stay: scripts such
// as Persian and Devanagari, and emoji sequences, need them.
func invisible(r rune) bool {
	return r != '\u200c' && r != '\u200d' && unicode.Is(unicode.Cf, r)
}

// CheckText returns a KindInvalid error naming field unless s is valid text
// (see ValidText) of at most max characters; max 0 means no limit.
func CheckText(field, s string, max int) error {
	if !ValidText(s) {
		return Invalid(field, "must be valid UTF-8 text without control or invisible formatting characters")
	}
	if max > 0 && len(s) > max && utf8.RuneCountInString(s) > max {
		return Invalid(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
	return nil
}

// CheckID returns a KindInvalid error naming field unless id is a plausible
// identifier: present, at most 64 bytes, valid text.
func CheckID(field, id string) error {
	switch {
	case id == "":
		return Invalid(field, "is required")
	case len(id) > 64 || !ValidText(id):
		return Invalid(field, "is not an id")
	}
	return nil
}

// CheckIdempotencyKey returns a KindInvalid error unless key is a usable
// Idempotency-Key: 1 to 255 characters of valid text.
func CheckIdempotencyKey(key string) error {
	if key == "" || len(key) > 255 && utf8.RuneCountInString(key) > 255 {
		return &Error{Kind: KindInvalid, Code: "idempotency_key_required",
			Message: "an Idempotency-Key header of 1 to 255 characters is required",
			Details: map[string]string{"Idempotency-Key": "required, 1 to 255 characters"}}
	}
	if !ValidText(key) {
		return Invalid("Idempotency-Key", "must be valid UTF-8 text without control characters")
	}
	return nil
}
