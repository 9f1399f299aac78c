package ledger

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// Planning and running one batch: read what the requests need, decide each
// one in arrival order against the locked rows, then write what changed.

// batch is one attempt at posting a batch: the rows it locked and what it
// will write.
type batch struct {
	l   *Ledger
	now time.Time

	stored    map[idemKey]storedKey // answers of requests already decided
	accounts  map[string]*Account
	holds     map[string]*Hold
	originals map[string]*Transaction // transactions being reversed
	reversed  map[string]bool         // transactions already reversed

	dirty     map[string]bool // accounts whose balances changed
	txs       []*Transaction
	newHolds  []*Hold
	holdsDone []*Hold // existing holds whose status or captured amount changed
	events    []event.Record
	keys      []storedKey
	audits    []audit.Record
}

func newBatch(l *Ledger) *batch {
	return &batch{l: l, now: l.clock(), stored: map[idemKey]storedKey{},
		accounts: map[string]*Account{}, holds: map[string]*Hold{},
		originals: map[string]*Transaction{}, reversed: map[string]bool{}, dirty: map[string]bool{}}
}

// storedKey is a row of idempotency_keys: the answer kept for a key. A
// compact key keeps, instead of the answer, the id of the transaction that
// is the answer (txID) and an empty body.
type storedKey struct {
	user, key, hash string
	status          int
	body            []byte
	txID            string
}

// How an answer is kept in idempotency_keys.status. The numbers are the HTTP
// statuses the previous release stored there, so either release replays the
// other's keys during a rollout or a rollback.
const (
	keptCreated = 201 // a transaction or hold was made; body is its JSON
	keptChanged = 200 // an existing hold changed; body is its JSON
	keptRefused = 422 // a money rule refused the request; body is its error document
)

// keep returns what to store for r's answer, and false for an answer that is
// not kept: only a decided request is, a success or a refusal by a money
// rule. What never began (invalid input, not found, forbidden, a failure)
// stores nothing, so the client may retry it with the same key. With compact
// true, a new transaction whose answer its rebuild reproduces byte for byte
// is kept by its id.
func keep(r *request, res Result, err error, compact bool) (storedKey, bool) {
	k := storedKey{user: r.p.UserID, key: r.idem.Key, hash: r.idem.Hash, status: keptChanged, body: res.Body}
	switch {
	case r.idem.Key == "":
		return k, false
	case err == nil:
		if res.Created {
			k.status = keptCreated
			if compact && rebuildable(res.tx) {
				k.txID, k.body = res.tx.ID, []byte{}
			}
		}
		return k, true
	case bank.ErrorKind(err) == bank.KindRejected:
		_, doc := bank.BodyOf(err)
		k.status, k.body = keptRefused, mustJSON(doc)
		return k, true
	}
	return k, false
}

// rebuildable reports whether t, as loadTransactions reads it back, encodes
// to the same bytes: it does when its postings are in the order they are
// read in, by amount and then account.
func rebuildable(t *Transaction) bool {
	return t != nil && t.Status == "posted" && slices.IsSortedFunc(t.Postings, func(a, b Posting) int {
		if c := cmp.Compare(a.Amount, b.Amount); c != 0 {
			return c
		}
		return strings.Compare(a.AccountID, b.AccountID)
	})
}

// replay returns the kept answer as the request's own; kept holds the
// transactions of compact keys.
func (s storedKey) replay(kept map[string]*Transaction) reply {
	if s.txID != "" && len(s.body) == 0 {
		t := kept[s.txID]
		if t == nil {
			return reply{err: fmt.Errorf("idempotency key %q: its transaction %s is missing", s.key, s.txID)}
		}
		return reply{res: Result{Body: encode(t), Created: true, Replayed: true, tx: t}}
	}
	if s.status == keptRefused {
		var doc bank.ErrorBody
		if err := json.Unmarshal(s.body, &doc); err != nil {
			return reply{err: err}
		}
		return reply{res: Result{Replayed: true}, err: &bank.Error{Kind: bank.KindRejected,
			Code: doc.Error.Code, Message: doc.Error.Message, Details: doc.Error.Details}}
	}
	return reply{res: Result{Body: s.body, Created: s.status == keptCreated, Replayed: true}}
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
	// load fills b's stored answers, holds, originals and reversed sets, and
	// its accounts if p.accountIDs is not nil.
	load(b *batch, p *loadPlan) error
	// lockAccounts loads and locks accounts ids into b.
	lockAccounts(b *batch, ids []string) error
	// transactions reads transactions ids, for the replay of compact keys.
	transactions(ids []string) ([]*Transaction, error)
	// write writes what b changed and commits.
	write(b *batch) error
}

// run decides reqs against st and writes the outcome; it returns a reply per
// request, or the error that failed the transaction.
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
	kept, err := b.keptTransactions(reqs, st)
	if err != nil {
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
				replies[i] = s.replay(kept)
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
		if b.l.beforeApply != nil {
			b.l.beforeApply(r.idem.Key)
		}
		res, err := b.apply(r)
		replies[i] = reply{res: res, err: err}
		if k, ok := keep(r, res, err, b.l.cfg.CompactKeys); ok {
			b.keys = append(b.keys, k)
		}
	}
	if err := st.write(b); err != nil {
		return nil, err
	}
	return replies, nil
}

// keptTransactions reads the transactions that the compact keys of reqs
// answer with, by id.
func (b *batch) keptTransactions(reqs []*request, st batchStore) (map[string]*Transaction, error) {
	var ids []string
	for _, r := range reqs {
		if s, ok := b.stored[idemKey{r.p.UserID, r.idem.Key}]; ok && s.txID != "" && len(s.body) == 0 {
			ids = append(ids, s.txID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	txs, err := st.transactions(sortedUnique(ids))
	if err != nil {
		return nil, fmt.Errorf("read the transactions of idempotency keys: %w", err)
	}
	kept := make(map[string]*Transaction, len(txs))
	for _, t := range txs {
		kept[t.ID] = t
	}
	return kept, nil
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

// apply decides a request's commands against the locked rows and makes its
// answer. A single-command request that fails returns the error and changes
// nothing; a batch request answers with a result or an error per item.
func (b *batch) apply(r *request) (Result, error) {
	if !r.batch {
		v, created, err := b.exec(r.p, r.cmds[0])
		if err != nil {
			return Result{}, err
		}
		b.auditCommand(r, r.cmds[0], v)
		t, _ := v.(*Transaction)
		return Result{Body: encode(v), Created: created, tx: t}, nil
	}
	body := append(make([]byte, 0, 512*len(r.cmds)), `{"data":[`...)
	for i, c := range r.cmds {
		v, _, err := b.exec(r.p, c)
		if err != nil {
			_, v = bank.BodyOf(err)
		}
		if i > 0 {
			body = append(body, ',')
		}
		if a, ok := v.(appender); ok {
			body = a.appendJSON(body)
		} else {
			body = append(body, mustJSON(v)...)
		}
	}
	return Result{Body: append(body, "]}"...), Created: true}, nil
}

// mustJSON encodes v, one of the ledger's own types, which always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// dirtyAccounts returns the accounts whose balances changed, sorted by id,
// with their new balances, as columns for a set-based update.
func (b *batch) dirtyAccounts() (ids []string, posted, pending []int64) {
	for id := range b.dirty {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := b.accounts[id]
		posted, pending = append(posted, a.Balance.Posted), append(pending, a.Balance.Pending)
	}
	return ids, posted, pending
}
