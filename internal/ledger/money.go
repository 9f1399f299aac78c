package ledger

import (
	"context"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
)

// The money-moving operations. Each takes the caller, its Idempotency-Key with
// the request's fingerprint, and validated input; each returns the response to
// send (stored for replays) or an error. Errors: KindForbidden (role),
// KindNotFound (an account or hold the caller may not see), KindRejected
// (insufficient_funds, account_frozen, account_closed, currency_mismatch,
// idempotency_key_reused, …), KindConflict (request_in_progress).

// TransferInput moves Money from one account to another.
type TransferInput struct {
	From, To    string
	Money       bank.Money
	Description string
}

// BatchItem is one transfer of a batch, or the reason it is invalid.
type BatchItem struct {
	Transfer TransferInput
	Invalid  error
}

// HoldInput reserves Money on an account until ExpiresAt (nil: no expiry).
type HoldInput struct {
	AccountID   string
	Money       bank.Money
	ExpiresAt   *time.Time
	Description string
}

func requireStaff(p auth.Principal) error {
	if !p.Staff() {
		return bank.Errorf(bank.KindForbidden, "forbidden", "this action needs the operator role")
	}
	return nil
}

// Deposit credits cash to a customer account. Operators only.
func (l *Ledger) Deposit(ctx context.Context, p auth.Principal, idem Idempotency, accountID string, m bank.Money, description string) (Response, error) {
	if err := requireStaff(p); err != nil {
		return Response{}, err
	}
	return l.submit(&request{p: p, idem: idem, cmds: []command{{op: opDeposit, to: accountID, money: m, description: description}}})
}

// Withdraw pays cash out of an account; its owner or an operator.
func (l *Ledger) Withdraw(ctx context.Context, p auth.Principal, idem Idempotency, accountID string, m bank.Money, description string) (Response, error) {
	return l.submit(&request{p: p, idem: idem, cmds: []command{{op: opWithdrawal, from: accountID, money: m, description: description}}})
}

// Transfer moves money from an account of the caller's to any customer account.
func (l *Ledger) Transfer(ctx context.Context, p auth.Principal, idem Idempotency, in TransferInput) (Response, error) {
	return l.submit(&request{p: p, idem: idem, cmds: []command{transferCommand(in)}})
}

func transferCommand(in TransferInput) command {
	return command{op: opTransfer, from: in.From, to: in.To, money: in.Money, description: in.Description}
}

// TransferBatch posts up to 1,000 transfers in one database transaction. Each
// succeeds or fails on its own; the response (201) lists a transaction or an
// error per item, in order.
func (l *Ledger) TransferBatch(ctx context.Context, p auth.Principal, idem Idempotency, items []BatchItem) (Response, error) {
	cmds := make([]command, len(items))
	for i, it := range items {
		cmds[i] = transferCommand(it.Transfer)
		cmds[i].err = it.Invalid
	}
	return l.submit(&request{p: p, idem: idem, cmds: cmds, batch: true})
}

// CreateHold reserves money on an account of the caller's (or any, for staff).
func (l *Ledger) CreateHold(ctx context.Context, p auth.Principal, idem Idempotency, in HoldInput) (Response, error) {
	return l.submit(&request{p: p, idem: idem, cmds: []command{{op: opHold, from: in.AccountID, money: in.Money,
		expiresAt: in.ExpiresAt, description: in.Description}}})
}

// CaptureHold posts amount (0: the whole remainder) of a pending hold to a
// customer account. What is left stays held until captured, voided or expired.
func (l *Ledger) CaptureHold(ctx context.Context, p auth.Principal, idem Idempotency, holdID, to string, amount int64) (Response, error) {
	return l.submit(&request{p: p, idem: idem, cmds: []command{{op: opCapture, holdID: holdID, to: to,
		money: bank.Money{Amount: amount}}}})
}

// VoidHold releases what a pending hold still reserves.
func (l *Ledger) VoidHold(ctx context.Context, p auth.Principal, idem Idempotency, holdID string) (Response, error) {
	return l.submit(&request{p: p, idem: idem, cmds: []command{{op: opVoid, holdID: holdID}}})
}

// Reverse posts the opposite of a transaction, once. Operators only. A
// reversal may debit a frozen account, never a closed one, and never below
// its floor.
func (l *Ledger) Reverse(ctx context.Context, p auth.Principal, idem Idempotency, txID, description string) (Response, error) {
	if err := requireStaff(p); err != nil {
		return Response{}, err
	}
	return l.submit(&request{p: p, idem: idem, cmds: []command{{op: opReversal, txID: txID, description: description}}})
}

// ExpireHolds releases the pending holds whose expiry has passed and returns
// how many it found.
func (l *Ledger) ExpireHolds(ctx context.Context) (int, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id FROM holds WHERE status = 'pending' AND expires_at IS NOT NULL
		AND expires_at <= $1 ORDER BY expires_at LIMIT 1000`, l.clock())
	if err != nil {
		return 0, err
	}
	var cmds []command
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		cmds = append(cmds, command{op: opExpire, holdID: id})
	}
	if err := rows.Close(); err != nil || len(cmds) == 0 {
		return 0, err
	}
	system := auth.Principal{UserID: "system", Role: auth.RoleAdmin}
	_, err = l.submit(&request{p: system, cmds: cmds, batch: true})
	return len(cmds), err
}

// PurgeIdempotencyKeys deletes keys older than the retention and returns how many.
func (l *Ledger) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	res, err := l.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`,
		l.clock().Add(-l.cfg.IdempotencyRetention))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
