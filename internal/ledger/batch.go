package ledger

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
)

// The write path.
//
// Group commit without a background goroutine: a request is appended to the
// queue, then its submitter waits either for its reply or for the committer
// token. Whoever takes the token posts everything queued (up to MaxBatch) in
// one database transaction, replies to each request, and gives the token back.
// A submitter only stops waiting once it has its reply, so every queued
// request always has someone able to take the token: none is stranded.
//
// One database transaction per batch turns N fsyncs and N×6 round trips into
// one fsync and a handful of set-based statements, and a hot account is locked
// once per batch instead of once per transfer.

// idemKey scopes an idempotency key to its user.
type idemKey struct{ user, key string }

// Idempotency is a request's Idempotency-Key and the fingerprint of the
// request (method, path, body) it was first used with.
type Idempotency struct {
	Key  string
	Hash string
}

// Response is the answer to a money-moving request as it is stored for
// replays: the status and the exact JSON body.
type Response struct {
	Status   int
	Body     []byte
	Replayed bool
}

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
)

// command is one money operation of a request. A batch-transfer request has
// many; every other request has one.
type command struct {
	op          op
	from, to    string     // account ids
	money       bank.Money // for a capture, an Amount of 0 means the whole remainder
	description string
	expiresAt   *time.Time
	holdID      string
	txID        string // the transaction a reversal reverses
	err         error  // set when the command failed validation before it was queued
}

type request struct {
	p     auth.Principal
	idem  Idempotency
	cmds  []command
	batch bool // a batch-transfer request: 201 with one result per item
	done  chan reply
}

type reply struct {
	resp Response
	err  error
}

// maxCommands bounds the commands of one database transaction.
const maxCommands = 4096

var errInProgress = bank.Errorf(bank.KindConflict, "request_in_progress",
	"a request with this Idempotency-Key is still being processed")

// submit queues r and returns its response once it is committed.
func (l *Ledger) submit(r *request) (Response, error) {
	if r.idem.Key != "" {
		k := idemKey{r.p.UserID, r.idem.Key}
		l.mu.Lock()
		if l.inflight[k] {
			l.mu.Unlock()
			return Response{}, errInProgress
		}
		l.inflight[k] = true
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			delete(l.inflight, k)
			l.mu.Unlock()
		}()
	}
	r.done = make(chan reply, 1)
	l.mu.Lock()
	l.queue = append(l.queue, r)
	l.mu.Unlock()
	// The request's context is not consulted: once queued, a request is
	// committed or failed, and its submitter stays to take the token if needed.
	for {
		select {
		case rep := <-r.done:
			return rep.resp, rep.err
		case l.committer <- struct{}{}:
			l.commitQueued()
			<-l.committer
		}
	}
}

// commitQueued takes the first requests of the queue and posts them.
func (l *Ledger) commitQueued() {
	l.mu.Lock()
	n, cmds := 0, 0
	for n < len(l.queue) && n < l.cfg.MaxBatch && (n == 0 || cmds+len(l.queue[n].cmds) <= maxCommands) {
		cmds += len(l.queue[n].cmds)
		n++
	}
	reqs := l.queue[:n:n]
	l.queue = slices.Clone(l.queue[n:])
	l.mu.Unlock()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	replies, err := l.post(ctx, reqs)
	l.cfg.Metrics.observe(len(reqs), time.Since(start), err)
	for i, r := range reqs {
		if err != nil {
			r.done <- reply{err: fmt.Errorf("post batch of %d: %w", len(reqs), err)}
			continue
		}
		r.done <- replies[i]
	}
}

// post posts reqs in one transaction and returns a reply for each. A
// serialization failure or deadlock is retried, and so is a unique violation:
// another process committed the same idempotency key or reversed the same
// transaction meanwhile, and the next attempt sees it. So is a lost
// connection, on a new one.
func (l *Ledger) post(ctx context.Context, reqs []*request) ([]reply, error) {
	var replies []reply
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		b := &batch{l: l, now: l.clock(), stored: map[idemKey]storedKey{},
			accounts: map[string]*Account{}, holds: map[string]*Hold{},
			originals: map[string]*Transaction{}, reversed: map[string]bool{}, dirty: map[string]bool{}}
		lost := false
		if l.pg != nil {
			replies, err = l.pg.post(ctx, b, reqs)
			// A lost connection may have lost the COMMIT's answer too. The
			// retry is safe all the same: a batch that did commit has stored
			// its idempotency keys, and its requests are now replayed.
			lost = err != nil && l.pg.conn == nil
		} else {
			err = l.db.InTx(ctx, func(tx *sql.Tx) error {
				replies, err = b.run(reqs, &sqliteBatch{ctx: ctx, tx: tx})
				return err
			})
		}
		if err == nil || !(lost || store.Retryable(err) || store.IsUniqueViolation(err)) {
			break
		}
		time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
	}
	return replies, err
}

