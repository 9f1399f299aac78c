package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/store"
)

// PoolCollector exposes a database's connection pool under HikariCP's names,
// labelled pool, so that the runbook's
// `curl localhost:8080/actuator/metrics/hikaricp.connections.active` and
// dashboards built for Spring services work unchanged. It reads pgxpool's
// statistics on PostgreSQL and database/sql's on SQLite at each scrape.
type PoolCollector struct {
	db                                               *store.DB
	active, idle, pending, total, max, min, timeouts *prometheus.Desc
}

// NewPoolCollector returns a PoolCollector for db, labelled pool=db.Name.
func NewPoolCollector(db *store.DB) *PoolCollector {
	l := prometheus.Labels{"pool": db.Name}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("hikaricp_connections"+name, help, nil, l)
	}
	return &PoolCollector{
		db:      db,
		active:  d("_active", "Active connections"),
		idle:    d("_idle", "Idle connections"),
		pending: d("_pending", "Requests waiting for a connection being opened"),
		total:   d("", "Total connections"),
		max:     d("_max", "Max connections"),
		min:     d("_min", "Min connections"),
		// Named like Micrometer's hikaricp.connections.timeout counter.
		timeouts: d("_timeout_total", "Connection acquisitions abandoned because their deadline passed"),
	}
}

// RegisterPool registers a PoolCollector for db in reg. It fails if reg
// already has a pool of the same name.
func RegisterPool(reg prometheus.Registerer, db *store.DB) error {
	return reg.Register(NewPoolCollector(db))
}

// Describe sends the descriptors of the pool's series.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.active, c.idle, c.pending, c.total, c.max, c.min, c.timeouts} {
		ch <- d
	}
}

// Collect reads the pool's statistics and sends them.
//
// Neither pool counts callers blocked on a full pool, which is HikariCP's
// pending: on PostgreSQL pending is the acquisitions waiting for a new
// connection to be opened (a lower bound), on SQLite it is 0. database/sql
// knows no timeouts nor minimum, so on SQLite those are 0 too.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	var active, idle, pending, total, maxConns, minConns, timeouts float64
	if p := c.db.Pool; p != nil {
		s := p.Stat()
		active = float64(s.AcquiredConns())
		idle = float64(s.IdleConns())
		pending = float64(s.ConstructingConns())
		total = float64(s.TotalConns())
		maxConns = float64(s.MaxConns())
		minConns = float64(p.Config().MinConns)
		timeouts = float64(s.CanceledAcquireCount())
	} else {
		s := c.db.Stats()
		active = float64(s.InUse)
		idle = float64(s.Idle)
		total = float64(s.OpenConnections)
		maxConns = float64(s.MaxOpenConnections)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(c.active, active)
	gauge(c.idle, idle)
	gauge(c.pending, pending)
	gauge(c.total, total)
	gauge(c.max, maxConns)
	gauge(c.min, minConns)
	ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, timeouts)
}
