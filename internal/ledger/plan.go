package ledger

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/idem"
)

// Planning and running one batch: read what the requests need, decide each
// one in arrival order against the locked rows, then write what changed.

// batch is one attempt at posting a batch: the rows it locked and what it
// will write.
type batch struct {
	l   *Ledger
	now time.Time

	stored    map[idemKey]idem.Kept // answers of requests already decided
	accounts  map[string]*Account
	holds     map[string]*Hold
	originals map[string]*Transaction // transactions being reversed
	reversed  map[string]bool         // transactions already reversed

	dirty     map[string]bool // accounts whose balances changed
	txs       []*Transaction
	newHolds  []*Hold
	holdsDone []*Hold // existing holds whose status or captured amount changed
	events    []event.Record
	keys      []idem.Kept
	audits    []audit.Record
}

func newBatch(l *Ledger) *batch {
	return &batch{l: l, now: l.clock(), stored: map[idemKey]idem.Kept{},
		accounts: map[string]*Account{}, holds: map[string]*Hold{},
		originals: map[string]*Transaction{}, reversed: map[string]bool{}, dirty: map[string]bool{}}
}

// keep returns what to store for r's answer, and false for an answer that is
// not kept: only a decided request is, a success or a refusal by a money
// rule. What never began (invalid input, not found, forbidden, a failure)
// stores nothing, so the client may retry it with the same key. With compact
// true, a new transaction whose answer its rebuild reproduces byte for byte
// is kept by its id.
func keep(r *request, res Result, err error, compact bool) (idem.Kept, bool) {
	k := idem.Kept{User: r.p.UserID, Key: r.idem.Key, Hash: r.idem.Hash, Outcome: idem.Changed}
	switch {
	case r.idem.Key == "":
		return k, false
	case err == nil:
		if res.Created {
			k.Outcome = idem.Created
			if compact && res.Items == nil && rebuildable(res.Transaction) {
				k.TransactionID, k.Body = res.Transaction.ID, []byte{}
				return k, true
			}
		}
		k.Body = res.JSON()
		return k, true
	case bank.ErrorKind(err) == bank.KindRejected:
		_, doc := bank.BodyOf(err)
		k.Outcome, k.Body = idem.Refused, mustJSON(doc)
		return k, true
	}
	return k, false
}

// rebuildable reports whether t, as loadTransactions reads it back, encodes
// to the same bytes: it does when its postings are in the order they are
// read in, by amount and then account, and it has no metadata. Staff may
// amend a transaction's metadata later, so a transaction made with metadata
// keeps its answer as it was; and the rebuild of one made without shows it
// without, whatever was added since (replay).
func rebuildable(t *Transaction) bool {
	return t != nil && t.Status == "posted" && len(t.Metadata) == 0 && slices.IsSortedFunc(t.Postings, func(a, b Posting) int {
		if c := cmp.Compare(a.Amount, b.Amount); c != 0 {
			return c
		}
		return strings.Compare(a.AccountID, b.AccountID)
	})
}

// replay returns the answer s kept as r's own; kept holds the transactions
// of compact keys. An answer kept as JSON is written again as it was, and
// read into the typed answer for the ledger's Go callers.
func replay(s idem.Kept, r *request, kept map[string]*Transaction) reply {
	if s.TransactionID != "" && len(s.Body) == 0 {
		t := kept[s.TransactionID]
		if t == nil {
			return reply{err: fmt.Errorf("idempotency key %q: its transaction %s is missing", s.Key, s.TransactionID)}
		}
		// The answer was the transaction made without metadata (rebuildable):
		// metadata amended since is not part of it.
		first := *t
		first.Metadata = nil
		return reply{res: Result{Transaction: &first, Created: true, Replayed: true}}
	}
	if s.Outcome == idem.Refused {
		var doc bank.ErrorBody
		if err := json.Unmarshal(s.Body, &doc); err != nil {
			return reply{err: err}
		}
		return reply{res: Result{Replayed: true}, err: &bank.Error{Kind: bank.KindRejected,
			Code: doc.Error.Code, Message: doc.Error.Message, Details: doc.Error.Details}}
	}
	res := Result{Created: s.Outcome == idem.Created, Replayed: true, body: s.Body}
	if err := res.read(r); err != nil {
		return reply{err: fmt.Errorf("idempotency key %q: its answer: %w", s.Key, err)}
	}
	return reply{res: res}
}

// read fills res's typed answer from its kept JSON, by what r asked for.
func (res *Result) read(r *request) error {
	switch {
	case r.batch:
		var doc struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(res.body, &doc); err != nil {
			return err
		}
		if len(doc.Data) != len(r.cmds) {
			return fmt.Errorf("%d answers for %d items", len(doc.Data), len(r.cmds))
		}
		res.Items = make([]BatchItem, len(doc.Data))
		for i, raw := range doc.Data {
			var refusal bank.ErrorBody
			if err := json.Unmarshal(raw, &refusal); err != nil {
				return err
			}
			if e := refusal.Error; e.Code != "" {
				res.Items[i].Err = &bank.Error{Kind: bank.KindRejected, Code: e.Code, Message: e.Message, Details: e.Details}
				continue
			}
			t, h, err := readAnswer(r.cmds[i], raw)
			if err != nil {
				return err
			}
			res.Items[i].Transaction, res.Items[i].Hold = t, h
		}
		return nil
	}
	var err error
	res.Transaction, res.Hold, err = readAnswer(r.cmds[0], res.body)
	return err
}

// readAnswer reads the JSON answer of c: a hold for the commands that make
// or change one, a transaction for the others.
func readAnswer(c command, raw []byte) (*Transaction, *Hold, error) {
	if c.op == opHold || c.op == opVoid || c.op == opExpire {
		h := new(Hold)
		return nil, h, json.Unmarshal(raw, h)
	}
	t := new(Transaction)
	return t, nil, json.Unmarshal(raw, t)
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
			if !s.Matches(r.idem.Hash) {
				replies[i].err = idem.Reused()
			} else {
				replies[i] = replay(s, r, kept)
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
		if k, ok := keep(r, res, err, b.l.cfg.CompactKeys); ok {
			b.keys = append(b.keys, k)
			if err == nil && len(k.Body) > 0 {
				res.body = k.Body // encoded once, for the key and the answer
			}
		}
		replies[i] = reply{res: res, err: err}
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
		if s, ok := b.stored[idemKey{r.p.UserID, r.idem.Key}]; ok && s.TransactionID != "" && len(s.Body) == 0 {
			ids = append(ids, s.TransactionID)
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
	case opTransfer, opSuspense:
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
		res := Result{Created: created}
		switch v := v.(type) {
		case *Transaction:
			res.Transaction = v
		case *Hold:
			res.Hold = v
		}
		return res, nil
	}
	items := make([]BatchItem, len(r.cmds))
	for i, c := range r.cmds {
		v, _, err := b.exec(r.p, c)
		switch v := v.(type) {
		case *Transaction:
			items[i].Transaction = v
		case *Hold:
			items[i].Hold = v
		default:
			items[i].Err = err
		}
	}
	return Result{Items: items, Created: true}, nil
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
