package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Notification is one delivery of an event to the caller on one channel.
type Notification struct {
	ID        string     `json:"id"`
	Event     string     `json:"event"`
	EventID   string     `json:"event_id"`
	Channel   string     `json:"channel"`
	Status    string     `json:"status"`
	Subject   string     `json:"subject"`
	Attempts  int        `json:"attempts"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
}

// NotificationPreferences are the caller's channels. WebhookSecret is set
// only in the answer of the PUT that made it.
type NotificationPreferences struct {
	Email               bool   `json:"email"`
	SMS                 bool   `json:"sms"`
	Phone               string `json:"phone,omitempty"`
	WebhookURL          string `json:"webhook_url,omitempty"`
	WebhookSecret       string `json:"webhook_secret,omitempty"`
	RotateWebhookSecret bool   `json:"rotate_webhook_secret,omitempty"`
}

// Notifications returns one page of the caller's notifications, newest
// first, after cursor unless it is "".
func (c *Client) Notifications(ctx context.Context, limit int, cursor string) (*List[Notification], error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v1/notifications"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out List[Notification]
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return &out, err
}

// NotificationPreferences returns the caller's channels.
func (c *Client) NotificationPreferences(ctx context.Context) (*NotificationPreferences, error) {
	var out NotificationPreferences
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/notifications/preferences", "", nil, &out)
	return &out, err
}

// SetNotificationPreferences replaces the caller's channels; the answer
// carries the webhook secret when one was made.
func (c *Client) SetNotificationPreferences(ctx context.Context, p NotificationPreferences) (*NotificationPreferences, error) {
	in := map[string]any{"email": p.Email, "sms": p.SMS}
	if p.Phone != "" {
		in["phone"] = p.Phone
	}
	if p.WebhookURL != "" {
		in["webhook_url"] = p.WebhookURL
	}
	if p.RotateWebhookSecret {
		in["rotate_webhook_secret"] = true
	}
	var out NotificationPreferences
	_, err := c.Do(ctx, http.MethodPut, "/api/v1/notifications/preferences", "", in, &out)
	return &out, err
}
