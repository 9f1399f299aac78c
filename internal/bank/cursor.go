package bank

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Lists are read a page at a time, newest first, by keyset: a page follows
// (created_at, id) of the previous page's last item, so rows inserted
// meanwhile never shift a page.

// Cursor is the position after the last item of a page: its time and id.
type Cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// Encode returns c as the opaque string lists answer with as next_cursor.
func (c Cursor) Encode() string { return EncodeCursor(c) }

// EncodeCursor returns c, a page's position (a struct of JSON fields), as
// the opaque string a list answers with as next_cursor.
func EncodeCursor(c any) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ReadCursor reads s, made by EncodeCursor, into c, and reports whether it
// could; the caller checks the fields.
func ReadCursor(s string, c any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, c) == nil
}

// DecodeCursor reads a cursor a list answered with; "" is the first page
// (nil). Anything else is KindInvalid.
func DecodeCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	var c Cursor
	if !ReadCursor(s, &c) || c.At.IsZero() || CheckID("cursor", c.ID) != nil {
		return nil, Invalid("cursor", "is not a cursor this API returned")
	}
	return &c, nil
}

// NewestFirst completes q, a query over rows with a created_at column and the
// id column idCol, to read the page after c (nil: the first page), newest
// first: one row more than limit, to tell whether another page follows.
func (c *Cursor) NewestFirst(q string, args []any, idCol string, limit int) (string, []any) {
	if c != nil {
		args = append(args, c.At.UTC(), c.ID)
		q += fmt.Sprintf(` AND (created_at, %s) < ($%d, $%d)`, idCol, len(args)-1, len(args))
	}
	args = append(args, limit+1)
	return q + fmt.Sprintf(` ORDER BY created_at DESC, %s DESC LIMIT $%d`, idCol, len(args)), args
}

// OnePage cuts what NewestFirst read to limit items and returns the cursor
// of the next page, or "" on the last one.
func OnePage[T any](items []T, limit int, key func(T) Cursor) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, key(items[limit-1]).Encode()
}
