package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// FindUsersByName returns the users whose name holds name, at most 20
// (staff).
func (c *Client) FindUsersByName(ctx context.Context, name string) ([]User, error) {
	var out List[User]
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/users?"+url.Values{"name": {name}}.Encode(), "", nil, &out)
	return out.Data, err
}

// SetRole gives user id the role role (admins).
func (c *Client) SetRole(ctx context.Context, id, role string) (*User, error) {
	var u User
	_, err := c.Do(ctx, http.MethodPut, "/api/v1/users/"+url.PathEscape(id)+"/role", "", map[string]string{"role": role}, &u)
	return &u, err
}

// LockUser locks (lock true) or unlocks user id (staff).
func (c *Client) LockUser(ctx context.Context, id string, lock bool) (*User, error) {
	action := "unlock"
	if lock {
		action = "lock"
	}
	var u User
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/users/"+url.PathEscape(id)+"/"+action, "", nil, &u)
	return &u, err
}

// AuditEntry is one record of the audit trail.
type AuditEntry struct {
	ID         string            `json:"id"`
	OccurredAt time.Time         `json:"occurred_at"`
	ActorID    string            `json:"actor_id"`
	Action     string            `json:"action"`
	TargetID   string            `json:"target_id"`
	ClientIP   string            `json:"client_ip"`
	RequestID  string            `json:"request_id"`
	Details    map[string]string `json:"details,omitempty"`
}

// AuditQuery narrows the audit trail; zero fields do not filter.
type AuditQuery struct {
	Actor, Action string
	From, To      time.Time
	Limit         int
	Cursor        string
}

// Audit returns one page of the audit trail, newest first (admins).
func (c *Client) Audit(ctx context.Context, aq AuditQuery) (*List[AuditEntry], error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("actor", aq.Actor)
	set("action", aq.Action)
	set("cursor", aq.Cursor)
	if !aq.From.IsZero() {
		q.Set("from", aq.From.UTC().Format(time.RFC3339))
	}
	if !aq.To.IsZero() {
		q.Set("to", aq.To.UTC().Format(time.RFC3339))
	}
	if aq.Limit > 0 {
		q.Set("limit", strconv.Itoa(aq.Limit))
	}
	path := "/api/v1/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[AuditEntry]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// CloseAccount closes account id (staff). An action held for approval
// returns a *Pending error.
func (c *Client) CloseAccount(ctx context.Context, id string) (*Account, error) {
	return c.SetStatus(ctx, id, "close")
}

// SetOverdraftLimit sets account id's overdraft limit in minor units (staff;
// 0 removes it). An action held for approval returns a *Pending error.
func (c *Client) SetOverdraftLimit(ctx context.Context, id string, amount int64) (*Account, error) {
	var a Account
	res, err := c.Do(ctx, http.MethodPut, "/api/v1/accounts/"+url.PathEscape(id)+"/overdraft-limit", "", map[string]int64{"amount": amount}, nil)
	if err == nil {
		if err = pending(res); err == nil {
			err = json.Unmarshal(res.Body, &a)
		}
	}
	return &a, err
}

// Transaction returns the transaction id.
func (c *Client) Transaction(ctx context.Context, id string) (*Transaction, error) {
	var t Transaction
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/transactions/"+url.PathEscape(id), "", nil, &t)
	return &t, err
}

// Reverse posts the opposite of transaction id once (staff); key is the
// Idempotency-Key. An action held for approval returns a *Pending error.
func (c *Client) Reverse(ctx context.Context, key, id, description string) (*Transaction, error) {
	var body any
	if description != "" {
		body = map[string]string{"description": description}
	}
	var t Transaction
	res, err := c.Do(ctx, http.MethodPost, "/api/v1/transactions/"+url.PathEscape(id)+"/reverse", key, body, nil)
	if err == nil {
		if err = pending(res); err == nil {
			err = json.Unmarshal(res.Body, &t)
		}
	}
	return &t, err
}
