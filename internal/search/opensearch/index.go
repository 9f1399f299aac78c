// Package opensearch is the search.Index on OpenSearch (BANK_SEARCH_URL):
// an index with explicit mappings, written by the Indexer from the ledger's
// events and by Reindex from the ledger itself, and queried with bool,
// range, a sort on time then id, and search_after for pages.
package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/search"
)

// Index is the transactions' index on an OpenSearch cluster.
type Index struct {
	c    *opensearchapi.Client
	name string
}

var _ search.Index = (*Index)(nil)

// New returns the index name on the cluster at url. It does not connect:
// Ensure does.
func New(url, name string) (*Index, error) {
	c, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses: []string{url},
		// Retries are the caller's (the indexer backs off, a search fails
		// fast and the client asks again).
		DisableRetry: true,
	}})
	if err != nil {
		return nil, fmt.Errorf("opensearch %s: %w", url, err)
	}
	return &Index{c: c, name: name}, nil
}

// Name is the index's name.
func (x *Index) Name() string { return x.name }

// Client is the cluster's client, for snapshots and administration.
func (x *Index) Client() *opensearchapi.Client { return x.c }

// template holds the index's settings and mappings, explicit and strict: a
// document with a field not named here is refused rather than guessed at.
// created_at is date_nanos so that pages sort exactly as the database does.
// description is split into words as search.Terms splits a query (runs of
// letters, digits and marks: the standard tokenizer would keep "col:umn"
// one word) and folded (lower case, no accents) so "cafe" finds "Café".
const template = `{
  "index_patterns": [%q],
  "template": {
    "settings": {
      "analysis": {
        "tokenizer": {"words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}\\p{M}]+"}},
        "analyzer": {"folding": {"type": "custom", "tokenizer": "words", "filter": ["lowercase", "asciifolding"]}}
      }
    },
    "mappings": {
      "dynamic": "strict",
      "properties": {
        "id": {"type": "keyword"},
        "type": {"type": "keyword"},
        "amount": {"type": "long"},
        "currency": {"type": "keyword"},
        "description": {"type": "text", "analyzer": "folding"},
        "created_at": {"type": "date_nanos"},
        "account_ids": {"type": "keyword"},
        "owner_ids": {"type": "keyword"},
        "metadata": {"type": "flat_object"}
      }
    }
  }
}`

// Ensure puts the index template and creates the index when it is missing.
// It is safe to run from every replica at every start.
func (x *Index) Ensure(ctx context.Context) error {
	if _, err := x.c.IndexTemplate.Create(ctx, opensearchapi.IndexTemplateCreateReq{
		IndexTemplate: "bank-" + x.name,
		Body:          strings.NewReader(fmt.Sprintf(template, x.name)),
	}); err != nil {
		return fmt.Errorf("put index template of %s: %w", x.name, err)
	}
	_, err := x.c.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: x.name})
	var oe *opensearch.StructError
	if errors.As(err, &oe) && oe.Err.Type == "resource_already_exists_exception" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create index %s: %w", x.name, err)
	}
	return nil
}

// Refresh makes everything indexed so far searchable now rather than within
// the index's refresh interval (a second).
func (x *Index) Refresh(ctx context.Context) error {
	if _, err := x.c.Indices.Refresh(ctx, &opensearchapi.IndicesRefreshReq{Index: []string{x.name}}); err != nil {
		return fmt.Errorf("refresh %s: %w", x.name, err)
	}
	return nil
}

// Search returns one page of the transactions q finds, in q's order: by
// _score when q has text, newest first otherwise. It returns KindInvalid
// for a query Validate refuses and KindUnavailable when the cluster does
// not answer.
func (x *Index) Search(ctx context.Context, q search.Query) (search.Page, error) {
	if err := q.Validate(); err != nil {
		return search.Page{}, err
	}
	ranked := q.Ranked()
	body := map[string]any{
		"query":   query(q),
		"size":    q.Limit + 1,
		"sort":    []any{map[string]any{"created_at": "desc"}, map[string]any{"id": "desc"}},
		"_source": []string{"created_at"},
		// The hits' count is not needed for a page; Count has it.
		"track_total_hits": false,
	}
	if ranked {
		body["sort"] = []any{map[string]any{"_score": "desc"}, map[string]any{"created_at": "desc"}, map[string]any{"id": "desc"}}
	}
	if q.After != nil {
		after := []any{q.After.At.UnixNano(), q.After.ID}
		if ranked {
			score, err := x.score(ctx, q)
			if err != nil {
				return search.Page{}, err
			}
			after = append([]any{score}, after...)
		}
		body["search_after"] = after
	}
	hits, err := x.search(ctx, body)
	if err != nil {
		return search.Page{}, err
	}
	return search.NextPage(q, hits), nil
}

