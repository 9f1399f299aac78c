// Package search finds transactions: the Query every implementation answers,
// the Index interface they implement, and the safe reading of free text into
// terms. Implementations: the platform's own database (internal/ledger:
// SQLite FTS5, PostgreSQL tsvector) and OpenSearch (search/opensearch). One
// contract suite (search/searchtest) runs against each.
package search

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/bank"
)

// Types are the transaction types a query may ask for.
var Types = []string{"deposit", "withdrawal", "transfer", "capture", "reversal", "payment"}

// Query is one search. Every filter that is set must hold; an empty Query
// finds every transaction. Results come a page at a time: most relevant
// first when the query has text (Ranked), ties newest first; otherwise
// newest first. Ties of time are broken by id, descending. An index may
// bound the matches a ranked search ranks: the database's own ranks the
// newest 1,000 (ledger.Config.SearchRankWindow) and returns those only;
// OpenSearch ranks every match.
type Query struct {
	// Text is free text: every term of it (Terms) must begin a word of the
	// transaction's description, so "inv 2026" finds "Invoice 2026-01".
	// Text without a term (only punctuation) finds nothing.
	Text string
	// OwnerID keeps the transactions with a posting on an account of this
	// owner. Scope sets it for customers; staff may set it or not.
	OwnerID   string
	AccountID string
	// From is inclusive, To exclusive.
	From, To *time.Time
	// MinAmount and MaxAmount bound the transaction's amount, inclusive.
	MinAmount, MaxAmount *int64
	Type                 string
	// Metadata keeps the transactions whose metadata holds every key with
	// its value.
	Metadata map[string]string
	// Limit is the page size (1–500); After, the previous page's cursor.
	Limit int
	After *Cursor
}

// Ranked reports whether q's hits come most relevant first: whether its
// text has a term.
func (q Query) Ranked() bool { return len(Terms(q.Text)) > 0 }

// Compare orders two hits of q as its pages do: -1 when a comes first.
func (q Query) Compare(a, b Hit) int {
	c := cmp.Or(b.At.Compare(a.At), cmp.Compare(b.ID, a.ID))
	if q.Ranked() {
		c = cmp.Or(cmp.Compare(b.Score, a.Score), c)
	}
	return c
}

// Cursor is the position after the last hit of a page: its time and id,
// and its score when the search is ranked.
//
// A score may change as the index grows: bm25 (SQLite FTS5, OpenSearch)
// weighs a word by how many transactions hold it. So an index reads the
// next page after the score the cursor's transaction has now, and falls
// back on the carried score only when that transaction is not found (a
// query it no longer matches). PostgreSQL's ts_rank depends on the
// transaction alone: the carried score is the score now.
type Cursor struct {
	Score *float64  `json:"s,omitempty"`
	At    time.Time `json:"t"`
	ID    string    `json:"i"`
}

// Encode returns c as the opaque string a search answers with as
// next_cursor.
func (c Cursor) Encode() string { return bank.EncodeCursor(c) }

// DecodeCursor reads a cursor a search answered with; "" is the first page
// (nil). Anything else is KindInvalid.
func DecodeCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	var c Cursor
	if !bank.ReadCursor(s, &c) || c.At.IsZero() || bank.CheckID("cursor", c.ID) != nil ||
		c.Score != nil && (math.IsNaN(*c.Score) || math.IsInf(*c.Score, 0)) {
		return nil, bank.Invalid("cursor", "is not a cursor this API returned")
	}
	return &c, nil
}

// MaxLimit bounds Query.Limit.
const MaxLimit = 500

// Hit is one transaction found: its id, time and, in a ranked search, its
// score (higher is more relevant; 0 otherwise): the page's keyset.
type Hit struct {
	ID    string
	At    time.Time
	Score float64
}

// Page is one page of hits and the cursor of the next ("" on the last).
type Page struct {
	Hits []Hit
	Next string
}

// Index searches transactions. Implementations keep what they index in step
// with the ledger (the database by construction, OpenSearch through its
// indexer) and answer the same Query alike.
type Index interface {
	// Search returns one page of the transactions q finds, in q's order
	// (Query.Compare).
	// It returns KindInvalid for a query Validate refuses and
	// KindUnavailable when the index cannot be reached.
	Search(ctx context.Context, q Query) (Page, error)
	// Count returns how many transactions q finds, ignoring its page.
	Count(ctx context.Context, q Query) (int64, error)
}

// Scope restricts q to what p may see: a customer's own transactions,
// whatever OwnerID the request named; staff see everyone's.
func Scope(q Query, p bank.Principal) Query {
	if !p.Staff() {
		q.OwnerID = p.UserID
	}
	return q
}