// batch is one attempt at posting a batch: the rows it locked and what it
// will write.
type batch struct {
	l   *Ledger
	now time.Time

	stored    map[idemKey]storedKey // responses of requests already done
	accounts  map[string]*Account
	holds     map[string]*Hold
	originals map[string]*Transaction // transactions being reversed
	reversed  map[string]bool         // transactions already reversed

	dirty     map[string]bool // accounts whose balances changed
	txs       []*Transaction
	newHolds  []*Hold
	holdsDone []*Hold // existing holds whose status or captured amount changed
	events    []event
	keys      []storedKey
}

type storedKey struct {
	user, key, hash string
	status          int
	body            []byte
}

// loadPlan is what a batch must read before it can decide anything.
type loadPlan struct {
	users, keys []string // idempotency keys, pairwise
	holdIDs     []string
	txIDs       []string // transactions to reverse
	// accountIDs are the accounts the batch touches, when they are known
	// without reading holds or originals first (no capture, void, expiry or
	// reversal in the batch); the store may then lock them in the same round
	// trip as the rest.
	accountIDs []string
}

// batchStore is one database transaction of the write path. Reads lock what
// they return, in the same order in every process: holds, then accounts, each
// sorted by id, so concurrent batches never wait for each other in a cycle.
type batchStore interface {
	// load fills b's stored responses, holds, originals and reversed sets, and
	// its accounts if p.accountIDs is not nil.
	load(b *batch, p *loadPlan) error
	// lockAccounts loads and locks accounts ids into b.
	lockAccounts(b *batch, ids []string) error
	// write writes what b changed and commits.
	write(b *batch) error
}

func (b *batch) run(reqs []*request, st batchStore) ([]reply, error) {
	p := &loadPlan{}
	known := true
	for _, r := range reqs {
		if r.idem.Key != "" {
			p.users, p.keys = append(p.users, r.p.UserID), append(p.keys, r.idem.Key)
		}
		for _, c := range r.cmds {
			switch c.op {
			case opCapture, opVoid, opExpire:
				p.holdIDs, known = append(p.holdIDs, c.holdID), false
			case opReversal:
				p.txIDs, known = append(p.txIDs, c.txID), false
			}
		}
	}
	if known {
		p.accountIDs = []string{}
		for _, r := range reqs {
			for _, c := range r.cmds {
				p.accountIDs = append(p.accountIDs, b.accountsOf(c)...)
			}
		}
	}
	if err := st.load(b, p); err != nil {
		return nil, err
	}
	replies := make([]reply, len(reqs))
	live := make([]bool, len(reqs))
	for i, r := range reqs {
		if s, ok := b.stored[idemKey{r.p.UserID, r.idem.Key}]; ok && r.idem.Key != "" {
			if subtle.ConstantTimeCompare([]byte(s.hash), []byte(r.idem.Hash)) != 1 {
				replies[i].err = bank.Errorf(bank.KindRejected, "idempotency_key_reused",
					"this Idempotency-Key was used with a different request")
			} else {
				replies[i].resp = Response{Status: s.status, Body: s.body, Replayed: true}
			}
			continue
		}
		live[i] = true
	}
	if !known {
		var ids []string
		for i, r := range reqs {
			if live[i] {
				for _, c := range r.cmds {
					ids = append(ids, b.accountsOf(c)...)
				}
			}
		}
		if err := st.lockAccounts(b, ids); err != nil {
			return nil, err
		}
	}
	for i, r := range reqs {
		if !live[i] {
			continue
		}
		resp, err := b.apply(r)
		replies[i] = reply{resp: resp, err: err}
		if err == nil && r.idem.Key != "" {
			b.keys = append(b.keys, storedKey{user: r.p.UserID, key: r.idem.Key, hash: r.idem.Hash,
				status: resp.Status, body: resp.Body})
		}
	}
	if err := st.write(b); err != nil {
		return nil, err
	}
	return replies, nil
}

