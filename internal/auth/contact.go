package auth

import (
	"context"
	"fmt"

	"github.com/fintech-banking/bank/internal/store"
)

// Contact is how to reach a user: all that other services learn of one from
// auth, so that none of them reads the users table.
type Contact struct {
	Email string
	Name  string
}

// Directory finds users' contacts in auth's users table. It needs the
// database alone, so a service that only tells users things (notification)
// can use it without auth's keys.
type Directory struct{ DB *store.DB }

// Lookup returns the contact of each of userIDs, in one query. Users that do
// not exist (any more) are left out of its answer.
func (d Directory) Lookup(ctx context.Context, userIDs []string) (map[string]Contact, error) {
	out := make(map[string]Contact, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	in, args := store.In(d.DB, "id", userIDs)
	rows, err := d.DB.QueryContext(ctx, `SELECT id, email, name FROM users WHERE `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("look up %d users: %w", len(userIDs), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c Contact
		if err := rows.Scan(&id, &c.Email, &c.Name); err != nil {
			return nil, fmt.Errorf("look up %d users: %w", len(userIDs), err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up %d users: %w", len(userIDs), err)
	}
	return out, nil
}
