package ledger

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// Lists are read a page at a time, newest first, by keyset: a page follows
// (created_at, id) of the previous page's last item, so rows inserted
// meanwhile never shift a page.

// Page asks for one page of a list, newest first.
type Page struct {
	Limit  int
	Cursor string
}

// cursor is the position after the last item of a page: its time and id.
type cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newestFirst completes q, a query over rows with a created_at column and the
// id column idCol, to read the page after c (nil: the first page), newest
// first: one row more than limit, to tell whether another page follows.
func (c *cursor) newestFirst(q string, args []any, idCol string, limit int) (string, []any) {
	if c != nil {
		args = append(args, c.At, c.ID)
		q += fmt.Sprintf(` AND (created_at, %s) < ($%d, $%d)`, idCol, len(args)-1, len(args))
	}
	args = append(args, limit+1)
	return q + fmt.Sprintf(` ORDER BY created_at DESC, %s DESC LIMIT $%d`, idCol, len(args)), args
}

// onePage cuts what newestFirst read to limit items and returns the cursor
// of the next page, or "" on the last one.
func onePage[T any](items []T, limit int, key func(T) cursor) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, key(items[limit-1]).encode()
}

func decodeCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return nil, bank.Invalid("cursor", "is not a cursor this API returned")
	}
	return &c, nil
}
