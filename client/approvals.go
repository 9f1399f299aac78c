package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Approval is a staff action held for a second staff user (four eyes).
type Approval struct {
	ID          string          `json:"id"`
	Action      string          `json:"action"`
	Status      string          `json:"status"`
	RequestedBy string          `json:"requested_by"`
	Request     json.RawMessage `json:"request"`
	ExpiresAt   time.Time       `json:"expires_at"`
	CreatedAt   time.Time       `json:"created_at"`
	DecidedBy   string          `json:"decided_by,omitempty"`
	DecidedAt   *time.Time      `json:"decided_at,omitempty"`
	Reason      string          `json:"reason,omitempty"`
}

// Decision is the answer to an approval: the approval and what its action
// answered (a transaction, an account or an error document).
type Decision struct {
	Approval Approval        `json:"approval"`
	Result   json.RawMessage `json:"result"`
	Replayed bool            `json:"-"`
}

// Pending is the error of a staff action the API held for approval (202):
// nothing was done yet.
type Pending struct {
	Approval Approval `json:"approval"`
}

func (p *Pending) Error() string {
	return fmt.Sprintf("%s awaits approval %s (expires %s)", p.Approval.Action, p.Approval.ID, p.Approval.ExpiresAt.Format(time.RFC3339))
}

// pending returns the *Pending of a 202 answer, or nil.
func pending(res *Result) error {
	if res == nil || res.Status != http.StatusAccepted {
		return nil
	}
	var p Pending
	if err := json.Unmarshal(res.Body, &p); err != nil {
		return fmt.Errorf("decode a held action: %w", err)
	}
	return &p
}

// Approvals returns one page of the approvals in status ("" for all),
// newest first (staff).
func (c *Client) Approvals(ctx context.Context, status, cursor string) (*List[Approval], error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v1/approvals"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Approval]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// Approve approves the approval id, which runs its action once (staff, not
// its requester).
func (c *Client) Approve(ctx context.Context, id string) (*Decision, error) {
	var d Decision
	res, err := c.Do(ctx, http.MethodPost, "/api/v1/approvals/"+url.PathEscape(id)+"/approve", "", nil, &d)
	if res != nil {
		d.Replayed = res.Replayed()
	}
	return &d, err
}

// Reject rejects the approval id, with an optional reason (staff).
func (c *Client) Reject(ctx context.Context, id, reason string) (*Approval, error) {
	var a Approval
	var body any
	if reason != "" {
		body = map[string]string{"reason": reason}
	}
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/approvals/"+url.PathEscape(id)+"/reject", "", body, &a)
	return &a, err
}
