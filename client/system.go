package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// QueueDepth is a queue's depths and its dead-letter queue's.
type QueueDepth struct {
	Name       string `json:"name"`
	Main       Depth  `json:"main"`
	DeadLetter Depth  `json:"dead_letter"`
}

// Depth is how many messages a queue holds, by state, and how old its
// oldest waiting message is.
type Depth struct {
	Visible          int64   `json:"visible"`
	InFlight         int64   `json:"in_flight"`
	Delayed          int64   `json:"delayed"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
}

// OldestAge is OldestAgeSeconds as a duration.
func (d Depth) OldestAge() time.Duration {
	return time.Duration(d.OldestAgeSeconds * float64(time.Second))
}

// Maintenance is the platform's maintenance mode.
type Maintenance struct {
	On                bool       `json:"on"`
	Message           string     `json:"message"`
	RetryAfterSeconds int        `json:"retry_after_seconds"`
	Since             *time.Time `json:"since,omitempty"`
}

// Queues returns every platform queue's depths (staff).
func (c *Client) Queues(ctx context.Context) ([]QueueDepth, error) {
	var out List[QueueDepth]
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/system/queues", "", nil, &out)
	return out.Data, err
}

// Redrive moves up to max (0: every) dead-lettered message of the queue
// name back to it and says how many it moved (admin).
func (c *Client) Redrive(ctx context.Context, name string, max int) (int, error) {
	var out struct {
		Moved int `json:"moved"`
	}
	var body any
	if max > 0 {
		body = map[string]int{"max": max}
	}
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/system/queues/"+url.PathEscape(name)+"/redrive", "", body, &out)
	return out.Moved, err
}

// Maintenance returns the maintenance mode (staff).
func (c *Client) Maintenance(ctx context.Context) (*Maintenance, error) {
	var m Maintenance
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/system/maintenance", "", nil, &m)
	return &m, err
}

// SetMaintenance turns maintenance on, with message ("" for the default),
// or off (admin). Every replica follows within its poll interval.
func (c *Client) SetMaintenance(ctx context.Context, on bool, message string) (*Maintenance, error) {
	var m Maintenance
	_, err := c.Do(ctx, http.MethodPut, "/api/v1/system/maintenance", "", struct {
		On      bool   `json:"on"`
		Message string `json:"message,omitempty"`
	}{on, message}, &m)
	return &m, err
}
