package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/queue"
)

type countingStats struct {
	queue.Queue
	calls int
	err   error
}

func (c *countingStats) Stats(context.Context) (queue.Stats, error) {
	c.calls++
	return queue.Stats{Main: queue.Depth{Visible: int64(c.calls)}}, c.err
}

func TestStatsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := &countingStats{}
	clk := clock.NewFake(time.Now())
	c := queue.NewStatsCache(q, 5*time.Second, clk.Now)
	a, _ := c.Stats(ctx)
	b, _ := c.Stats(ctx)
	if q.calls != 1 || a != b {
		t.Fatalf("two reads within the TTL asked the queue %d times", q.calls)
	}
	clk.Advance(4999 * time.Millisecond)
	if _, err := c.Stats(ctx); err != nil || q.calls != 1 {
		t.Fatalf("just within the TTL: %v, %d calls; want the cached answer", err, q.calls)
	}
	clk.Advance(time.Millisecond)
	q.err = errors.New("down")
	if _, err := c.Stats(ctx); err == nil || q.calls != 2 {
		t.Fatalf("after the TTL: %v, %d calls; want the queue's error", err, q.calls)
	}
	q.err = nil
	if s, err := c.Stats(ctx); err != nil || s.Main.Visible != 3 {
		t.Fatalf("an error was cached: %+v, %v", s, err)
	}
}
