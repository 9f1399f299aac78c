package transaction

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search"
)

// handleSearch serves GET /api/v1/transactions/search: one page of the
// transactions the query finds in idx, most relevant first when it has
// text and newest first otherwise (search.Query.Compare), each with its
// accounts' names from the ledger and, with text, its score. A customer's
// search is scoped to their own accounts whatever it asks (owner_id is for
// staff).
func handleSearch(log *slog.Logger, idx search.Index, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		q, err := searchQuery(r.URL.Query())
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		q = search.Scope(q, p)
		page, err := idx.Search(r.Context(), q)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		ids := make([]string, len(page.Hits))
		scores := make(map[string]float64, len(page.Hits))
		for i, h := range page.Hits {
			ids[i] = h.ID
			scores[h.ID] = h.Score
		}
		found, err := l.Found(r.Context(), p, ids)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		if q.Ranked() {
			for i := range found {
				s := scores[found[i].ID]
				found[i].Score = &s
			}
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[ledger.Found]{Data: found, NextCursor: page.Next})
	})
}

// searchQuery reads a search's parameters. An unknown parameter is refused,
// so that a misspelt filter does not silently widen a search.
func searchQuery(v url.Values) (search.Query, error) {
	var q search.Query
	for name, vs := range v {
		if len(vs) > 1 {
			return q, bank.Invalid(name, "must be given once")
		}
		val := vs[0]
		if val == "" && name != "q" {
			// Given empty is a mistake, not "no filter": refused, as for
			// every list's parameters.
			return q, bank.Invalid(name, "must not be empty")
		}
		var err error
		switch name {
		case "q":
			q.Text = val
		case "account_id":
			q.AccountID = val
		case "owner_id":
			q.OwnerID = val
		case "type":
			q.Type = val
		case "cursor":
			q.After, err = search.DecodeCursor(val)
		case "from":
			q.From, err = searchTime(name, val)
		case "to":
			q.To, err = searchTime(name, val)
		case "min_amount":
			q.MinAmount, err = searchAmount(name, val)
		case "max_amount":
			q.MaxAmount, err = searchAmount(name, val)
		case "limit":
			n, perr := strconv.Atoi(val)
			if perr != nil {
				n = 0
			}
			q.Limit = n
		default:
			key, isMeta := strings.CutPrefix(name, "metadata[")
			key, closed := strings.CutSuffix(key, "]")
			if !isMeta || !closed || key == "" {
				return q, bank.Invalid(name, "is not a search parameter")
			}
			if q.Metadata == nil {
				q.Metadata = map[string]string{}
			}
			q.Metadata[key] = val
		}
		if err != nil {
			return q, err
		}
	}
	if !v.Has("limit") {
		q.Limit = 50
	}
	return q, q.Validate()
}

func searchTime(name, s string) (*time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, bank.Invalid(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return &t, nil
}

func searchAmount(name, s string) (*int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, bank.Invalid(name, "must be a whole number of minor units, 0 or more")
	}
	return &n, nil
}
