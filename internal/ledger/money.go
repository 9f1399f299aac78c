package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// The money-moving operations. Each takes the caller, its Idempotency-Key with
// the fingerprint of the decoded request, and typed input that the ledger
// checks itself; each returns the answer (kept for replays) or an error.
// Errors: KindInvalid (input the ledger refuses, a missing or bad key),
// KindForbidden (role), KindNotFound (an account, hold or transaction the
// caller may not see), KindRejected (insufficient_funds, account_frozen,
// account_closed, currency_mismatch, idempotency_key_reused, …; kept and
// replayed like a success), KindConflict (request_in_progress),
// KindUnavailable (the database could not be reached, or the request was
// cancelled before it was posted).

type op uint8

const (
	opDeposit op = iota + 1
	opWithdrawal
	opTransfer
	opHold
	opCapture
	opVoid
	opExpire
	opReversal
	opSuspense
)

// command is one money operation of a request.
type command struct {
	op          op
	from, to    string     // account ids
	money       bank.Money // for a capture, an Amount of 0 means the whole remainder
	description string
	expiresAt   *time.Time
	holdID      string
	txID        string // the transaction a reversal reverses
	settle      bool   // a capture into the settlement account (system.go)
	metadata    bank.Metadata
	err         error // a batch item the ledger refused before queueing it
}

// CashInput pays Money into (a deposit) or out of (a withdrawal) an account.
type CashInput struct {
	AccountID   string
	Money       bank.Money
	Description string
	Metadata    bank.Metadata
}

// TransferInput moves Money from one account to another. The receiving
// account is named by its id (To) or by its account number (ToNumber), not
// both.
type TransferInput struct {
	From, To    string
	ToNumber    string
	Money       bank.Money
	Description string
	Metadata    bank.Metadata
}

// HoldInput reserves Money on an account until ExpiresAt (nil: no expiry).
type HoldInput struct {
	ID          string // the new hold's id, for HoldIn's caller that names it first; empty: a new one
	AccountID   string
	Money       bank.Money
	ExpiresAt   *time.Time
	Description string
	Metadata    bank.Metadata
}

// MaxBatchTransfers is the most transfers one batch request may carry.
const MaxBatchTransfers = 1000

// maxDescription is the longest description, in characters.
const maxDescription = 500

func requireStaff(p bank.Principal) error {
	if !p.Staff() {
		return bank.Errorf(bank.KindForbidden, "forbidden", "this action needs the operator role")
	}
	return nil
}

// checkMoney refuses an amount outside 1…bank.MaxAmount or an unknown currency.
func checkMoney(field string, m bank.Money) error {
	_, err := bank.ParseMoney(field, bank.Amount(m.Amount), string(m.Currency))
	return err
}

func (in TransferInput) check() error {
	if err := bank.CheckID("from_account_id", in.From); err != nil {
		return err
	}
	switch {
	case in.To != "" && in.ToNumber != "":
		return bank.Invalid("to_account_number", "give to_account_id or to_account_number, not both")
	case in.ToNumber != "":
		if !validAccountNumber(in.ToNumber) {
			return bank.Invalid("to_account_number", "must be an account number of 11 digits")
		}
		return in.checkRest()
	}
	if err := bank.CheckID("to_account_id", in.To); err != nil {
		return err
	}
	if in.From == in.To {
		return bank.Invalid("to_account_id", "must differ from from_account_id")
	}
	return in.checkRest()
}

// checkRest checks what follows the accounts: the money, the description
// and the metadata.
func (in TransferInput) checkRest() error {
	if err := checkMoney("amount", in.Money); err != nil {
		return err
	}
	if err := bank.CheckText("description", in.Description, maxDescription); err != nil {
		return err
	}
	return bank.CheckMetadata("metadata", in.Metadata)
}

// submitOne checks the request's key, then queues its single command.
func (l *Ledger) submitOne(ctx context.Context, p bank.Principal, idem Idempotency, c command) (Result, error) {
	if err := bank.CheckIdempotencyKey(idem.Key); err != nil {
		return Result{}, err
	}
	return l.submit(ctx, &request{p: p, idem: idem, cmds: []command{c}})
}

// Deposit credits cash to a customer account. Operators only.
func (l *Ledger) Deposit(ctx context.Context, p bank.Principal, idem Idempotency, in CashInput) (Result, error) {
	if err := requireStaff(p); err != nil {
		return Result{}, err
	}
	if err := checkAccountMoney(in.AccountID, in.Money, in.Description, in.Metadata); err != nil {
		return Result{}, err
	}
	return l.submitOne(ctx, p, idem, command{op: opDeposit, to: in.AccountID, money: in.Money,
		description: in.Description, metadata: in.Metadata})
}

// Withdraw pays cash out of an account; its owner or an operator.
func (l *Ledger) Withdraw(ctx context.Context, p bank.Principal, idem Idempotency, in CashInput) (Result, error) {
	if err := checkAccountMoney(in.AccountID, in.Money, in.Description, in.Metadata); err != nil {
		return Result{}, err
	}
	return l.submitOne(ctx, p, idem, command{op: opWithdrawal, from: in.AccountID, money: in.Money,
		description: in.Description, metadata: in.Metadata})
}

func checkAccountMoney(accountID string, m bank.Money, description string, md bank.Metadata) error {
	if err := bank.CheckID("account_id", accountID); err != nil {
		return err
	}
	if err := checkMoney("amount", m); err != nil {
		return err
	}
	if err := bank.CheckText("description", description, maxDescription); err != nil {
		return err
	}
	return bank.CheckMetadata("metadata", md)
}

