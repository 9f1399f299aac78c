// Package recon is reconciliation: a bank's statement of an account (ISO
// 20022 CAMT.053, or CSV with a column mapping) matched line by line to the
// account's postings, and the differences cleared, one item at a time,
// against the suspense account of the account's currency.
//
// Clearing goes through the four-eyes gate (approval.ActionReconResolve)
// and the ledger's write path under a key made from the item, so an item
// moves money once however many staff users resolve or approve it.
package recon

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
)

// DefaultTolerance is how many days a posting's date may be from its
// statement line's booking date and still match.
const DefaultTolerance = 2

// Reconciliation is one statement matched to an account's postings, with
// the count of its items of each status.
type Reconciliation struct {
	ID              string    `json:"id"`
	AccountID       string    `json:"account_id"`
	Format          string    `json:"format"`
	Status          string    `json:"status"` // always "done": matching happens within the request
	CreatedBy       string    `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	Matched         int       `json:"matched"`
	Mismatched      int       `json:"mismatched"`
	UnmatchedOurs   int       `json:"unmatched_ours"`
	UnmatchedTheirs int       `json:"unmatched_theirs"`
}

// ImportInput is a statement of an account to reconcile.
type ImportInput struct {
	AccountID  string      `json:"account_id"`
	Format     string      `json:"format"`
	Content    Content     `json:"content"`
	CSVColumns *CSVColumns `json:"csv_columns,omitempty"`
}

// Content is a statement file's text. It is a type of its own so that the
// API's decoding, which refuses control characters in strings, lets its line
// breaks and tabs through; Parse refuses what it must (invalid UTF-8, NUL).
type Content string

// Service reconciles statements against the ledger.
type Service struct {
	db   *store.DB
	l    *ledger.Ledger
	gate *approval.Service
	log  *slog.Logger
	now  func() time.Time
	// Tolerance is the days a date may be off and still match.
	tolerance int
}

// New returns the reconciliation service over l, resolving through gate; now
// is the clock.
func New(db *store.DB, l *ledger.Ledger, gate *approval.Service, log *slog.Logger, now func() time.Time) *Service {
	return &Service{db: db, l: l, gate: gate, log: log, now: now, tolerance: DefaultTolerance}
}

func requireStaff(p bank.Principal) error {
	if !p.Staff() {
		return bank.Errorf(bank.KindForbidden, "forbidden", "this action needs the operator role")
	}
	return nil
}

// Import parses in's statement, matches its lines to the postings of the
// account from the earliest booking date less the tolerance to the latest
// plus it, and keeps the outcome. Staff only. Errors: KindForbidden,
// KindInvalid (the input, or a statement it cannot read), KindNotFound (the
// account).
func (s *Service) Import(ctx context.Context, p bank.Principal, in ImportInput) (*Reconciliation, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	if err := bank.CheckID("account_id", in.AccountID); err != nil {
		return nil, err
	}
	if in.Format != FormatCAMT053 && in.Format != FormatCSV {
		return nil, bank.Invalid("format", `must be "camt053" or "csv"`)
	}
	a, err := s.l.Account(ctx, p, in.AccountID)
	if err != nil {
		return nil, err
	}
	lines, err := Parse(in.Format, string(in.Content), in.CSVColumns, a.Currency)
	if err != nil {
		return nil, err
	}
	for _, ln := range lines {
		if ln.Currency != a.Currency {
			return nil, invalid(ln.Line, "is in "+string(ln.Currency)+", the account in "+string(a.Currency))
		}
	}
	first, last := lines[0].day, lines[0].day
	for _, ln := range lines {
		first, last = min(first, ln.day), max(last, ln.day)
	}
	day := func(d int) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }
	entries, err := s.l.Entries(ctx, p, a.ID, day(first-s.tolerance), day(last+s.tolerance+1))
	if err != nil {
		return nil, err
	}
	items := Match(entries, lines, s.tolerance)
	r := &Reconciliation{ID: bank.NewID(), AccountID: a.ID, Format: in.Format, Status: "done", CreatedBy: p.UserID,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	for _, it := range items {
		switch it.Status {
		case StatusMatched:
			r.Matched++
		case StatusMismatched:
			r.Mismatched++
		case StatusUnmatchedOurs:
			r.UnmatchedOurs++
		case StatusUnmatchedTheirs:
			r.UnmatchedTheirs++
		}
	}
	if err := s.save(ctx, r, items); err != nil {
		return nil, err
	}
	return r, nil
}

// Get returns reconciliation id. Staff only: KindForbidden, KindNotFound.
func (s *Service) Get(ctx context.Context, p bank.Principal, id string) (*Reconciliation, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	return s.load(ctx, id)
}

// ItemFilter selects a reconciliation's items: those of Status (all when
// empty), after the item numbered After, at most Limit.
type ItemFilter struct {
	Status string
	After  int
	Limit  int
}

// Items lists the items of reconciliation id in order. Staff only:
// KindForbidden, KindInvalid (status), KindNotFound.
func (s *Service) Items(ctx context.Context, p bank.Principal, id string, f ItemFilter) ([]Item, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	switch f.Status {
	case "", StatusMatched, StatusMismatched, StatusUnmatchedOurs, StatusUnmatchedTheirs:
	default:
		return nil, bank.Invalid("status", "must be matched, mismatched, unmatched_ours or unmatched_theirs")
	}
	if _, err := s.load(ctx, id); err != nil {
		return nil, err
	}
	return s.items(ctx, id, f)
}

// Resolution is the answer to Resolve: the item, and either the suspense
// posting that cleared it or the approval it waits for.
type Resolution struct {
	Item     Item               `json:"item"`
	Result   ledger.Result      `json:"-"`
	Approval *approval.Approval `json:"approval,omitempty"`
	Replayed bool               `json:"-"`
}

// Resolve clears item n of reconciliation id by posting its difference
// between the account and the suspense account of its currency: a line of
// the statement alone is posted to the account, a posting alone is taken
// back out of it, a mismatch posts theirs less ours. It goes through the
// four-eyes gate (action recon_resolve, its amount the difference's size)
// under the item's own key, as the item's first resolver, so it posts once
// however often, and by whomever, it is asked. Staff only. Errors:
// KindForbidden, KindNotFound (the reconciliation or item), KindConflict
// (nothing_to_resolve: a matched item, or one off only in date;
// request_in_progress: a racing resolve is posting it), and the ledger's
// (KindRejected: account_frozen, …).
func (s *Service) Resolve(ctx context.Context, p bank.Principal, id string, n int) (Resolution, error) {
	if err := requireStaff(p); err != nil {
		return Resolution{}, err
	}
	r, err := s.load(ctx, id)
	if err != nil {
		return Resolution{}, err
	}
	it, err := s.item(ctx, id, n)
	if err != nil {
		return Resolution{}, err
	}
	var diff int64
	switch it.Status {
	case StatusUnmatchedTheirs:
		diff = it.Theirs.Amount
	case StatusUnmatchedOurs:
		diff = -it.Ours.Amount
	case StatusMismatched:
		diff = it.Difference.Amount
	}
	if diff == 0 {
		return Resolution{}, bank.Errorf(bank.KindConflict, "nothing_to_resolve",
			"item %d of reconciliation %s has no amount to clear", n, id)
	}
	a, err := s.l.Account(ctx, p, r.AccountID)
	if err != nil {
		return Resolution{}, err
	}
	amount, ref := diff, id+":"+strconv.Itoa(n)
	if amount < 0 {
		amount = -amount
	}
	req := approval.Request{Action: approval.ActionReconResolve, AccountID: r.AccountID, Amount: &amount,
		Currency: string(a.Currency), Credit: diff > 0, Reference: ref,
		Description: "reconciliation " + id + " item " + strconv.Itoa(n),
		Metadata:    bank.Metadata{"reconciliation_id": id, "reconciliation_item": strconv.Itoa(n)}}
	// The ledger and the gate keep a key per user: every resolve of the item
	// goes as its first resolver, so that all of them are one request to
	// the ledger (or one approval) and the item clears once. The audit
	// trail names that user; the others only replay what it did.
	by, err := s.claim(ctx, id, n, p.UserID)
	if err != nil {
		return Resolution{}, err
	}
	as := p
	if by != p.UserID {
		as = bank.Principal{UserID: by, Role: bank.RoleOperator}
	}
	o, err := s.gate.Do(ctx, as, ledger.Idempotency{Key: "recon:" + ref}, req)
	if err != nil {
		return Resolution{}, err
	}
	res := Resolution{Item: it, Result: o.Result, Approval: o.Approval, Replayed: o.Replayed}
	if t := o.Result.Transaction; t != nil {
		if err := s.setTransaction(ctx, id, n, t.ID); err != nil {
			return Resolution{}, err
		}
		res.Item.TransactionID = t.ID
	}
	return res, nil
}
