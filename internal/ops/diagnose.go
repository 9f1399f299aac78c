package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// Thresholds of the runbook's table (8.1) and of replication.
const (
	ConnWarnPercent = 80
	ConnCritPercent = 95
	// LongQueryAge is the age at which a running statement is reported: the
	// runbook terminates statements older than 5 minutes (4.1).
	LongQueryAge = 5 * time.Minute
	ReplicaWarn  = 30 * time.Second
	ReplicaCrit  = 5 * time.Minute
)

// Service is a service to check: its name and its base URL.
type Service struct {
	Name string
	URL  string
}

// Diagnosis says what Diagnose checks. A nil DB skips the database and ledger
// checks with an Unknown saying why (DBMissing).
type Diagnosis struct {
	Services []Service
	DB       *store.DB
	// DBMissing says why there is no database to check.
	DBMissing string
	// Ledger checks the ledger's invariants and returns the violations.
	Ledger func(ctx context.Context) (violations []string, err error)
	// Queue reads the queue's statistics; nil when there is no queue to
	// check (QueueMissing says why).
	Queue        func(ctx context.Context) (queue.Stats, error)
	QueueMissing string
	// SearchLag reads how far the search index (OpenSearch) is behind the
	// ledger; nil when search is the database's own index, always in step.
	SearchLag func(ctx context.Context) (time.Duration, error)
	Certs     []string
	HTTP      *http.Client
	Now       func() time.Time
}

// Diagnose runs every check concurrently and grades them.
func Diagnose(ctx context.Context, d Diagnosis) Report {
	if d.HTTP == nil {
		d.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		groups = make([][]Check, 0, len(d.Services)+len(d.Certs)+2)
	)
	add := func(f func() []Check) {
		mu.Lock()
		i := len(groups)
		groups = append(groups, nil)
		mu.Unlock()
		wg.Go(func() {
			cs := f()
			mu.Lock()
			groups[i] = cs
			mu.Unlock()
		})
	}
	for _, s := range d.Services {
		add(func() []Check { return checkService(ctx, d.HTTP, s) })
	}
	add(func() []Check { return checkDatabase(ctx, d) })
	add(func() []Check { return []Check{checkLedger(ctx, d)} })
	add(func() []Check { return []Check{checkQueue(ctx, d)} })
	add(func() []Check { return []Check{checkMaintenance(ctx, d)} })
	add(func() []Check { return []Check{checkSearch(ctx, d)} })
	for _, c := range d.Certs {
		add(func() []Check { return []Check{CertExpiry(ctx, c, d.Now())} })
	}
	wg.Wait()
	var checks []Check
	for _, g := range groups {
		checks = append(checks, g...)
	}
	return NewReport(checks)
}

// checkService reads a service's liveness and readiness.
func checkService(ctx context.Context, hc *http.Client, s Service) []Check {
	base := strings.TrimRight(s.URL, "/")
	var out []Check
	for _, probe := range []string{"liveness", "readiness"} {
		c := Check{Name: s.Name + " " + probe}
		status, err := probeHealth(ctx, hc, base+"/actuator/health/"+probe)
		switch {
		case err != nil:
			c.Level, c.Detail = Crit, err.Error()
		case status == "UP":
			c.Level, c.Detail = OK, "UP"
		default:
			c.Level, c.Detail = Crit, status
		}
		out = append(out, c)
	}
	return out
}

func probeHealth(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status == "" {
		return "", fmt.Errorf("HTTP %d without a health report", resp.StatusCode)
	}
	if body.Status != "UP" {
		// Which component is down is in the service's log: the endpoint
		// shows statuses only.
		return fmt.Sprintf("%s (HTTP %d; the service's log names the failing check)", body.Status, resp.StatusCode), nil
	}
	return body.Status, nil
}

