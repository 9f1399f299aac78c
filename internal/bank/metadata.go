package bank

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Metadata is what a client attaches to an account, transaction, hold or
// payment for its own use: up to MaxMetadataKeys string values under keys of
// 1 to MaxMetadataKey characters of a-z 0-9 _ . -, each value valid text of
// at most MaxMetadataValue characters. The bank stores it with the object
// and never reads it. An empty Metadata is stored as none at all, so an
// object without metadata costs what it cost before metadata existed.
type Metadata map[string]string

// The bounds of Metadata.
const (
	MaxMetadataKeys  = 50
	MaxMetadataKey   = 40
	MaxMetadataValue = 500
)

// ValidMetadataKey reports whether k is a metadata key: 1 to 40 characters
// of a-z 0-9 _ . -. Upper case is refused rather than folded, so that two
// keys that differ only in case can never both exist.
func ValidMetadataKey(k string) bool {
	if k == "" || len(k) > MaxMetadataKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

const keyRule = "keys must be 1 to 40 characters of a-z 0-9 _ . -"

// CheckMetadataKey returns a KindInvalid error naming field unless k is a
// metadata key.
func CheckMetadataKey(field, k string) error {
	if !ValidMetadataKey(k) {
		return Invalid(field, keyRule)
	}
	return nil
}

// CheckMetadataValue returns a KindInvalid error naming field.k unless v is
// a metadata value: valid text of at most 500 characters.
func CheckMetadataValue(field, k, v string) error {
	if !ValidText(v) || len(v) > MaxMetadataValue && utf8.RuneCountInString(v) > MaxMetadataValue {
		return Invalid(field+"."+k, "must be valid UTF-8 text without control characters, at most "+
			strconv.Itoa(MaxMetadataValue)+" characters")
	}
	return nil
}

// CheckMetadata returns a KindInvalid error naming field (or the entry at
// fault) unless m keeps the rules of Metadata. Entries are checked in key
// order, so the same input always names the same fault.
func CheckMetadata(field string, m Metadata) error {
	if len(m) > MaxMetadataKeys {
		return Invalid(field, "must hold at most "+strconv.Itoa(MaxMetadataKeys)+" keys")
	}
	for _, k := range m.Keys() {
		if err := CheckMetadataKey(field, k); err != nil {
			return err
		}
		if err := CheckMetadataValue(field, k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// Keys returns m's keys in order.
func (m Metadata) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Stored returns m as the databases keep it: a JSON object with its keys in
// order, or nil (SQL NULL) when m is empty.
func (m Metadata) Stored() *string {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]string(m)) // a map of strings always encodes, keys sorted
	s := string(b)
	return &s
}

// ParseMetadata reads metadata as Stored wrote it; NULL is none.
func ParseMetadata(stored *string) (Metadata, error) {
	if stored == nil || *stored == "" {
		return nil, nil
	}
	var m Metadata
	if err := json.Unmarshal([]byte(*stored), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