// accountsOf returns the ids of the accounts command c may change.
func (b *batch) accountsOf(c command) []string {
	if c.err != nil {
		return nil
	}
	switch c.op {
	case opDeposit:
		return []string{c.to, SystemAccountID(TypeCash, c.money.Currency)}
	case opWithdrawal:
		return []string{c.from, SystemAccountID(TypeCash, c.money.Currency)}
	case opTransfer:
		return []string{c.from, c.to}
	case opHold:
		return []string{c.from}
	case opCapture, opVoid, opExpire:
		ids := []string{c.to}
		if h := b.holds[c.holdID]; h != nil {
			ids = append(ids, h.AccountID)
		}
		return ids
	case opReversal:
		var ids []string
		if t := b.originals[c.txID]; t != nil {
			for _, p := range t.Postings {
				ids = append(ids, p.AccountID)
			}
		}
		return ids
	}
	return nil
}

// apply runs a request's commands against the locked rows and renders its
// response. A single-command request that fails returns the error and writes
// nothing; a batch request answers 201 with a result or an error per item.
func (b *batch) apply(r *request) (Response, error) {
	if !r.batch {
		v, status, err := b.exec(r.p, r.cmds[0])
		if err != nil {
			return Response{}, err
		}
		body, err := json.Marshal(v)
		return Response{Status: status, Body: body}, err
	}
	items := make([]any, len(r.cmds))
	for i, c := range r.cmds {
		v, _, err := b.exec(r.p, c)
		if err != nil {
			items[i] = itemError(err)
			continue
		}
		items[i] = v
	}
	body, err := json.Marshal(struct {
		Data []any `json:"data"`
	}{items})
	return Response{Status: http.StatusCreated, Body: body}, err
}

// itemError renders one failed item of a batch like the API's error body.
func itemError(err error) any {
	var e *bank.Error
	if !errors.As(err, &e) || e.Kind == bank.KindInternal {
		e = bank.Errorf(bank.KindInternal, "internal", "internal error")
	}
	type detail struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details map[string]string `json:"details,omitempty"`
	}
	return struct {
		Error detail `json:"error"`
	}{detail{e.Code, e.Message, e.Details}}
}

// exec checks one command against the locked rows and, if it passes, applies it
// to them in memory and records what to write. It changes nothing when it fails.
func (b *batch) exec(p auth.Principal, c command) (any, int, error) {
	if c.err != nil {
		return nil, 0, c.err
	}
	switch c.op {
	case opDeposit:
		to, err := b.customerAccount("account_id", c.to, auth.Principal{Role: auth.RoleOperator})
		if err != nil {
			return nil, 0, err
		}
		cash := b.accounts[SystemAccountID(TypeCash, c.money.Currency)]
		if err := checkCredit(to, c.money); err != nil {
			return nil, 0, err
		}
		if err := fits(c.money.Amount, cash, to); err != nil {
			return nil, 0, err
		}
		return b.post(p, TxDeposit, c, cash, to, c.money.Amount), http.StatusCreated, nil
	case opWithdrawal:
		from, err := b.customerAccount("account_id", c.from, p)
		if err != nil {
			return nil, 0, err
		}
		cash := b.accounts[SystemAccountID(TypeCash, c.money.Currency)]
		if err := checkDebit(from, c.money, true); err != nil {
			return nil, 0, err
		}
		if err := fits(c.money.Amount, from, cash); err != nil {
			return nil, 0, err
		}
		return b.post(p, TxWithdrawal, c, from, cash, c.money.Amount), http.StatusCreated, nil
	case opTransfer:
		from, err := b.customerAccount("from_account_id", c.from, p)
		if err != nil {
			return nil, 0, err
		}
		// Money may be sent to any customer's account: the destination is
		// looked up without scoping, and only its existence is revealed.
		to, err := b.customerAccount("to_account_id", c.to, auth.Principal{Role: auth.RoleOperator})
		if err != nil {
			return nil, 0, err
		}
		if err := checkDebit(from, c.money, true); err != nil {
			return nil, 0, err
		}
		if err := checkCredit(to, c.money); err != nil {
			return nil, 0, err
		}
		if err := fits(c.money.Amount, from, to); err != nil {
			return nil, 0, err
		}
		return b.post(p, TxTransfer, c, from, to, c.money.Amount), http.StatusCreated, nil
	case opHold:
		return b.hold(p, c)
	case opCapture:
		return b.capture(p, c)
	case opVoid, opExpire:
		return b.release(p, c)
	case opReversal:
		return b.reverse(p, c)
	}
	return nil, 0, fmt.Errorf("unknown operation %d", c.op)
}