// checkDatabase checks that the database answers and, on PostgreSQL, its
// connections, long-running statements and replication.
func checkDatabase(ctx context.Context, d Diagnosis) []Check {
	if d.DB == nil {
		return []Check{{Name: "database", Level: Unknown, Detail: d.DBMissing}}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := d.DB.PingContext(pctx); err != nil {
		return []Check{{Name: "database", Level: Crit, Detail: "unreachable: " + err.Error()}}
	}
	out := []Check{{Name: "database", Level: OK, Detail: fmt.Sprintf("%s answers in %d ms", d.DB.Dialect, time.Since(start).Milliseconds())}}
	if d.DB.Dialect != store.Postgres {
		return out
	}
	c := Check{Name: "database connections"}
	if p, err := ServerConnections(ctx, d.DB); err != nil {
		c.Level, c.Detail = Unknown, err.Error()
	} else {
		c.Level = grade(p.Percent(), ConnWarnPercent, ConnCritPercent)
		c.Detail = fmt.Sprintf("%d of max_connections %d (%.0f%%; warn at %d%%, critical at %d%%)", p.Used, p.Max, p.Percent(), ConnWarnPercent, ConnCritPercent)
	}
	out = append(out, c)
	c = Check{Name: "database long queries"}
	if qs, err := LongQueries(ctx, d.DB, LongQueryAge); err != nil {
		c.Level, c.Detail = Unknown, err.Error()
	} else if len(qs) == 0 {
		c.Level, c.Detail = OK, "none running for over "+LongQueryAge.String()
	} else {
		c.Level = Warn
		c.Detail = fmt.Sprintf("%d running for over %s, the oldest %.0fs (pid %d, %s); see bank db terminate", len(qs), LongQueryAge, qs[0].Seconds, qs[0].PID, qs[0].Application)
	}
	out = append(out, c)
	rs, err := ReplicationLag(ctx, d.DB)
	if err != nil {
		return append(out, Check{Name: "database replication", Level: Unknown, Detail: err.Error()})
	}
	for _, r := range rs {
		out = append(out, Check{Name: "replica " + r.Name,
			Level:  grade(r.LagSeconds, ReplicaWarn.Seconds(), ReplicaCrit.Seconds()),
			Detail: fmt.Sprintf("%.1fs behind", r.LagSeconds)})
	}
	return out
}

// checkMaintenance reports the maintenance mode: on is a warning, as every
// request but the health checks is answered 503 while it lasts.
func checkMaintenance(ctx context.Context, d Diagnosis) Check {
	c := Check{Name: "maintenance"}
	if d.DB == nil {
		c.Level, c.Detail = Unknown, d.DBMissing
		return c
	}
	m, err := ReadMaintenance(ctx, d.DB)
	switch {
	case err != nil:
		c.Level, c.Detail = Unknown, err.Error()
	case m.On:
		c.Level = Warn
		c.Detail = fmt.Sprintf("on since %s: every API request is answered 503 (bank maintenance off ends it)", m.Since.UTC().Format(time.RFC3339))
	default:
		c.Level, c.Detail = OK, "off"
	}
	return c
}

// Queue thresholds, those of the alerts in deploy/monitoring (runbook 5.2).
const (
	queueDepthWarn = 1000
	queueDepthCrit = 10000
	queueAgeWarn   = 10 * time.Minute
)

// checkQueue grades the queue as the alerts do: a backlog over 1000 is a
// warning, over 10000 critical; a message in the dead-letter queue or one
// waiting for over 10 minutes is a warning.
func checkQueue(ctx context.Context, d Diagnosis) Check {
	c := Check{Name: "queue"}
	if d.Queue == nil {
		c.Level, c.Detail = Unknown, d.QueueMissing
		if c.Detail == "" {
			c.Detail = "no queue to check"
		}
		return c
	}
	s, err := d.Queue(ctx)
	if err != nil {
		c.Level, c.Detail = Unknown, err.Error()
		return c
	}
	dead := s.DLQ.Visible + s.DLQ.InFlight + s.DLQ.Delayed
	c.Detail = fmt.Sprintf("%d visible, %d in flight, %d delayed, oldest %s; %d dead-lettered",
		s.Main.Visible, s.Main.InFlight, s.Main.Delayed, s.Main.OldestAge.Round(time.Second), dead)
	switch {
	case s.Main.Visible > queueDepthCrit:
		c.Level = Crit
	case s.Main.Visible > queueDepthWarn, dead > 0, s.Main.OldestAge > queueAgeWarn:
		c.Level = Warn
		if dead > 0 {
			c.Detail += " (find why, then bank queue redrive)"
		}
	default:
		c.Level = OK
	}
	return c
}

// Search lag thresholds: the alert's (SearchIndexLagging) for a warning.
const (
	SearchLagWarn = time.Minute
	SearchLagCrit = 15 * time.Minute
)

// checkSearch grades the search index's lag behind the ledger.
func checkSearch(ctx context.Context, d Diagnosis) Check {
	c := Check{Name: "search"}
	if d.SearchLag == nil {
		c.Level, c.Detail = OK, "the database's own index, in step with every commit"
		return c
	}
	lag, err := d.SearchLag(ctx)
	if err != nil {
		c.Level, c.Detail = Unknown, err.Error()
		return c
	}
	c.Level = grade(lag.Seconds(), SearchLagWarn.Seconds(), SearchLagCrit.Seconds())
	c.Detail = fmt.Sprintf("index %s behind the ledger", lag.Round(time.Second))
	if c.Level != OK {
		c.Detail += " (see bank search status; after a restore, bank search reindex --since)"
	}
	return c
}

func checkLedger(ctx context.Context, d Diagnosis) Check {
	c := Check{Name: "ledger invariant"}
	if d.DB == nil || d.Ledger == nil {
		c.Level, c.Detail = Unknown, "no database to check"
		return c
	}
	if ok, err := HasSchema(ctx, d.DB); err != nil || !ok {
		c.Level, c.Detail = Unknown, "the database has no schema yet (run bank migrate)"
		if err != nil {
			c.Detail = err.Error()
		}
		return c
	}
	v, err := d.Ledger(ctx)
	switch {
	case err != nil:
		c.Level, c.Detail = Unknown, err.Error()
	case len(v) > 0:
		c.Level, c.Detail = Crit, fmt.Sprintf("%d violations, the first: %s (see bank ledger verify)", len(v), v[0])
	default:
		c.Level, c.Detail = OK, "every balance matches its postings"
	}
	return c
}