// score returns the score the cursor's transaction has now in ranked q:
// BM25 weighs a word by how many documents hold it, so scores move as the
// index grows, and the carried score would skip or repeat hits tied with
// it. The carried score stands when the transaction is not found.
func (x *Index) score(ctx context.Context, q search.Query) (float64, error) {
	one := query(q)
	b := one["bool"].(map[string]any)
	filter, _ := b["filter"].([]any)
	b["filter"] = append(filter, map[string]any{"ids": map[string]any{"values": []string{q.After.ID}}})
	hits, err := x.search(ctx, map[string]any{"query": one, "size": 1, "_source": []string{"created_at"}, "track_total_hits": false})
	if err != nil {
		return 0, err
	}
	if len(hits) == 0 {
		return *q.After.Score, nil
	}
	return hits[0].Score, nil
}

// search runs a search of body and reads its hits.
func (x *Index) search(ctx context.Context, body map[string]any) ([]search.Hit, error) {
	resp, err := x.c.Search(ctx, &opensearchapi.SearchReq{Indices: []string{x.name}, Body: jsonBody(body)})
	if err != nil {
		return nil, unavailable("search", err)
	}
	hits := make([]search.Hit, 0, len(resp.Hits.Hits))
	for _, h := range resp.Hits.Hits {
		var src struct {
			CreatedAt time.Time `json:"created_at"`
		}
		if err := json.Unmarshal(h.Source, &src); err != nil {
			return nil, fmt.Errorf("search %s: hit %s: %w", x.name, h.ID, err)
		}
		hits = append(hits, search.Hit{ID: h.ID, At: src.CreatedAt.UTC(), Score: float64(h.Score)})
	}
	return hits, nil
}

// Count returns how many transactions q finds, whatever its page, with _count.
func (x *Index) Count(ctx context.Context, q search.Query) (int64, error) {
	q.Limit = 1
	if err := q.Validate(); err != nil {
		return 0, err
	}
	resp, err := x.c.Indices.Count(ctx, &opensearchapi.IndicesCountReq{Indices: []string{x.name},
		Body: jsonBody(map[string]any{"query": query(q)})})
	if err != nil {
		return 0, unavailable("count", err)
	}
	return int64(resp.Count), nil
}

// query is q's filters as a bool query. Text is matched term by term, each
// the prefix of a word (match_bool_prefix analyzes it as the description
// is, so case and accents fold alike); no text of the caller reaches a
// query parser. A prefix match scores a constant, so each term is also a
// should match of the whole word, scored by BM25: "rent" ranks a
// description holding the word rent above one holding only "rental".
func query(q search.Query) map[string]any {
	var must, filter []any
	terms := search.Terms(q.Text)
	if q.Text != "" && len(terms) == 0 {
		return map[string]any{"bool": map[string]any{"must_not": map[string]any{"match_all": map[string]any{}}}}
	}
	for _, t := range terms {
		must = append(must, map[string]any{"bool": map[string]any{
			"must":   map[string]any{"match_bool_prefix": map[string]any{"description": t}},
			"should": map[string]any{"match": map[string]any{"description": t}},
		}})
	}
	term := func(field, value string) {
		if value != "" {
			filter = append(filter, map[string]any{"term": map[string]any{field: value}})
		}
	}
	for k, v := range q.Metadata {
		term("metadata."+k, v) // a flat_object field: one term per dotted key path
	}
	term("owner_ids", q.OwnerID)
	term("account_ids", q.AccountID)
	term("type", q.Type)
	if q.From != nil || q.To != nil {
		r := map[string]any{}
		if q.From != nil {
			r["gte"] = q.From.UTC().Format(time.RFC3339Nano)
		}
		if q.To != nil {
			r["lt"] = q.To.UTC().Format(time.RFC3339Nano)
		}
		filter = append(filter, map[string]any{"range": map[string]any{"created_at": r}})
	}
	if q.MinAmount != nil || q.MaxAmount != nil {
		r := map[string]any{}
		if q.MinAmount != nil {
			r["gte"] = *q.MinAmount
		}
		if q.MaxAmount != nil {
			r["lte"] = *q.MaxAmount
		}
		filter = append(filter, map[string]any{"range": map[string]any{"amount": r}})
	}
	b := map[string]any{}
	if must != nil {
		b["must"] = must
	}
	if filter != nil {
		b["filter"] = filter
	}
	return map[string]any{"bool": b}
}

