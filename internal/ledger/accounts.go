package ledger

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/store"
)

// OpenAccountInput is what a customer gives to open an account.
type OpenAccountInput struct {
	Currency bank.Currency
	Type     string // TypeChecking or TypeSavings
	Name     string
	Metadata bank.Metadata
}

// OpenAccount opens an account owned by p. The currency's system accounts are
// made on first use, in the same transaction. It returns KindInvalid for an
// unknown currency, a bad type or a name that is not text of at most 100
// characters.
func (l *Ledger) OpenAccount(ctx context.Context, p bank.Principal, in OpenAccountInput) (*Account, error) {
	if _, err := bank.ParseCurrency(string(in.Currency)); err != nil {
		return nil, err
	}
	if in.Type != TypeChecking && in.Type != TypeSavings {
		return nil, bank.Invalid("type", `must be "checking" or "savings"`)
	}
	if err := bank.CheckText("name", in.Name, 100); err != nil {
		return nil, err
	}
	if err := bank.CheckMetadata("metadata", in.Metadata); err != nil {
		return nil, err
	}
	now := l.clock()
	a := &Account{ID: bank.NewID(), OwnerID: p.UserID, Name: in.Name, Type: in.Type,
		Currency: in.Currency, Status: StatusActive, CreatedAt: now, Metadata: in.Metadata}
	if len(a.Metadata) == 0 {
		a.Metadata = nil // none: shown as none, stored as NULL
	}
	if a.Name == "" {
		a.Name = strings.ToUpper(in.Type[:1]) + in.Type[1:] + " " + string(in.Currency)
	}
	for attempt := 0; ; attempt++ {
		a.Number = accountNumber()
		err := l.db.InTx(ctx, func(tx *sql.Tx) error {
			for _, typ := range []string{TypeCash, TypeSettlement, TypeSuspense} {
				id := SystemAccountID(typ, in.Currency)
				if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, owner_id, number, name, type, currency, status, created_at)
					VALUES ($1, NULL, $2, $3, $4, $5, 'active', $6) ON CONFLICT (id) DO NOTHING`,
					id, strings.ToUpper(id), "Bank "+typ+" "+string(in.Currency), typ, in.Currency, now); err != nil {
					return fmt.Errorf("create system account %s: %w", id, err)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, owner_id, number, name, type, currency, status, created_at, metadata)
				VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8)`, a.ID, a.OwnerID, a.Number, a.Name, a.Type, a.Currency, now, a.Metadata.Stored()); err != nil {
				return err
			}
			return writeEntries(ctx, tx, l.db.Dialect, kindAccount, a.ID, a.Metadata, false)
		})
		if err != nil && store.IsUniqueViolation(err) && attempt < 3 {
			continue // an account number collided: draw another
		}
		if err != nil {
			return nil, fmt.Errorf("open account: %w", err)
		}
		return a, nil
	}
}

// accountNumber draws a random 11-digit account number whose last digit is a
// Luhn check digit, so that a mistyped number is caught before a lookup.
func accountNumber() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e10))
	digits := fmt.Sprintf("%010d", n)
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-i)%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + fmt.Sprint((10-sum%10)%10)
}

