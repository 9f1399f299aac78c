package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Beneficiary is who a payment goes to: an IBAN, or a US account number with
// its ABA routing number.
type Beneficiary struct {
	Name          string `json:"name"`
	IBAN          string `json:"iban,omitempty"`
	AccountNumber string `json:"account_number,omitempty"`
	RoutingNumber string `json:"routing_number,omitempty"`
}

// PaymentRequest is the body of a payment.
type PaymentRequest struct {
	FromAccountID string      `json:"from_account_id"`
	Amount        int64       `json:"amount"`
	Currency      string      `json:"currency"`
	Beneficiary   Beneficiary `json:"beneficiary"`
	Reference     string      `json:"reference,omitempty"`
	ScheduledFor  *time.Time  `json:"scheduled_for,omitempty"`
}

// PaymentStep is one status a payment went through.
type PaymentStep struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Payment is a payment to a beneficiary at another bank.
type Payment struct {
	ID                  string        `json:"id"`
	OwnerID             string        `json:"owner_id"`
	FromAccountID       string        `json:"from_account_id"`
	Amount              int64         `json:"amount"`
	Currency            string        `json:"currency"`
	Beneficiary         Beneficiary   `json:"beneficiary"`
	Reference           string        `json:"reference"`
	Status              string        `json:"status"`
	FailureReason       string        `json:"failure_reason,omitempty"`
	ScheduledFor        *time.Time    `json:"scheduled_for,omitempty"`
	Rail                string        `json:"rail"`
	TransactionID       string        `json:"transaction_id,omitempty"`
	ReturnTransactionID string        `json:"return_transaction_id,omitempty"`
	History             []PaymentStep `json:"history"`
	CreatedAt           time.Time     `json:"created_at"`
	UpdatedAt           time.Time     `json:"updated_at"`
}

// CreatePayment pays a beneficiary; key is the Idempotency-Key.
func (c *Client) CreatePayment(ctx context.Context, key string, in PaymentRequest) (*Payment, error) {
	var p Payment
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/payments", key, in, &p)
	return &p, err
}

// Payments returns one page of the caller's payments (staff: everyone's),
// newest first: those in status only unless it is "", limit of them (0: the
// API's default), after cursor unless it is "".
func (c *Client) Payments(ctx context.Context, status string, limit int, cursor string) (*List[Payment], error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v1/payments"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Payment]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// Payment returns the payment id with its history.
func (c *Client) Payment(ctx context.Context, id string) (*Payment, error) {
	var p Payment
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/payments/"+url.PathEscape(id), "", nil, &p)
	return &p, err
}

// CancelPayment cancels a scheduled or pending payment.
func (c *Client) CancelPayment(ctx context.Context, id string) (*Payment, error) {
	var p Payment
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/payments/"+url.PathEscape(id)+"/cancel", "", nil, &p)
	return &p, err
}
