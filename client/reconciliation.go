package client

import (
	"context"
	"net/http"
	"time"
)

// CSVColumns names the header of each column of a CSV statement.
type CSVColumns struct {
	Date       string `json:"date"`
	Amount     string `json:"amount"`
	Reference  string `json:"reference"`
	Currency   string `json:"currency,omitempty"`
	Direction  string `json:"direction,omitempty"`
	DateFormat string `json:"date_format,omitempty"`
}

// ReconciliationRequest is a bank statement of an account to reconcile.
type ReconciliationRequest struct {
	AccountID  string      `json:"account_id"`
	Format     string      `json:"format"` // camt053 or csv
	Content    string      `json:"content"`
	CSVColumns *CSVColumns `json:"csv_columns,omitempty"`
}

// Reconciliation is a statement matched to an account's postings.
type Reconciliation struct {
	ID              string    `json:"id"`
	AccountID       string    `json:"account_id"`
	Format          string    `json:"format"`
	Status          string    `json:"status"`
	CreatedBy       string    `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	Matched         int       `json:"matched"`
	Mismatched      int       `json:"mismatched"`
	UnmatchedOurs   int       `json:"unmatched_ours"`
	UnmatchedTheirs int       `json:"unmatched_theirs"`
}

// ImportReconciliation reconciles a statement (staff only).
func (c *Client) ImportReconciliation(ctx context.Context, in ReconciliationRequest) (*Reconciliation, error) {
	var r Reconciliation
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/reconciliations", "", in, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
