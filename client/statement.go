package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"time"
)

// BalanceAt is an account's posted balance as of a time.
type BalanceAt struct {
	AccountID string    `json:"account_id"`
	Currency  string    `json:"currency"`
	At        time.Time `json:"at"`
	Posted    int64     `json:"posted"`
}

// Balance returns the posted balance of account id at at; a zero at means now.
func (c *Client) Balance(ctx context.Context, id string, at time.Time) (*BalanceAt, error) {
	path := "/api/v1/accounts/" + url.PathEscape(id) + "/balance"
	if !at.IsZero() {
		path += "?at=" + url.QueryEscape(at.UTC().Format(time.RFC3339Nano))
	}
	var b BalanceAt
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &b)
	return &b, err
}

// Statement is an account's statement over [From, To].
type Statement struct {
	AccountID      string          `json:"account_id"`
	Currency       string          `json:"currency"`
	From           time.Time       `json:"from"`
	To             time.Time       `json:"to"`
	OpeningBalance int64           `json:"opening_balance"`
	ClosingBalance int64           `json:"closing_balance"`
	Lines          []StatementLine `json:"lines"`
}

// StatementLine is one posting of a statement and the balance after it.
type StatementLine struct {
	TransactionID string    `json:"transaction_id"`
	CreatedAt     time.Time `json:"created_at"`
	Type          string    `json:"type"`
	Description   string    `json:"description"`
	Amount        int64     `json:"amount"`
	Balance       int64     `json:"balance"`
}

func statementPath(id string, from, to time.Time, format string) string {
	q := url.Values{"from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}, "format": {format}}
	return "/api/v1/accounts/" + url.PathEscape(id) + "/statement?" + q.Encode()
}

// Statement returns the statement of account id from from to to, both
// inclusive.
func (c *Client) Statement(ctx context.Context, id string, from, to time.Time) (*Statement, error) {
	var s Statement
	_, err := c.Do(ctx, http.MethodGet, statementPath(id, from, to, "json"), "", nil, &s)
	return &s, err
}

// StatementFile returns the statement of account id as format "csv" or
// "pdf": the file's bytes.
func (c *Client) StatementFile(ctx context.Context, id string, from, to time.Time, format string) ([]byte, error) {
	res, err := c.Do(ctx, http.MethodGet, statementPath(id, from, to, format), "", nil, nil)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}

// OpenStatement opens the statement of account id as format "csv" or "pdf"
// and returns its body as it arrives, for the caller to copy on and close,
// without holding the file whole. A read error means the statement was cut
// short.
func (c *Client) OpenStatement(ctx context.Context, id string, from, to time.Time, format string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, statementPath(id, from, to, format), "", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		return nil, errorOf(resp.StatusCode, b)
	}
	return resp.Body, nil
}