// customerAccount returns the locked customer account id if p may use it:
// another customer's account and the bank's own accounts are "not found".
func (b *batch) customerAccount(field, id string, p auth.Principal) (*Account, error) {
	a := b.accounts[id]
	if a == nil || a.System() || !p.Owns(a.OwnerID) {
		return nil, &bank.Error{Kind: bank.KindNotFound, Code: "account_not_found",
			Message: "account " + id + " not found", Details: map[string]string{field: "not found"}}
	}
	return a, nil
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

// post records a two-legged transaction moving amount from debit to credit.
func (b *batch) post(p auth.Principal, typ string, c command, debit, credit *Account, amount int64) *Transaction {
	t := &Transaction{ID: bank.NewID(), Type: typ, Status: "posted", Amount: amount,
		Currency: debit.Currency, Description: c.description, CreatedAt: b.now, createdBy: p.UserID,
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
	b.event("transaction.posted", t.ID, t.event(b.accounts))
}

func (b *batch) hold(p auth.Principal, c command) (any, int, error) {
	a, err := b.customerAccount("account_id", c.from, p)
	if err != nil {
		return nil, 0, err
	}
	if err := checkDebit(a, c.money, true); err != nil {
		return nil, 0, err
	}
	if c.expiresAt != nil && !c.expiresAt.After(b.now) {
		return nil, 0, bank.Invalid("expires_at", "must be in the future")
	}
	h := &Hold{ID: bank.NewID(), AccountID: a.ID, Amount: c.money.Amount, Currency: a.Currency,
		Status: HoldPending, Description: c.description, ExpiresAt: c.expiresAt, CreatedAt: b.now,
		createdBy: p.UserID, updatedAt: b.now}
	a.Balance.Pending += h.Amount
	a.setAvailable()
	b.dirty[a.ID] = true
	b.holds[h.ID] = h
	b.newHolds = append(b.newHolds, h)
	b.event("hold.created", h.ID, h.event(a))
	return h, http.StatusCreated, nil
}

// pendingHold returns the locked hold id if p may use it and it still reserves money.
func (b *batch) pendingHold(p auth.Principal, id string) (*Hold, *Account, error) {
	h := b.holds[id]
	var a *Account
	if h != nil {
		a = b.accounts[h.AccountID]
	}
	if h == nil || a == nil || !p.Owns(a.OwnerID) {
		return nil, nil, bank.Errorf(bank.KindNotFound, "hold_not_found", "hold %s not found", id)
	}
	if h.Status == HoldPending && h.ExpiresAt != nil && !h.ExpiresAt.After(b.now) {
		return h, a, bank.Errorf(bank.KindRejected, "hold_expired", "hold %s expired at %s", id, h.ExpiresAt.Format(time.RFC3339))
	}
	if h.Status != HoldPending {
		return h, a, bank.Errorf(bank.KindRejected, "hold_not_pending", "hold %s is %s", id, h.Status)
	}
	return h, a, nil
}

func (b *batch) capture(p auth.Principal, c command) (any, int, error) {
	h, from, err := b.pendingHold(p, c.holdID)
	if err != nil {
		return nil, 0, err
	}
	to, err := b.customerAccount("to_account_id", c.to, auth.Principal{Role: auth.RoleOperator})
	if err != nil {
		return nil, 0, err
	}
	amount := c.money.Amount
	if amount == 0 {
		amount = h.remaining()
	}
	if amount > h.remaining() {
		return nil, 0, &bank.Error{Kind: bank.KindRejected, Code: "amount_exceeds_hold",
			Message: fmt.Sprintf("hold %s has %d left to capture, less than %d", h.ID, h.remaining(), amount),
			Details: map[string]string{"amount": "exceeds the held amount"}}
	}
	m := bank.Money{Amount: amount, Currency: h.Currency}
	if err := checkStatus(from); err != nil {
		return nil, 0, err
	}
	if err := checkCredit(to, m); err != nil {
		return nil, 0, err
	}
	if to.ID == from.ID {
		return nil, 0, bank.Invalid("to_account_id", "must differ from the held account")
	}
	if err := fits(amount, from, to); err != nil {
		return nil, 0, err
	}
	// The money was reserved when the hold was made: the capture moves it
	// from pending to posted, so available does not change on the source.
	from.Balance.Pending -= amount
	h.CapturedAmount += amount
	if h.CapturedAmount == h.Amount {
		h.Status = HoldCaptured
	}
	b.changedHold(h)
	c.description = h.Description
	t := b.post(p, TxCapture, c, from, to, amount)
	t.HoldID = h.ID
	return t, http.StatusCreated, nil
}

// release voids a hold (opVoid) or lets it expire (opExpire), returning its
// remainder to the available balance.
func (b *batch) release(p auth.Principal, c command) (any, int, error) {
	if c.op == opExpire {
		h := b.holds[c.holdID]
		if h == nil || h.Status != HoldPending || h.ExpiresAt == nil || h.ExpiresAt.After(b.now) {
			return h, http.StatusOK, nil // captured, voided or extended meanwhile
		}
		b.releaseHold(h, HoldExpired, "hold.expired")
		return h, http.StatusOK, nil
	}
	h, _, err := b.pendingHold(p, c.holdID)
	if err != nil {
		return nil, 0, err
	}
	b.releaseHold(h, HoldVoided, "hold.voided")
	return h, http.StatusOK, nil
}

func (b *batch) releaseHold(h *Hold, status, event string) {
	a := b.accounts[h.AccountID]
	a.Balance.Pending -= h.remaining()
	a.setAvailable()
	b.dirty[a.ID] = true
	h.Status = status
	b.changedHold(h)
	b.event(event, h.ID, h.event(a))
}

func (b *batch) changedHold(h *Hold) {
	h.updatedAt = b.now
	if !slices.Contains(b.newHolds, h) && !slices.Contains(b.holdsDone, h) {
		b.holdsDone = append(b.holdsDone, h)
	}
}

func (b *batch) reverse(p auth.Principal, c command) (any, int, error) {
	orig := b.originals[c.txID]
	if orig == nil {
		return nil, 0, bank.Errorf(bank.KindNotFound, "transaction_not_found", "transaction %s not found", c.txID)
	}
	if orig.Type == TxReversal {
		return nil, 0, bank.Errorf(bank.KindRejected, "not_reversible", "transaction %s is itself a reversal", orig.ID)
	}
	if b.reversed[orig.ID] {
		return nil, 0, bank.Errorf(bank.KindRejected, "already_reversed", "transaction %s has already been reversed", orig.ID)
	}
	t := &Transaction{ID: bank.NewID(), Type: TxReversal, Status: "posted", Amount: orig.Amount,
		Currency: orig.Currency, Description: c.description, ReversesID: orig.ID, CreatedAt: b.now, createdBy: p.UserID}
	if t.Description == "" {
		t.Description = "reversal of " + orig.ID
	}
	for _, op := range orig.Postings {
		a := b.accounts[op.AccountID]
		if a == nil {
			return nil, 0, fmt.Errorf("reverse %s: account %s of its postings is missing", orig.ID, op.AccountID)
		}
		m := bank.Money{Amount: op.Amount, Currency: orig.Currency}
		if op.Amount > 0 { // the original credited a: the reversal debits it
			if err := checkDebit(a, m, false); err != nil {
				return nil, 0, err
			}
		} else if a.Status == StatusClosed {
			return nil, 0, checkStatus(a)
		}
		if overflows(a, -op.Amount) {
			return nil, 0, errBalanceLimit
		}
		t.Postings = append(t.Postings, Posting{AccountID: op.AccountID, Amount: -op.Amount})
	}
	b.reversed[orig.ID] = true
	b.record(t)
	return t, http.StatusCreated, nil
}
