package ledger

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// The write path encodes a transaction twice per transfer, as its answer and
// inside its event. These encoders write the same bytes as encoding/json
// without its reflection; TestEncodersMatchEncodingJSON holds them to that.

// appender is a value that encodes itself as JSON.
type appender interface {
	appendJSON(dst []byte) []byte
}

// encode returns v's JSON: through its own encoder when it has one.
func encode(v any) []byte {
	switch v := v.(type) {
	case appender:
		return v.appendJSON(make([]byte, 0, 512))
	case *event.Transaction:
		return appendTransactionEvent(make([]byte, 0, 512), v)
	}
	return mustJSON(v)
}

// appendMetadata encodes m as the member of a struct tagged
// `json:"metadata,omitempty"`: nothing when it is empty, its keys sorted as
// encoding/json sorts a map's.
func appendMetadata(b []byte, m bank.Metadata) []byte {
	if len(m) == 0 {
		return b
	}
	b = append(b, `,"metadata":{`...)
	for i, k := range m.Keys() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

func (t *Transaction) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, t.Type)
	b = append(b, `,"status":`...)
	b = appendString(b, t.Status)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, t.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, string(t.Currency))
	b = append(b, `,"description":`...)
	b = appendString(b, t.Description)
	if t.ReversesID != "" {
		b = append(b, `,"reverses_id":`...)
		b = appendString(b, t.ReversesID)
	}
	if t.HoldID != "" {
		b = append(b, `,"hold_id":`...)
		b = appendString(b, t.HoldID)
	}
	b = append(b, `,"created_at":`...)
	b = appendTime(b, t.CreatedAt)
	b = append(b, `,"postings":`...)
	if t.Postings == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range t.Postings {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"account_id":`...)
			b = appendString(b, p.AccountID)
			b = append(b, `,"amount":`...)
			b = strconv.AppendInt(b, p.Amount, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendMetadata(b, t.Metadata)
	return append(b, '}')
}

// appendTransactionEvent encodes the ledger's most frequent event.
func appendTransactionEvent(b []byte, e *event.Transaction) []byte {
	b = append(b, `{"event_id":`...)
	b = appendString(b, e.EventID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	if e.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(e.Version), 10)
	}
	b = append(b, `,"occurred_at":`...)
	b = appendTime(b, e.OccurredAt)
	b = append(b, `,"transaction_id":`...)
	b = appendString(b, e.TransactionID)
	b = append(b, `,"transaction_type":`...)
	b = appendString(b, e.TransactionType)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, e.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, string(e.Currency))
	b = append(b, `,"description":`...)
	b = appendString(b, e.Description)
	b = append(b, `,"postings":`...)
	if e.Postings == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, l := range e.Postings {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"account_id":`...)
			b = appendString(b, l.AccountID)
			if l.OwnerID != "" {
				b = append(b, `,"owner_id":`...)
				b = appendString(b, l.OwnerID)
			}
			b = append(b, `,"amount":`...)
			b = strconv.AppendInt(b, l.Amount, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendMetadata(b, e.Metadata)
	return append(b, '}')
}

// appendTime encodes t as time.Time's MarshalJSON does. A year outside
// 0–9999, which MarshalJSON refuses, never reaches here: times are the
// clock's.
func appendTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		j, _ := json.Marshal(t)
		return append(b, j...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hex = "0123456789abcdef"

// appendString encodes s as encoding/json does by default: HTML characters
// and the line and paragraph separators escaped, invalid UTF-8 replaced.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
