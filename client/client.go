// Package client is a typed Go client of the fintech-banking public API
// (API.md). Tests, "bank bench" and the operator commands use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client calls the API at BaseURL, authenticated with Token when it is set.
// A Client is cheap to copy; WithToken returns a copy for another user.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	Token   string
}

// New returns a Client of the API at baseURL ("http://localhost:8080").
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{BaseURL: baseURL, HTTP: hc}
}

// WithToken returns a copy of c that sends token.
func (c *Client) WithToken(token string) *Client {
	cc := *c
	cc.Token = token
	return &cc
}

// Error is an error answer of the API.
type Error struct {
	Status  int
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Result is a raw answer: what Do returns alongside the decoded body.
type Result struct {
	Status int
	Header http.Header
	Body   []byte
}

// Replayed reports whether the answer is an idempotent replay.
func (r *Result) Replayed() bool { return r.Header.Get("Idempotent-Replayed") == "true" }

// Do sends a request with body in (JSON; nil for none, or []byte as is) and,
// on a 2xx answer, decodes the body into out (when not nil). A non-2xx answer
// returns an *Error. key, when not empty, is sent as the Idempotency-Key.
func (c *Client) Do(ctx context.Context, method, path, key string, in, out any) (*Result, error) {
	resp, err := c.send(ctx, method, path, key, in)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	res := &Result{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if resp.StatusCode >= 300 {
		return res, errorOf(resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return res, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return res, nil
}

// send sends a request as Do does and returns the answer unread.
func (c *Client) send(ctx context.Context, method, path, key string, in any) (*http.Response, error) {
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return c.HTTP.Do(req)
}

// errorOf is the *Error of a non-2xx answer with body b.
func errorOf(status int, b []byte) *Error {
	var eb struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(b, &eb) != nil || eb.Error == nil {
		eb.Error = &Error{Code: "unexpected", Message: string(b)}
	}
	eb.Error.Status = status
	return eb.Error
}

// User is a user of the bank.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Locked    bool      `json:"locked"`
	CreatedAt time.Time `json:"created_at"`
}

// Tokens are what login and refresh return.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// Register creates a customer.
func (c *Client) Register(ctx context.Context, email, password, name string) (*User, error) {
	var u User
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/register", "", map[string]string{"email": email, "password": password, "name": name}, &u)
	return &u, err
}

// Login returns tokens for email and password.
func (c *Client) Login(ctx context.Context, email, password string) (*Tokens, error) {
	var t Tokens
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, &t)
	return &t, err
}

// Me returns the authenticated user.
func (c *Client) Me(ctx context.Context) (*User, error) {
	var u User
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/auth/me", "", nil, &u)
	return &u, err
}

// Balance is an account's balances in minor units.
type Balance struct {
	Posted    int64 `json:"posted"`
	Pending   int64 `json:"pending"`
	Available int64 `json:"available"`
}

// Account is a bank account.
type Account struct {
	ID             string    `json:"id"`
	OwnerID        string    `json:"owner_id"`
	Number         string    `json:"number"`
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Currency       string    `json:"currency"`
	Status         string    `json:"status"`
	OverdraftLimit int64     `json:"overdraft_limit"`
	Balance        Balance   `json:"balance"`
	CreatedAt      time.Time `json:"created_at"`
	Metadata       Metadata  `json:"metadata,omitempty"`
}

// OpenAccount opens an account of the authenticated user.
func (c *Client) OpenAccount(ctx context.Context, currency, typ, name string) (*Account, error) {
	var a Account
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/accounts", "", map[string]string{"currency": currency, "type": typ, "name": name}, &a)
	return &a, err
}

// Account returns one account.
func (c *Client) Account(ctx context.Context, id string) (*Account, error) {
	var a Account
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/accounts/"+url.PathEscape(id), "", nil, &a)
	return &a, err
}

// Posting is one leg of a transaction.
type Posting struct {
	AccountID string `json:"account_id"`
	Amount    int64  `json:"amount"`
}

// Transaction is a posted transaction.
type Transaction struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Status      string    `json:"status"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Description string    `json:"description"`
	ReversesID  string    `json:"reverses_id"`
	HoldID      string    `json:"hold_id"`
	CreatedAt   time.Time `json:"created_at"`
	Postings    []Posting `json:"postings"`
	Metadata    Metadata  `json:"metadata,omitempty"`
}

// Transfer is the body of a transfer. The receiving account is named by
// ToAccountID or ToAccountNumber.
type Transfer struct {
	FromAccountID   string   `json:"from_account_id"`
	ToAccountID     string   `json:"to_account_id,omitempty"`
	ToAccountNumber string   `json:"to_account_number,omitempty"`
	Amount          int64    `json:"amount"`
	Currency        string   `json:"currency"`
	Description     string   `json:"description,omitempty"`
	Metadata        Metadata `json:"metadata,omitempty"`
}

// Deposit credits cash to an account (operators). A deposit held for
// approval returns a *Pending error.
func (c *Client) Deposit(ctx context.Context, key, accountID string, amount int64, currency string) (*Transaction, error) {
	var t Transaction
	res, err := c.Do(ctx, http.MethodPost, "/api/v1/deposits", key, map[string]any{"account_id": accountID, "amount": amount, "currency": currency}, nil)
	if err == nil {
		if err = pending(res); err == nil {
			err = json.Unmarshal(res.Body, &t)
		}
	}
	return &t, err
}

// Transfer moves money between accounts.
func (c *Client) Transfer(ctx context.Context, key string, in Transfer) (*Transaction, error) {
	var t Transaction
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/transfers", key, in, &t)
	return &t, err
}

// BatchResult is one item of a batch answer: a transaction or an error.
type BatchResult struct {
	Transaction
	Error *Error `json:"error"`
}

// TransferBatch posts up to 1,000 transfers, each succeeding or failing alone.
func (c *Client) TransferBatch(ctx context.Context, key string, in []Transfer) ([]BatchResult, error) {
	var out struct {
		Data []BatchResult `json:"data"`
	}
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/transfers/batch", key, map[string]any{"transfers": in}, &out)
	return out.Data, err
}

// Hold is money reserved on an account.
type Hold struct {
	ID             string     `json:"id"`
	AccountID      string     `json:"account_id"`
	Amount         int64      `json:"amount"`
	CapturedAmount int64      `json:"captured_amount"`
	Currency       string     `json:"currency"`
	Status         string     `json:"status"`
	ExpiresAt      *time.Time `json:"expires_at"`
	CreatedAt      time.Time  `json:"created_at"`
	Metadata       Metadata   `json:"metadata,omitempty"`
}

// List is a page of a list.
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// CreateHold reserves amount on an account until expiresAt (nil: no expiry).
func (c *Client) CreateHold(ctx context.Context, key, accountID string, amount int64, currency string, expiresAt *time.Time) (*Hold, error) {
	in := map[string]any{"account_id": accountID, "amount": amount, "currency": currency}
	if expiresAt != nil {
		in["expires_at"] = expiresAt.UTC().Format(time.RFC3339Nano)
	}
	var h Hold
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/holds", key, in, &h)
	return &h, err
}

// Hold returns the hold id.
func (c *Client) Hold(ctx context.Context, id string) (*Hold, error) {
	var h Hold
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/holds/"+url.PathEscape(id), "", nil, &h)
	return &h, err
}

// Holds returns one page of an account's holds, newest first: those in
// status only, unless it is "", and after cursor unless it is "".
func (c *Client) Holds(ctx context.Context, accountID, status, cursor string) (*List[Hold], error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v1/accounts/" + url.PathEscape(accountID) + "/holds"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Hold]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// Metadata is a client's own strings on an account, transaction, hold or
// payment: up to 50 keys of 1–40 characters of a-z 0-9 _ . -, values of up
// to 500 characters.
type Metadata map[string]string

// MetadataChange is the body of the PATCH …/metadata endpoints: keys to set
// and keys to remove.
type MetadataChange struct {
	Set   Metadata `json:"set,omitempty"`
	Unset []string `json:"unset,omitempty"`
}

// SetAccountMetadata amends an account's metadata (staff) and returns the account.
func (c *Client) SetAccountMetadata(ctx context.Context, id string, ch MetadataChange) (*Account, error) {
	var a Account
	_, err := c.Do(ctx, http.MethodPatch, "/api/v1/accounts/"+url.PathEscape(id)+"/metadata", "", ch, &a)
	return &a, err
}

// SetTransactionMetadata amends a transaction's metadata (staff) and returns
// the transaction.
func (c *Client) SetTransactionMetadata(ctx context.Context, id string, ch MetadataChange) (*Transaction, error) {
	var t Transaction
	_, err := c.Do(ctx, http.MethodPatch, "/api/v1/transactions/"+url.PathEscape(id)+"/metadata", "", ch, &t)
	return &t, err
}

// metadataQuery adds the filters ?metadata[k]=v of m to q.
func metadataQuery(q url.Values, m Metadata) {
	for k, v := range m {
		q.Set("metadata["+k+"]", v)
	}
}

// Accounts returns one page of the accounts the user may see, newest first:
// those carrying every pair of metadata, and after cursor unless it is "".
func (c *Client) Accounts(ctx context.Context, metadata Metadata, cursor string) (*List[Account], error) {
	q := url.Values{}
	metadataQuery(q, metadata)
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v1/accounts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Account]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// History returns one page of an account's transactions, newest first:
// those carrying every pair of metadata, and after cursor unless it is "".
func (c *Client) History(ctx context.Context, accountID string, metadata Metadata, cursor string) (*List[Transaction], error) {
	q := url.Values{}
	metadataQuery(q, metadata)
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v1/accounts/" + url.PathEscape(accountID) + "/transactions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Transaction]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// Search is a transaction search; zero fields do not filter.
type Search struct {
	Text      string // q: every word must begin a word of the description; ranks the hits
	AccountID string
	OwnerID   string // staff only; a customer's search is always their own
	From, To  time.Time
	MinAmount *int64
	MaxAmount *int64
	Type      string
	Metadata  map[string]string
	Limit     int
	Cursor    string
}

// Found is a transaction a search found, with its accounts' display names
// by account id and, when the search has text, its relevance.
type Found struct {
	Transaction
	AccountNames map[string]string `json:"account_names"`
	// Score is the hit's relevance when the search has text (higher is
	// more relevant; the page comes in its order), nil otherwise. Scores
	// compare within one search only.
	Score *float64 `json:"score,omitempty"`
}

// SearchTransactions returns one page of the transactions s finds: most
// relevant first when s.Text has words (equally relevant ones newest
// first), newest first otherwise. A page's NextCursor pages this search
// only: a search with text refuses the cursor of one without, and the
// other way.
func (c *Client) SearchTransactions(ctx context.Context, s Search) (*List[Found], error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("q", s.Text)
	set("account_id", s.AccountID)
	set("owner_id", s.OwnerID)
	set("type", s.Type)
	set("cursor", s.Cursor)
	for k, v := range map[string]time.Time{"from": s.From, "to": s.To} {
		if !v.IsZero() {
			q.Set(k, v.UTC().Format(time.RFC3339Nano))
		}
	}
	for k, v := range map[string]*int64{"min_amount": s.MinAmount, "max_amount": s.MaxAmount} {
		if v != nil {
			q.Set(k, strconv.FormatInt(*v, 10))
		}
	}
	if s.Limit > 0 {
		q.Set("limit", strconv.Itoa(s.Limit))
	}
	for k, v := range s.Metadata {
		q.Set("metadata["+k+"]", v)
	}
	path := "/api/v1/transactions/search"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Found]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}
