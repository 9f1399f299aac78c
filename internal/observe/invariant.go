package observe

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// InvariantCheck runs a cheap check of the ledger's invariant at an interval
// and exports what it found: ledger_invariant_violations (how many currencies
// are out of balance at the last check) and
// ledger_invariant_last_check_timestamp_seconds (when a check last
// succeeded; the alert on a stale check reads it). The full check is
// `bank ledger verify`.
type InvariantCheck struct {
	check      func(context.Context) (int, error)
	interval   time.Duration
	log        *slog.Logger
	now        func() time.Time
	violations prometheus.Gauge
	lastCheck  prometheus.Gauge
	duration   prometheus.Histogram
}

// NewInvariantCheck returns an InvariantCheck registered in reg. check returns
// the number of violations it found.
func NewInvariantCheck(reg prometheus.Registerer, check func(context.Context) (int, error), interval time.Duration,
	log *slog.Logger, now func() time.Time) *InvariantCheck {
	c := &InvariantCheck{
		check: check, interval: interval, log: log, now: now,
		violations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledger_invariant_violations",
			Help: "Currencies whose balances did not sum to zero, or accounts below their floor, at the last check.",
		}),
		lastCheck: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledger_invariant_last_check_timestamp_seconds",
			Help: "Unix time of the last completed check of the ledger's invariant.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ledger_invariant_check_seconds",
			Help:    "Time the check of the ledger's invariant takes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	reg.MustRegister(c.violations, c.lastCheck, c.duration)
	return c
}

// Run checks at once, then every interval, until ctx ends. A check that fails
// (the database is away) leaves the gauges as they were: the stale timestamp
// is what tells.
func (c *InvariantCheck) Run(ctx context.Context) error {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.Once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once runs the check one time and exports its result.
func (c *InvariantCheck) Once(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, c.interval)
	defer cancel()
	start := c.now()
	n, err := c.check(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("ledger invariant check", "error", err.Error())
		}
		return
	}
	end := c.now()
	c.duration.Observe(end.Sub(start).Seconds())
	c.violations.Set(float64(n))
	c.lastCheck.Set(float64(end.UnixNano()) / 1e9)
	if n > 0 {
		c.log.Error("ledger invariant violated: run bank ledger verify", "violations", n)
	}
}