// Limits on free text: longer text is refused, more terms are refused, so
// that no query costs the index more than a few lookups.
const (
	MaxTextBytes = 200
	MaxTerms     = 8
)

// Validate checks q, returning a KindInvalid *bank.Error naming the field.
func (q Query) Validate() error {
	switch {
	case len(q.Text) > MaxTextBytes:
		return bank.Invalid("q", "must be at most 200 bytes")
	case !bank.ValidText(q.Text):
		return bank.Invalid("q", "must be valid UTF-8 text without control characters")
	case len(Terms(q.Text)) > MaxTerms:
		return bank.Invalid("q", "must have at most 8 words")
	case q.Limit < 1 || q.Limit > MaxLimit:
		return bank.Invalid("limit", "must be an integer from 1 to 500")
	case q.MinAmount != nil && *q.MinAmount < 0:
		return bank.Invalid("min_amount", "must not be negative")
	case q.MaxAmount != nil && *q.MaxAmount < 0:
		return bank.Invalid("max_amount", "must not be negative")
	case q.MinAmount != nil && q.MaxAmount != nil && *q.MinAmount > *q.MaxAmount:
		return bank.Invalid("max_amount", "must not be below min_amount")
	case q.After != nil && (q.After.Score != nil) != q.Ranked():
		// A ranked search's cursor carries a score, a newest-first one's
		// does not: a cursor of one cannot page the other.
		return bank.Invalid("cursor", "is not a cursor of this search (q changed between pages)")
	case q.From != nil && q.To != nil && !q.From.Before(*q.To):
		return bank.Invalid("to", "must be after from")
	case q.Type != "" && !slices.Contains(Types, q.Type):
		return bank.Invalid("type", "must be one of deposit, withdrawal, transfer, capture, reversal, payment")
	case len(q.Metadata) > bank.MaxMetadataKeys:
		return bank.Invalid("metadata", "must hold at most "+strconv.Itoa(bank.MaxMetadataKeys)+" filters")
	}
	for k, v := range q.Metadata {
		if err := bank.CheckMetadataKey("metadata", k); err != nil {
			return err
		}
		if err := bank.CheckMetadataValue("metadata", k, v); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, id string }{{"owner_id", q.OwnerID}, {"account_id", q.AccountID}} {
		if f.id != "" {
			if err := bank.CheckID(f.name, f.id); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxTermBytes bounds one term; longer words are cut (a prefix still
// matches).
const MaxTermBytes = 64

// Terms reads free text into the terms an index matches: runs of letters
// and digits, lowercased, each at most MaxTermBytes, without repeats, in
// order. Everything else separates terms, so no character of any index's
// query syntax (quotes, *, :, &, |, !, parentheses, NEAR, AND) ever reaches
// it as syntax: a term is only letters and digits, and an index quotes it.
func Terms(text string) []string {
	var terms []string
	seen := map[string]bool{}
	for _, w := range Words(text) {
		if !seen[w] {
			seen[w] = true
			terms = append(terms, w)
		}
	}
	return terms
}

// Words returns every word of text as Terms reads it, repeats included: an
// index that files words itself (rather than by its own tokenizer) files
// these, so that a query's terms and a description's words are read alike.
func Words(text string) []string {
	var words []string
	for _, w := range strings.FieldsFunc(text, isSeparator) {
		w = strings.ToLower(w)
		if len(w) > MaxTermBytes {
			cut := MaxTermBytes
			for !utf8.RuneStart(w[cut]) {
				cut--
			}
			w = w[:cut]
		}
		words = append(words, w)
	}
	return words
}

// isSeparator reports whether r ends a term: anything but a letter, a digit
// or a mark (an accent written as a character of its own).
func isSeparator(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
}

// NextPage cuts hits of q, read one beyond q.Limit, to q.Limit and returns
// the page with the cursor of the next.
func NextPage(q Query, hits []Hit) Page {
	if len(hits) <= q.Limit {
		if hits == nil {
			hits = []Hit{}
		}
		return Page{Hits: hits}
	}
	hits = hits[:q.Limit]
	last := hits[len(hits)-1]
	c := Cursor{At: last.At, ID: last.ID}
	if q.Ranked() {
		c.Score = &last.Score
	}
	return Page{Hits: hits, Next: c.Encode()}
}

// Document is what an index outside the database holds of a transaction:
// what its queries filter and match on. The ledger stays the source of
// truth; a search's page is read back from it (ledger.Found).
type Document struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	AccountIDs  []string  `json:"account_ids"`
	// OwnerIDs are the owners of AccountIDs; the bank's own accounts have
	// none.
	OwnerIDs []string          `json:"owner_ids"`
	Metadata map[string]string `json:"metadata,omitempty"`
}
