package observe_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/observe"
)

func TestInvariantCheck(t *testing.T) {
	t.Parallel()
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { clock = clock.Add(250 * time.Millisecond); return clock }
	results := []struct {
		n   int
		err error
	}{{0, nil}, {2, nil}, {0, errors.New("database unreachable")}}
	i := 0
	check := func(context.Context) (int, error) { r := results[i]; i++; return r.n, r.err }
	reg := prometheus.NewRegistry()
	c := observe.NewInvariantCheck(reg, check, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), now)

	steps := []struct {
		violations, lastCheck float64
	}{
		{0, 1_700_000_000.5},
		{2, 1_700_000_001},
		{2, 1_700_000_001}, // a failed check changes nothing: the timestamp goes stale
	}
	for i, want := range steps {
		c.Once(context.Background())
		v, _ := value(t, reg, "ledger_invariant_violations", nil)
		ts, _ := value(t, reg, "ledger_invariant_last_check_timestamp_seconds", nil)
		if v != want.violations || ts != want.lastCheck {
			t.Errorf("after check %d: violations %v, last check %v; want %v, %v", i+1, v, ts, want.violations, want.lastCheck)
		}
	}
}

func TestInvariantCheckRunsUntilCancelled(t *testing.T) {
	t.Parallel()
	calls := make(chan struct{}, 10)
	check := func(context.Context) (int, error) { calls <- struct{}{}; return 0, nil }
	c := observe.NewInvariantCheck(prometheus.NewRegistry(), check, 10*time.Millisecond,
		slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	for range 3 {
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatal("the check does not run every interval")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run does not return when its context ends")
	}
}
