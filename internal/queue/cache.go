package queue

import (
	"context"
	"sync"
	"time"
)

// StatsCache answers Stats from an answer at most TTL old, so that
// Prometheus scrapes, health probes and several replicas' collectors do not
// each cost SQS requests or a scan of the queue table. Errors are not kept.
type StatsCache struct {
	q   Queue
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	at    time.Time
	stats Stats
}

// NewStatsCache returns a cache of q's Stats whose answers age on now
// (time.Now outside tests).
func NewStatsCache(q Queue, ttl time.Duration, now func() time.Time) *StatsCache {
	return &StatsCache{q: q, ttl: ttl, now: now}
}

// Stats returns q's Stats, asking q when the last answer is older than TTL.
func (c *StatsCache) Stats(ctx context.Context) (Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && c.now().Sub(c.at) < c.ttl {
		return c.stats, nil
	}
	s, err := c.q.Stats(ctx)
	if err != nil {
		return Stats{}, err
	}
	c.stats, c.at = s, c.now()
	return s, nil
}