// validAccountNumber reports whether n has the shape accountNumber gives:
// 11 digits, the last a Luhn check digit of the first ten.
func validAccountNumber(n string) bool {
	if len(n) != 11 {
		return false
	}
	sum := 0
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if (len(n)-i)%2 == 0 { // every second digit from the check digit
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func notFound(id string) error {
	return bank.Errorf(bank.KindNotFound, "account_not_found", "account %s not found", id)
}

// Account returns the account id if p may see it; KindNotFound otherwise.
func (l *Ledger) Account(ctx context.Context, p bank.Principal, id string) (*Account, error) {
	if bank.CheckID("id", id) != nil {
		return nil, notFound(id)
	}
	a, err := scanAccountRead(l.db.QueryRowContext(ctx, `SELECT `+accountReadColumns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get account: %w", err)
	}
	if !p.Owns(a.OwnerID) || (a.System() && !p.Staff()) {
		return nil, notFound(id)
	}
	return a, nil
}

// AccountFilter narrows a list of accounts: to those of OwnerID when it is
// not empty, and to those carrying every pair of Metadata.
type AccountFilter struct {
	OwnerID  string
	Metadata bank.Metadata
	Page
}

// Accounts lists the customer accounts p may see, newest first: a customer's
// own; for staff every customer's, or f.OwnerID's when it is not empty. It
// returns KindInvalid for a bad cursor, owner id or metadata filter.
func (l *Ledger) Accounts(ctx context.Context, p bank.Principal, f AccountFilter) ([]*Account, string, error) {
	ownerID, page := f.OwnerID, f.Page
	cur, err := bank.DecodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	if err := bank.CheckMetadata("metadata", f.Metadata); err != nil {
		return nil, "", err
	}
	if ownerID != "" && bank.CheckID("owner_id", ownerID) != nil {
		return nil, "", bank.CheckID("owner_id", ownerID)
	}
	if scope := p.OwnerScope(); scope != "" {
		if ownerID != "" && ownerID != scope {
			return []*Account{}, "", nil // another customer's accounts: nothing to see
		}
		ownerID = scope
	}
	q := `SELECT ` + accountReadColumns + ` FROM accounts WHERE owner_id IS NOT NULL`
	var args []any
	if ownerID != "" {
		args = append(args, ownerID)
		q += fmt.Sprintf(` AND owner_id = $%d`, len(args))
	}
	q, args = matchMetadata(l.db.Dialect, q, args, kindAccount, "id", f.Metadata)
	q, args = cur.NewestFirst(q, args, "id", page.Limit)
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []*Account{}
	for rows.Next() {
		a, err := scanAccountRead(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := bank.OnePage(out, page.Limit, func(a *Account) bank.Cursor { return bank.Cursor{At: a.CreatedAt, ID: a.ID} })
	return out, next, nil
}

// Account actions of the back office.
const (
	ActionFreeze   = "freeze"
	ActionUnfreeze = "unfreeze"
	ActionClose    = "close"
)

// SetStatus freezes, unfreezes or closes the customer account id. Each is a
// conditional update, so it is atomic with respect to concurrent postings:
// a transfer that locked the row first commits first, one that comes after
// sees the new status. Repeating an action is harmless. It returns
// KindForbidden for a customer, KindNotFound, and KindRejected for
// account_closed or balance_not_zero (close needs zero posted and pending).
func (l *Ledger) SetStatus(ctx context.Context, p bank.Principal, id, action string) (*Account, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	var q string
	switch action {
	case ActionFreeze:
		q = `UPDATE accounts SET status = 'frozen' WHERE id = $1 AND owner_id IS NOT NULL AND status = 'active'`
	case ActionUnfreeze:
		q = `UPDATE accounts SET status = 'active' WHERE id = $1 AND owner_id IS NOT NULL AND status = 'frozen'`
	case ActionClose:
		q = `UPDATE accounts SET status = 'closed' WHERE id = $1 AND owner_id IS NOT NULL AND status <> 'closed' AND posted = 0 AND pending = 0`
	default:
		return nil, bank.Invalid("action", "must be freeze, unfreeze or close")
	}
	return l.updateAccount(ctx, id, q, nil, func(tx *sql.Tx, a *Account, changed bool) error {
		if changed {
			act := map[string]string{ActionFreeze: AuditFrozen, ActionUnfreeze: AuditUnfrozen, ActionClose: AuditClosed}[action]
			if err := audit.Write(ctx, tx, l.clock(), audit.New(p.UserID, act, id, bank.OriginOf(ctx), map[string]string{"owner_id": a.OwnerID})); err != nil {
				return err
			}
		}
		switch {
		case changed && action == ActionFreeze:
			return event.Publish(ctx, tx, &event.Frozen{Header: event.NewHeader(event.AccountFrozen, l.clock()),
				AccountID: a.ID, OwnerID: a.OwnerID, FrozenBy: p.UserID})
		case changed:
			return nil
		case a.Status == StatusClosed && action != ActionClose:
			return bank.Errorf(bank.KindRejected, "account_closed", "account %s is closed", id)
		case action == ActionClose && a.Status != StatusClosed:
			return bank.Errorf(bank.KindRejected, "balance_not_zero",
				"account %s has a posted balance of %d and %d pending; only an empty account can be closed",
				id, a.Balance.Posted, a.Balance.Pending)
		}
		return nil // already in the asked state
	})
}

// SetOverdraftLimit sets how far below zero the customer account id may go.
// Lowering it below what the account already uses is refused
// (KindRejected, overdraft_in_use), as is a closed account.
func (l *Ledger) SetOverdraftLimit(ctx context.Context, p bank.Principal, id string, limit int64) (*Account, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	if limit < 0 || limit > bank.MaxAmount {
		return nil, bank.Invalid("amount", "must be from 0 to 1000000000000000 minor units")
	}
	return l.updateAccount(ctx, id, `UPDATE accounts SET overdraft_limit = $2 WHERE id = $1
		AND owner_id IS NOT NULL AND status <> 'closed' AND posted - pending + $2 >= 0`, []any{limit},
		func(tx *sql.Tx, a *Account, changed bool) error {
			switch {
			case changed:
				return audit.Write(ctx, tx, l.clock(), audit.New(p.UserID, AuditOverdraftLimit, id, bank.OriginOf(ctx),
					map[string]string{"overdraft_limit": strconv.FormatInt(limit, 10)}))
			case a.Status == StatusClosed:
				return bank.Errorf(bank.KindRejected, "account_closed", "account %s is closed", id)
			}
			return bank.Errorf(bank.KindRejected, "overdraft_in_use",
				"account %s uses %d of its overdraft; the limit cannot go below that", id, -(a.Balance.Posted - a.Balance.Pending))
		})
}

// updateAccount runs the conditional update q ($1 is id, then args) of a
// customer account and reads the row back in the same transaction; then
// judges the outcome from whether the update matched and the row as it is
// now, and may write more in tx. A missing or system account is not found.
func (l *Ledger) updateAccount(ctx context.Context, id, q string, args []any,
	then func(tx *sql.Tx, a *Account, changed bool) error) (*Account, error) {
	if bank.CheckID("id", id) != nil {
		return nil, notFound(id)
	}
	var a *Account
	err := l.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, append([]any{id}, args...)...)
		if err != nil {
			return err
		}
		changed, err := res.RowsAffected()
		if err != nil {
			return err
		}
		a, err = scanAccountRead(tx.QueryRowContext(ctx, `SELECT `+accountReadColumns+` FROM accounts WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && a.System()) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		return then(tx, a, changed == 1)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}
