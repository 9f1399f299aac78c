package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Refresh spends refreshToken for a new pair of tokens.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	var t Tokens
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refreshToken}, &t)
	return &t, err
}

// Logout ends the session of refreshToken.
func (c *Client) Logout(ctx context.Context, refreshToken string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/logout", "", map[string]string{"refresh_token": refreshToken}, nil)
	return err
}

// FindUsers returns the users with email email, none or one (staff).
func (c *Client) FindUsers(ctx context.Context, email string) ([]User, error) {
	var out List[User]
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/users?"+url.Values{"email": {email}}.Encode(), "", nil, &out)
	return out.Data, err
}

// AccountsOf returns one page of owner's accounts (staff), newest first.
func (c *Client) AccountsOf(ctx context.Context, owner, cursor string) (*List[Account], error) {
	q := url.Values{"owner_id": {owner}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out List[Account]
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/accounts?"+q.Encode(), "", nil, &out)
	return &out, err
}

// SetStatus freezes or unfreezes account id (staff); action is "freeze" or
// "unfreeze". An action held for approval returns a *Pending error.
func (c *Client) SetStatus(ctx context.Context, id, action string) (*Account, error) {
	var a Account
	res, err := c.Do(ctx, http.MethodPost, "/api/v1/accounts/"+url.PathEscape(id)+"/"+action, "", nil, nil)
	if err == nil {
		if err = pending(res); err == nil {
			err = json.Unmarshal(res.Body, &a)
		}
	}
	return &a, err
}

// HistoryQuery narrows a page of an account's history: transactions made
// at or after From and before To (each ignored when zero), Limit of them
// (0: the API's default), after Cursor.
type HistoryQuery struct {
	From, To time.Time
	Limit    int
	Cursor   string
}

// HistoryPage returns one page of account id's transactions, newest first.
func (c *Client) HistoryPage(ctx context.Context, id string, hq HistoryQuery) (*List[Transaction], error) {
	q := url.Values{}
	if !hq.From.IsZero() {
		q.Set("from", hq.From.UTC().Format(time.RFC3339))
	}
	if !hq.To.IsZero() {
		q.Set("to", hq.To.UTC().Format(time.RFC3339))
	}
	if hq.Limit > 0 {
		q.Set("limit", strconv.Itoa(hq.Limit))
	}
	if hq.Cursor != "" {
		q.Set("cursor", hq.Cursor)
	}
	path := "/api/v1/accounts/" + url.PathEscape(id) + "/transactions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Transaction]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// DepositWith is Deposit with a description.
func (c *Client) DepositWith(ctx context.Context, key, accountID string, amount int64, currency, description string) (*Transaction, error) {
	var t Transaction
	res, err := c.Do(ctx, http.MethodPost, "/api/v1/deposits", key, map[string]any{"account_id": accountID, "amount": amount,
		"currency": currency, "description": description}, nil)
	if err == nil {
		if err = pending(res); err == nil {
			err = json.Unmarshal(res.Body, &t)
		}
	}
	return &t, err
}