// Transfer moves money from an account of the caller's to any customer
// account, named by its id or its number. It returns KindInvalid for bad
// input, KindNotFound for an account the caller may not use or that does not
// exist, and KindRejected for a money rule (funds, status, currency).
func (l *Ledger) Transfer(ctx context.Context, p bank.Principal, idem Idempotency, in TransferInput) (Result, error) {
	if err := in.check(); err != nil {
		return Result{}, err
	}
	if err := l.resolveNumber(ctx, &in); err != nil {
		return Result{}, err
	}
	return l.submitOne(ctx, p, idem, transferCommand(in))
}

// resolveNumber turns in.ToNumber into in.To. An account's number never
// changes, so it is looked up before the money's transaction, not inside it;
// the transaction then checks the account as it would any other id.
func (l *Ledger) resolveNumber(ctx context.Context, in *TransferInput) error {
	if in.ToNumber == "" {
		return nil
	}
	var id string
	err := l.db.QueryRowContext(ctx, `SELECT id FROM accounts WHERE number = $1`, in.ToNumber).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return accountNotFound("to_account_number", in.ToNumber)
	}
	if err != nil {
		return fmt.Errorf("find account by number: %w", err)
	}
	if id == in.From {
		return bank.Invalid("to_account_number", "must differ from from_account_id")
	}
	in.To, in.ToNumber = id, ""
	return nil
}

func transferCommand(in TransferInput) command {
	return command{op: opTransfer, from: in.From, to: in.To, money: in.Money, description: in.Description, metadata: in.Metadata}
}

// TransferBatch posts 1 to MaxBatchTransfers transfers together. Each
// succeeds or fails on its own, an invalid one included: the answer lists a
// transaction or an error per item, in order.
func (l *Ledger) TransferBatch(ctx context.Context, p bank.Principal, idem Idempotency, items []TransferInput) (Result, error) {
	if len(items) == 0 || len(items) > MaxBatchTransfers {
		return Result{}, bank.Invalid("transfers", fmt.Sprintf("must hold from 1 to %d transfers", MaxBatchTransfers))
	}
	if err := bank.CheckIdempotencyKey(idem.Key); err != nil {
		return Result{}, err
	}
	cmds := make([]command, len(items))
	for i, in := range items {
		err := in.check()
		if err == nil {
			err = l.resolveNumber(ctx, &in)
		}
		cmds[i] = transferCommand(in)
		cmds[i].err = err
	}
	return l.submit(ctx, &request{p: p, idem: idem, cmds: cmds, batch: true})
}

// CreateHold reserves money on an account of the caller's (or any, for staff).
func (l *Ledger) CreateHold(ctx context.Context, p bank.Principal, idem Idempotency, in HoldInput) (Result, error) {
	if err := checkAccountMoney(in.AccountID, in.Money, in.Description, in.Metadata); err != nil {
		return Result{}, err
	}
	return l.submitOne(ctx, p, idem, command{op: opHold, from: in.AccountID, money: in.Money,
		expiresAt: in.ExpiresAt, description: in.Description, metadata: in.Metadata})
}

// CaptureHold posts amount (0: the whole remainder) of a pending hold to a
// customer account. What is left stays held until captured, voided or expired.
func (l *Ledger) CaptureHold(ctx context.Context, p bank.Principal, idem Idempotency, holdID, to string, amount int64) (Result, error) {
	if err := bank.CheckID("hold_id", holdID); err != nil {
		return Result{}, err
	}
	if err := bank.CheckID("to_account_id", to); err != nil {
		return Result{}, err
	}
	if amount < 0 || amount > bank.MaxAmount {
		return Result{}, bank.Invalid("amount", "must be a positive integer number of minor units, at most 1000000000000000")
	}
	return l.submitOne(ctx, p, idem, command{op: opCapture, holdID: holdID, to: to, money: bank.Money{Amount: amount}})
}

// VoidHold releases what a pending hold still reserves.
func (l *Ledger) VoidHold(ctx context.Context, p bank.Principal, idem Idempotency, holdID string) (Result, error) {
	if err := bank.CheckID("hold_id", holdID); err != nil {
		return Result{}, err
	}
	return l.submitOne(ctx, p, idem, command{op: opVoid, holdID: holdID})
}

// Reverse posts the opposite of a transaction, once. Operators only. A
// reversal may debit a frozen account, never a closed one, and never below
// its floor.
func (l *Ledger) Reverse(ctx context.Context, p bank.Principal, idem Idempotency, txID, description string) (Result, error) {
	if err := requireStaff(p); err != nil {
		return Result{}, err
	}
	if err := bank.CheckID("transaction_id", txID); err != nil {
		return Result{}, err
	}
	if err := bank.CheckText("description", description, maxDescription); err != nil {
		return Result{}, err
	}
	return l.submitOne(ctx, p, idem, command{op: opReversal, txID: txID, description: description})
}

// system is the principal of the ledger's own requests.
var system = bank.Principal{UserID: "system", Role: bank.RoleAdmin}

// ExpireHolds releases the pending holds whose expiry has passed and returns
// how many it found.
func (l *Ledger) ExpireHolds(ctx context.Context) (int, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id FROM holds WHERE status = 'pending' AND expires_at IS NOT NULL
		AND expires_at <= $1 ORDER BY expires_at LIMIT 1000`, l.clock())
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var cmds []command
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		cmds = append(cmds, command{op: opExpire, holdID: id})
	}
	if err := rows.Err(); err != nil || len(cmds) == 0 {
		return 0, err
	}
	// No Idempotency-Key: expiring a hold twice changes nothing the second time.
	_, err = l.submit(ctx, &request{p: system, cmds: cmds, batch: true})
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
