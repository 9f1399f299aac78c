package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// Reconciliation (package recon) compares an account's postings with the
// bank's statement of it, and clears what differs against the suspense
// account of the account's currency: money whose other side is not yet known.

// SuspenseInput moves Money between an account and the suspense account of
// its currency: into the account when Credit, out of it otherwise.
type SuspenseInput struct {
	AccountID   string
	Money       bank.Money
	Credit      bool
	Description string
	Metadata    bank.Metadata
}

// PostToSuspense posts in.Money between in.AccountID, a customer or system
// account other than a suspense account, and the suspense account of its
// currency, as one transaction of type "transfer". Staff only. It returns
// KindForbidden, KindInvalid, KindNotFound (the account, or a suspense
// account) and KindRejected (account_frozen, account_closed,
// currency_mismatch, insufficient_funds, idempotency_key_reused).
func (l *Ledger) PostToSuspense(ctx context.Context, p bank.Principal, idem Idempotency, in SuspenseInput) (Result, error) {
	if err := requireStaff(p); err != nil {
		return Result{}, err
	}
	if err := checkAccountMoney(in.AccountID, in.Money, in.Description, in.Metadata); err != nil {
		return Result{}, err
	}
	c := command{op: opSuspense, money: in.Money, description: in.Description, metadata: in.Metadata}
	suspense := SystemAccountID(TypeSuspense, in.Money.Currency)
	if in.Credit {
		c.from, c.to = suspense, in.AccountID
	} else {
		c.from, c.to = in.AccountID, suspense
	}
	return l.submitOne(ctx, p, idem, c)
}

// suspense moves c's money between an account and its suspense account.
func (b *batch) suspense(p bank.Principal, c command) (any, bool, error) {
	from, to := b.accounts[c.from], b.accounts[c.to]
	for _, a := range []*Account{from, to} {
		if a == nil {
			return nil, false, accountNotFound("account_id", c.from+" "+c.to)
		}
	}
	other := from
	if from.Type == TypeSuspense {
		other = to
	}
	if other.Type == TypeSuspense || (to.Type != TypeSuspense && from.Type != TypeSuspense) {
		return nil, false, accountNotFound("account_id", other.ID)
	}
	if err := checkDebit(from, c.money, true); err != nil {
		return nil, false, err
	}
	if err := checkCredit(to, c.money); err != nil {
		return nil, false, err
	}
	if err := fits(c.money.Amount, from, to); err != nil {
		return nil, false, err
	}
	return b.move(p, TxTransfer, c, from, to, c.money.Amount), true, nil
}

// Entry is one posting of an account with the references a bank statement
// may name it by.
type Entry struct {
	TransactionID string    `json:"transaction_id"`
	PaymentID     string    `json:"payment_id,omitempty"`
	Reference     string    `json:"reference,omitempty"` // the transaction's metadata.reference
	Amount        int64     `json:"amount"`              // signed: negative is a debit
	CreatedAt     time.Time `json:"created_at"`
}

// References are the strings e may be named by on a statement.
func (e *Entry) References() []string {
	refs := []string{e.TransactionID}
	if e.PaymentID != "" {
		refs = append(refs, e.PaymentID)
	}
	if e.Reference != "" {
		refs = append(refs, e.Reference)
	}
	return refs
}

// Entries returns the postings of account id made in [from, to), oldest
// first. Staff only: KindForbidden, KindNotFound.
func (l *Ledger) Entries(ctx context.Context, p bank.Principal, id string, from, to time.Time) ([]Entry, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	if _, err := l.Account(ctx, p, id); err != nil {
		return nil, err
	}
	rs, err := l.db.QueryContext(ctx, `SELECT p.transaction_id, p.amount, p.created_at, t.type, t.description, t.metadata
		FROM postings p JOIN transactions t ON t.id = p.transaction_id
		WHERE p.account_id = $1 AND p.created_at >= $2 AND p.created_at < $3
		ORDER BY p.created_at, p.transaction_id`, id, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("entries: %w", err)
	}
	defer rs.Close()
	var es []Entry
	for rs.Next() {
		var (
			e          Entry
			typ, descr string
			md         *string
		)
		if err := rs.Scan(&e.TransactionID, &e.Amount, &e.CreatedAt, &typ, &descr, &md); err != nil {
			return nil, fmt.Errorf("entries: %w", err)
		}
		m, err := bank.ParseMetadata(md)
		if err != nil {
			return nil, fmt.Errorf("entries: transaction %s: its metadata: %w", e.TransactionID, err)
		}
		e.CreatedAt, e.Reference = e.CreatedAt.UTC(), m["reference"]
		// A settled payment's capture carries its hold's description,
		// "payment ID" (package payment).
		if id, ok := strings.CutPrefix(descr, "payment "); ok && typ == TxPayment {
			e.PaymentID = id
		}
		es = append(es, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("entries: %w", err)
	}
	return es, nil
}
