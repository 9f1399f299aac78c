package ledger

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// The money rules: each command is checked against the rows its batch locked
// and, if it passes, applied to them in memory and recorded for writing.

// exec checks one command against the locked rows and, if it passes, applies it
// to them in memory and records what to write. It changes nothing when it fails.
func (b *batch) exec(p bank.Principal, c command) (any, bool, error) {
	if c.err != nil {
		return nil, false, c.err
	}
	switch c.op {
	case opDeposit:
		to, err := b.anyCustomerAccount("account_id", c.to)
		if err != nil {
			return nil, false, err
		}
		cash := b.accounts[SystemAccountID(TypeCash, c.money.Currency)]
		if err := checkCredit(to, c.money); err != nil {
			return nil, false, err
		}
		if err := fits(c.money.Amount, cash, to); err != nil {
			return nil, false, err
		}
		return b.move(p, TxDeposit, c, cash, to, c.money.Amount), true, nil
	case opWithdrawal:
		from, err := b.customerAccount("account_id", c.from, p)
		if err != nil {
			return nil, false, err
		}
		cash := b.accounts[SystemAccountID(TypeCash, c.money.Currency)]
		if err := checkDebit(from, c.money, true); err != nil {
			return nil, false, err
		}
		if err := fits(c.money.Amount, from, cash); err != nil {
			return nil, false, err
		}
		return b.move(p, TxWithdrawal, c, from, cash, c.money.Amount), true, nil
	case opTransfer:
		from, err := b.customerAccount("from_account_id", c.from, p)
		if err != nil {
			return nil, false, err
		}
		to, err := b.anyCustomerAccount("to_account_id", c.to)
		if err != nil {
			return nil, false, err
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
	case opHold:
		return b.hold(p, c)
	case opCapture:
		return b.capture(p, c)
	case opVoid, opExpire:
		return b.release(p, c)
	case opReversal:
		return b.reverse(p, c)
	case opSuspense:
		return b.suspense(p, c)
	}
	return nil, false, fmt.Errorf("unknown operation %d", c.op)
}

// customerAccount returns the locked customer account id if p may use it:
// another customer's account and the bank's own accounts are "not found".
func (b *batch) customerAccount(field, id string, p bank.Principal) (*Account, error) {
	a, err := b.anyCustomerAccount(field, id)
	if err != nil || !p.Owns(a.OwnerID) {
		return nil, accountNotFound(field, id)
	}
	return a, nil
}

// anyCustomerAccount returns the locked customer account id whoever owns it:
// money may be paid into any customer's account, and only the account's
// existence is revealed to the payer. The bank's own accounts are "not found".
func (b *batch) anyCustomerAccount(field, id string) (*Account, error) {
	a := b.accounts[id]
	if a == nil || a.System() {
		return nil, accountNotFound(field, id)
	}
	return a, nil
}

func accountNotFound(field, id string) error {
	return &bank.Error{Kind: bank.KindNotFound, Code: "account_not_found",
		Message: "account " + id + " not found", Details: map[string]string{field: "not found"}}
}

func checkStatus(a *Account) error {
	switch a.Status {
	case StatusFrozen:
		return bank.Errorf(bank.KindRejected, "account_frozen", "account %s is frozen", a.ID)
	case StatusClosed:
		return bank.Errorf(bank.KindRejected, "account_closed", "account %s is closed", a.ID)
	}
	return nil
}

func checkCurrency(a *Account, m bank.Money) error {
	if a.Currency != m.Currency {
		return bank.Errorf(bank.KindRejected, "currency_mismatch",
			"account %s holds %s, not %s", a.ID, a.Currency, m.Currency)
	}
	return nil
}

func checkCredit(a *Account, m bank.Money) error {
	if err := checkStatus(a); err != nil {
		return err
	}
	return checkCurrency(a, m)
}

// checkDebit refuses a debit of m from a that its status, currency or floor
// forbid. withStatus false skips the status check (a reversal may debit a
// frozen account: freezing is how fraud is stopped before it is reversed).
func checkDebit(a *Account, m bank.Money, withStatus bool) error {
	if withStatus {
		if err := checkStatus(a); err != nil {
			return err
		}
	} else if a.Status == StatusClosed {
		return checkStatus(a)
	}
	if err := checkCurrency(a, m); err != nil {
		return err
	}
	if !a.System() && a.available() < m.Amount {
		return bank.Errorf(bank.KindRejected, "insufficient_funds",
			"account %s has %d available, less than %d", a.ID, a.available(), m.Amount)
	}
	return nil
}

// fits refuses to move amount out of debit and into the credit accounts when
// a balance would pass what int64 holds. With amounts capped at
// bank.MaxAmount that takes thousands of maximal movements on one account;
// the check keeps money from wrapping around even then.
func fits(amount int64, debit *Account, credits ...*Account) error {
	bad := overflows(debit, -amount)
	for _, c := range credits {
		bad = bad || overflows(c, amount)
	}
	if bad {
		return errBalanceLimit
	}
	return nil
}

var errBalanceLimit = bank.Errorf(bank.KindRejected, "balance_limit_exceeded", "a balance would exceed what an account can hold")

// overflows reports whether adding delta to a's posted balance would wrap.
func overflows(a *Account, delta int64) bool {
	p := a.Balance.Posted
	return delta > 0 && p > math.MaxInt64-delta || delta < 0 && p < math.MinInt64-delta
}

// move records a two-legged transaction moving amount from debit to credit.
func (b *batch) move(p bank.Principal, typ string, c command, debit, credit *Account, amount int64) *Transaction {
	t := &Transaction{ID: bank.NewID(), Type: typ, Status: "posted", Amount: amount,
		Currency: debit.Currency, Description: c.description, Metadata: c.metadata, CreatedAt: b.now, createdBy: p.UserID,
		Postings: []Posting{{AccountID: debit.ID, Amount: -amount}, {AccountID: credit.ID, Amount: amount}}}
	b.record(t)
	return t
}

// record applies t's postings to the locked balances and queues its rows.
func (b *batch) record(t *Transaction) {
	for _, p := range t.Postings {
		a := b.accounts[p.AccountID]
		a.Balance.Posted += p.Amount
		a.setAvailable()
		b.dirty[a.ID] = true
	}
	b.txs = append(b.txs, t)
	b.event(t.event(event.NewHeader(event.TransactionPosted, b.now), b.accounts))
}

func (b *batch) hold(p bank.Principal, c command) (any, bool, error) {
	a, err := b.customerAccount("account_id", c.from, p)
	if err != nil {
		return nil, false, err
	}
	if err := checkDebit(a, c.money, true); err != nil {
		return nil, false, err
	}
	if c.expiresAt != nil && !c.expiresAt.After(b.now) {
		return nil, false, bank.Invalid("expires_at", "must be in the future")
	}
	id := c.holdID // named by HoldIn's caller
	if id == "" {
		id = bank.NewID()
	}
	h := &Hold{ID: id, AccountID: a.ID, Amount: c.money.Amount, Currency: a.Currency,
		Status: HoldPending, Description: c.description, Metadata: c.metadata, ExpiresAt: c.expiresAt, CreatedAt: b.now,
		createdBy: p.UserID, updatedAt: b.now}
	a.Balance.Pending += h.Amount
	a.setAvailable()
	b.dirty[a.ID] = true
	b.holds[h.ID] = h
	b.newHolds = append(b.newHolds, h)
	b.event(h.event(event.NewHeader(event.HoldCreated, b.now), a))
	return h, true, nil
}

// pendingHold returns the locked hold id if p may use it and it still reserves money.
func (b *batch) pendingHold(p bank.Principal, id string) (*Hold, *Account, error) {
	h := b.holds[id]
	var a *Account
	if h != nil {
		a = b.accounts[h.AccountID]
	}
	if h == nil || a == nil || !p.Owns(a.OwnerID) {
		return nil, nil, bank.Errorf(bank.KindNotFound, "hold_not_found", "hold %s not found", id)
	}
	// Expired is one answer whether or not the sweeper has released the hold yet.
	if h.Status == HoldExpired || h.Status == HoldPending && h.ExpiresAt != nil && !h.ExpiresAt.After(b.now) {
		return h, a, bank.Errorf(bank.KindRejected, "hold_expired", "hold %s expired at %s", id, h.ExpiresAt.Format(time.RFC3339))
	}
	if h.Status != HoldPending {
		return h, a, bank.Errorf(bank.KindRejected, "hold_not_pending", "hold %s is %s", id, h.Status)
	}
	return h, a, nil
}

func (b *batch) capture(p bank.Principal, c command) (any, bool, error) {
	h, from, err := b.pendingHold(p, c.holdID)
	if err != nil {
		return nil, false, err
	}
	to, err := b.captureTarget(c, h)
	if err != nil {
		return nil, false, err
	}
	amount := c.money.Amount
	if amount == 0 {
		amount = h.remaining()
	}
	if amount > h.remaining() {
		return nil, false, &bank.Error{Kind: bank.KindRejected, Code: "amount_exceeds_hold",
			Message: fmt.Sprintf("hold %s has %d left to capture, less than %d", h.ID, h.remaining(), amount),
			Details: map[string]string{"amount": "exceeds the held amount"}}
	}
	m := bank.Money{Amount: amount, Currency: h.Currency}
	if err := checkStatus(from); err != nil {
		return nil, false, err
	}
	if err := checkCredit(to, m); err != nil {
		return nil, false, err
	}
	if to.ID == from.ID {
		return nil, false, bank.Invalid("to_account_id", "must differ from the held account")
	}
	if err := fits(amount, from, to); err != nil {
		return nil, false, err
	}
	// The money was reserved when the hold was made: the capture moves it
	// from pending to posted, so available does not change on the source.
	from.Balance.Pending -= amount
	h.CapturedAmount += amount
	if h.CapturedAmount == h.Amount {
		h.Status = HoldCaptured
	}
	b.changedHold(h)
	// The capture carries what its hold carried.
	c.description, c.metadata = h.Description, h.Metadata
	t := b.move(p, captureType(c), c, from, to, amount)
	t.HoldID = h.ID
	return t, true, nil
}

// release voids a hold (opVoid) or lets it expire (opExpire), returning its
// remainder to the available balance.
func (b *batch) release(p bank.Principal, c command) (any, bool, error) {
	if c.op == opExpire {
		h := b.holds[c.holdID]
		if h == nil || h.Status != HoldPending || h.ExpiresAt == nil || h.ExpiresAt.After(b.now) {
			return h, false, nil // captured, voided or extended meanwhile
		}
		b.releaseHold(h, HoldExpired, event.HoldExpired)
		return h, false, nil
	}
	h, _, err := b.pendingHold(p, c.holdID)
	if err != nil {
		return nil, false, err
	}
	b.releaseHold(h, HoldVoided, event.HoldVoided)
	return h, false, nil
}

func (b *batch) releaseHold(h *Hold, status, typ string) {
	a := b.accounts[h.AccountID]
	a.Balance.Pending -= h.remaining()
	a.setAvailable()
	b.dirty[a.ID] = true
	h.Status = status
	b.changedHold(h)
	b.event(h.event(event.NewHeader(typ, b.now), a))
}

func (b *batch) changedHold(h *Hold) {
	h.updatedAt = b.now
	if !slices.Contains(b.newHolds, h) && !slices.Contains(b.holdsDone, h) {
		b.holdsDone = append(b.holdsDone, h)
	}
}

func (b *batch) reverse(p bank.Principal, c command) (any, bool, error) {
	orig := b.originals[c.txID]
	if orig == nil {
		return nil, false, bank.Errorf(bank.KindNotFound, "transaction_not_found", "transaction %s not found", c.txID)
	}
	if orig.Type == TxReversal {
		return nil, false, bank.Errorf(bank.KindRejected, "not_reversible", "transaction %s is itself a reversal", orig.ID)
	}
	if b.reversed[orig.ID] {
		return nil, false, bank.Errorf(bank.KindRejected, "already_reversed", "transaction %s has already been reversed", orig.ID)
	}
	t := &Transaction{ID: bank.NewID(), Type: TxReversal, Status: "posted", Amount: orig.Amount,
		Currency: orig.Currency, Description: c.description, ReversesID: orig.ID, CreatedAt: b.now, createdBy: p.UserID}
	if t.Description == "" {
		t.Description = "reversal of " + orig.ID
	}
	for _, op := range orig.Postings {
		a := b.accounts[op.AccountID]
		if a == nil {
			return nil, false, fmt.Errorf("reverse %s: account %s of its postings is missing", orig.ID, op.AccountID)
		}
		m := bank.Money{Amount: op.Amount, Currency: orig.Currency}
		if op.Amount > 0 { // the original credited a: the reversal debits it
			if err := checkDebit(a, m, false); err != nil {
				return nil, false, err
			}
		} else if a.Status == StatusClosed {
			return nil, false, checkStatus(a)
		}
		if overflows(a, -op.Amount) {
			return nil, false, errBalanceLimit
		}
		t.Postings = append(t.Postings, Posting{AccountID: op.AccountID, Amount: -op.Amount})
	}
	b.reversed[orig.ID] = true
	b.record(t)
	return t, true, nil
}