// ItemError is a document the cluster refused in a _bulk.
type ItemError struct {
	ID     string
	Status int
	Reason string
}

func (e ItemError) Error() string { return fmt.Sprintf("document %s: %d %s", e.ID, e.Status, e.Reason) }

// Put indexes docs with one _bulk request, each under its transaction's id,
// so putting a document again changes nothing: redelivered events and a
// reindex over indexed time are harmless. It checks every item's status and
// returns the refused ones; err is a failure of the whole request.
func (x *Index) Put(ctx context.Context, docs []search.Document) (refused []ItemError, err error) {
	if len(docs) == 0 {
		return nil, nil
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, d := range docs {
		if d.AccountIDs == nil {
			d.AccountIDs = []string{}
		}
		if d.OwnerIDs == nil {
			d.OwnerIDs = []string{}
		}
		if err := enc.Encode(map[string]any{"index": map[string]string{"_index": x.name, "_id": d.ID}}); err != nil {
			return nil, err
		}
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	resp, err := x.c.Bulk(ctx, opensearchapi.BulkReq{Body: &body})
	if err != nil {
		return nil, fmt.Errorf("bulk index %d documents into %s: %w", len(docs), x.name, err)
	}
	if len(resp.Items) != len(docs) {
		return nil, fmt.Errorf("bulk index %d documents into %s: %d items answered", len(docs), x.name, len(resp.Items))
	}
	for i, item := range resp.Items {
		r, ok := item["index"]
		switch {
		case !ok:
			refused = append(refused, ItemError{ID: docs[i].ID, Reason: "no index result"})
		case r.Status == http.StatusOK || r.Status == http.StatusCreated:
		default:
			e := ItemError{ID: docs[i].ID, Status: r.Status}
			if r.Error != nil {
				e.Reason = r.Error.Type + ": " + r.Error.Reason
			}
			refused = append(refused, e)
		}
	}
	return refused, nil
}

// Docs returns how many documents the index holds.
func (x *Index) Docs(ctx context.Context) (int64, error) {
	return x.Count(ctx, search.Query{})
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v) // maps of strings, numbers and slices
	return bytes.NewReader(b)
}

// unavailable marks err, a failed request, as the index being unavailable:
// the API answers 503, never 500, when the cluster is down, overloaded or
// without the index. A 400 is a query this package built wrong: internal.
func unavailable(op string, err error) error {
	var oe *opensearch.StructError
	if errors.As(err, &oe) && oe.Status == http.StatusBadRequest {
		return fmt.Errorf("opensearch %s: %w", op, err)
	}
	return &bank.Error{Kind: bank.KindUnavailable, Code: "search_unavailable",
		Message: "search is unavailable; try again shortly", Err: fmt.Errorf("opensearch %s: %w", op, err)}
}

// Delete removes the index (tests, and an operator starting over before a
// reindex).
func (x *Index) Delete(ctx context.Context) error {
	if _, err := x.c.Indices.Delete(ctx, opensearchapi.IndicesDeleteReq{Indices: []string{x.name}}); err != nil {
		return fmt.Errorf("delete index %s: %w", x.name, err)
	}
	if _, err := x.c.IndexTemplate.Delete(ctx, opensearchapi.IndexTemplateDeleteReq{IndexTemplate: "bank-" + x.name}); err != nil {
		return fmt.Errorf("delete index template of %s: %w", x.name, err)
	}
	return nil
}
